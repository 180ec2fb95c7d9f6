"""Evaluating cells: up to ``max_concurrency`` at once, each paid at most once.

One code path for sync and async ``evaluate``: an ``async def`` evaluate is awaited on the loop, a
sync one runs in a thread pool of ``max_concurrency`` threads owned by the run (inline when
``max_concurrency == 1``). Cells come from a *source*: the list the strategy proposed, or, with a
shared store, the cells this worker claimed (``storage.claims``), fetched ahead while others run.

Gating: a cell waits while a cell at the same example that differs from it only in slots that may
be idle (never called so far, or idle on some example) is running; if that evaluation shows the
slots idle, the waiting cell is shared from it for free, otherwise it runs.
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
            getattr(evaluate, "__call__", None))  # noqa: B004 - the method, to ask if it is async
        self.examples, self.recorder, self.state = examples, recorder, recorder.state
        self.max_concurrency = max_concurrency
        self.on_record = on_record
        self.pool = (concurrent.futures.ThreadPoolExecutor(max_concurrency,
                                                           thread_name_prefix="agentopt-eval")
                     if not self.is_async and max_concurrency > 1 else None)
        self.budget_hit = False
        self.bar: Any = None

    def close(self) -> None:
        if self.pool:
            self.pool.shutdown(wait=True, cancel_futures=True)

    async def run(self, source: CellSource) -> None:
        """Evaluate every cell ``source`` gives (skipping observed ones)
        until it is exhausted or the budget is."""
        await _Scheduler(self, source).run()

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
        except Exception as exc:  # noqa: BLE001 - the app failed on this example: record, keep searching
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
    """``max_concurrency`` workers take cells from a queue the source refills ahead of need."""

    def __init__(self, runner: CellRunner, source: CellSource) -> None:
        self.runner, self.source, self.rec = runner, source, runner.recorder
        self.queue: deque[Cell] = deque()
        # position -> cells running there
        self.running: dict[int, list[tuple[Cell, tuple[str, ...]]]] = {}
        self.parked: dict[Cell, list[Cell]] = {}  # running cell -> cells waiting for its outcome
        self.exhausted = False
        # fetch ahead when the queue is shorter: half the last batch
        self.low_water = runner.max_concurrency
        # ... and fewer cells than this are in hand: the last batch
        self.cap = 2 * runner.max_concurrency
        self.refill: asyncio.Task[None] | None = None
        self.failure: BaseException | None = None  # the source failed (e.g. the database is down)
        self.changed = asyncio.Event()

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
        while (cell := await self._take()) is not None:
            try:
                await self.runner.one(cell)
            finally:
                self._release(cell)

    async def _take(self) -> Cell | None:
        while True:
            if self.failure is not None:
                raise self.failure
            if self.runner.budget_hit or self.rec.state.budget_left() <= 0:
                self.runner.budget_hit = True
                return None
            cell = self._pop()
            if cell is not None:
                if len(self.queue) < self.low_water:
                    self._start_refill()  # fetch ahead: the next claim overlaps the running cells
                return cell
            if self.exhausted and self.refill is None and not self.parked:
                return None
            self._start_refill()
            changed = self.changed
            await changed.wait()

    def _in_hand(self) -> int:
        waiting = sum(map(len, self.parked.values()))
        return len(self.queue) + waiting + sum(map(len, self.running.values()))

    def _pop(self) -> Cell | None:
        while self.queue:
            cell = self.queue.popleft()
            if self.rec.observed(cell):
                continue
            values = self.rec.values(cell[0])
            blocker = self._blocker(cell, values)
            if blocker is not None:
                self.parked.setdefault(blocker, []).append(cell)
                continue
            self.running.setdefault(cell[1], []).append((cell, values))
            return cell
        return None

    def _blocker(self, cell: Cell, values: tuple[str, ...]) -> Cell | None:
        """A running cell this one waits for: the same evaluation (an anchor equal to a
        combination), or one it may be shared from (same example, differs only in slots that may be
        idle)."""
        gate = self.rec.gate_slots
        for other, other_values in self.running.get(cell[1], ()):
            if other_values == values or (gate and self.rec.may_share(values, other_values, gate)):
                return other
        return None

    def _release(self, cell: Cell) -> None:
        here = self.running.get(cell[1], [])
        here[:] = [(c, v) for c, v in here if c != cell]
        if not here:
            self.running.pop(cell[1], None)
        self.queue.extendleft(reversed(self.parked.pop(cell, [])))
        self._notify()

    def _notify(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

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
        except Exception as exc:  # noqa: BLE001 - handed to the consumer waiting on the queue, which raises it
            self.failure = exc
        finally:
            self.refill = None
            self._notify()


def _as_outcome(raw: Any, where: str) -> Outcome:
    if isinstance(raw, Outcome):
        return raw
    if isinstance(raw, numbers.Real) and not isinstance(raw, bool):  # numpy floats too
        return Outcome(score=float(raw))
    raise BadOutcome(f"evaluate returned {type(raw).__name__} for {where}; "
                     "return Outcome(score=..., cost_usd=..., latency_s=...) or a float score")
