"""``epsilon_lucb``: LUCB-style best-arm identification with paired anytime-valid bounds.

Every combination first runs on the first look of the item grid (it has to be seen once). Then,
each round, the empirical leader ``L`` (highest mean, equal means -> more items, then cheaper)
and its strongest challenger (highest optimistic paired difference ``x_c - x_L`` on the items both
saw) are raised to the next look of the grid above the items they share. Money goes to the one
pair that decides the question instead of to every survivor. A challenger certified below the
leader (paired upper bound of ``x_c - x_L`` below 0) is eliminated; the search stops when every
other ``c`` has ``upper(x_c - x_L) <= tolerance``: the leader is within tolerance of the best with
the stated confidence.

Confidence: the bounds (``stats.py``) are valid at every look, so the grid only batches the work.
A wrong stop or elimination needs the one bound of a pair (best, c) on the best's side to fail,
``m - 1`` events: each bound is at ``alpha / (m - 1)`` (``certify.py``).
"""

from __future__ import annotations

import math

import numpy as np

from ..state import Cell, SearchState
from ..stats import look_schedule, next_look, prefix_counts, upper_below
from .base import Strategy

__all__ = ["EpsilonLUCB"]


class EpsilonLUCB(Strategy):
    name = "epsilon_lucb"

    def __init__(self, first: int | None = None, growth: float = 1.2,
                 challengers: int = 1) -> None:
        self.first = first
        self.growth = growth
        self.challengers = max(1, challengers)
        self.leader: int | None = None
        self._done = False
        # (leader, c) -> (shared, below 0, within)
        self._tests: dict[tuple[int, int], tuple[int, bool, bool]] = {}

    def start(self, state: SearchState) -> None:
        self.schedule = look_schedule(state.n_items, self.first, self.growth)
        state.pair_alpha = state.alpha / (max(2, state.space.size) - 1)
        state.one_alpha = None

    def _alive(self, state: SearchState) -> np.ndarray:
        return np.flatnonzero(np.array(state.status) == "alive")

    def _compare(self, state: SearchState, leader: int, alive: np.ndarray, shared: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
        """(certified below the leader, certified within tolerance of it) for each alive
        combination; pairs whose shared prefix did not grow since the last round are not
        recomputed."""
        below = np.zeros(alive.size, dtype=bool)
        within = np.zeros(alive.size, dtype=bool)
        redo = []
        for i, (c, n) in enumerate(zip(alive.tolist(), shared.tolist())):
            hit = self._tests.get((leader, c))
            if hit is not None and hit[0] == n:
                below[i], within[i] = hit[1], hit[2]
            else:
                redo.append(i)
        if redo:
            idx = np.array(redo)
            d = state.scores[alive[idx]] - state.scores[leader]
            alpha, N = state.pair_alpha, state.n_items
            assert alpha is not None  # set in start()
            b = upper_below(d, 0.0, alpha, N, (-1.0, 1.0))
            w = b | upper_below(d, state.tolerance, alpha, N, (-1.0, 1.0))
            below[idx], within[idx] = b, w
            for i, bi, wi in zip(idx.tolist(), b.tolist(), w.tolist()):
                self._tests[(leader, int(alive[i]))] = (int(shared[i]), bi, wi)
        return below, within

    def propose(self, state: SearchState) -> list[Cell]:
        if self._done:
            return []
        first = state.cells_upto(self._alive(state), self.schedule[0])
        if first:
            return first  # phase 1: every combination on the first look of the grid
        while True:
            alive = self._alive(state)
            if alive.size <= 1:
                self.leader = int(alive[0]) if alive.size else None
                self._done = True
                return []
            counts = prefix_counts(state.scores[alive])
            rows = state.scores[alive]
            mask = np.arange(rows.shape[1])[None, :] < counts[:, None]
            means = np.where(mask, np.nan_to_num(rows), 0.0).sum(axis=1) / np.maximum(counts, 1)
            li = self._leader(state, alive, means, counts)
            self.leader = L = int(alive[li])
            shared = np.minimum(counts, counts[li])
            below, within = self._compare(state, L, alive, shared)
            below[li], within[li] = False, True
            if below.any():
                for i in np.flatnonzero(below):
                    state.eliminate(int(alive[i]), f"certified below leader {state.space.key(L)} "
                                                   f"(paired, {int(shared[i])} items)")
                continue
            if within.all():
                self._done = True
                return []
            cells = self._challenge(state, alive, li, within, shared)
            if cells:
                return cells
            self._done = True  # every open pair is complete on both sides: bounds are exact
            return []

    def _challenge(self, state: SearchState, alive: np.ndarray, li: int, within: np.ndarray,
                   shared: np.ndarray) -> list[Cell]:
        """Cells raising the leader and its strongest open challengers to the next look."""
        L = int(alive[li])
        open_ = np.flatnonzero(~within)
        d = state.scores[alive[open_]] - state.scores[L]
        n = np.maximum(shared[open_], 1)
        mask = np.arange(d.shape[1])[None, :] < shared[open_][:, None]
        dz = np.where(mask, np.nan_to_num(d), 0.0)
        mean = dz.sum(axis=1) / n
        var = ((dz - mean[:, None]) ** 2 * mask).sum(axis=1) / n
        assert state.pair_alpha is not None  # set in start()
        optimism = mean + np.sqrt((var + 1.0 / n) * 2 * math.log(1 / state.pair_alpha) / n)
        cells: list[Cell] = []
        for i in open_[np.argsort(-optimism, kind="stable")][: self.challengers]:
            target = next_look(self.schedule, int(shared[i]))
            cells += state.cells_upto([L, int(alive[i])], target)
        return list(dict.fromkeys(cells))

    @staticmethod
    def _leader(state: SearchState, alive: np.ndarray, means: np.ndarray, n: np.ndarray) -> int:
        """Position in ``alive`` of the highest mean; ties: more items, then cheaper,
        then lower index."""
        cost = np.nan_to_num(state.cost_per_item(alive), nan=np.inf)
        return int(np.lexsort((alive, cost, -n, -means))[0])

    def pick(self, state: SearchState) -> int | None:
        if self.leader is not None and state.status[self.leader] == "alive" and self._done:
            from .. import selection

            return selection.pick(state, state.alive, [self.leader])
        return super().pick(state)
