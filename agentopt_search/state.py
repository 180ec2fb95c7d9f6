"""What a strategy sees: every observation so far, as (combination x item position) arrays.

Item positions follow one seeded permutation of the examples shared by every combination, so
position ``p`` is the same example for all combinations (paired comparisons).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .space import SearchSpace

__all__ = ["SearchState", "Cell", "Status"]

Cell = tuple[int, int]  # (combination index, item position)
Status = Literal["alive", "eliminated", "failed"]


@dataclass
class SearchState:
    """Observations and bookkeeping of one search. Strategies read it and mark eliminations."""

    space: SearchSpace
    n_items: int
    confidence: float = 0.95
    epsilon: float = 0.01
    budget_usd: float | None = None
    seed: int = 0
    min_score: float | None = None
    scores: np.ndarray = field(init=False)
    costs: np.ndarray = field(init=False)
    latencies: np.ndarray = field(init=False)
    errors: dict[Cell, str] = field(init=False, default_factory=dict)
    status: list[Status] = field(init=False)
    reasons: dict[int, str] = field(init=False, default_factory=dict)
    spent_usd: float = 0.0
    n_evaluations: int = 0
    rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        shape = (self.space.size, self.n_items)
        self.scores = np.full(shape, np.nan)
        self.costs = np.full(shape, np.nan)
        self.latencies = np.full(shape, np.nan)
        self.status = ["alive"] * self.space.size
        self.rng = np.random.default_rng(self.seed)

    # -- recording -------------------------------------------------------------------------
    def record(self, cell: Cell, score: float, cost: float | None, latency: float, error: str | None) -> None:
        c, p = cell
        self.scores[c, p] = score
        self.costs[c, p] = np.nan if cost is None else cost
        self.latencies[c, p] = latency
        if error:
            self.errors[cell] = error
        if cost:
            self.spent_usd += cost

    def observed(self, cell: Cell) -> bool:
        return not np.isnan(self.scores[cell])

    # -- views -----------------------------------------------------------------------------
    @property
    def alpha(self) -> float:
        return 1.0 - self.confidence

    @property
    def alive(self) -> list[int]:
        return [c for c, s in enumerate(self.status) if s == "alive"]

    def n_observed(self, combos: list[int] | np.ndarray | None = None) -> np.ndarray:
        rows = self.scores if combos is None else self.scores[combos]
        return (~np.isnan(rows)).sum(axis=1)

    def means(self, combos: list[int] | np.ndarray | None = None) -> np.ndarray:
        """Mean observed score per combination (NaN when none observed)."""
        rows = self.scores if combos is None else self.scores[combos]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nansum(rows, axis=1) / (~np.isnan(rows)).sum(axis=1)

    def cost_per_item(self, combos: list[int] | np.ndarray | None = None) -> np.ndarray:
        """Mean observed cost per item (NaN for combinations never run or never priced)."""
        rows = self.costs if combos is None else self.costs[combos]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nansum(rows, axis=1) / (~np.isnan(rows)).sum(axis=1)

    def unseen(self, combo: int, upto: int | None = None) -> list[int]:
        """Item positions below ``upto`` not yet observed for ``combo``."""
        row = self.scores[combo, : self.n_items if upto is None else upto]
        return np.flatnonzero(np.isnan(row)).tolist()

    def eliminate(self, combo: int, reason: str) -> None:
        if self.status[combo] == "alive":
            self.status[combo] = "eliminated"
            self.reasons[combo] = reason

    def budget_left(self) -> float:
        return float("inf") if self.budget_usd is None else self.budget_usd - self.spent_usd
