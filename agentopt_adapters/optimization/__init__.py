"""``optimize`` (module ``optimizer``, so it does not shadow ``aa.optimize``): search the cheapest model combination that keeps accuracy.

```python
result = aa.optimize(app, dataset, metric, candidates=["sim/nano", "sim/small", "sim/large"])
result.print_summary(); result.export("agentopt.json"); tuned = aa.apply(app, "agentopt.json")
```
Each combination is bound once (``aa.bind``) and reused for every example; examples run
concurrently through ``run.acall``. App errors and unparseable answers are recorded as failed
cells (score 0, real cost kept); a metric that raises or returns a value outside [0, 1] stops the
run with one MetricError naming the example. The baseline (the app's current model in every slot,
when known) is always evaluated on every example and shown next to the winner.
"""

from __future__ import annotations

import asyncio
import json
import math
import numbers
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable

from agentopt_search import CombinationStats, Outcome, SearchResult, SearchSpace, search
from agentopt_search.results import pareto_front
from agentopt_search.storage import resolve_url

from ..errors import AgentOptError, DatasetError, MetricError, ModelError, SlotError
from ..models import check_model_string
from ..protocol import Adapter, adapter_for
from ..redaction import redact
from ..usage import Slot, Usage, is_failed

__all__ = ["optimize", "OptimizeResult", "normalize_dataset", "Item"]

_OBJECTIVE_KEYS = ("score", "cost", "latency")


@dataclass(frozen=True)
class Item:
    """One dataset entry: what the app is called with (``input``) and what the metric sees (``example``)."""

    index: int
    input: Any
    example: Any

    def __repr__(self) -> str:  # stable across runs: the storage fingerprint hashes it
        return f"Item({self.index}, {self.example!r})"


def normalize_dataset(dataset: Any) -> list[Item]:
    """dicts / dspy.Example -> (item, item); ``(input, expected)`` pairs -> (input, pair); else (x, x)."""
    if dataset is None or isinstance(dataset, (str, bytes, Mapping)):
        raise DatasetError(f"dataset must be a list of examples (dicts, dspy.Example or (input, expected) pairs), "
                           f"got {type(dataset).__name__}")
    try:
        raw = list(dataset)
    except TypeError:
        raise DatasetError(f"dataset must be iterable (a list of examples), got {type(dataset).__name__}") from None
    if not raw:
        raise DatasetError("dataset is empty; give at least one example")
    items = []
    for i, ex in enumerate(raw):
        if isinstance(ex, tuple) and len(ex) == 2:
            items.append(Item(i, ex[0], ex))
        else:
            items.append(Item(i, ex, ex))
    return items


def _score(metric: Callable[[Any, Any], Any], item: Item, output: Any) -> float:
    try:
        value = metric(item.example, output)
    except Exception as exc:
        raise MetricError(f"metric raised {type(exc).__name__}: {exc} on example #{item.index} "
                          f"({_short(item.example)}); fix the metric (app errors are recorded, metric errors stop the run)") from exc
    if isinstance(value, bool):
        value = float(value)
    if not isinstance(value, numbers.Real) or math.isnan(float(value)) or not 0.0 <= float(value) <= 1.0:
        raise MetricError(f"metric returned {value!r} on example #{item.index} ({_short(item.example)}); "
                          "it must return a float in [0, 1]")
    return float(value)


def _short(x: Any, n: int = 80) -> str:
    s = repr(x)
    return s if len(s) <= n else s[: n - 3] + "..."


