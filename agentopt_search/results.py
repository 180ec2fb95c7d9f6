"""What a search returns: per-combination statistics, the pick, the Pareto front, a summary."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .certify import cheapest_within
from .outcome import UsageRow
from .state import SearchState
from .stats import bounds, mean_ci

if TYPE_CHECKING:
    from .recording import AnchorRecords
    from .storage.base import StoredCell

#: Tolerances at which the summary shows the cheapest certified combination (1, 2.5 and 5 pp).
SUMMARY_TOLERANCES = (0.01, 0.025, 0.05)

__all__ = ["CombinationStats", "OperatingPoint", "PairedComparison", "SearchResult",
           "SUMMARY_TOLERANCES", "pareto_front", "row_stats", "rows_from_cells"]

Status = Literal["kept", "eliminated", "not tried", "failed", "anchor"]


@dataclass
class CombinationStats:
    """One combination's evidence. ``ci``: reported (not certifying) interval for its expected
    score on examples like these (``stats.mean_ci``)."""

    index: int
    assignment: dict[str, str]
    mean_score: float
    ci: tuple[float, float]
    mean_cost_usd: float
    mean_latency_s: float
    n: int
    n_errors: int
    status: Status
    reason: str = ""
    first_error: str | None = None
    dominated: bool = False  # eliminated because another combination is as good on every objective

    @property
    def key(self) -> str:
        return "|".join(f"{k}={v}" for k, v in self.assignment.items())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PairedComparison:
    """The pick against an anchor on the examples both saw: the mean of (pick - anchor) and its
    two-sided interval at the search's confidence (paired bound of ``stats``, for new examples like
    these)."""

    anchor: str
    mean_difference: float
    ci: tuple[float, float]
    n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def row_stats(index: int, assignment: dict[str, str], scores: np.ndarray, costs: np.ndarray,
              latencies: np.ndarray, errors: list[tuple[int, str]], confidence: float,
              status: Status, reason: str = "", dominated: bool = False) -> CombinationStats:
    """One row's stats from its (item position) arrays;
    status "not tried" / "failed" when they say so."""
    seen = ~np.isnan(scores)
    n = int(seen.sum())
    priced = costs[seen & ~np.isnan(costs)]
    lat = latencies[seen & ~np.isnan(latencies)]
    final: Status = "not tried" if n == 0 else "failed" if len(errors) == n else status
    return CombinationStats(
        index=index, assignment=assignment,
        mean_score=float(scores[seen].mean()) if n else float("nan"),
        ci=mean_ci(scores[seen], confidence) if n else (0.0, 1.0),
        mean_cost_usd=float(priced.mean()) if priced.size else float("nan"),
        mean_latency_s=float(lat.mean()) if lat.size else float("nan"), n=n, n_errors=len(errors),
        status=final, reason=reason, first_error=min(errors)[1] if errors else None,
        dominated=dominated,
    )


def rows_from_cells(cells: Iterable[StoredCell], slots: Sequence[str],
                    anchors: Mapping[str, Mapping[str, str]], n_examples: int,
                    confidence: float = 0.95
                    ) -> tuple[list[CombinationStats], dict[str, CombinationStats]]:
    """Stats per stored assignment, best mean first, and per anchor, from cells such as
    ``read_run(...).cells`` (possibly re-priced): what ``agentopt show`` prints, with no model
    call."""
    by_values: dict[tuple[str, ...], list[StoredCell]] = defaultdict(list)
    for cell in cells:
        if 0 <= cell.example < n_examples:
            by_values[tuple(cell.assignment[s] for s in slots)].append(cell)
    anchor_of = {tuple(a[s] for s in slots): name for name, a in anchors.items()}
    rows, anchor_rows = [], {}
    for i, (values, group) in enumerate(sorted(by_values.items())):
        arrays = np.full((3, n_examples), np.nan)
        errors = []
        for c in group:
            arrays[:, c.example] = (c.outcome.score,
                                    np.nan if c.outcome.cost_usd is None else c.outcome.cost_usd,
                                    c.outcome.latency_s)
            if c.outcome.error:
                errors.append((c.example, c.outcome.error))
        stats = row_stats(i, dict(zip(slots, values)), arrays[0], arrays[1], arrays[2], errors,
                          confidence, "anchor" if values in anchor_of else "kept")
        if values in anchor_of:
            anchor_rows[anchor_of[values]] = stats
        else:
            rows.append(stats)
    rows.sort(key=lambda s: (s.status == "failed", -s.mean_score, s.index))
    return rows, anchor_rows


@dataclass
class OperatingPoint:
    """The cheapest combination certified within ``tolerance`` of the best score (None: none is),
    and its measured cost per example relative to the pick's (``cost_ratio``)."""

    tolerance: float
    combination: CombinationStats | None
    cost_ratio: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        c = self.combination
        return {"tolerance": self.tolerance, "cost_ratio": self.cost_ratio,
                "combination": None if c is None
                else {"assignment": c.assignment, "mean_score": c.mean_score,
                                                       "ci": c.ci,
                                                       "mean_cost_usd": c.mean_cost_usd, "n": c.n}}


