"""``OptimizeResult``: a SearchResult plus the baseline, per-slot usage, the summary,
export and plot."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from agentopt_search import CombinationStats, SearchResult
from agentopt_search.results import PairedComparison

from ..errors import AgentOptError
from ._format import as_number, usd
from .candidates import CURRENT, SpacePlan

__all__ = ["OptimizeResult", "baseline_sentence"]


@dataclass
class OptimizeResult(SearchResult):
    """What ``optimize`` found: the pick, every combination's evidence,
    the app as it is beside them."""

    baseline: CombinationStats | None = None
    baseline_comparison: PairedComparison | None = None
    rule: dict[str, Any] = field(default_factory=dict)
    slots: list[Any] = field(default_factory=list)
    framework: str = ""
    metric_errors: list[str] = field(default_factory=list)
    no_baseline_why: str = ""  # why there is no baseline (when there is none)
    _plan: Any = field(default=None, repr=False)
    _adapter: Any = field(default=None, repr=False)
    _app: Any = field(default=None, repr=False)

    @classmethod
    def of(cls, res: SearchResult, *, plan: SpacePlan, adapter: Any, app: Any,
           rule: Mapping[str, Any], metric_errors: Sequence[str] = (),
           baseline_wanted: bool = True) -> OptimizeResult:
        kw = {f.name: getattr(res, f.name) for f in fields(SearchResult)}
        why = ("not measured (baseline=False)" if not baseline_wanted else "" if plan.baseline else
               "the app declares no default model for every searched slot (declare them: "
               "app.agentopt_slots = {slot: model})")
        return cls(**kw, baseline=res.anchors.get("baseline"),
                   baseline_comparison=res.comparisons.get("baseline"), rule=dict(rule),
                   slots=list(plan.slots), framework=adapter.framework,
                   metric_errors=list(metric_errors), no_baseline_why=why, _plan=plan,
                   _adapter=adapter, _app=app)

    # ---- reading ---------------------------------------------------------------------------
    @property
    def baseline_models(self) -> dict[str, str | None]:
        """Searched slot -> the model the app's own model object calls (what the baseline ran): the
        model(s) the baseline's evaluations called, else the discovered default (a model built at
        run time, e.g. from the runtime context, is unknown to discovery but measured by the
        baseline)."""
        found = self._plan.current_models() if self._plan is not None else {}
        called: dict[str, set[str]] = {}
        for rows in (self.usage(self.baseline.assignment).values() if self.baseline is not None
                     else ()):
            for r in rows:
                if r.slot is not None and r.slot in found and r.calls:
                    called.setdefault(r.slot, set()).add(r.model)
        return {a: ", ".join(sorted(called[a])) if a in called else m for a, m in found.items()}

    def per_slot_usage(self, assignment: Mapping[str, str] | None = None
                       ) -> dict[str, dict[str, Any]]:
        """Calls, tokens and USD per slot of ``assignment`` (default: best), summed over the
        examples it was evaluated on, stored ones included (``"(unattributed)"``: calls no slot
        explains)."""
        chosen = dict(assignment or (self.best.assignment if self.best else {}))
        if not chosen:
            raise AgentOptError("no assignment given and no best combination")
        out: dict[str, dict[str, Any]] = {}
        examples = list(self.usage(chosen).values())
        if not examples:
            raise AgentOptError(f"no recorded usage for {chosen} (not evaluated, or its "
                                "evaluations reported none)")
        for rows in examples:
            for r in rows:
                row = out.setdefault(r.slot or "(unattributed)",
                                     {"calls": 0, "input_tokens": 0, "output_tokens": 0,
                                      "cost_usd": 0.0, "models": set()})
                row["calls"] += r.calls
                row["input_tokens"] += r.input_tokens
                row["output_tokens"] += r.output_tokens
                row["cost_usd"] = (None if row["cost_usd"] is None or r.cost_usd is None
                                   else row["cost_usd"] + r.cost_usd)
                row["models"].add(r.model)
        for row in out.values():
            row["models"] = sorted(row["models"])
            row["n_examples"] = len(examples)
        return out

    def unattributed(self) -> tuple[int, int]:
        """(calls no slot explains, all calls) over every evaluation the result rests on."""
        calls = [r for cells in self.cell_usage.values() for rows in cells.values() for r in rows]
        return sum(r.calls for r in calls if r.slot is None), sum(r.calls for r in calls)

    # ---- export ----------------------------------------------------------------------------
    def export(self, path: str | Path = "agentopt.json",
               assignment: Mapping[str, str] | None = None) -> Path:
        """Write the ``agentopt.assignment/v1`` file for ``assignment`` (default: best): the
        searched slots that changed model (slots never called on the data keep their own model);
        returns the path."""
        chosen = dict(assignment or (self.best.assignment if self.best else {}))
        if not chosen:
            raise AgentOptError("no best combination to export (every combination failed or none "
                                "met the constraints)")
        kept = {a: (CURRENT if a in self.idle_slots else m) for a, m in chosen.items()}
        doc = self._adapter.export_config(self._app, self._plan.public(kept))
        row = self._row(chosen)
        if row is not None:
            doc["agentopt"] = {"score": as_number(row.mean_score), "ci": list(row.ci),
                               "cost_per_example_usd":
                               as_number(row.mean_cost_usd),
                               "latency_s": as_number(row.mean_latency_s), "n": row.n,
                               "baseline": self.comparison()}
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
        d.update(baseline=self.baseline.to_dict() if self.baseline else None,
                 baseline_models=self.baseline_models, rule=self.rule,
                 framework=self.framework, comparison=self.comparison(),
                 metric_errors=self.metric_errors[:20],
                 slots=[{"name": s.name, "default_model": s.default_model, "where": s.where}
                        for s in self.slots])
        return d

    # ---- reporting -------------------------------------------------------------------------
    def comparison(self) -> str:
        """One honest sentence comparing the pick with the baseline, from measured numbers."""
        return baseline_sentence(self.best, self.baseline, self.baseline_comparison, self.epsilon,
                                 self.no_baseline_why)

    def notes(self) -> list[str]:
        """What the user must know besides the tables: idle slots, unattributed calls,
        metric errors, budget."""
        out: list[str] = []
        if self.idle_slots:
            out.append(f"Slot(s) {self.idle_slots} made no call on the examples evaluated: they "
                       "keep the app's own model (not exported), and their candidates cost "
                       "nothing extra.")
        lost, total = self.unattributed()
        if lost:
            out.append(f"[yellow]Warning:[/yellow] {lost} of {total} model calls "
                       f"({100 * lost / total:.0f}%) were not attributed to any slot: they ran on "
                       "the app's own models and are counted in cost, but not searched (see "
                       "aa.discover(app, probe_input=...)).")
        if self.metric_errors:
            out.append(f"[yellow]{len(self.metric_errors)} evaluation(s) scored 0 because the "
                       f"metric failed[/yellow], e.g. {self.metric_errors[0]}")
        if self.stopped_on_budget:
            out.append(self.budget_sentence())
        return out

    def print_summary(self, console: Any = None, top: int = 10) -> None:
        """Leaderboard with CIs, Pareto front, spend vs brute force,
        the baseline and what to watch."""
        from rich.console import Console

        console = console or Console()
        super().print_summary(console=console, top=top)
        if self.objective != "score" or any(self.rule.get(k) is not None for k in
                                            ("max_cost_per_example", "max_latency_s",
                                             "min_score")):
            rule = ", ".join(f"{k}={v}" for k, v in self.rule.items() if v is not None)
            console.print(f"Selection rule: {rule}")
        for line in self.notes():
            console.print(line)
        console.print(self.comparison())

    def budget_sentence(self) -> str:
        """Why the search stopped early and what the pick rests on (for a budget stop)."""
        b = self.best
        head = (f"Stopped on the budget of {usd(self.budget_usd)}: the evidence cost "
                f"{usd(self.evidence_usd)}, {usd(self.spent_usd)} of it paid in this run (calls "
                "already in flight when the cap was reached finish and are counted).")
        if b is None:
            return head + " No combination has a usable result yet."
        return (f"{head} Best so far: {b.key}, score {b.mean_score:.3f} [{b.ci[0]:.3f}, "
                f"{b.ci[1]:.3f}] on {b.n} of {self.n_items} examples.")

    def plot(self, path: str | Path = "pareto.html") -> Path:
        """Accuracy vs cost per example (CI error bars, marker size ~ latency), Pareto front,
        baseline, best."""
        from .plot import plot_result

        return plot_result(self, path)


def baseline_sentence(best: CombinationStats | None, base: CombinationStats | None,
                      paired: PairedComparison | None = None, epsilon: float = 0.01,
                      why_none: str = "") -> str:
    """E.g. "Best vs baseline: same accuracy (0.82 vs 0.81, paired +0.01 [-0.02, +0.04])
    at 6.2x lower cost"."""
    if base is None:
        return f"No baseline: {why_none or 'not measured'}; nothing to compare the pick with."
    if base.status == "failed":
        return ("The baseline (the app as it is) failed on every example it ran: "
                f"{base.first_error}")
    if best is None:
        return (f"Baseline: score {base.mean_score:.3f}, {usd(base.mean_cost_usd)}/example; "
                "no pick to compare.")
    d = best.mean_score - base.mean_score
    interval = (f", paired {paired.mean_difference:+.3f} [{paired.ci[0]:+.3f}, "
                f"{paired.ci[1]:+.3f}] on {paired.n}"
                if paired is not None and paired.n else "")
    scores = f"{best.mean_score:.3f} vs {base.mean_score:.3f}{interval}"
    acc = (f"same accuracy ({scores})" if abs(d) <= epsilon else
           f"higher accuracy ({scores})" if d > 0 else f"lower accuracy ({scores})")
    return (f"Best vs baseline (the app as it is): {acc} at {_cost_phrase(best, base)} "
            f"({usd(best.mean_cost_usd)} vs {usd(base.mean_cost_usd)}/example).")


def _cost_phrase(best: CombinationStats, base: CombinationStats) -> str:
    bc, pc = as_number(base.mean_cost_usd), as_number(best.mean_cost_usd)
    if bc is None or pc is None:
        return "cost unknown (some calls unpriced)"
    if pc == bc:
        return "the same cost"
    if pc < bc:
        return f"{bc / pc:.1f}x lower cost" if pc > 0 else "lower cost"
    return f"{pc / bc:.1f}x higher cost" if bc > 0 else "higher cost"
