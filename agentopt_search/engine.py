"""``search``: ask a strategy for cells, pay for each at most once, record it, return the result.

The driver only: argument checks live in ``inputs``, landing outcomes (anchors, shared cells,
spend) in ``recording``, concurrent evaluation in ``runner``, and stores with their claim loop in
``storage``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import selection
from .inputs import check_anchors, check_inputs
from .outcome import Outcome
from .recording import Recorder
from .report import SearchProgress
from .results import SearchResult
from .runner import CellRunner, Evaluate, ListSource
from .space import SearchSpace
from .state import Cell, SearchState
from .storage import RunSpec, Store, StoredCell, dataset_fingerprint, open_store
from .storage.claims import ClaimSource
from .strategies import Strategy, get_strategy

__all__ = ["search", "asearch", "SearchError", "Evaluate"]

log = logging.getLogger("agentopt_search")

class SearchError(RuntimeError, ValueError):
    """Every combination failed; the message collects the errors. Also a ValueError: in practice
    the evaluate function / app cannot run on these inputs (wrong signature, unknown model, missing
    key)."""


def search(space: SearchSpace | Mapping[str, Sequence[str]], evaluate: Evaluate,
           examples: Iterable[Any], strategy: str | Strategy = "auto", seed: int = 0,
           budget_usd: float | None = None, max_concurrency: int = 8,
           storage: str | Store | None = None, **options: Any) -> SearchResult:
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


async def asearch(space: SearchSpace | Mapping[str, Sequence[str]], evaluate: Evaluate,
                  examples: Iterable[Any], strategy: str | Strategy = "auto", seed: int = 0,
                  budget_usd: float | None = None, max_concurrency: int = 8,
                  storage: str | Store | None = None, *,
                  anchors: Mapping[str, Mapping[str, str]] | None = None, confidence: float = 0.95,
                  tolerance: float | None = None, epsilon: float | None = None,
                  objective: str | Mapping[str, float] = "score",
                  max_cost_per_example: float | None = None, max_latency_s: float | None = None,
                  min_score: float | None = None, metadata: Mapping[str, Any] | None = None,
                  progress: bool = True, study_name: str | None = None,
                  on_record: Callable[[SearchState], None] | None = None,
                  prior: Iterable[tuple[Mapping[str, str], int, Outcome]] = (),
                  **strategy_options: Any) -> SearchResult:
    """Search the combination that maximises the mean score over ``examples``.

    ``evaluate(assignment, example)`` returns an ``Outcome`` (or a bare score) and may be async.
    ``confidence``/``tolerance`` (alias ``epsilon``, default 0.01): the pick is within
    ``tolerance`` of the best score with this probability. ``objective``: ``"score"`` (the best),
    ``"cost"`` (the cheapest within ``tolerance`` of the best) or weights over score/cost/latency;
    constraints ``max_cost_per_example``, ``max_latency_s``, ``min_score`` (see ``selection.py``).
    ``storage``: an Optuna storage URL (``sqlite:///run.db``) or a ``Store`` makes the run
    resumable and shareable by workers (same ``study_name``); cells are keyed by assignment, so a
    run with other candidates for the same slots reuses every stored cell of the combinations it
    shares. ``anchors``: ``{name: {slot: value}}`` assignments outside the space (e.g. the app's
    own models), evaluated on every example any combination is evaluated on, never eliminated or
    picked; the result compares the pick with each (``result.comparisons``).
    ``prior``: ``(assignment, example index, Outcome)`` cells already paid for elsewhere (counted
    in the spend and budget, stored). ``metadata``: JSON facts kept with the stored run.
    """
    space = space if isinstance(space, SearchSpace) else SearchSpace(space)
    items = check_inputs(evaluate, examples, max_concurrency=max_concurrency, seed=seed,
                         budget_usd=budget_usd, confidence=confidence)
    chosen = selection.check_selection(objective, _tolerance(tolerance, epsilon),
                                       max_cost_per_example, max_latency_s, min_score)
    anchor_map = check_anchors(anchors, space)
    strat = get_strategy(strategy, **strategy_options)
    state = SearchState(space, len(items), confidence=confidence, budget_usd=budget_usd, seed=seed,
                        **chosen)
    store, owned = open_store(storage, study_name)
    recorder = Recorder(state, anchor_map, np.random.default_rng(seed).permutation(len(items)),
                        store)
    run = _Run(state, recorder, store,
               CellRunner(evaluate, items, recorder, max_concurrency, on_record))
    try:
        spec = RunSpec(dict(space.slots), len(items), dataset_fingerprint(items), anchor_map)
        run.recorder.merge(await asyncio.to_thread(store.load, spec), "reused")
        store.metadata.update({**(metadata or {}),
                               "search": _settings(strategy, strat, seed, confidence, chosen)})
        run.recorder.merge(_prior_cells(prior, run.recorder), "prior")
        strat.start(state)
        with SearchProgress(state, enabled=progress) as run.runner.bar:
            stop_reason = await _drive(run, strat, max(32, 4 * max_concurrency))
            await run.runner.drain()  # anchor cells outside the space: no round waited for them
    except BaseException:
        run.end(owned, quiet=True)
        raise
    store.metadata["search"] = {**store.metadata.get("search", {}), "stop_reason": stop_reason}
    run.end(owned, quiet=False)
    return _result(run, strat, stop_reason)


def _tolerance(tolerance: float | None, epsilon: float | None) -> Any:
    if tolerance is not None and epsilon is not None and tolerance != epsilon:
        raise ValueError("tolerance and epsilon are the same setting; give one, got "
                         f"tolerance={tolerance!r}, epsilon={epsilon!r}")
    return (0.01 if tolerance is None and epsilon is None
            else tolerance if tolerance is not None else epsilon)


def _settings(strategy: str | Strategy, strat: Strategy, seed: int, confidence: float,
              chosen: Mapping[str, Any]) -> dict[str, Any]:
    """The settings that decide the pick, as stored with the run (``replay`` uses the same)."""
    return {"strategy": strategy if isinstance(strategy, str) else strat.name, "seed": seed,
            "confidence": confidence, **chosen}


@dataclass
class _Run:
    state: SearchState
    recorder: Recorder
    store: Store
    runner: CellRunner

    def end(self, owned: bool, quiet: bool) -> None:
        """Stop the evaluation threads and the store's (``quiet``:
        an error is already on its way)."""
        self.runner.close()
        try:
            try:
                self.store.finish()
            finally:
                if owned and hasattr(self.store, "close"):
                    self.store.close()
        except Exception:
            if not quiet:
                raise
            log.exception("closing the store failed while the search was stopping on an error")


async def _drive(run: _Run, strat: Strategy, chunk: int) -> str:
    """Propose, evaluate, repeat; returns the stop reason ("done" or "budget")."""
    state, rec, idle = run.state, run.recorder, 0
    while True:
        if run.store.shared:  # decide on every worker's evidence
            rec.merge(run.store.poll(), "other")
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
            return "budget"
        await _evaluate(run, _with_anchors(new, rec), chunk)
        if run.runner.budget_hit:
            return "budget"
    # positions others or earlier runs covered
    await _evaluate(run, rec.anchor_cells(rec.covered), chunk)
    if run.store.shared:
        rec.merge(run.store.poll(), "other")
    return "budget" if run.runner.budget_hit else "done"


async def _evaluate(run: _Run, cells: list[Cell], chunk: int) -> None:
    if not cells:
        return
    source = (ClaimSource(cells, run.recorder, run.store, chunk) if run.store.shared
              else ListSource(cells))
    await run.runner.run(source)


def _with_anchors(cells: list[Cell], rec: Recorder) -> list[Cell]:
    """``cells`` with each anchor's cell at a position right after the first cell there."""
    if not rec.anchors.names:
        return cells
    out: list[Cell] = []
    seen: set[int] = set()
    for cell in cells:
        out.append(cell)
        if cell[1] not in seen:
            seen.add(cell[1])
            out.extend(rec.anchor_cells([cell[1]]))
    return out