class _Abort(BaseException):
    """Carries a MetricError through the search loop (which records ordinary exceptions as app errors)."""

    def __init__(self, error: AgentOptError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class _Cell:
    outcome: Outcome
    usage: Usage | None


class _Evaluator:
    """async ``evaluate(assignment, item)``: one bind per assignment, cached cells, usage kept per cell."""

    def __init__(self, adapter: Adapter, app: Any, metric: Callable[[Any, Any], Any],
                 to_app: Callable[[Mapping[str, str]], dict[str, str]]) -> None:
        self.adapter, self.app, self.metric, self.to_app = adapter, app, metric, to_app
        self.runners: dict[str, Any] = {}
        self.contexts: list[Any] = []
        self.cells: dict[tuple[str, int], _Cell] = {}
        self.replayed_usd = 0.0
        self.replayed_n = 0
        self.paid_usd = 0.0  # dollars of the cells evaluated by this process (not replayed, not stored)
        self.paid_n = 0

    def preload(self, stored: Iterable[tuple[dict[str, str], int, Outcome]]) -> None:
        """Cells already paid for (in storage): replayed when asked for, never evaluated again."""
        for assignment, index, outcome in stored:
            self.cells.setdefault((self.key(assignment), index), _Cell(outcome, None))

    def spent(self) -> tuple[float, int]:
        """(dollars, cells) over every distinct cell known: stored, baseline and searched ones once each."""
        return sum(c.outcome.cost_usd or 0.0 for c in self.cells.values()), len(self.cells)

    @staticmethod
    def key(assignment: Mapping[str, str]) -> str:
        return "|".join(f"{k}={v}" for k, v in assignment.items())

    def runner(self, assignment: Mapping[str, str]) -> Any:
        key = self.key(assignment)
        run = self.runners.get(key)
        if run is None:  # no await between check and set: one bind per assignment
            ctx = self.adapter.bind(self.app, self.to_app(assignment))
            run = ctx.__enter__()
            self.contexts.append(ctx)
            self.runners[key] = run
        return run

    def close(self) -> None:
        while self.contexts:
            try:
                self.contexts.pop().__exit__(None, None, None)
            except Exception:
                pass

    async def __call__(self, assignment: dict[str, str], item: Item) -> Outcome:
        ck = (self.key(assignment), item.index)
        cached = self.cells.get(ck)
        if cached is not None:  # evaluated by the baseline pass: reuse, never pay twice
            self.replayed_n += 1
            self.replayed_usd += cached.outcome.cost_usd or 0.0
            return cached.outcome
        start = time.perf_counter()
        try:
            out, usage = await self.runner(assignment).acall(item.input)
        except AgentOptError as exc:  # binding / slot / model errors are the user's input: stop
            raise _Abort(exc) from None
        except Exception as exc:
            # error messages are stored and printed: never with a key a provider echoed back
            outcome = Outcome.failed(redact(f"{type(exc).__name__}: {exc}"), latency_s=time.perf_counter() - start)
            self.cells[ck] = _Cell(outcome, None)
            self.paid_n += 1
            return outcome
        wall = time.perf_counter() - start
        model_time = sum(c.latency_s for c in usage.calls)
        latency = model_time if model_time > 0 else wall
        cost = usage.cost_usd
        if is_failed(out):
            outcome = Outcome.failed(redact(f"{out.kind}: {out.error}"), cost_usd=cost or 0.0, latency_s=latency)
            outcome = Outcome(0.0, cost, latency, outcome.error)
        else:
            try:
                score = _score(self.metric, item, out)
            except MetricError as exc:
                raise _Abort(exc) from None
            outcome = Outcome(score, cost, latency)
        self.cells[ck] = _Cell(outcome, usage)
        self.paid_n += 1
        self.paid_usd += cost or 0.0
        return outcome


@dataclass
class OptimizeResult(SearchResult):
    """A SearchResult plus the baseline, the objective, per-slot usage, plot and export."""

    baseline: CombinationStats | None = None
    objective: Any = "score"
    constraints: dict[str, float | None] = field(default_factory=dict)
    slots: list[Slot] = field(default_factory=list)
    framework: str = ""
    _app: Any = field(default=None, repr=False)
    _adapter: Any = field(default=None, repr=False)
    _evaluator: Any = field(default=None, repr=False)
    _to_app: Any = field(default=None, repr=False)

    # ---- reading ---------------------------------------------------------------------------
    def per_slot_usage(self, assignment: Mapping[str, str] | None = None) -> dict[str, dict[str, Any]]:
        """Calls, tokens and USD per slot of ``assignment`` (default: best), summed over examples run here.

        Cells loaded from storage (a resumed run) have no recorded usage and are not counted.
        The key ``"(unattributed)"`` holds calls no slot explains.
        """
        assignment = dict(assignment or (self.best.assignment if self.best else {}))
        if not assignment:
            raise AgentOptError("no assignment given and no best combination")
        key = _Evaluator.key(assignment)
        out: dict[str, dict[str, Any]] = {}
        n = 0
        for (k, _), cell in (self._evaluator.cells.items() if self._evaluator else []):
            if k != key or cell.usage is None:
                continue
            n += 1
            for c in cell.usage.calls:
                row = out.setdefault(c.slot or "(unattributed)", {"calls": 0, "input_tokens": 0, "output_tokens": 0,
                                                                 "cost_usd": 0.0, "models": set()})
                row["calls"] += 1
                row["input_tokens"] += c.input_tokens
                row["output_tokens"] += c.output_tokens
                row["cost_usd"] = None if row["cost_usd"] is None or c.cost_usd is None else row["cost_usd"] + c.cost_usd
                row["models"].add(c.model)
        if n == 0:
            raise AgentOptError(f"no recorded usage for {assignment!r} in this run (not evaluated, or loaded from storage)")
        for row in out.values():
            row["models"] = sorted(row["models"])
            row["n_examples"] = n
        return out

    def full_assignment(self, assignment: Mapping[str, str] | None = None) -> dict[str, str]:
        """``assignment`` (default: best) with the app's own slot names and any fixed slots filled in."""
        assignment = assignment or (self.best.assignment if self.best else None)
        if not assignment:
            raise AgentOptError("no best combination to export (every combination failed or none met the constraints)")
        return self._to_app(assignment)

    def export(self, path: str | Path = "agentopt.json", assignment: Mapping[str, str] | None = None) -> Path:
        """Write the ``agentopt.assignment/v1`` file for ``assignment`` (default: best); returns the path."""
        full = self.full_assignment(assignment)
        doc = self._adapter.export_config(self._app, full)
        row = self._row(assignment or self.best.assignment)  # type: ignore[union-attr]
        if row is not None:
            doc["agentopt"] = {"score": _num(row.mean_score), "ci": list(row.ci), "cost_per_example_usd": _num(row.mean_cost_usd),
                               "latency_s": _num(row.mean_latency_s), "n": row.n}
        path = Path(path)
        path.write_text(json.dumps(doc, indent=2) + "\n")
        return path

    def _row(self, assignment: Mapping[str, str]) -> CombinationStats | None:
        try:
            return self.get(dict(assignment))
        except KeyError:
            return None

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d.update(baseline=self.baseline.to_dict() if self.baseline else None, objective=self.objective,
                 constraints=self.constraints, framework=self.framework,
                 slots=[{"name": s.name, "default_model": s.default_model, "where": s.where} for s in self.slots],
                 comparison=self.comparison())
        return d

    # ---- reporting -------------------------------------------------------------------------
    def comparison(self) -> str:
        """One honest sentence comparing the pick with the baseline, from measured numbers."""
        return baseline_sentence(self.best, self.baseline, self.epsilon)

    def print_summary(self, console: Any = None, top: int = 10) -> None:
        """Leaderboard with CIs, Pareto front, spend vs brute force, and the baseline comparison."""
        from rich.console import Console

        console = console or Console()
        super().print_summary(console=console, top=top)
        if self.objective != "score" or any(v is not None for v in self.constraints.values()):
            cons = ", ".join(f"{k}={v}" for k, v in self.constraints.items() if v is not None) or "none"
            console.print(f"Objective: {self.objective}; constraints: {cons}")
        if self.extra.get("no_feasible"):
            console.print("[bold red]No evaluated combination met the constraints.[/bold red]")
        if self.stopped_on_budget:
            console.print(self.budget_sentence())
        console.print(self.comparison())

    def budget_sentence(self) -> str:
        """Why the search stopped early and what the pick rests on (for a budget stop)."""
        budget = self.extra.get("budget_usd")
        cap = f" of {_usd(budget)}" if budget is not None else ""
        head = (f"Stopped on the budget{cap}: spent {_usd(self.spent_usd)} "
                "(calls already in flight when the cap was reached finish and are counted).")
        b = self.best
        if b is None:
            return head + " No combination has a usable result yet."
        return (f"{head} Best so far: {b.key}, score {b.mean_score:.3f} [{b.ci[0]:.3f}, {b.ci[1]:.3f}] "
                f"on {b.n} of {self.n_items} examples.")

    def plot(self, path: str | Path = "pareto.html") -> Path:
        """Accuracy vs cost per example (CI error bars, marker size ~ latency), Pareto front, baseline, best."""
        return plot_result(self, path)


def _num(v: float) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _usd(v: float) -> str:
    return "n/a" if _num(v) is None else (f"${v:,.5f}" if v < 0.01 else f"${v:,.4f}")


def baseline_sentence(best: CombinationStats | None, base: CombinationStats | None, epsilon: float = 0.01) -> str:
    """E.g. "Best vs baseline: same accuracy (0.82 vs 0.81) at 6.2x lower cost ($0.0003 vs $0.0019/example)"."""
    if base is None:
        return "No baseline: the app's current model is not known for every slot, so there is nothing to compare against."
    if best is None:
        return f"Baseline {base.key}: score {base.mean_score:.3f}, {_usd(base.mean_cost_usd)}/example; no pick to compare."
    if best.assignment == base.assignment:
        return (f"The baseline ({base.key}) is the pick: score {base.mean_score:.3f}, {_usd(base.mean_cost_usd)}/example; "
                "no cheaper combination kept its accuracy.")
    d = best.mean_score - base.mean_score
    if abs(d) <= epsilon:
        acc = f"same accuracy ({best.mean_score:.3f} vs {base.mean_score:.3f})"
    elif d > 0:
        acc = f"higher accuracy ({best.mean_score:.3f} vs {base.mean_score:.3f}, +{d:.3f})"
    else:
        acc = f"lower accuracy ({best.mean_score:.3f} vs {base.mean_score:.3f}, {d:.3f})"
    bc, pc = _num(base.mean_cost_usd), _num(best.mean_cost_usd)
    if bc is None or pc is None:
        cost = "cost unknown (some calls unpriced)"
    elif pc == bc:
        cost = "the same cost"
    elif pc < bc:
        cost = f"{bc / pc:.1f}x lower cost" if pc > 0 else "lower cost"
    else:
        cost = f"{pc / bc:.1f}x higher cost" if bc > 0 else "higher cost"
    ns = f"; n={best.n} vs {base.n} examples" if best.n != base.n else ""
    return (f"Best vs baseline ({base.key}): {acc} at {cost} "
            f"({_usd(best.mean_cost_usd)} vs {_usd(base.mean_cost_usd)}/example{ns}).")


def plot_result(result: SearchResult, path: str | Path) -> Path:
    """Write a self-contained (offline) plotly HTML scatter of the tried combinations."""
    import plotly.graph_objects as go

    rows = [s for s in result.leaderboard if s.n > 0 and s.status != "failed" and _num(s.mean_cost_usd) is not None]
    front = {s.index for s in pareto_front(rows)}
    lat = [s.mean_latency_s if _num(s.mean_latency_s) is not None else 0.0 for s in rows]
    lmax = max(lat) if lat and max(lat) > 0 else 1.0

    def trace(sel: list[CombinationStats], name: str, **marker: Any) -> Any:
        return go.Scatter(
            x=[s.mean_cost_usd for s in sel], y=[s.mean_score for s in sel], mode="markers", name=name,
            error_y=dict(type="data", symmetric=False, array=[s.ci[1] - s.mean_score for s in sel],
                         arrayminus=[s.mean_score - s.ci[0] for s in sel], thickness=1),
            marker=dict(size=[8 + 14 * (s.mean_latency_s or 0) / lmax for s in sel], **marker),
            text=[f"{s.key}<br>score {s.mean_score:.3f} [{s.ci[0]:.3f}, {s.ci[1]:.3f}]<br>"
                  f"cost {_usd(s.mean_cost_usd)}/example<br>latency {s.mean_latency_s:.2f}s<br>n={s.n} ({s.status})"
                  for s in sel],
            hoverinfo="text")

    fig = go.Figure()
    fig.add_trace(trace([s for s in rows if s.index not in front], "combination", color="lightsteelblue"))
    pf = sorted([s for s in rows if s.index in front], key=lambda s: s.mean_cost_usd)
    fig.add_trace(trace(pf, "Pareto front", color="crimson"))
    fig.add_trace(go.Scatter(x=[s.mean_cost_usd for s in pf], y=[s.mean_score for s in pf], mode="lines",
                             line=dict(color="crimson", dash="dot"), showlegend=False, hoverinfo="skip"))
    base = getattr(result, "baseline", None)
    if base is not None and base.n:
        fig.add_trace(trace([base], "baseline", color="black", symbol="square"))
    if result.best is not None:
        fig.add_trace(trace([result.best], "best", color="gold", symbol="star", line=dict(color="black", width=1)))
    fig.update_layout(title="agentopt: accuracy vs cost per example (marker size ~ latency; bars = CI)",
                      xaxis_title="cost per example (USD, log)", yaxis_title="score", xaxis_type="log",
                      template="plotly_white")
    path = Path(path)
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)
    return path


