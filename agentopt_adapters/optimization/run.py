"""``optimize``: one search over the asked combinations, the app as it is measured beside them.

```python
result = aa.optimize(app, dataset, metric, candidates=["sim/nano", "sim/small", "sim/large"])
result.print_summary(); result.export("agentopt.json"); tuned = aa.apply(app, "agentopt.json")
```
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from agentopt_search import SearchError, search, selection

from ..errors import AgentOptError, MetricError, SlotError
from ..protocol import Adapter, adapter_for
from ..usage import Slot
from .candidates import SpacePlan, plan_space
from .dataset import normalize_dataset
from .evaluate import Abort, CellEvaluator
from .result import OptimizeResult

__all__ = ["optimize"]



def optimize(
    app: Any, dataset: Any, metric: Callable[[Any, Any], Any],
    candidates: Iterable[Any] | Mapping[str, Iterable[Any]],
    slots: Iterable[str] | Mapping[str, str] | None = None,
    strategy: str = "auto", budget_usd: float | None = None, seed: int = 0,
    max_concurrency: int = 8,
    objective: str | Mapping[str, float] = "score",
    max_cost_per_example: float | None = None, max_latency_s: float | None = None,
    min_score: float | None = None, storage: str | None = None,
    *,
    baseline: bool = True, study_name: str | None = None, progress: bool = True,
    confidence: float = 0.95, tolerance: float | None = None, epsilon: float | None = None,
    context: Any = None, config: Mapping[str, Any] | None = None,
    tracing: bool = True, strict_metric: bool = False,
    scaling: Mapping[str, Any] | None = None,
    discover_options: Mapping[str, Any] | None = None,
) -> OptimizeResult:
    """Search the best model per slot of ``app`` on ``dataset`` scored by ``metric(ex, output)``.

    ``candidates``: one list for every searched slot, or ``{slot: [models]}`` (only those slots are
    searched); a candidate is a model string or ``{"model": ..., "kwargs": {...}}``. ``slots``:
    search only these app slots (list) or rename them (``{app_slot: name}``); every other slot
    keeps the app's own model object. The baseline (the app exactly as it is) is measured on the
    same examples and compared with the pick; it is not a candidate. ``objective`` / ``tolerance``
    / ``max_cost_per_example`` / ``max_latency_s`` / ``min_score`` are the search's selection rule.
    ``storage``: ``"sqlite:///run.db"`` (or PostgreSQL) makes the run resumable and shareable.
    ``scaling``: ``{"samples": [1, 4, 8], "select": "vote"}`` (or ``{slot: {...}}``) also tries
    each candidate with that many samples per call (see ``agentopt_adapters.scaling``).
    ``context`` / ``config``: LangGraph runtime context and run config for every evaluation; each
    evaluation's run config also carries the tag ``agentopt`` and the metadata
    ``agentopt_combination`` (``slot=model|...``) and ``agentopt_example`` (dataset index), so
    tracing tools can tell search traffic apart. ``tracing=False``: LangChain/LangSmith tracing off
    for the search's runs. ``max_concurrency``: evaluations at once (sync apps run on a thread pool
    of that size owned by the run). Errors in the inputs come before any model call.
    """
    adapter = adapter_for(app)
    items = normalize_dataset(dataset)
    if not callable(metric):
        raise MetricError("metric must be a function metric(example, output) -> float in [0, 1], "
                          f"got {metric!r}")
    plan = plan_space(_discover(adapter, app, candidates, slots, discover_options), candidates,
                      slots, scaling=scaling, spell_out_current=adapter.framework == "callable",
                      scales=adapter.scales)
    rule = _selection_rule(objective, tolerance if tolerance is not None else epsilon,
                           max_cost_per_example=max_cost_per_example, max_latency_s=max_latency_s,
                           min_score=min_score)
    evaluator = CellEvaluator(adapter, app, metric, plan, max_concurrency=max_concurrency,
                              strict_metric=strict_metric,
                              run_options=_run_options(adapter, context, config),
                              bind_options=_bind_options(adapter, tracing))
    res = _search(evaluator, plan, items, rule, strategy=strategy, budget_usd=budget_usd,
                  seed=seed, max_concurrency=max_concurrency, storage=storage,
                  study_name=study_name or "agentopt",
                  anchors={"baseline": plan.baseline} if baseline and plan.baseline else None,
                  confidence=confidence, progress=progress,
                  metadata=_metadata(adapter, plan, rule))
    return OptimizeResult.of(res, plan=plan, adapter=adapter, app=app, rule=rule,
                             metric_errors=evaluator.metric_errors, baseline_wanted=baseline)


def _search(evaluator: CellEvaluator, plan: SpacePlan, items: list[Any], rule: Mapping[str, Any],
            **settings: Any) -> Any:
    """The one search of the run (the baseline an anchor of it);
    user-input errors re-raised as such."""
    try:
        return search(plan.space, evaluator, items, **settings, **rule)
    except Abort as abort:
        raise abort.error from None
    except SearchError:
        # every cell failed because the metric did: say so
        broken = evaluator.metric_never_worked()
        if broken is not None:
            raise broken from None
        raise
    finally:
        evaluator.close()


def _discover(adapter: Adapter, app: Any, candidates: Any, slots: Any,
              options: Mapping[str, Any] | None) -> list[Slot]:
    opts = dict(options or {})
    if (adapter.framework == "callable" and "slots" not in opts
            and getattr(app, "agentopt_slots", None) is None):
        declared = candidates if isinstance(candidates, Mapping) else slots
        opts["slots"] = list(declared) if declared is not None else None
    found = adapter.discover(app, **opts)
    if not found:
        raise SlotError("no model slot found in the app; nothing to optimize")
    return found


def _run_options(adapter: Adapter, context: Any,
                 config: Mapping[str, Any] | None) -> dict[str, Any]:
    """What every evaluation passes to the app's runner (LangGraph: runtime context,
    run config)."""
    if adapter.framework != "langgraph":
        if context is not None or config is not None:
            raise AgentOptError("context= and config= are LangGraph runtime inputs; a "
                                f"{adapter.framework} app takes its inputs from the dataset")
        return {}
    options: dict[str, Any] = {"config": {**dict(config or {}),
                                          "tags": [*(config or {}).get("tags", []), "agentopt"]}}
    if context is not None:
        options["context"] = context
    return options


def _bind_options(adapter: Adapter, tracing: bool) -> dict[str, Any]:
    """LangGraph: tracing off for the search when asked
    (other frameworks have no LangSmith runs)."""
    return {"tracing": False} if not tracing and adapter.framework == "langgraph" else {}


def _selection_rule(objective: Any, tolerance: float | None,
                    **constraints: float | None) -> dict[str, Any]:
    """The search's selection rule (objective, tolerance, constraints),
    checked before any model call."""
    try:
        checked = selection.check_selection(objective, 0.01 if tolerance is None else tolerance,
                                            **constraints)
    except ValueError as exc:
        raise AgentOptError(str(exc)) from None
    return {"objective": checked["objective"], "tolerance": checked["epsilon"], **constraints}


def _metadata(adapter: Adapter, plan: SpacePlan, rule: Mapping[str, Any]) -> dict[str, Any]:
    """What ``agentopt show`` / ``load_result`` need besides the cells (never a secret)."""
    return {"framework": adapter.framework, "slots": dict(plan.aliases), "rule": dict(rule),
            "candidates": {a: {c.label: c.public() for c in cands}
                           for a, cands in plan.candidates.items()},
            "discovered": [{"name": s.name, "default_model": s.default_model, "where": s.where}
                           for s in plan.slots]}