def _prior_cells(prior: Iterable[tuple[Mapping[str, str], int, Outcome]],
                 rec: Recorder) -> list[StoredCell]:
    out = []
    for assignment, example, outcome in prior:
        values = tuple(assignment.get(s, "") for s in rec.slots)
        if set(assignment) != set(rec.slots) or not rec.rows(values):
            raise ValueError(f"prior cell {dict(assignment)!r} is neither a combination of the "
                             "space nor an anchor")
        out.append(StoredCell(dict(zip(rec.slots, values)), int(example), outcome))
    return out


def _result(run: _Run, strat: Strategy, stop_reason: str) -> SearchResult:
    rec = run.recorder
    result = SearchResult.from_state(run.state, strat.pick(run.state), strat.describe(),
                                     stop_reason, storage=run.store.url, anchors=rec.anchors)
    result.idle_slots = rec.idle_slots()
    result.n_reused, result.n_paid, result.n_shared = (rec.counts["reused"], rec.counts["paid"],
                                                       rec.counts["shared"])
    # evidence_usd: every cell and proposal
    result.spent_usd = run.state.spent_usd - rec.stored_usd
    result.cell_usage = {"|".join(f"{s}={v}" for s, v in zip(rec.slots, values)): by_example
                         for values, by_example in rec.usage.items()}
    result.extra.update(resumed=rec.counts["reused"] + rec.counts["prior"],
                        from_other_workers=rec.counts["other"], paid_this_run=rec.counts["paid"],
                        item_order=rec.order.tolist())
    tried = [s for s in result.leaderboard if s.n > 0]
    if tried and all(s.status == "failed" for s in tried):
        msgs = sorted({s.first_error or "" for s in tried})
        raise SearchError(f"every combination failed on every example; errors: {msgs[:10]}")
    return result