# ---- the entry point ---------------------------------------------------------------------------

def _resolve_slots(discovered: list[Slot], slots: Any, candidates: Any) -> tuple[dict[str, str], dict[str, Slot]]:
    """(alias -> app slot name, app slot name -> Slot) of the slots to search."""
    by_name = {s.name: s for s in discovered}
    if slots is None:
        if isinstance(candidates, Mapping):
            chosen = {str(k): str(k) for k in candidates}
            unknown = sorted(set(chosen) - set(by_name))
            if unknown:
                raise SlotError(f"candidates names unknown slot(s) {unknown}; the app's slots are {sorted(by_name)}")
        else:
            chosen = {n: n for n in by_name}
    elif isinstance(slots, Mapping):  # {app slot: display name}
        chosen = {str(alias): str(name) for name, alias in slots.items()}
    elif isinstance(slots, str):
        chosen = {slots: slots}
    elif isinstance(slots, Iterable):
        chosen = {str(s): str(s) for s in slots}
    else:
        raise SlotError(f"slots must be a list of slot names or {{app slot: name}}, got {slots!r}")
    unknown = sorted({v for v in chosen.values()} - set(by_name))
    if unknown:
        raise SlotError(f"slots= names unknown slot(s) {unknown}; the app's slots are {sorted(by_name)}")
    if not chosen:
        raise SlotError(f"no slot to search; the app's slots are {sorted(by_name)}")
    return chosen, by_name


