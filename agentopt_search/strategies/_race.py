"""Shared pieces of the strategies (not a strategy: modules starting with ``_`` are not registered).

``Race``: paired successive elimination among a chosen set of candidates, the final stage of the
strategies that first decide *which* combinations deserve evaluation (bayesian, lm_proposal,
hill_climbing). It is ``arm_elimination`` restricted to the candidates: every surviving candidate
runs on the same growing prefix of items; a candidate is dropped once another is better with
confidence (paired lower bound > 0); it stops when every survivor is within ``epsilon`` of the
leader. Bounds at ``alpha / (2 (k - 1) K)`` for ``k`` candidates and ``K`` looks.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..state import Cell, SearchState
from ..stats import look_schedule, paired_bounds

__all__ = ["Race", "ranked", "paired_pick", "price_order"]


def ranked(state: SearchState, combos: Sequence[int] | np.ndarray, n: int | None = None) -> np.ndarray:
    """``combos`` best first: mean on the first ``n`` items (all observed if None), equal means
    go to the cheaper (observed cost per item), then the lower index."""
    combos = np.asarray(combos, dtype=int)
    if combos.size == 0:
        return combos
    x = state.scores[combos] if n is None else state.scores[combos, :n]
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.nansum(x, axis=1) / (~np.isnan(x)).sum(axis=1)
    cost = np.nan_to_num(state.cost_per_item(combos), nan=np.inf)
    return combos[np.lexsort((combos, cost, -np.nan_to_num(means, nan=-np.inf)))]


def paired_pick(state: SearchState, combos: Sequence[int]) -> int | None:
    """The best of ``combos`` compared on the items all of them saw (paired); None if no overlap."""
    combos = [c for c in combos if state.n_observed([c])[0] > 0]
    if not combos:
        return None
    common = np.flatnonzero((~np.isnan(state.scores[combos])).all(axis=0))
    if common.size == 0:
        return None
    x = state.scores[np.ix_(combos, common)]
    cost = np.nan_to_num(state.cost_per_item(combos), nan=np.inf)
    order = np.lexsort((np.asarray(combos), cost, -x.mean(axis=1)))
    return combos[int(order[0])]


def price_order(state: SearchState, combos: Sequence[int]) -> list[int]:
    """``combos`` cheapest first by estimated cost per item; unknown cost last, in candidate order."""
    combos = np.asarray(combos, dtype=int)
    cost = state.estimated_cost_per_item()[combos]
    return combos[np.lexsort((combos, np.nan_to_num(cost, nan=np.inf)))].tolist()


class Race:
    """Paired successive elimination among ``candidates`` (the caller eliminates everything else)."""

    def __init__(self, state: SearchState, candidates: Sequence[int], first: int | None = None,
                 growth: float = 1.5, compare_top: int = 8, label: str = "") -> None:
        self.candidates = np.array(sorted(set(int(c) for c in candidates)), dtype=int)
        self.schedule = look_schedule(state.n_items, first, growth)
        k = max(2, self.candidates.size)
        self.alpha_each = state.alpha / (2 * (k - 1) * max(1, len(self.schedule)))
        self.compare_top = compare_top
        self.label = label
        self._look = 0
        if self.candidates.size == 1:  # nothing to compare: measure the lone candidate on every item
            self.schedule = [state.n_items]
        self.done = self.candidates.size == 0

    def alive(self, state: SearchState) -> np.ndarray:
        return np.array([c for c in self.candidates if state.status[c] == "alive"], dtype=int)

    def propose(self, state: SearchState) -> list[Cell]:
        while not self.done and self._look < len(self.schedule):
            target = self.schedule[self._look]
            pending = state.cells_upto(self.alive(state), target)
            if pending:
                return pending
            self.done = self.decide(state, target)
            self._look += 1
        self.done = True
        return []

    def decide(self, state: SearchState, n: int) -> bool:
        """Eliminate at a look on the first ``n`` items; True when the race can stop."""
        alive = self.alive(state)
        if alive.size <= 1:
            return True
        x = state.scores[alive, :n]
        order = ranked(state, alive, n)
        pos = {int(c): i for i, c in enumerate(alive)}
        for c in order[: self.compare_top]:
            j = pos[int(c)]
            if state.status[c] != "alive":
                continue
            _, lower, _, _ = paired_bounds(x[j] - x, None, self.alpha_each, state.n_items)
            for i in np.flatnonzero(lower > 0):
                state.eliminate(int(alive[i]), f"{self.label}worse than {state.space.key(int(c))} "
                                               f"(paired lower bound {lower[i]:+.3f} after {n} items)")
        alive = self.alive(state)
        if alive.size <= 1:
            return True
        x = state.scores[alive, :n]
        leader = int(np.flatnonzero(alive == ranked(state, alive, n)[0])[0])
        _, _, upper, _ = paired_bounds(x - x[leader], None, self.alpha_each, state.n_items)
        upper[leader] = -np.inf
        return bool(np.all(upper <= state.epsilon))

    def pick(self, state: SearchState) -> int | None:
        return paired_pick(state, self.alive(state).tolist())
