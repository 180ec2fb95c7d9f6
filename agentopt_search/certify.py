"""Certificates: what the evidence of a search proves about its combinations.

Two kinds of anytime-valid bound (``stats.py``) certify statements about population means:

* **paired**, on per-item differences ``x_j - x_c`` over the items both saw (item difficulty
  cancels): "``j`` beats ``c`` by more than ``margin``", "``c`` is at most ``tol`` above ``h``";
* **one-sample**, each combination on its own items: "``c``'s upper bound is below ``j``'s lower
  bound" (minus a margin). Near the score ceiling or floor this is far tighter than a paired bound:
  a leader whose own lower bound passes ``1 - tol`` is within ``tol`` of every combination, whatever
  they score, and a leader may be evaluated further than its challengers.

Union bound (``levels``). Let ``b`` be a best combination (fixed, unknown). A search with the score
objective errs only if ``b`` is certified worse than some ``c``, or some ``h`` is certified within
``tol`` of every combination while ``b`` is more than ``tol`` above it. Either needs, for some
``c != b``, the one bound of the pair (``b``, ``c``) on ``b``'s side to fail (the upper bound of
``x_b - x_c`` falling below its mean: one event per pair, ``m - 1`` in all), or ``b``'s one-sample
upper bound, or the one-sample lower bound of some ``c != b`` to fail (``m`` events). Each paired
bound is therefore taken at ``PAIRED_SHARE * alpha / (m - 1)`` and each one-sample bound at
``(1 - PAIRED_SHARE) * alpha / (m + 1)``: the whole run, at every look, is right with probability
at least ``1 - alpha``. The cost objective adds the same events for the cheapest combination within
tolerance (which must never be certified out): ``2 (m - 1)`` paired and ``m + 2`` one-sample events.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from . import stats
from .state import SearchState

__all__ = ["PAIRED_SHARE", "levels", "Certifier"]

#: Share of ``alpha`` spent on paired bounds (the rest on one-sample bounds).
PAIRED_SHARE = 0.75


def levels(alpha: float, m: int, objective: str = "score") -> tuple[float, float]:
    """Levels (paired, one-sample) of each bound for a search among ``m`` combinations."""
    m = max(2, int(m))
    if objective == "cost":
        return PAIRED_SHARE * alpha / (2 * (m - 1)), (1 - PAIRED_SHARE) * alpha / (m + 2)
    return PAIRED_SHARE * alpha / (m - 1), (1 - PAIRED_SHARE) * alpha / (m + 1)


class Certifier:
    """Certified statements about the combinations of ``state`` at fixed levels. One-sample bounds
    are cached per (combination, items seen); every statement uses each combination's observed
    prefix of the shared item order."""

    def __init__(self, state: SearchState, pair_alpha: float, one_alpha: float) -> None:
        self.state = state
        self.pair_alpha = pair_alpha
        self.one_alpha = one_alpha
        self._cache: dict[int, tuple[int, float, float]] = {}

    # -- one-sample ----------------------------------------------------------------------------
    def counts(self, combos: Sequence[int] | np.ndarray) -> np.ndarray:
        return stats.prefix_counts(self.state.scores[np.asarray(combos, dtype=int)])

    def means(self, combos: Sequence[int] | np.ndarray) -> np.ndarray:
        """Mean score of each combination on its observed prefix (NaN when none)."""
        combos = np.asarray(combos, dtype=int)
        n = self.counts(combos)
        rows = self.state.scores[combos]
        mask = np.arange(rows.shape[1])[None, :] < n[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(mask, np.nan_to_num(rows), 0.0).sum(axis=1) / n

    def bounds(self, combos: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One-sample (lower, upper) bounds of each combination's score."""
        combos = np.asarray(combos, dtype=int)
        n = self.counts(combos)
        stale = [i for i, (c, k) in enumerate(zip(combos.tolist(), n.tolist()))
                 if self._cache.get(c, (-1,))[0] != k]
        if stale:
            rows = combos[stale]
            lo, hi = stats.bounds(self.state.scores[rows], self.one_alpha, self.state.n_items)
            for c, k, a, b in zip(rows.tolist(), n[stale].tolist(), lo.tolist(), hi.tolist()):
                self._cache[c] = (k, a, b)
        got = [self._cache[c] for c in combos.tolist()]
        return np.array([g[1] for g in got]), np.array([g[2] for g in got])

    def upper_below(self, combos: Sequence[int] | np.ndarray, m: float | np.ndarray) -> np.ndarray:
        """True where a combination's one-sample upper bound is below ``m``."""
        combos = np.asarray(combos, dtype=int)
        if combos.size == 0:
            return np.zeros(0, dtype=bool)
        return stats.upper_below(self.state.scores[combos], m, self.one_alpha, self.state.n_items)

    # -- paired ----------------------------------------------------------------------------------
    def _diffs(self, a: int | np.ndarray, b: int | np.ndarray) -> np.ndarray:
        return np.atleast_2d(self.state.scores[a] - self.state.scores[b])

    def beats(self, j: int, combos: Sequence[int] | np.ndarray, margin: float = 0.0) -> np.ndarray:
        """True where ``x_j - x_c`` has a paired lower bound above ``margin`` (``j`` itself: False)."""
        combos = np.asarray(combos, dtype=int)
        if combos.size == 0:
            return np.zeros(0, dtype=bool)
        out = stats.lower_above(self._diffs(j, combos), margin, self.pair_alpha, self.state.n_items, (-1.0, 1.0))
        return out & (combos != j)

    def within(self, combos: Sequence[int] | np.ndarray, h: int, tol: float) -> np.ndarray:
        """True where ``x_c - x_h`` has a paired upper bound at most ``tol`` (``h`` itself: True)."""
        combos = np.asarray(combos, dtype=int)
        if combos.size == 0:
            return np.zeros(0, dtype=bool)
        out = stats.upper_below(self._diffs(combos, h), tol, self.pair_alpha, self.state.n_items, (-1.0, 1.0))
        return out | (combos == h)

    # -- both --------------------------------------------------------------------------------------
    def covered(self, combos: Sequence[int] | np.ndarray, h: int, tol: float) -> np.ndarray:
        """True where ``c`` is certified at most ``tol`` above ``h`` (paired, or ``c``'s one-sample
        upper bound at most ``h``'s lower bound + ``tol``)."""
        combos = np.asarray(combos, dtype=int)
        out = self.within(combos, h, tol)
        if not out.all():
            low = self.bounds([h])[0][0]
            rest = ~out
            out[rest] = self.upper_below(combos[rest], low + tol)
        return out

    def worse(self, combos: Sequence[int] | np.ndarray, j: int, margin: float = 0.0) -> np.ndarray:
        """True where ``c`` is certified more than ``margin`` below ``j`` (paired or one-sample)."""
        combos = np.asarray(combos, dtype=int)
        out = self.beats(j, combos, margin)
        rest = ~out & (combos != j)
        if rest.any():
            low = self.bounds([j])[0][0]
            out[rest] = self.upper_below(combos[rest], low - margin)
        return out

    def within_of_best(self, combos: Sequence[int] | np.ndarray, rivals: Sequence[int] | np.ndarray,
                       tol: float) -> np.ndarray:
        """True where ``c`` is certified within ``tol`` of every one of ``rivals`` (so of the best,
        when ``rivals`` holds every combination not certified worse than another)."""
        combos = np.asarray(combos, dtype=int)
        rivals = np.asarray(rivals, dtype=int)
        return np.array([bool(self.covered(rivals, int(c), tol).all()) for c in combos], dtype=bool)