def _check_models(models: Any, slot: str) -> list[str]:
    if isinstance(models, str):
        models = [models]
    if isinstance(models, Mapping) or not isinstance(models, Iterable):
        raise ModelError(f"slot {slot!r}: candidates must be a list of model strings such as "
                         f"['sim/nano', 'sim/small'], got {models!r}")
    out: list[str] = []
    for m in models:
        check_model_string(m, slot)
        if m not in out:
            out.append(m)
    return out


def _is_number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and not math.isnan(v)


def _constraint(v: Any, name: str) -> float | None:
    if v is None:
        return None
    if not _is_number(v) or v < 0:
        raise AgentOptError(f"{name} must be a non-negative number or None, got {v!r}")
    return float(v)


def _objective_fn(objective: Any) -> Callable[[CombinationStats], float]:
    if objective == "score":
        return lambda s: s.mean_score
    if isinstance(objective, Mapping):
        bad = sorted(set(objective) - set(_OBJECTIVE_KEYS))
        if bad or not objective:
            raise AgentOptError(f"objective weights may use keys {list(_OBJECTIVE_KEYS)}, got {sorted(objective)}")
        w = {k: objective.get(k, 0.0) for k in _OBJECTIVE_KEYS}
        bad_w = {k: v for k, v in w.items() if not _is_number(v) or math.isinf(v)}
        if bad_w:
            raise AgentOptError(f"objective weights must be finite numbers, got {bad_w}")
        w = {k: float(v) for k, v in w.items()}
        return lambda s: (w["score"] * s.mean_score + w["cost"] * (_num(s.mean_cost_usd) or 0.0)
                          + w["latency"] * (_num(s.mean_latency_s) or 0.0))
    raise AgentOptError(f"objective must be 'score' or a dict of weights like "
                        f"{{'score': 1, 'cost': -100, 'latency': -0.01}}, got {objective!r}")


