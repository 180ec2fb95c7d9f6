"""Paired successive elimination over a growing prefix of the shared example order.

Every alive combination is evaluated on the same examples (looks at ``first``, ×``growth``, ...).
At each look a combination ``i`` is eliminated when some alive ``j`` is better with the stated
confidence: the lower bound of the paired mean difference ``x_j - x_i`` is above 0. The search
stops early when every survivor is within ``epsilon`` of the leader with the stated confidence
(upper bound of ``x_i - x_leader`` at most ``epsilon``): ties cost nothing more to break.

Confidence: bounds are taken at ``alpha / (2 (m - 1) K)`` for ``m`` combinations and ``K``
looks, so the run as a whole picks a combination within ``epsilon`` of the best with
probability at least ``confidence`` (see ``stats.py`` for the paired, finite-population bounds).
"""

from __future__ import annotations

import numpy as np

from ..state import Cell, SearchState
from ..stats import look_schedule, paired_bounds
from .base import Strategy


class ArmElimination(Strategy):
    name = "arm_elimination"

    def __init__(self, first: int | None = None, growth: float = 1.5, compare_top: int = 8) -> None:
        self.first = first
        self.growth = growth
        self.compare_top = compare_top
        self._look = 0
        self._done = False

    def start(self, state: SearchState) -> None:
        self.plan(state, self.first, state.space.size)

    def plan(self, state: SearchState, first: int | None, n_combinations: int) -> None:
        """Looks from ``first`` items on, and the level of each bound for ``n_combinations`` competitors."""
        self.schedule = look_schedule(state.n_items, first, self.growth)
        m = max(2, n_combinations)
        self.alpha_each = state.alpha / (2 * (m - 1) * len(self.schedule))
        self._look = 0

    def propose(self, state: SearchState) -> list[Cell]:
        while not self._done and self._look < len(self.schedule):
            target = self.schedule[self._look]
            pending = [(c, p) for c in state.alive for p in state.unseen(c, target)]
            if pending:
                return pending
            self._done = self.decide(state, target)
            self._look += 1
        return []

    def decide(self, state: SearchState, n: int) -> bool:
        """Eliminate at a look on the first ``n`` items; True when the search can stop."""
        alive = np.array(state.alive)
        if alive.size <= 1:
            return True
        x = state.scores[alive, :n]
        means = x.mean(axis=1)
        order = np.lexsort((_prefix_cost(state, alive, n), -means))
        for j in order[: self.compare_top]:
            if state.status[alive[j]] != "alive":
                continue
            _, lower, _, _ = paired_bounds(x[j] - x, None, self.alpha_each, state.n_items)
            for i in np.flatnonzero(lower > 0):
                state.eliminate(
                    int(alive[i]),
                    f"worse than {state.space.key(int(alive[j]))} (paired lower bound {lower[i]:+.3f} after {n} items)",
                )
        alive = np.array(state.alive)
        if alive.size <= 1:
            return True
        x = state.scores[alive, :n]
        means = x.mean(axis=1)
        leader = int(np.lexsort((_prefix_cost(state, alive, n), -means))[0])
        _, _, upper, _ = paired_bounds(x - x[leader], None, self.alpha_each, state.n_items)
        upper[leader] = -np.inf
        return bool(np.all(upper <= state.epsilon))

    def pick(self, state: SearchState) -> int | None:
        alive = [c for c in state.alive if state.n_observed([c])[0] > 0]
        if not alive:
            return super().pick(state)
        # Compare on the items every survivor has seen (a budget stop may leave ragged rows).
        seen = ~np.isnan(state.scores[alive])
        common = seen.all(axis=0)
        x = state.scores[np.ix_(alive, np.flatnonzero(common))] if common.any() else None
        if x is None or x.shape[1] == 0:
            return super().pick(state)
        means = x.mean(axis=1)
        order = np.lexsort((np.nan_to_num(state.cost_per_item(alive)), -means))
        return alive[int(order[0])]


def _prefix_cost(state: SearchState, combos: np.ndarray, n: int) -> np.ndarray:
    """Mean cost on the first ``n`` items (the look's evidence only, so workers sharing a study that
    already hold later cells decide exactly as one worker would); 0 where unpriced."""
    c = state.costs[combos, :n]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(np.nansum(c, axis=1) / (~np.isnan(c)).sum(axis=1))
