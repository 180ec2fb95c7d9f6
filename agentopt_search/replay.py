"""A stored run's result again, from its cells alone: no evaluation, no model call.

``replay`` reads a run (``read_run``), optionally re-prices every cell from its stored tokens, and
runs the same search (strategy, seed, confidence, tolerance, objective, constraints: stored with
the run under ``metadata["search"]``) on the stored evidence with a budget of exactly what it
holds, so the search can only decide on what was paid for. With the same prices it reaches the
stored run's decisions; with new prices the costs, the front, the operating points and a cost-aware
pick follow them. When the stored evidence does not settle the question under the new settings the
result says so (``extra["needs_evaluations"]``): the pick is then the best guess of the strategy,
uncertified.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .engine import search
from .outcome import Outcome
from .results import SearchResult
from .storage import MemoryStore, RunSpec, StoredCell, StoredRun, read_run

__all__ = ["replay", "reprice", "Pricer"]

#: ``pricer(model, input_tokens, output_tokens)`` -> dollars, or None when the model is unpriced.
Pricer = Callable[[str, int, int], "float | None"]
_SEARCH_KEYS = ("confidence", "epsilon", "objective", "max_cost_per_example", "max_latency_s",
                "min_score")


def replay(storage: str | StoredRun, study_name: str | None = None, *,
           pricer: Pricer | None = None, strategy: str | None = None) -> SearchResult:
    """The result of the stored run ``study_name`` in ``storage`` (an Optuna URL, or a ``read_run``
    result), decided again on its stored cells; ``pricer`` re-prices every cell from its usage rows
    (cells stored without usage keep their cost). ``strategy`` overrides the stored one."""
    run = storage if isinstance(storage, StoredRun) else read_run(storage, study_name)
    settings = dict(run.metadata.get("search") or {})
    cells = [replace(c, outcome=reprice(c.outcome, pricer)) for c in run.cells] if pricer \
        else list(run.cells)
    store = _StoredCells(cells, run.metadata)
    result = search(run.slots, _not_stored, list(range(run.n_examples)), storage=store,
                    anchors=run.anchors or None,
                    strategy=strategy or settings.get("strategy", "auto"),
                    seed=int(settings.get("seed", 0)), budget_usd=0.0, progress=False,
                    study_name=run.study_name,
                    **{k: settings[k] for k in _SEARCH_KEYS if k in settings})
    wanted_more = result.stop_reason == "budget"  # the search asked for cells nobody paid for
    stored_stop = settings.get("stop_reason", "done")
    result.storage, result.stop_reason = run.url, stored_stop if wanted_more else "done"
    result.extra.update(replayed=True, study=run.study_name,
                        needs_evaluations=wanted_more and stored_stop == "done")
    return result


def reprice(outcome: Outcome, pricer: Pricer | None) -> Outcome:
    """``outcome`` with its cost recomputed from its usage rows
    (unchanged without usage or pricer)."""
    if pricer is None or outcome.usage is None:
        return outcome
    rows = tuple(r._replace(cost_usd=pricer(r.model, r.input_tokens, r.output_tokens))
                 for r in outcome.usage)
    costs = [r.cost_usd for r in rows if r.calls]
    total = None if any(c is None for c in costs) else float(sum(costs))  # type: ignore[arg-type]
    return replace(outcome, cost_usd=total, usage=rows)


def _not_stored(assignment: dict[str, str], example: Any) -> Outcome:
    raise AssertionError("replay never evaluates (its budget is 0)")


class _StoredCells(MemoryStore):
    """A read-only store holding a stored run's cells."""

    def __init__(self, cells: list[StoredCell], metadata: dict[str, Any]) -> None:
        super().__init__()
        self.cells = cells
        self.metadata = dict(metadata)

    def load(self, run: RunSpec) -> list[StoredCell]:
        return self.cells