def optimize(
    app: Any,
    dataset: Any,
    metric: Callable[[Any, Any], float],
    candidates: Iterable[str] | Mapping[str, Iterable[str]],
    slots: Iterable[str] | Mapping[str, str] | None = None,
    strategy: str = "auto",
    budget_usd: float | None = None,
    seed: int = 0,
    max_concurrency: int = 8,
    objective: str | Mapping[str, float] = "score",
    max_cost_per_example: float | None = None,
    max_latency_s: float | None = None,
    min_score: float | None = None,
    storage: str | None = None,
    *,
    baseline: bool = True,
    study_name: str | None = None,
    progress: bool = True,
    confidence: float = 0.95,
    epsilon: float = 0.01,
    discover_options: Mapping[str, Any] | None = None,
) -> OptimizeResult:
    """Search the best model per slot of ``app`` on ``dataset`` scored by ``metric(example, output)``.

    ``candidates``: one list for every searched slot, or ``{slot: [models]}``. ``slots``: restrict to
    these app slots (list) or rename them (``{app_slot: name}``); other slots keep their current model.
    ``objective`` / ``max_cost_per_example`` / ``max_latency_s`` / ``min_score`` choose the winner among
    the evaluated combinations (filter by the constraints, then best objective). ``storage``: an Optuna
    URL (``sqlite:///run.db``) makes the run resumable. Errors come before any model call when checkable.
    """
    adapter = adapter_for(app)
    items = normalize_dataset(dataset)
    storage = resolve_url(storage) if isinstance(storage, str) else storage
    if not callable(metric):
        raise MetricError(f"metric must be a function metric(example, output) -> float in [0, 1], got {metric!r}")
    if candidates is None or isinstance(candidates, str) and "," not in candidates:
        if isinstance(candidates, str):
            candidates = [candidates]
        else:
            raise ModelError("candidates is required: a list of model strings, or {slot: [models]}")
    if isinstance(candidates, str):
        candidates = [c.strip() for c in candidates.split(",") if c.strip()]
    if not isinstance(candidates, (Mapping, Iterable)):
        raise ModelError(f"candidates must be a list of model strings or {{slot: [models]}}, got {candidates!r}")
    _constraint(budget_usd, "budget_usd")
    objective_fn = _objective_fn(objective)
    cons = {"max_cost_per_example": _constraint(max_cost_per_example, "max_cost_per_example"),
            "max_latency_s": _constraint(max_latency_s, "max_latency_s"),
            "min_score": _constraint(min_score, "min_score")}

    opts = dict(discover_options or {})
    if adapter.framework == "callable" and "slots" not in opts and getattr(app, "agentopt_slots", None) is None:
        declared = candidates if isinstance(candidates, Mapping) else slots
        if isinstance(declared, Mapping) and declared is slots:
            declared = list(declared)
        opts["slots"] = list(declared) if declared is not None else None
    discovered = adapter.discover(app, **opts)
    if not discovered:
        raise SlotError("no model slot found in the app; nothing to optimize")
    alias_to_app, by_name = _resolve_slots(discovered, slots, candidates)
    app_to_alias = {v: k for k, v in alias_to_app.items()}

    space_slots: dict[str, list[str]] = {}
    for alias, name in alias_to_app.items():
        if isinstance(candidates, Mapping):
            given_key = alias if alias in candidates else name if name in candidates else None
            cands = candidates[given_key] if given_key is not None else None
            if given_key is None:
                default = by_name[name].default_model
                if default is None:
                    raise SlotError(f"candidates has no entry for slot {alias!r} and its current model is unknown; "
                                    f"add {alias!r}: [models] to candidates")
                cands = [default]
        else:
            cands = candidates
        cands = _check_models(cands, alias)
        if not cands:
            raise ModelError(f"slot {alias!r} has no candidate models")
        space_slots[alias] = cands

    fixed: dict[str, str] = {}
    for s in discovered:
        if s.name not in app_to_alias and s.default_model:
            fixed[s.name] = s.default_model

    def to_app(assignment: Mapping[str, str]) -> dict[str, str]:
        return {**fixed, **{alias_to_app[a]: m for a, m in assignment.items()}}

    base_assign: dict[str, str] | None = None
    if baseline and all(by_name[alias_to_app[a]].default_model for a in space_slots):
        base_assign = {a: str(by_name[alias_to_app[a]].default_model) for a in space_slots}
        for a, m in base_assign.items():
            try:
                check_model_string(m, a)
            except ModelError:
                base_assign = None
                break
        if base_assign:
            for a, m in base_assign.items():
                if m not in space_slots[a]:
                    space_slots[a].append(m)
    space = SearchSpace(space_slots)

    evaluator = _Evaluator(adapter, app, metric, to_app)
    common = dict(seed=seed, max_concurrency=max_concurrency, confidence=confidence, epsilon=epsilon, progress=progress)
    study = study_name or "agentopt"
    base_space = None if base_assign is None else SearchSpace({a: [m] for a, m in base_assign.items()})
    if storage:  # a resumed run: what either study stored is replayed by the other, never paid again
        if base_space is not None:
            evaluator.preload(_stored(storage, base_space, items, f"{study}-baseline"))
        evaluator.preload(_stored(storage, space, items, study))
    base_stats: CombinationStats | None = None
    base_res: SearchResult | None = None
    prior: list[tuple[dict[str, str], int, Outcome]] = []
    try:
        if base_assign is not None and base_space is not None:
            base_res = search(base_space, evaluator, items, strategy="brute_force", budget_usd=budget_usd,
                              storage=storage, study_name=f"{study}-baseline", **common)
            base_stats = base_res.leaderboard[0]
            if storage:  # baseline cells other workers paid meanwhile: replayed by the search, never paid again
                evaluator.preload(_stored(storage, base_space, items, f"{study}-baseline"))
            base_key = evaluator.key(base_assign)
            prior = [(dict(base_assign), i, c.outcome) for (k, i), c in evaluator.cells.items() if k == base_key]
        # the baseline's cells are known to the search from the start: never paid twice, and the budget
        # covers both passes (the search's spend includes them)
        res = search(space, evaluator, items, strategy=strategy, budget_usd=budget_usd, storage=storage,
                     study_name=study, prior=prior, min_score=cons["min_score"], **common)
    except _Abort as abort:
        raise abort.error from None
    finally:
        evaluator.close()

    kw = {f.name: getattr(res, f.name) for f in fields(SearchResult) if f.name != "objective"}  # set below
    result = OptimizeResult(**kw, baseline=None, objective=objective, constraints=cons, slots=discovered,
                            framework=adapter.framework, _app=app, _adapter=adapter, _evaluator=evaluator, _to_app=to_app)
    result.spent_usd, result.n_evaluations = evaluator.spent()
    if base_res is not None and base_res.stopped_on_budget:
        result.stop_reason = "budget"
    if base_res is not None:
        if base_stats is not None and base_stats.n:
            # the baseline pass saw every example: its row in the leaderboard gets that evidence
            row = result._row(base_stats.assignment)
            if row is not None and row.n <= base_stats.n:
                full = CombinationStats(**{**base_stats.to_dict(), "index": row.index,
                                           "status": row.status if row.status != "not tried" else "kept",
                                           "reason": row.reason or "baseline"})
                full.ci = tuple(full.ci)  # type: ignore[assignment]
                result.leaderboard = [full if s.index == row.index else s for s in result.leaderboard]
                if result.best is not None and result.best.index == row.index:
                    result.best = full
                base_stats = full
    result.baseline = base_stats
    result.extra.update(baseline_spent_usd=base_res.spent_usd if base_res else 0.0,
                        replayed_cells=evaluator.replayed_n, baseline_cells_reused=len(prior),
                        paid_this_run=evaluator.paid_n, spent_this_run_usd=evaluator.paid_usd, budget_usd=budget_usd)

    if objective != "score" or any(v is not None for v in cons.values()):
        pool = [s for s in result.leaderboard if s.n > 0 and s.status != "failed"]
        ok = [s for s in pool
              if (cons["max_cost_per_example"] is None or (_num(s.mean_cost_usd) is not None
                                                          and s.mean_cost_usd <= cons["max_cost_per_example"]))
              and (cons["max_latency_s"] is None or s.mean_latency_s <= cons["max_latency_s"])
              and (cons["min_score"] is None or s.mean_score >= cons["min_score"])]
        # prefer combinations with the most evidence among equals: sort by objective, then n
        result.best = max(ok, key=lambda s: (objective_fn(s), s.n)) if ok else None
        result.extra["no_feasible"] = not ok
    if storage:
        _save_meta(storage, study, result)
    return result


