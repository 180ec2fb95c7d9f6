"""Evaluating cells: up to ``max_concurrency`` at once, each paid at most once.

One code path for sync and async ``evaluate``: an ``async def`` evaluate is awaited on the loop, a
sync one runs in a thread pool of ``max_concurrency`` threads owned by the run (inline when
``max_concurrency == 1``). Cells come from a *source*: the list the strategy proposed, or, with a
shared store, the cells this worker claimed (``storage.claims``), fetched ahead while others run.

Gating: a cell waits while a cell at the same example that differs from it only in slots that may
be idle (never called so far, or idle on some example) is running; if that evaluation shows the
slots idle, the waiting cell is shared from it for free, otherwise it runs.

Anchor cells outside the space (no value of theirs is a candidate of its slot, e.g. the app as it
is) are *detached*: a round does not wait for them, so the next round's cells start while they
run (at most ``max_concurrency`` cells run at once across rounds; ``drain()`` waits for them, and
the engine calls it before it returns). Strategies read only the space's rows, so what they decide
does not change; such an outcome lands in the space's rows only if the app made no model call at
all on that example (then it holds for every combination there).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import numbers
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from .outcome import Outcome
from .recording import Recorder
from .state import Cell, SearchState

__all__ = ["CellRunner", "CellSource", "ListSource", "Evaluate", "BadOutcome"]

Evaluate = Callable[[dict[str, str], Any], Outcome | float | Awaitable[Outcome | float]]


class BadOutcome(ValueError):
    """evaluate returned something that is not a valid outcome (raised to the caller)."""


class CellSource(Protocol):
    async def next(self) -> list[Cell] | None:
        """More cells to evaluate, or None when there are no more
        (waits while others hold them)."""


class ListSource:
    """The cells, all at once."""

    def __init__(self, cells: list[Cell]) -> None:
        self._cells: list[Cell] | None = cells

    async def next(self) -> list[Cell] | None:
        cells, self._cells = self._cells, None
        return cells


class CellRunner:
    """Evaluates cells concurrently, validates each outcome and records it as it completes."""

    def __init__(self, evaluate: Evaluate, examples: list[Any], recorder: Recorder,
                 max_concurrency: int,
                 on_record: Callable[[SearchState], None] | None = None) -> None:
        self.evaluate = evaluate
        self.is_async = inspect.iscoroutinefunction(evaluate) or inspect.iscoroutinefunction(
            getattr(evaluate, "__call__", None))  # noqa: B004 - is the method async
        self.examples, self.recorder, self.state = examples, recorder, recorder.state
        self.max_concurrency = max_concurrency
        self.on_record = on_record
        self.pool = (concurrent.futures.ThreadPoolExecutor(max_concurrency,
                                                           thread_name_prefix="agentopt-eval")
                     if not self.is_async and max_concurrency > 1 else None)
        self.budget_hit = False
        self.bar: Any = None
        # Across rounds: the evaluation slots, the cells running per position (for gating), the
        # cells waiting for a running one, the detached anchor cells, and a failure one of them
        # raised.
        self.slots: asyncio.Semaphore | None = None
        self.running: dict[int, list[tuple[Cell, tuple[str, ...]]]] = {}
        self.parked: dict[Cell, list[tuple[_Scheduler, Cell]]] = {}
        self.detached: dict[Cell, asyncio.Task[None]] = {}
        self.failure: BaseException | None = None
        self.changed: asyncio.Event | None = None

    def close(self) -> None:
        for task in self.detached.values():  # the search is stopping on an error: drop them
            task.cancel()
        if self.pool:
            self.pool.shutdown(wait=True, cancel_futures=True)

    async def run(self, source: CellSource) -> None:
        """Evaluate every cell ``source`` gives (skipping observed ones) until it is exhausted or
        the budget is; detached anchor cells may still be running when it returns."""
        if self.slots is None:
            self.slots, self.changed = asyncio.Semaphore(self.max_concurrency), asyncio.Event()
        await _Scheduler(self, source).run()

    async def drain(self) -> None:
        """Wait until every detached anchor cell has landed (raises what one of them raised)."""
        while self.detached:
            await asyncio.wait(list(self.detached.values()))
        if self.failure is not None:
            raise self.failure

    # -- detached anchor cells, gating across rounds ---------------------------------------------
    def detachable(self, cell: Cell) -> bool:
        """An anchor cell outside the space: no round needs to wait for it."""
        rec = self.recorder
        return cell[0] >= rec.size and rec.outside_space(rec.values(cell[0]))

    def detach(self, cell: Cell) -> None:
        """Run ``cell`` on the slot its worker holds, in a task of its own."""
        self.detached[cell] = asyncio.ensure_future(self._detached(cell))

    async def _detached(self, cell: Cell) -> None:
        try:
            await self.one(cell)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - re-raised by the next round / ``drain``
            if self.failure is None:
                self.failure = exc
        finally:
            self.detached.pop(cell, None)
            self.end(cell)

    def end(self, cell: Cell) -> None:
        """``cell`` is done: free its slot, hand the cells waiting for it back to their rounds."""
        assert self.slots is not None
        self.slots.release()
        here = self.running.get(cell[1], [])
        here[:] = [(c, v) for c, v in here if c != cell]
        if not here:
            self.running.pop(cell[1], None)
        for owner, waiting in reversed(self.parked.pop(cell, [])):
            owner.queue.appendleft(waiting)
            owner.n_parked -= 1
        self.notify()

    def notify(self) -> None:
        assert self.changed is not None
        self.changed.set()
        self.changed = asyncio.Event()

    async def one(self, cell: Cell) -> None:
        rec = self.recorder
        values = rec.values(cell[0])
        ex_index = int(rec.order[cell[1]])
        assignment = dict(zip(rec.slots, values))
        combination = "|".join(f"{k}={v}" for k, v in assignment.items())
        where = f"combination {combination} on example #{ex_index}"
        start = time.perf_counter()
        try:
            raw = await self._call(assignment, self.examples[ex_index])
            outcome = _as_outcome(raw, where)
        except (asyncio.CancelledError, KeyboardInterrupt, BadOutcome):
            raise
        except Exception as exc:  # noqa: BLE001 - the app failed: record, keep searching
            outcome = Outcome.failed(f"{type(exc).__name__}: {exc}",
                                     latency_s=time.perf_counter() - start)
        try:
            outcome.check(where)
        except ValueError as exc:
            raise BadOutcome(str(exc)) from None
        rec.record(values, ex_index, outcome, "paid")
        if self.on_record:
            self.on_record(self.state)
        if self.bar:
            self.bar.update()

    async def _call(self, assignment: dict[str, str], example: Any) -> Any:
        if self.is_async:
            raw = await self.evaluate(assignment, example)  # type: ignore[misc]
        elif self.pool is None:
            raw = self.evaluate(assignment, example)
        else:
            ctx = contextvars.copy_context()
            raw = await asyncio.get_running_loop().run_in_executor(
                self.pool, functools.partial(ctx.run, self.evaluate, assignment, example))
        if inspect.isawaitable(raw):
            raw = await raw
        return raw


class _Scheduler:
    """One round: ``max_concurrency`` workers take cells from a
    queue the source refills ahead of need."""

    def __init__(self, runner: CellRunner, source: CellSource) -> None:
        self.runner, self.source, self.rec = runner, source, runner.recorder
        self.queue: deque[Cell] = deque()
        self.n_parked = 0  # cells of this round waiting for a running cell (``runner.parked``)
        self.exhausted = False
        # fetch ahead when the queue is shorter: half the last batch
        self.low_water = runner.max_concurrency
        # ... and fewer cells than this are in hand: the last batch
        self.cap = 2 * runner.max_concurrency
        self.refill: asyncio.Task[None] | None = None
        self.failure: BaseException | None = None  # the source failed (e.g. the database is down)

    async def run(self) -> None:
        workers = [asyncio.ensure_future(self._work()) for _ in range(self.runner.max_concurrency)]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for t in workers:
                t.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            raise
        finally:
            if self.refill is not None:
                self.refill.cancel()
                await asyncio.gather(self.refill, return_exceptions=True)

    async def _work(self) -> None:
        runner = self.runner
        assert runner.slots is not None
        while True:
            await runner.slots.acquire()  # a free slot first: a detached cell may hold one
            try:
                cell = await self._take()
            except BaseException:
                runner.slots.release()
                raise
            if cell is None:
                runner.slots.release()
                return
            if runner.detachable(cell):
                runner.detach(cell)  # it keeps the slot until it lands
                continue
            try:
                await runner.one(cell)
            finally:
                runner.end(cell)

    async def _take(self) -> Cell | None:
        runner = self.runner
        while True:
            for failure in (self.failure, runner.failure):
                if failure is not None:
                    raise failure
            if runner.budget_hit or self.rec.state.budget_left() <= 0:
                runner.budget_hit = True
                return None
            cell = self._pop()
            if cell is not None:
                if len(self.queue) < self.low_water:
                    self._start_refill()  # fetch ahead: the next claim overlaps the running cells
                return cell
            if self.exhausted and self.refill is None and not self.n_parked:
                return None
            self._start_refill()
            assert runner.changed is not None
            await runner.changed.wait()

    def _in_hand(self) -> int:
        return len(self.queue) + self.n_parked + sum(map(len, self.runner.running.values()))

    def _pop(self) -> Cell | None:
        runner = self.runner
        while self.queue:
            cell = self.queue.popleft()
            if self.rec.observed(cell) or cell in runner.detached:
                # landed, or lands when it is done
                continue
            values = self.rec.values(cell[0])
            blocker = self._blocker(cell, values)
            if blocker is not None:
                runner.parked.setdefault(blocker, []).append((self, cell))
                self.n_parked += 1
                continue
            runner.running.setdefault(cell[1], []).append((cell, values))
            return cell
        return None

    def _blocker(self, cell: Cell, values: tuple[str, ...]) -> Cell | None:
        """A running cell this one waits for: the same evaluation (an anchor equal to a
        combination), or one it may be shared from (same example, differs only in slots that may be
        idle)."""
        gate = self.rec.gate_slots
        for other, other_values in self.runner.running.get(cell[1], ()):
            if other_values == values or (gate and self.rec.may_share(values, other_values, gate)):
                return other
        return None

    def _start_refill(self) -> None:
        """Ask the source for more, unless enough is in hand (cells held back by gating count: a
        shared source must not hoard cells other workers could run)."""
        if self.refill is None and not self.exhausted and self._in_hand() < self.cap:
            self.refill = asyncio.ensure_future(self._refill())

    async def _refill(self) -> None:
        try:
            cells = await self.source.next()
            if cells is None:
                self.exhausted = True
            else:
                self.queue.extend(cells)
                self.low_water = max(self.runner.max_concurrency, len(cells) // 2)
                self.cap = max(2 * self.runner.max_concurrency, len(cells))
        except Exception as exc:  # noqa: BLE001 - kept, and raised by the scheduler's loop
            self.failure = exc
        finally:
            self.refill = None
            self.runner.notify()


def _as_outcome(raw: Any, where: str) -> Outcome:
    if isinstance(raw, Outcome):
        return raw
    if isinstance(raw, numbers.Real) and not isinstance(raw, bool):  # numpy floats too
        return Outcome(score=float(raw))
    raise BadOutcome(f"evaluate returned {type(raw).__name__} for {where}; "
                     "return Outcome(score=..., cost_usd=..., latency_s=...) or a float score")