def pareto_front(points: list[CombinationStats]) -> list[CombinationStats]:
    """Non-dominated points on score (max), cost (min), latency (min)."""
    front = []
    for p in points:
        dominated = any(
            q is not p
            and q.mean_score >= p.mean_score and q.mean_cost_usd <= p.mean_cost_usd
            and q.mean_latency_s <= p.mean_latency_s
            and (q.mean_score > p.mean_score or q.mean_cost_usd < p.mean_cost_usd
                 or q.mean_latency_s < p.mean_latency_s)
            for q in points
        )
        if not dominated:
            front.append(p)
    return sorted(front, key=lambda s: (-s.mean_score, s.mean_cost_usd))


@dataclass
class SearchResult:
    """The outcome of ``search``: the pick, every combination's stats, money spent, why it stopped.

    ``spent_usd``: dollars this run paid (new cells, and a strategy's own model calls);
    ``evidence_usd``: dollars of everything the result rests on, stored cells included (what a
    run from scratch would have paid; the budget counts it).
    """

    best: CombinationStats | None
    leaderboard: list[CombinationStats]
    spent_usd: float
    n_evaluations: int
    n_items: int
    strategy: str
    stop_reason: Literal["done", "budget"] = "done"
    confidence: float = 0.95
    epsilon: float = 0.01
    storage: str | None = None
    brute_force_usd: float = float("nan")
    budget_usd: float | None = None
    objective: Any = "score"
    operating_points: list[OperatingPoint] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    # evaluated beside the space
    anchors: dict[str, CombinationStats] = field(default_factory=dict)
    # the pick against each anchor
    comparisons: dict[str, PairedComparison] = field(default_factory=dict)
    # slots that made no call in any evaluation
    idle_slots: list[str] = field(default_factory=list)
    n_reused: int = 0  # cells read from the store (earlier runs, other candidate lists)
    n_paid: int = 0  # cells this process paid for in this run
    # cells recorded from an evaluation of another assignment (idle slots), never paid
    n_shared: int = 0
    evidence_usd: float = float("nan")
    cell_usage: dict[str, dict[int, tuple[UsageRow, ...]]] = field(default_factory=dict,
                                                                   repr=False)

    def usage(self, assignment: dict[str, str]) -> dict[int, tuple[UsageRow, ...]]:
        """Example index -> the usage table of the evaluation the result rests on (resumed cells
        included), for the cells whose evaluation reported one."""
        return self.cell_usage.get("|".join(f"{k}={v}" for k, v in assignment.items()), {})

    @property
    def tolerance(self) -> float:
        """Any combination within this much of the best score was acceptable
        (alias of ``epsilon``)."""
        return self.epsilon

    @property
    def stopped_on_budget(self) -> bool:
        return self.stop_reason == "budget"

    @property
    def failed(self) -> list[CombinationStats]:
        return [s for s in self.leaderboard if s.status == "failed"]

    def pareto(self) -> list[CombinationStats]:
        """Non-dominated tried combinations on mean score (max), cost (min), latency (min), each
        with its score interval ``ci``. Combinations a strategy eliminated as dominated with
        confidence (``strategy="pareto"``) are left out even if their few noisy items look good;
        only ``strategy="pareto"`` evaluates the front's members on common items until it is
        settled."""
        return pareto_front([s for s in self.leaderboard
                             if s.n > 0 and s.status != "failed" and not s.dominated])

    def get(self, assignment: dict[str, str]) -> CombinationStats:
        for s in self.leaderboard:
            if s.assignment == dict(assignment):
                return s
        raise KeyError(f"no combination {assignment!r} in this result")

    def to_dict(self) -> dict[str, Any]:
        return {
            "best": self.best.to_dict() if self.best else None,
            "leaderboard": [s.to_dict() for s in self.leaderboard],
            "spent_usd": self.spent_usd, "n_evaluations": self.n_evaluations,
            "n_items": self.n_items, "strategy": self.strategy, "stop_reason": self.stop_reason,
            "brute_force_usd": self.brute_force_usd, "budget_usd": self.budget_usd,
            "anchors": {k: v.to_dict() for k, v in self.anchors.items()},
            "comparisons": {k: v.to_dict() for k, v in self.comparisons.items()},
            "idle_slots": self.idle_slots, "n_reused": self.n_reused, "n_paid": self.n_paid,
            "n_shared": self.n_shared, "evidence_usd": self.evidence_usd,
            "confidence": self.confidence, "tolerance": self.tolerance,
            "objective": self.objective,
            "operating_points": [p.to_dict() for p in self.operating_points],
            "no_feasible": bool(self.extra.get("no_feasible", False)),
        }

    def print_summary(self, console: Any = None, top: int = 10) -> None:
        """Leaderboard with intervals, the Pareto front, and what the search spent."""
        from .report import print_summary

        print_summary(self, console=console, top=top)

    @classmethod
    def from_state(cls, state: SearchState, pick: int | None, strategy: str, stop_reason: str,
                   storage: str | None = None,
                   anchors: AnchorRecords | None = None) -> SearchResult:
        rows = _rows(state)
        rank = {"kept": 0, "eliminated": 1, "failed": 2, "not tried": 3}
        board = sorted(rows,
                       key=lambda s: (rank[s.status], -(s.mean_score if s.n else -1), s.index))
        best = rows[pick] if pick is not None and rows[pick].status != "failed" else None
        result = cls(
            best=best, leaderboard=board, spent_usd=state.spent_usd, evidence_usd=state.spent_usd,
            n_evaluations=state.n_evaluations,
            n_items=state.n_items, strategy=strategy, stop_reason=stop_reason,  # type: ignore[arg-type]
            confidence=state.confidence, epsilon=state.epsilon, storage=storage,
            brute_force_usd=_brute_force_usd(state), objective=state.objective,
            budget_usd=state.budget_usd,
            operating_points=operating_points(state, rows, best),
        )
        if anchors is not None:
            result.anchors = _anchor_rows(anchors, state)
            if best is not None:
                result.comparisons = _comparisons(state.scores[best.index], anchors,
                                                  state.confidence)
        constrained = ((state.min_score, state.max_cost_per_example, state.max_latency_s)
                       != (None, None, None))
        if best is None and constrained and any(r.n for r in rows):
            result.extra["no_feasible"] = True
        return result