def _stored(storage: str, space: SearchSpace, items: list[Item], study: str) -> list[tuple[dict[str, str], int, Outcome]]:
    """The cells a study in ``storage`` holds (none when it does not exist yet)."""
    from agentopt_search.storage import OptunaStore, dataset_fingerprint

    store = OptunaStore(storage, space, len(items), dataset_fingerprint(items), study)
    return [(space.assignment(c), ex, Outcome(score, cost, latency, error))
            for c, ex, score, cost, latency, error in store.load() if 0 <= ex < len(items)]


def _save_meta(storage: str, study: str, result: OptimizeResult) -> None:
    """Record the optimize-level facts in the study so ``agentopt show`` can re-print the run."""
    try:
        import optuna

        st = optuna.load_study(study_name=study, storage=storage)
        st.set_user_attr("agentopt_optimize", {
            "framework": result.framework, "objective": result.objective, "constraints": result.constraints,
            "baseline": result.baseline.assignment if result.baseline else None,
            "best": result.best.assignment if result.best else None,
            "spent_usd": result.spent_usd, "n_evaluations": result.n_evaluations,
            "strategy": result.strategy, "stop_reason": result.stop_reason,
            "brute_force_usd": _num(result.brute_force_usd), "confidence": result.confidence,
            "epsilon": result.epsilon, "comparison": result.comparison(),
        })
    except Exception:  # metadata is a convenience; the cells are already stored
        pass
