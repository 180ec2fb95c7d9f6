"""``search``: the loop that asks a strategy for cells, pays for each at most once, and records it.

One code path for sync and async ``evaluate``: the loop is asyncio; an ``async def`` evaluate is
awaited directly, a sync one runs in a thread pool of ``max_concurrency`` threads (inline when
``max_concurrency == 1``). ``search`` wraps ``asearch`` for callers without an event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import math
import numbers
import time
from typing import Any, Awaitable, Callable, Iterable, Mapping, Sequence, Union

import numpy as np

from . import selection
from .outcome import Outcome
from .report import SearchProgress
from .results import SearchResult
from .space import SearchSpace
from .state import Cell, SearchState
from .storage import MemoryStore, OptunaStore, open_store
from .strategies import Strategy, get_strategy

__all__ = ["search", "asearch", "SearchError", "Evaluate"]

Evaluate = Callable[[dict[str, str], Any], Union[Outcome, float, Awaitable[Union[Outcome, float]]]]


class SearchError(RuntimeError, ValueError):
    """Every combination failed; the message collects the errors. Also a ValueError: in practice the
    evaluate function / app cannot run on these inputs (wrong signature, unknown model, missing key)."""


def search(space: SearchSpace | Mapping[str, Sequence[str]], evaluate: Evaluate, examples: Iterable[Any],
           strategy: str | Strategy = "auto", seed: int = 0, budget_usd: float | None = None,
           max_concurrency: int = 8, storage: str | None = None, **options: Any) -> SearchResult:
    """Find the best combination of ``space`` on ``examples``; see ``asearch`` for the options."""
    coro = asearch(space, evaluate, examples, strategy=strategy, seed=seed, budget_usd=budget_usd,
                   max_concurrency=max_concurrency, storage=storage, **options)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Called from inside an event loop (a notebook, an async app): run on a private loop.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def asearch(space: SearchSpace | Mapping[str, Sequence[str]], evaluate: Evaluate, examples: Iterable[Any],
                  strategy: str | Strategy = "auto", seed: int = 0, budget_usd: float | None = None,
                  max_concurrency: int = 8, storage: str | None = None, *, confidence: float = 0.95,
                  tolerance: float | None = None, epsilon: float | None = None,
                  objective: str | Mapping[str, float] = "score", max_cost_per_example: float | None = None,
                  max_latency_s: float | None = None, min_score: float | None = None, progress: bool = True,
                  study_name: str | None = None, on_record: Callable[[SearchState], None] | None = None,
                  prior: Iterable[tuple[Mapping[str, str], int, Outcome]] = (),
                  **strategy_options: Any) -> SearchResult:
    """Search the combination that maximises the mean score over ``examples``.

    ``evaluate(assignment, example)`` returns an ``Outcome`` (or a bare score) and may be async.
    ``confidence``/``tolerance`` (alias ``epsilon``, default 0.01): the pick is within ``tolerance`` of
    the best score with this probability. ``objective``: ``"score"`` (the best), ``"cost"`` (the
    cheapest within ``tolerance`` of the best) or weights over score/cost/latency; constraints
    ``max_cost_per_example``, ``max_latency_s``, ``min_score`` (see ``selection.py``).
    ``storage``: an Optuna storage URL (``sqlite:///run.db``) makes the run resumable.
    ``prior``: ``(assignment, example index, Outcome)`` cells already paid for elsewhere (e.g. an earlier
    pass): known from the start like resumed cells, counted in the spend and the budget, and stored.
    """
    space = space if isinstance(space, SearchSpace) else SearchSpace(space)
    if not callable(evaluate):
        raise ValueError("evaluate must be a function evaluate(assignment, example) -> Outcome")
    if isinstance(examples, (str, bytes, Mapping)):
        raise ValueError(f"examples must be a list of examples, got {type(examples).__name__}")
    try:
        examples = list(examples)
    except TypeError:
        raise ValueError(f"examples must be an iterable of examples, got {type(examples).__name__}") from None
    if not examples:
        raise ValueError("examples is empty; give at least one example to evaluate on")
    if not _is_int(max_concurrency) or max_concurrency < 1:
        raise ValueError(f"max_concurrency must be a positive integer, got {max_concurrency!r}")
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if budget_usd is not None and (isinstance(budget_usd, bool) or not isinstance(budget_usd, numbers.Real)
                                   or math.isnan(budget_usd) or budget_usd < 0):
        raise ValueError(f"budget_usd must be a non-negative number of dollars or None, got {budget_usd!r}")
    if not _is_real(confidence) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    if tolerance is not None and epsilon is not None and tolerance != epsilon:
        raise ValueError(f"tolerance and epsilon are the same setting; give one, got tolerance={tolerance!r}, "
                         f"epsilon={epsilon!r}")
    chosen = selection.check_selection(objective, 0.01 if tolerance is None and epsilon is None else
                                       (tolerance if tolerance is not None else epsilon),
                                       max_cost_per_example, max_latency_s, min_score)
    strat = get_strategy(strategy, **strategy_options)

    state = SearchState(space, len(examples), confidence=confidence, budget_usd=budget_usd, seed=seed, **chosen)
    order = np.random.default_rng(seed).permutation(len(examples))  # position -> example index
    position = np.empty_like(order)
    position[order] = np.arange(len(examples))
    store = open_store(storage, space, examples, study_name)
    stored = store.load()
    have = {(c, ex) for c, ex, *_ in stored}
    known = [(space.index(dict(a)), int(ex), o.score, o.cost_usd, o.latency_s, o.error) for a, ex, o in prior]
    for rec in known:
        if rec[:2] not in have:  # the study holds every cell the search rests on
            store.save(*rec)
    resumed = _merge(state, [*known, *stored], position)

    runner = _CellRunner(evaluate, space, examples, order, state, store, max_concurrency, on_record)
    strat.start(state)
    stop_reason = "done"
    merged = 0  # cells other workers stored while this one ran
    try:
        with SearchProgress(state, enabled=progress) as bar:
            runner.bar = bar
            idle = 0
            while True:
                if store.shared:  # decide on every worker's evidence
                    merged += _merge(state, store.load(), position)
                cells = strat.propose(state)
                if not cells:
                    break
                new = list(dict.fromkeys(c for c in cells if not state.observed(c)))
                if not new:
                    idle += 1
                    if idle > 10_000:
                        raise RuntimeError(f"strategy {strat.describe()} keeps proposing evaluated cells")
                    continue
                idle = 0
                if state.budget_left() <= 0:
                    stop_reason = "budget"
                    break
                if isinstance(store, OptunaStore):
                    merged += await _run_claimed(runner, store, new, order, position, max(32, 4 * max_concurrency))
                else:
                    await runner.run(new)
                if runner.budget_hit:
                    stop_reason = "budget"
                    break
            if store.shared:
                merged += _merge(state, store.load(), position)
    finally:
        runner.close()
        store.finish({c: float(m) for c, m in enumerate(state.means()) if not np.isnan(m)})

    result = SearchResult.from_state(state, strat.pick(state), strat.describe(), stop_reason,
                                     storage=getattr(store, "url", None))
    result.extra.update(resumed=resumed, from_other_workers=merged,
                        paid_this_run=state.n_evaluations - resumed - merged, item_order=order.tolist())
    tried = [s for s in result.leaderboard if s.n > 0]
    if tried and all(s.status == "failed" for s in tried):
        msgs = sorted({s.first_error or "" for s in tried})
        raise SearchError(f"every combination failed on every example; errors: {msgs[:10]}")
    return result


def _merge(state: SearchState, records: Iterable[tuple], position: np.ndarray) -> int:
    """Record stored cells the state does not have yet; returns how many."""
    n = 0
    for combo, ex, score, cost, latency, error in records:
        if 0 <= ex < len(position) and not state.observed((combo, int(position[ex]))):
            state.record((combo, int(position[ex])), score, cost, latency, error)
            state.n_evaluations += 1
            n += 1
    return n


_POLL_S = (0.25, 2.0)  # a worker waiting for cells other workers hold looks again after 0.25 s, 0.5 s, ... 2 s


async def _run_claimed(runner: "_CellRunner", store: OptunaStore, cells: list[Cell], order: np.ndarray,
                       position: np.ndarray, chunk: int) -> int:
    """Evaluate ``cells`` with other workers on the same study: claim ``chunk`` free cells at a time,
    merge what others stored, wait for cells others hold; returns the number of cells merged."""
    state, merged, wait = runner.state, 0, _POLL_S[0]
    pending = cells
    while pending:
        if state.budget_left() <= 0:
            runner.budget_hit = True
            break
        stored, mine = store.claim([(c, int(order[p])) for c, p in pending], chunk)
        new = _merge(state, stored, position)
        merged += new
        pending = [c for c in pending if not state.observed(c)]
        todo = [(c, int(position[ex])) for c, ex in mine if not state.observed((c, int(position[ex])))]
        if todo:
            await runner.run(todo)
            if runner.budget_hit:
                break
            pending = [c for c in pending if not state.observed(c)]
        elif pending:  # every remaining cell is being evaluated by another worker
            wait = _POLL_S[0] if new else wait  # others made progress: look again soon
            await asyncio.sleep(wait)
            wait = min(2 * wait, _POLL_S[1])
    return merged


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    """A finite real number (not a bool)."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


class _CellRunner:
    """Evaluates cells concurrently, validates and records each as it completes."""

    def __init__(self, evaluate: Evaluate, space: SearchSpace, examples: list[Any], order: np.ndarray,
                 state: SearchState, store: MemoryStore | OptunaStore, max_concurrency: int,
                 on_record: Callable[[SearchState], None] | None) -> None:
        self.evaluate = evaluate
        self.is_async = inspect.iscoroutinefunction(evaluate) or inspect.iscoroutinefunction(
            getattr(evaluate, "__call__", None))
        self.space, self.examples, self.order = space, examples, order
        self.state, self.store = state, store
        self.max_concurrency = max_concurrency
        self.on_record = on_record
        self.pool = (concurrent.futures.ThreadPoolExecutor(max_concurrency, thread_name_prefix="agentopt-eval")
                     if not self.is_async and max_concurrency > 1 else None)
        self.budget_hit = False
        self.bar: SearchProgress | None = None

    def close(self) -> None:
        if self.pool:
            self.pool.shutdown(wait=True, cancel_futures=True)

    async def run(self, cells: list[Cell]) -> None:
        if self.max_concurrency == 1:
            for cell in cells:
                if not await self._one(cell):
                    break
            return
        sem = asyncio.Semaphore(self.max_concurrency)

        async def guarded(cell: Cell) -> bool:
            async with sem:
                return await self._one(cell)

        tasks = [asyncio.ensure_future(guarded(c)) for c in cells]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def _one(self, cell: Cell) -> bool:
        state = self.state
        if state.budget_left() <= 0:
            self.budget_hit = True
            return False
        combo, pos = cell
        ex_index = int(self.order[pos])
        assignment = self.space.assignment(combo)
        example = self.examples[ex_index]
        start = time.perf_counter()
        try:
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
            outcome = _as_outcome(raw, self.space.key(combo), ex_index)
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise
        except _BadOutcome:
            raise
        except Exception as exc:  # the app failed on this example: record, keep searching
            outcome = Outcome.failed(f"{type(exc).__name__}: {exc}", latency_s=time.perf_counter() - start)
        where = f"combination {self.space.key(combo)} on example #{ex_index}"
        try:
            outcome.check(where)
        except ValueError as exc:
            raise _BadOutcome(str(exc)) from None
        if state.observed(cell):  # a concurrent duplicate can't happen, but never record twice
            return True
        cost = None if outcome.cost_usd is None else float(outcome.cost_usd)
        state.record(cell, float(outcome.score), cost, float(outcome.latency_s), outcome.error)
        state.n_evaluations += 1
        self.store.save(combo, ex_index, float(outcome.score), cost, float(outcome.latency_s), outcome.error)
        if self.on_record:
            self.on_record(state)
        if self.bar:
            self.bar.update()
        return True


class _BadOutcome(ValueError):
    """evaluate returned something that is not a valid outcome (raised to the caller)."""


def _as_outcome(raw: Any, combo_key: str, ex_index: int) -> Outcome:
    if isinstance(raw, Outcome):
        return raw
    if isinstance(raw, numbers.Real) and not isinstance(raw, bool):  # numpy floats too
        return Outcome(score=float(raw))
    raise _BadOutcome(
        f"evaluate returned {type(raw).__name__} for combination {combo_key} on example #{ex_index}; "
        "return Outcome(score=..., cost_usd=..., latency_s=...) or a float score"
    )
