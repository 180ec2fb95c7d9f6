"""Screen a large space with a slot model, then confirm the finalists with certified elimination.

For hundreds or thousands of combinations, paying every combination on even ten examples costs
more than the whole search should. Combinations share models, and the score of a combination is
mostly the sum of its models' effects plus a few pairwise interactions (a planner that answers
directly hurts whatever solver follows). Screening uses that:

1. every combination runs on the first ``first`` examples (the same ones: paired);
2. a ridge fit of slot main effects + pairwise slot interactions predicts each combination's score
   from the whole screen; each combination's estimate shrinks its own mean towards that prediction
   (empirical Bayes: the less it was evaluated, the more it borrows from the combinations that
   share its models);
3. the top ``1 / keep`` fraction (a third) by shrunken estimate survives and doubles its examples;
   repeat until at most ``finalists`` remain (default ``max(16, 2/3 sqrt(size))``);
4. the finalists race (``_race.Race``, as ``arm_elimination``) on the remaining examples, with the
   stated confidence among them and the tolerance stop.

The model only orders and prunes; the pick is always confirmed on full-combination evaluations.
The confidence statement holds among the finalists: a combination pruned by the screen is not
covered by it (the replay benchmark measures how often the screen drops the best). ``auto`` does
not use it (it keeps the guarantee over the whole space); pick it for a cheaper, heuristic search.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ..state import Cell, SearchState
from ._race import Race
from .base import Strategy

__all__ = ["Screening"]


class Screening(Strategy):
    name = "screening"

    def __init__(self, first: int | None = None, keep: float = 3.0, finalists: int | None = None,
                 ridge: float = 1.0, growth: float = 1.2, compare_top: int = 3) -> None:
        self.screen_first = first
        self.keep = keep
        self.finalists = finalists
        self.ridge = ridge
        self.growth = growth
        self.compare_top = compare_top
        self._screen_n = 0
        self._finalists = 0  # ``finalists``, or its default for the space (set in ``start``)
        self.race: Race | None = None

    # -- screening -------------------------------------------------------------------------
    def start(self, state: SearchState) -> None:
        if self.finalists is None:
            self.finalists = max(16, math.ceil(2 * math.sqrt(state.space.size) / 3))
        self._finalists = self.finalists
        self._screen_n = min(state.n_items,
                             self.screen_first or max(4, math.ceil(state.n_items / 50)))
        self._design = _design_matrix(state)

    def propose(self, state: SearchState) -> list[Cell]:
        while self.race is None:
            n = self._screen_n
            pending = state.cells_upto(state.alive, n)
            if pending:
                return pending
            self._prune(state, n)
            if len(state.alive) <= self._finalists or n >= state.n_items:
                self.race = Race(state, state.alive, max(n, 2), self.growth, self.compare_top)
            else:
                self._screen_n = min(state.n_items, 2 * n)
        return self.race.propose(state)

    def pick(self, state: SearchState) -> int | None:
        picked = self.race.pick(state) if self.race is not None else None
        return picked if picked is not None else super().pick(state)

    def estimates(self, state: SearchState) -> np.ndarray:
        """Shrunken score estimate of every combination from everything observed so far."""
        n = state.n_observed().astype(float)
        means = state.means()
        rows = np.flatnonzero(n > 0)
        X = self._design
        w = n[rows]
        Xr = X[rows] * np.sqrt(w)[:, None]
        yr = means[rows] * np.sqrt(w)
        reg = self.ridge * np.eye(X.shape[1])
        reg[0, 0] = 0.0  # no penalty on the intercept
        coef = np.linalg.solve(Xr.T @ Xr + reg, Xr.T @ yr)
        pred = X @ coef
        # Per-observation variance (binary or fractional) and the spread of true effects around the
        # model.
        cell_var = float(np.nanvar(state.scores))
        if not np.isfinite(cell_var):
            p = np.clip(np.nanmean(state.scores), 0.02, 0.98)
            cell_var = p * (1 - p)
        resid = means[rows] - pred[rows]
        tau2 = max(float(np.average(resid**2, weights=w)) - cell_var * len(rows) / w.sum(), 1e-4)
        shrink = tau2 / (tau2 + cell_var / np.maximum(n, 1))
        return np.where(n > 0, pred + shrink * (np.nan_to_num(means) - pred), pred)

    def _prune(self, state: SearchState, n: int) -> None:
        alive = np.array(state.alive)
        target = max(self._finalists, math.ceil(alive.size / self.keep))
        if alive.size <= target:
            return
        est = self.estimates(state)[alive]
        cost = np.nan_to_num(state.cost_per_item(alive), nan=np.inf)
        order = np.lexsort((cost, -est))
        for rank in order[target:]:
            c = int(alive[rank])
            state.eliminate(c,
                            f"screened out after {n} items (estimate {est[rank]:.3f} from the "
                            "slot model)", kind="excluded")


def _design_matrix(state: SearchState) -> np.ndarray:
    """Intercept + one-hot main effects + one-hot pairwise interactions for every combination."""
    sizes = [len(c) for c in state.space.slots.values()]
    coords = np.array([state.space.coords(i) for i in range(state.space.size)])
    cols = [np.ones((state.space.size, 1))]
    for s, k in enumerate(sizes):
        cols.append(np.eye(k)[coords[:, s]])
    for (s, a), (t, b) in itertools.combinations(enumerate(sizes), 2):
        cols.append(np.eye(a * b)[coords[:, s] * b + coords[:, t]])
    return np.hstack(cols)