def _rows(state: SearchState) -> list[CombinationStats]:
    """Every combination's stats, in index order."""
    errors: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for (c, p), e in state.errors.items():
        errors[c].append((p, e))
    return [row_stats(c, state.space.assignment(c), state.scores[c], state.costs[c],
                      state.latencies[c], errors[c], state.confidence,
                      "kept" if state.status[c] == "alive" else "eliminated",
                      state.reasons.get(c, ""), c in state.dominated)
            for c in range(state.space.size)]


def _brute_force_usd(state: SearchState) -> float:
    """What every combination on every example would cost
    (untried ones at the tried ones' mean)."""
    cost_items = state.cost_per_item()
    tried = cost_items[~np.isnan(cost_items)]
    per_item = np.where(np.isnan(cost_items), tried.mean() if tried.size else np.nan, cost_items)
    return float(np.sum(per_item) * state.n_items)


def _anchor_rows(anchors: AnchorRecords, state: SearchState) -> dict[str, CombinationStats]:
    errors: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for (k, p), e in anchors.errors.items():
        errors[k].append((p, e))
    return {name: row_stats(state.space.size + k, dict(zip(state.space.names, anchors.values[k])),
                            anchors.scores[k], anchors.costs[k], anchors.latencies[k], errors[k],
                            state.confidence, "anchor")
            for k, name in enumerate(anchors.names)}


def _comparisons(pick_scores: np.ndarray, anchors: AnchorRecords,
                 confidence: float) -> dict[str, PairedComparison]:
    """Paired (pick - anchor) on the examples both saw, in sampling order: the mean difference and
    the anytime-valid betting bounds of ``stats`` (each side at (1 - confidence) / 2, for new
    examples drawn like these, so no finite-population correction)."""
    out = {}
    for k, name in enumerate(anchors.names):
        both = ~np.isnan(pick_scores) & ~np.isnan(anchors.scores[k])
        diff = (pick_scores - anchors.scores[k])[both]
        if not diff.size:
            out[name] = PairedComparison(name, float("nan"), (-1.0, 1.0), 0)
            continue
        lower, upper = bounds(diff[None, :], (1 - confidence) / 2, None, (-1.0, 1.0))
        out[name] = PairedComparison(name, float(diff.mean()), (float(lower[0]), float(upper[0])),
                                     int(diff.size))
    return out


def operating_points(state: SearchState, rows: list[CombinationStats],
                     best: CombinationStats | None,
                     tolerances: tuple[float, ...] = SUMMARY_TOLERANCES) -> list[OperatingPoint]:
    """The cheapest combination certified within each tolerance of the best,
    with its cost ratio to ``best``."""
    if best is None:
        return []
    cheapest = cheapest_within(state, tolerances)
    out = []
    for t in tolerances:
        c = cheapest[t]
        stats = rows[c] if c is not None else None
        ratio = float("nan")
        if stats is not None and best.mean_cost_usd and not math.isnan(best.mean_cost_usd):
            ratio = stats.mean_cost_usd / best.mean_cost_usd
        out.append(OperatingPoint(t, stats, ratio))
    return out
