"""What a strategy sees: every observation so far, as (combination x item position) arrays.

Item positions follow one seeded permutation of the examples shared by every combination, so
position ``p`` is the same example for all combinations (paired comparisons).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .space import SearchSpace

__all__ = ["SearchState", "Cell", "Status", "Kind"]

Cell = tuple[int, int]  # (combination index, item position)
Status = Literal["alive", "eliminated", "failed"]
#: Why a combination was eliminated: ``worse`` (certified not the best), ``dominated`` (worse on
#: score, cost and latency), ``infeasible`` (breaks a constraint), ``dearer`` (certified within
#: tolerance but dearer than the pick), ``excluded`` (left out by a heuristic: screen, sampler,
#: climb).
Kind = Literal["worse", "dominated", "infeasible", "dearer", "excluded"]


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
    # "score", "cost" or weights over score/cost/latency
    objective: str | dict[str, float] = "score"
    max_cost_per_example: float | None = None
    max_latency_s: float | None = None
    scores: np.ndarray = field(init=False)
    costs: np.ndarray = field(init=False)
    latencies: np.ndarray = field(init=False)
    errors: dict[Cell, str] = field(init=False, default_factory=dict)
    status: list[Status] = field(init=False)
    reasons: dict[int, str] = field(init=False, default_factory=dict)
    spent_usd: float = 0.0
    n_evaluations: int = 0
    rng: np.random.Generator = field(init=False)
    dominated: set[int] = field(init=False, default_factory=set)
    kinds: dict[int, Kind] = field(init=False, default_factory=dict)
    #: Levels of the paired and one-sample certificates the strategy used (None: it certified
    #: nothing).
    pair_alpha: float | None = None
    one_alpha: float | None = None

    def __post_init__(self) -> None:
        shape = (self.space.size, self.n_items)
        self.scores = np.full(shape, np.nan)
        self.costs = np.full(shape, np.nan)
        self.latencies = np.full(shape, np.nan)
        self.status = ["alive"] * self.space.size
        self.rng = np.random.default_rng(self.seed)

    # -- recording -------------------------------------------------------------------------
    def record(self, cell: Cell, score: float, cost: float | None, latency: float,
               error: str | None, paid: bool = True) -> None:
        """Note one observation; ``paid=False``: its cost is already in ``spent_usd``
        (or never was paid)."""
        c, p = cell
        self.scores[c, p] = score
        self.costs[c, p] = np.nan if cost is None else cost
        self.latencies[c, p] = latency
        if error:
            self.errors[cell] = error
        if cost and paid:
            self.spent_usd += cost

    def observed(self, cell: Cell) -> bool:
        return not np.isnan(self.scores[cell])

    # -- views -----------------------------------------------------------------------------
    @property
    def alpha(self) -> float:
        return 1.0 - self.confidence

    @property
    def tolerance(self) -> float:
        """Any combination within this much of the best score is acceptable
        (alias of ``epsilon``)."""
        return self.epsilon

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

    def eliminate(self, combo: int, reason: str, dominated: bool = False,
                  kind: Kind = "worse") -> None:
        """Stop evaluating ``combo`` (``kind``: why, see ``Kind``). ``dominated=True``: another
        combination is at least as good on score, cost and latency (with confidence), so it is also
        left off ``SearchResult.pareto()``."""
        if self.status[combo] == "alive":
            self.status[combo] = "eliminated"
            self.reasons[combo] = reason
            self.kinds[combo] = "dominated" if dominated else kind
            if dominated:
                self.dominated.add(combo)

    def cells_upto(self, combos: list[int] | np.ndarray, upto: int) -> list[Cell]:
        """Unobserved cells of ``combos`` (in the given order) at item positions below ``upto``."""
        combos = np.asarray(combos, dtype=int)
        if combos.size == 0 or upto <= 0:
            return []
        rows, pos = np.nonzero(np.isnan(self.scores[combos, :upto]))
        return list(zip(combos[rows].tolist(), pos.tolist()))

    def estimated_cost_per_item(self) -> np.ndarray:
        """Cost per item of every combination: observed where it was run; otherwise an additive
        per-(slot, model) fit on the observed ones (cost is a sum over slots); NaN when some of its
        models were never run."""
        observed = self.cost_per_item()
        seen = np.flatnonzero(~np.isnan(observed))
        if seen.size == 0 or seen.size == self.space.size:
            return observed
        design = self._design()
        covered = design[seen].any(axis=0)
        coef, *_ = np.linalg.lstsq(design[seen], observed[seen], rcond=None)
        known = design[:, ~covered].sum(axis=1) == 0
        estimate = np.where(known, np.maximum(design @ coef, 0.0), np.nan)
        return np.where(np.isnan(observed), estimate, observed)

    def _design(self) -> np.ndarray:
        """One-hot (combination x (slot, model)) matrix, built once."""
        cached = getattr(self, "_design_cache", None)
        if cached is None:
            sizes = [len(c) for c in self.space.slots.values()]
            idx = np.arange(self.space.size)
            cols = []
            for n in reversed(sizes):  # row-major coordinates, last slot fastest
                idx, r = np.divmod(idx, n)
                cols.append(np.eye(n, dtype=bool)[r])
            cached = np.concatenate(list(reversed(cols)), axis=1).astype(float)
            self._design_cache = cached
        return cached

    def budget_left(self) -> float:
        return float("inf") if self.budget_usd is None else self.budget_usd - self.spent_usd
