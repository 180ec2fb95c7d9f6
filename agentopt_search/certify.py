"""Certificates: what the evidence of a search proves about its combinations.

Two kinds of anytime-valid bound (``stats.py``) certify statements about population means:

* **paired**, on per-item differences ``x_j - x_c`` over the items both saw (item difficulty
  cancels): "``j`` beats ``c`` by more than ``margin``", "``c`` is at most ``tol`` above ``h``";
* **one-sample**, each combination on its own items: "``c``'s upper bound is below ``j``'s lower
  bound" (minus a margin). Near the score ceiling or floor this is far tighter than a paired
  bound: a leader whose own lower bound passes ``1 - tol`` is within ``tol`` of every combination,
  whatever they score, and a leader may be evaluated further than its challengers.

Union bound (``levels``). Let ``b`` be a best combination (fixed, unknown). A search with the score
objective errs only if ``b`` is certified worse than some ``c``, or some ``h`` is certified within
``tol`` of every combination while ``b`` is more than ``tol`` above it. Either needs, for some
``c != b``, the one bound of the pair (``b``, ``c``) on ``b``'s side to fail (the upper bound of
``x_b - x_c`` falling below its mean: one event per pair, ``m - 1`` in all), or ``b``'s one-sample
upper bound, or the one-sample lower bound of some ``c != b`` to fail (``m`` events). Each paired
bound is therefore taken at ``PAIRED_SHARE * alpha / (m - 1)`` and each one-sample bound at
``(1 - PAIRED_SHARE) * alpha / (m + 1)``: the whole run, at every look, is right with probability
at least ``1 - alpha``. The cost objective adds the same events for the cheapest combination within
tolerance (which must never be certified out): ``2 (m - 1)`` paired and ``m + 2`` one-sample
events.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import stats
from .state import SearchState

__all__ = ["PAIRED_SHARE", "levels", "Certifier", "cheapest_within"]

#: Share of ``alpha`` spent on paired bounds (the rest on one-sample bounds).
PAIRED_SHARE = 0.75


def levels(alpha: float, m: int, objective: str = "score") -> tuple[float, float]:
    """Levels (paired, one-sample) of each bound for a search among ``m`` combinations."""
    m = max(2, int(m))
    if objective == "cost":
        return PAIRED_SHARE * alpha / (2 * (m - 1)), (1 - PAIRED_SHARE) * alpha / (m + 2)
    return PAIRED_SHARE * alpha / (m - 1), (1 - PAIRED_SHARE) * alpha / (m + 1)


class Certifier:
    """Certified statements about the combinations of ``state`` at fixed levels (a level of None:
    that kind of bound is not used). Every statement uses each combination's observed prefix of the
    shared item order, cut at ``limit`` (what the caller planned so far: workers sharing a study
    that already hold later cells then decide exactly as one worker would). One-sample bounds are
    cached per (combination, items used)."""

    def __init__(self, state: SearchState, pair_alpha: float | None,
                 one_alpha: float | None) -> None:
        self.state = state
        self.pair_alpha = pair_alpha
        self.one_alpha = one_alpha
        size = state.space.size
        # items seen when the cached bounds were computed
        self._bound_n = np.full(size, -1)
        self._low, self._up = np.zeros(size), np.ones(size)
        self._prepared: tuple[tuple[bytes, bytes], stats.Sequences] | None = None
        # (fixed combination, m, above, fixed is the first term) -> (common items tested, answers),
        # per other
        self._pairs: dict[tuple[int, float, bool, bool], tuple[np.ndarray, np.ndarray]] = {}
        self.limit = np.full(size, state.n_items)  # items a combination's evidence may use

    def allow(self, combos: Sequence[int] | np.ndarray, n: int) -> None:
        """Let ``combos`` use up to ``n`` items (never fewer than they were allowed)."""
        combos = np.asarray(combos, dtype=int)
        self.limit[combos] = np.maximum(self.limit[combos], n)

    def _rows(self, combos: np.ndarray) -> np.ndarray:
        """Scores of ``combos``, NaN after the items each may use."""
        rows = self.state.scores[combos]
        if rows.ndim == 2:
            return np.where(np.arange(rows.shape[-1]) < np.atleast_1d(self.limit[combos])[:, None],
                            rows, np.nan)
        return np.where(np.arange(rows.size) < self.limit[combos], rows, np.nan)

    # -- one-sample ----------------------------------------------------------------------------
    def _refresh(self) -> None:
        """Prefix counts, score sums and measured cost / latency means of every combination, kept
        up to date row by row (only rows with new cells or a new limit are recomputed)."""
        state = self.state
        marker = (state.n_evaluations, int(self.limit.sum()))
        if marker == getattr(self, "_marker", None):
            return
        self._marker = marker
        seen = (~np.isnan(state.scores)).sum(axis=1)
        if not hasattr(self, "_seen"):
            self._seen, self._limit_seen = np.full(seen.shape, -1), self.limit.copy()
            self._count, self._sum = np.zeros(seen.shape, dtype=int), np.zeros(seen.shape)
            self._cost, self._latency = np.zeros(seen.shape), np.zeros(seen.shape)
        rows = np.flatnonzero((seen != self._seen) | (self.limit != self._limit_seen))
        if rows.size == 0:
            return
        self._seen[rows], self._limit_seen[rows] = seen[rows], self.limit[rows]
        scores = state.scores[rows]
        count = np.minimum(stats.prefix_counts(scores), self.limit[rows])
        used = np.arange(state.n_items)[None, :] < count[:, None]
        self._count[rows] = count
        self._sum[rows] = np.where(used, scores, 0.0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            for name, values in (("_cost", state.costs[rows]),
                                 ("_latency", state.latencies[rows])):
                ok = used & ~np.isnan(values)
                mean = np.where(ok, values, 0.0).sum(axis=1) / ok.sum(axis=1)
                getattr(self, name)[rows] = np.where(np.isnan(mean), 0.0, mean)

    def counts(self, combos: Sequence[int] | np.ndarray) -> np.ndarray:
        """Items in each combination's observed prefix of the shared order."""
        self._refresh()
        return self._count[np.asarray(combos, dtype=int)]

    def means(self, combos: Sequence[int] | np.ndarray) -> np.ndarray:
        """Mean score of each combination on its observed prefix (NaN when none)."""
        self._refresh()
        combos = np.asarray(combos, dtype=int)
        with np.errstate(invalid="ignore", divide="ignore"):
            return self._sum[combos] / self._count[combos]

    def costs(self, combos: Sequence[int] | np.ndarray) -> np.ndarray:
        """Measured mean cost per example of each combination (0 when never priced)."""
        self._refresh()
        return self._cost[np.asarray(combos, dtype=int)]

    def latencies(self, combos: Sequence[int] | np.ndarray) -> np.ndarray:
        """Measured mean latency of each combination (0 when never measured)."""
        self._refresh()
        return self._latency[np.asarray(combos, dtype=int)]

    def bounds(self, combos: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One-sample (lower, upper) bounds of each combination's score
        ([0, 1] without one-sample bounds)."""
        combos = np.asarray(combos, dtype=int)
        if self.one_alpha is None:
            return np.zeros(combos.size), np.ones(combos.size)
        n = self.counts(combos)
        stale = np.unique(combos[self._bound_n[combos] != n])
        if stale.size:
            self._low[stale], self._up[stale] = stats.bounds(self._rows(stale), self.one_alpha,
                                                             self.state.n_items)
            self._bound_n[stale] = self._count[stale]
        return self._low[combos].copy(), self._up[combos].copy()

    def upper_below(self, combos: Sequence[int] | np.ndarray, m: float | np.ndarray) -> np.ndarray:
        """True where a combination's one-sample upper bound is below ``m``."""
        combos = np.asarray(combos, dtype=int)
        if combos.size == 0 or self.one_alpha is None:
            return np.zeros(combos.size, dtype=bool)
        return self._sequences(combos).upper_below(m, self.one_alpha)

    def _sequences(self, combos: np.ndarray) -> stats.Sequences:
        """One-sample sequences of ``combos``, prepared once per set of (combination,
        items seen)."""
        n = self.counts(combos)
        key = (combos.tobytes(), n.tobytes())
        if self._prepared is None or self._prepared[0] != key:
            self._prepared = (key, stats.Sequences(self._rows(combos), self.state.n_items))
        return self._prepared[1]

    # -- paired --------------------------------------------------------------------------------
    def _paired(self, fixed: int, others: np.ndarray, m: float, above: bool,
                fixed_first: bool) -> np.ndarray:
        """Paired test against ``m`` of ``x_fixed - x_c`` (``fixed_first``) or ``x_c - x_fixed``
        for each ``c`` of ``others``, on the items both saw. A pair whose common prefix did not
        grow since it was last tested keeps its answer; rows a t-statistic of 1 (finite-population
        corrected) already rules out are not tested (they could not pass the far stricter test)."""
        if self.pair_alpha is None or others.size == 0:
            return np.zeros(others.size, dtype=bool)
        self._refresh()
        common = np.minimum(self._count[others], self._count[fixed])
        key = (int(fixed), float(m), above, fixed_first)
        size = self.state.space.size
        tested, answer = self._pairs.setdefault(key, (np.full(size, -1), np.zeros(size, bool)))
        redo = np.unique(others[tested[others] != common])
        if redo.size:
            diffs = self._rows(np.array([fixed]))[0] - self._rows(redo)
            if not fixed_first:
                diffs = -diffs
            got = np.zeros(redo.size, dtype=bool)
            plausible = stats.could_pass(diffs, m, above, self.state.n_items)
            if plausible.any():
                seq = stats.Sequences(diffs[plausible], self.state.n_items, (-1.0, 1.0))
                got[plausible] = (seq.lower_above(m, self.pair_alpha) if above
                                  else seq.upper_below(m, self.pair_alpha))
            answer[redo] = got
            tested[redo] = np.minimum(self._count[redo], self._count[fixed])
        return answer[others].copy()

    def beats(self, j: int, combos: Sequence[int] | np.ndarray, margin: float = 0.0) -> np.ndarray:
        """True where ``x_j - x_c`` has a paired lower bound above ``margin`` (``j`` itself:
        False)."""
        combos = np.asarray(combos, dtype=int)
        return self._paired(j, combos, margin, above=True, fixed_first=True) & (combos != j)

    def within(self, combos: Sequence[int] | np.ndarray, h: int, tol: float) -> np.ndarray:
        """True where ``x_c - x_h`` has a paired upper bound at most ``tol`` (``h`` itself:
        True)."""
        combos = np.asarray(combos, dtype=int)
        return self._paired(h, combos, tol, above=False, fixed_first=False) | (combos == h)

    # -- both ----------------------------------------------------------------------------------
    def covered(self, combos: Sequence[int] | np.ndarray, h: int, tol: float) -> np.ndarray:
        """True where ``c`` is certified at most ``tol`` above ``h`` (paired, or ``c``'s one-sample
        upper bound at most ``h``'s lower bound + ``tol``)."""
        combos = np.asarray(combos, dtype=int)
        out = self.within(combos, h, tol)
        if not out.all() and self.one_alpha is not None:
            low = self.bounds([h])[0][0]
            rest = ~out
            # as the race decides (``_race._View``)
            out[rest] = self.bounds(combos[rest])[1] <= low + tol
        return out

    def covers_all(self, rivals: Sequence[int] | np.ndarray, h: int, tol: float,
                   chunk: int = 16) -> bool:
        """Whether every one of ``rivals`` is certified at most ``tol`` above ``h``; rivals are
        tried best-first in chunks, so a failing ``h`` usually costs one chunk of tests."""
        rivals = np.asarray(rivals, dtype=int)
        rivals = rivals[np.argsort(-np.nan_to_num(self.means(rivals), nan=-1.0), kind="stable")]
        return all(self.covered(rivals[k:k + chunk], h, tol).all()
                   for k in range(0, rivals.size, chunk))


def cheapest_within(state: SearchState, tolerances: Sequence[float]) -> dict[float, int | None]:
    """For each tolerance, the cheapest tried combination (measured cost per example) certified
    within it of the best: of every rival the search could not rule out as the best (alive, or
    left aside only for being dearer), at the levels the strategy used (``levels`` over the whole
    space if it certified nothing). None when no combination is so certified."""
    pair, one = state.pair_alpha, state.one_alpha
    if pair is None and one is None:
        pair, one = levels(state.alpha, state.space.size)
    cert = Certifier(state, pair, one)
    tried, rivals = _tried_and_rivals(state)
    out: dict[float, int | None] = dict.fromkeys(tolerances)
    if not rivals:
        return out
    order = _by_cost(state, tried)
    start = 0
    for t in sorted(tolerances, reverse=True):
        # a wider tolerance certifies a prefix of the cost order
        for k in range(start, len(order)):
            if cert.covers_all(rivals, order[k], t):
                out[t], start = order[k], k
                break
        else:
            start = len(order)
    return out


def _tried_and_rivals(state: SearchState) -> tuple[list[int], list[int]]:
    """The tried combinations (evaluated, not failed everywhere, not infeasible) and, among them,
    the rivals: those the search could not rule out as the best (alive, or left aside only for
    being dearer)."""
    n = state.n_observed()
    errors = np.bincount([c for c, _ in state.errors], minlength=state.space.size)
    tried = [c for c in range(state.space.size)
             if n[c] > errors[c] and state.kinds.get(c) != "infeasible"]
    rivals = [c for c in tried if state.status[c] == "alive" or state.kinds.get(c) == "dearer"]
    return tried, rivals


def _by_cost(state: SearchState, tried: list[int]) -> list[int]:
    """``tried`` cheapest first by measured cost per example (unpriced last, then by index)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        cost = np.nansum(state.costs[tried], axis=1) / (~np.isnan(state.costs[tried])).sum(axis=1)
    return [tried[i] for i in np.lexsort((np.array(tried), np.nan_to_num(cost, nan=np.inf)))]
