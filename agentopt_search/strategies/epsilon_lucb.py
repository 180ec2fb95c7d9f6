"""``epsilon_lucb``: LUCB-style best-arm identification with paired bounds.

Every combination first runs on the first look of the item grid (it has to be seen once). Then,
each round, the empirical leader ``L`` (highest mean, equal means -> cheaper) and its strongest
challenger (highest upper bound of the paired difference ``x_c - x_L`` on the items both saw)
are raised to the next look of the grid above the items they share. Money goes to the one pair
that decides the question instead of to every survivor. A challenger whose upper bound is below
0 is eliminated; the search stops when ``upper(x_c - x_L) <= epsilon`` for every other ``c``: the
leader is within ``epsilon`` of the best with the stated confidence.

Repeated looks. Items are taken in the shared order and counts only ever sit on the geometric
look grid ``first, x growth, ..., N`` (``stats.look_schedule``), so a pair is always compared on
a prefix whose size is one of the ``K`` grid values, whatever the order of the rounds. A wrong
stop or a wrong elimination needs the bound of one of the ``m - 1`` pairs (best, c) to fail on
one side at one of the ``K`` sizes: bounds are taken at ``alpha / (2 (m - 1) K)`` (Bonferroni),
so the run as a whole is correct with probability ``confidence``.
"""

from __future__ import annotations

import numpy as np

from ..state import Cell, SearchState
from ..stats import bounds_from_moments, look_level, look_schedule
from .base import Strategy


class EpsilonLUCB(Strategy):
    name = "epsilon_lucb"

    def __init__(self, first: int | None = None, growth: float = 1.5, challengers: int = 1) -> None:
        self.first = first
        self.growth = growth
        self.challengers = max(1, challengers)
        self.leader: int | None = None
        self._done = False

    def start(self, state: SearchState) -> None:
        self.schedule = look_schedule(state.n_items, self.first, self.growth)
        m = max(2, state.space.size)
        self.alpha_each = state.alpha / (2 * (m - 1) * len(self.schedule))

    def _alive(self, state: SearchState) -> np.ndarray:
        return np.flatnonzero(np.array(state.status) == "alive")

    def _sync(self, state: SearchState) -> None:
        """Bring the running arrays up to date with the cells recorded since the last round."""
        if not hasattr(self, "_z"):
            seen = ~np.isnan(state.scores)
            self._f = seen.astype(float)
            self._z = np.where(seen, state.scores, 0.0)
            self._z2 = self._z * self._z
            self._n = self._f.sum(axis=1)
            self._sum = self._z.sum(axis=1)
        elif self._asked:
            c, p = np.array(self._asked).T
            got = ~np.isnan(state.scores[c, p]) & (self._f[c, p] == 0)
            c, p = c[got], p[got]
            v = state.scores[c, p]
            self._f[c, p] = 1.0
            self._z[c, p] = v
            self._z2[c, p] = v * v
            np.add.at(self._n, c, 1.0)
            np.add.at(self._sum, c, v)
        self._asked = []

    def propose(self, state: SearchState) -> list[Cell]:
        if self._done:
            return []
        alive = self._alive(state)
        # Phase 1: every combination on the first look of the grid.
        first = state.cells_upto(alive, self.schedule[0])
        if first:
            return first  # (the running arrays are built after this phase)
        while True:
            alive = self._alive(state)
            if alive.size <= 1:
                self.leader = int(alive[0]) if alive.size else None
                self._done = True
                return []
            self._sync(state)
            n = self._n[alive]
            means = self._sum[alive] / np.maximum(n, 1)
            li = self._leader(state, alive, means, n)
            self.leader = L = int(alive[li])
            # Paired moments of x_c - x_L on the items both saw, from running arrays (no big temporaries).
            fl, zl = self._f[L], self._z[L]
            common = self._f[alive] @ fl
            total = self._z[alive] @ fl - self._f[alive] @ zl
            sum_sq = self._z2[alive] @ fl + self._f[alive] @ (zl * zl) - 2 * (self._z[alive] @ zl)
            _, _, upper, _ = bounds_from_moments(total, sum_sq, common, self.alpha_each, state.n_items)
            upper[li] = -np.inf
            worse = np.flatnonzero(upper < 0)
            worse = worse[worse != li]
            if worse.size:
                for i in worse:
                    state.eliminate(int(alive[i]), f"worse than leader {state.space.key(self.leader)} "
                                                   f"(paired upper bound {upper[i]:+.3f} on {int(common[i])} items)")
                continue
            if np.all(upper <= state.epsilon):
                self._done = True
                return []
            cells: list[Cell] = []
            for i in np.argsort(-upper, kind="stable")[: self.challengers]:
                if upper[i] <= state.epsilon:
                    break
                shared = int(common[i])
                k = look_level(self.schedule, shared + 1)
                target = self.schedule[min(k, len(self.schedule) - 1)]
                cells += state.cells_upto([self.leader, int(alive[i])], target)
            if cells:
                self._asked = cells = list(dict.fromkeys(cells))
                return cells
            # Both sides of every open pair are complete: bounds are exact, nothing left to learn.
            self._done = True
            return []

    @staticmethod
    def _leader(state: SearchState, alive: np.ndarray, means: np.ndarray, n: np.ndarray) -> int:
        """Position in ``alive`` of the highest mean; ties: more items, then cheaper, then lower index."""
        tied = np.flatnonzero(means == means.max())
        if tied.size > 1:
            tied = tied[n[tied] == n[tied].max()]
        if tied.size > 1:
            cost = np.nan_to_num(state.cost_per_item(alive[tied]), nan=np.inf)
            tied = tied[np.lexsort((alive[tied], cost))]
        return int(tied[0])

    def pick(self, state: SearchState) -> int | None:
        if self.leader is not None and state.status[self.leader] == "alive":
            return self.leader
        return super().pick(state)
