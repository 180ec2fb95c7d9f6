"""What a search returns: per-combination statistics, the pick, the Pareto front, a summary."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from .certify import cheapest_within
from .state import SearchState
from .stats import mean_ci

__all__ = ["CombinationStats", "OperatingPoint", "SearchResult", "pareto_front", "SUMMARY_TOLERANCES"]

#: Tolerances at which the summary shows the cheapest certified combination (1, 2.5 and 5 pp).
SUMMARY_TOLERANCES = (0.01, 0.025, 0.05)

Status = Literal["kept", "eliminated", "not tried", "failed"]


@dataclass
class CombinationStats:
    """One combination's evidence. ``ci``: reported (not certifying) interval for its expected score
    on examples like these (``stats.mean_ci``)."""

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
class OperatingPoint:
    """The cheapest combination certified within ``tolerance`` of the best score (None: none is),
    and its measured cost per example relative to the pick's (``cost_ratio``)."""

    tolerance: float
    combination: CombinationStats | None
    cost_ratio: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        c = self.combination
        return {"tolerance": self.tolerance, "cost_ratio": self.cost_ratio,
                "combination": None if c is None else {"assignment": c.assignment, "mean_score": c.mean_score,
                                                       "ci": c.ci, "mean_cost_usd": c.mean_cost_usd, "n": c.n}}


def pareto_front(points: list[CombinationStats]) -> list[CombinationStats]:
    """Non-dominated points on score (max), cost (min), latency (min)."""
    front = []
    for p in points:
        dominated = any(
            q is not p
            and q.mean_score >= p.mean_score and q.mean_cost_usd <= p.mean_cost_usd and q.mean_latency_s <= p.mean_latency_s
            and (q.mean_score > p.mean_score or q.mean_cost_usd < p.mean_cost_usd or q.mean_latency_s < p.mean_latency_s)
            for q in points
        )
        if not dominated:
            front.append(p)
    return sorted(front, key=lambda s: (-s.mean_score, s.mean_cost_usd))


@dataclass
class SearchResult:
    """The outcome of ``search``: the pick, every combination's stats, money spent, why it stopped."""

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
    objective: Any = "score"
    operating_points: list[OperatingPoint] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tolerance(self) -> float:
        """Any combination within this much of the best score was acceptable (alias of ``epsilon``)."""
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
        only ``strategy="pareto"`` evaluates the front's members on common items until it is settled."""
        return pareto_front([s for s in self.leaderboard if s.n > 0 and s.status != "failed" and not s.dominated])

    def get(self, assignment: dict[str, str]) -> CombinationStats:
        for s in self.leaderboard:
            if s.assignment == dict(assignment):
                return s
        raise KeyError(f"no combination {assignment!r} in this result")

    def to_dict(self) -> dict[str, Any]:
        return {
            "best": self.best.to_dict() if self.best else None,
            "leaderboard": [s.to_dict() for s in self.leaderboard],
            "spent_usd": self.spent_usd, "n_evaluations": self.n_evaluations, "n_items": self.n_items,
            "strategy": self.strategy, "stop_reason": self.stop_reason, "brute_force_usd": self.brute_force_usd,
            "confidence": self.confidence, "tolerance": self.tolerance, "objective": self.objective,
            "operating_points": [p.to_dict() for p in self.operating_points],
            "no_feasible": bool(self.extra.get("no_feasible", False)),
        }

    def print_summary(self, console: Any = None, top: int = 10) -> None:
        """Leaderboard with intervals, the Pareto front, and what the search spent."""
        from .report import print_summary

        print_summary(self, console=console, top=top)

    @classmethod
    def from_state(cls, state: SearchState, pick: int | None, strategy: str, stop_reason: str,
                   storage: str | None = None) -> "SearchResult":
        n_obs = state.n_observed()
        means = state.means()
        cost_items = state.cost_per_item()
        rows: list[CombinationStats] = []
        for c in range(state.space.size):
            n = int(n_obs[c])
            errs = [(p, e) for (cc, p), e in state.errors.items() if cc == c]
            if n == 0:
                status: Status = "not tried"
            elif len(errs) == n:
                status = "failed"
            elif state.status[c] == "alive":
                status = "kept"
            else:
                status = "eliminated"
            scores = state.scores[c][~np.isnan(state.scores[c])]
            lat = state.latencies[c][~np.isnan(state.latencies[c])]
            rows.append(CombinationStats(
                index=c, assignment=state.space.assignment(c),
                mean_score=float(means[c]) if n else float("nan"),
                ci=mean_ci(scores, state.confidence) if n else (0.0, 1.0),
                mean_cost_usd=float(cost_items[c]) if n and not math.isnan(cost_items[c]) else float("nan"),
                mean_latency_s=float(lat.mean()) if lat.size else float("nan"),
                n=n, n_errors=len(errs), status=status, reason=state.reasons.get(c, ""),
                first_error=min(errs)[1] if errs else None, dominated=c in state.dominated,
            ))
        rank = {"kept": 0, "eliminated": 1, "failed": 2, "not tried": 3}
        board = sorted(rows, key=lambda s: (rank[s.status], -(s.mean_score if s.n else -1), s.index))
        best = rows[pick] if pick is not None and rows[pick].status != "failed" else None
        tried_cost = cost_items[~np.isnan(cost_items)]
        per_item = np.where(np.isnan(cost_items), tried_cost.mean() if tried_cost.size else np.nan, cost_items)
        result = cls(
            best=best, leaderboard=board, spent_usd=state.spent_usd, n_evaluations=state.n_evaluations,
            n_items=state.n_items, strategy=strategy, stop_reason=stop_reason,  # type: ignore[arg-type]
            confidence=state.confidence, epsilon=state.epsilon, storage=storage,
            brute_force_usd=float(np.sum(per_item) * state.n_items), objective=state.objective,
            operating_points=operating_points(state, rows, best),
        )
        constrained = state.min_score is not None or state.max_cost_per_example is not None \
            or state.max_latency_s is not None
        if best is None and constrained and any(r.n for r in rows):
            result.extra["no_feasible"] = True
        return result


def operating_points(state: SearchState, rows: list[CombinationStats], best: CombinationStats | None,
                     tolerances: tuple[float, ...] = SUMMARY_TOLERANCES) -> list[OperatingPoint]:
    """The cheapest combination certified within each tolerance of the best, with its cost ratio to ``best``."""
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
