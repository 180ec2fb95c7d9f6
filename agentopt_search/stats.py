"""Statistics: anytime-valid bounds that certify, and the reported intervals.

Sampling model. Every combination sees the examples in one seeded random order, so the first
``n`` of ``N`` examples are a simple random sample *without replacement* of the dataset, and a
combination's score over the whole dataset is the quantity a search decides on.

Certifying bounds (``bounds``, ``lower_above``, ``upper_below``): betting confidence sequences for
the mean of a finite population of bounded values sampled without replacement (Waudby-Smith &
Ramdas, "Estimating means of bounded random variables by betting", JRSS-B 2024, section 6). For a
candidate mean ``m`` the wealth of a bettor who stakes ``lambda_i`` on ``x_i`` being above the
mean of the items not yet seen, ``mu_i(m) = (N m - sum_{j<i} x_j) / (N - i + 1)``, is
``K_t(m) = prod_{i<=t} (1 + lambda_i (x_i - mu_i(m)))``; at the true mean it is a nonnegative
martingale, so by Ville's inequality ``P(exists t: K_t >= 1/alpha) <= alpha``. The stakes are
predictable (they use ``x_1 .. x_{i-1}`` only), ``lambda_i = sqrt(2 log(1/alpha) / (var_{i-1} h))``
(a running variance estimate with one pseudo-observation of 1/4) capped at ``BET_CAP / mu_i(m)``;
the wealth is the average over horizons ``h = 5, 10, 20, ..., N`` (a mixture of martingales is one,
so one test covers early and late decisions). The bound rejects every ``m`` whose wealth ever
reached ``1/alpha`` (the running intersection) and is intersected with what the seen items prove
whatever the rest are (``sum / N`` .. ``(sum + N - n) / N``): at ``n = N`` it is exact.

What holds: for one sequence of values and one level ``alpha``, the lower bound exceeds the
population mean at *some* look with probability at most ``alpha`` (the upper bound likewise): the
bounds are valid simultaneously at every ``n``, however the looks are chosen, so a search may look
after every item without paying for repeated looks. Strategies pay only for the number of
comparisons (a union bound, documented in ``certify.py`` and each strategy). Paired bounds are the
same bounds on per-item differences ``x_j - x_c`` (``value_range=(-1, 1)``): item difficulty
cancels. A row uses its observed *prefix* of the shared order (values after its first unseen item
are ignored), which keeps each sequence in sampling order whatever order cells were paid in.

Reported intervals (``mean_ci``, shown in leaderboards): Wilson score interval for 0/1 scores, a
normal interval with a regularised variance for fractional scores; they describe a combination at
one look and are *reported, not certifying*: no decision of a search rests on them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats as _sps

__all__ = ["BET_CAP", "Sequences", "mean_ci", "bounds", "lower_above", "upper_below",
           "prefix_counts", "could_pass", "look_schedule", "next_look"]

#: Largest stake, as a fraction of what keeps the wealth positive (Waudby-Smith & Ramdas use 1/2 to
#: 3/4).
BET_CAP = 0.9
#: Pseudo-observation variance, as a fraction of the squared score range, of the reported
#: intervals.
VARIANCE_PRIOR = 0.25
_FIRST_HORIZON = 5
_SPLITS, _ROUNDS = 8, 5  # ``bounds`` searches 8 trial means per round: 9^-5 of the value range


def mean_ci(scores: Sequence[float] | np.ndarray, confidence: float = 0.95,
            population: int | None = None) -> tuple[float, float]:
    """Reported (not certifying) two-sided interval for the mean of scores in [0, 1].

    Binary scores use the Wilson score interval; fractional scores a normal interval with a
    regularised variance. ``population`` applies the finite-population correction."""
    x = np.asarray(scores, dtype=float)
    x = x[~np.isnan(x)]
    n = x.size
    if n == 0:
        return (0.0, 1.0)
    m = float(x.mean())
    z = float(_sps.norm.isf((1 - confidence) / 2))
    fpc = (1.0 if not population or population <= 1
           else min(max((population - n) / (population - 1), 0.0), 1.0))
    if np.all((x == 0) | (x == 1)):
        z2 = z * z * fpc
        centre = (m + z2 / (2 * n)) / (1 + z2 / n)
        half = z * math.sqrt(fpc) * math.sqrt(m * (1 - m) / n + z2 / (4 * n * n)) / (1 + z2 / n)
        return (max(0.0, centre - half), min(1.0, centre + half))
    var = (x.var(ddof=0) * n + VARIANCE_PRIOR) / (n + 1)
    half = z * math.sqrt(var * fpc / n)
    return (max(0.0, m - half), min(1.0, m + half))


def prefix_counts(x: np.ndarray) -> np.ndarray:
    """Per row, the number of leading observed (non-NaN) values."""
    seen = ~np.isnan(np.atleast_2d(x))
    return np.where(seen.all(axis=1), seen.shape[1], np.argmin(seen, axis=1))


class Sequences:
    """Rows of values (``value_range``, sampling order, NaN = unseen) prepared once for many tests:
    each row's observed prefix rescaled to [0, 1] with the stakes' running sums and variances.
    ``lower_above`` / ``upper_below`` / ``bounds`` below are shortcuts building one."""

    def __init__(self, x: np.ndarray, population: int | None = None,
                 value_range: tuple[float, float] = (0.0, 1.0)) -> None:
        self.value_range = value_range
        lo, hi = value_range
        x = np.atleast_2d(np.asarray(x, dtype=float))
        self.count = prefix_counts(x)
        if population and x.shape[1] > population:
            raise ValueError(f"{x.shape[1]} values per row from a population of {population}")
        # nothing past the longest prefix matters
        x = x[:, : max(int(self.count.max(initial=0)), 1)]
        n = x.shape[1]
        self.t = np.arange(1, n + 1, dtype=float)
        self.mask = self.t[None, :] <= self.count[:, None]
        y = np.where(self.mask, (x - lo) / (hi - lo), 0.5)  # unseen (NaN) entries are masked
        self.y = np.clip(y, 0.0, 1.0)
        s = np.cumsum(self.y, axis=1)
        self.sum_before = s - self.y
        centred = (self.y - (0.5 + s) / (self.t + 1)) ** 2
        self.var_before = (0.25 + np.cumsum(centred, axis=1) - centred) / self.t
        total = np.where(self.mask, self.y, 0.0).sum(axis=1)
        self.population = population
        if population:
            # the unseen items all at 0 / all at 1
            self.lowest = total / population
            self.highest = (total + population - self.count) / population
            self.horizons = _horizons(population)
            self._horizons = np.array(self.horizons, dtype=float)
        else:
            self.lowest, self.highest = np.zeros(len(total)), np.ones(len(total))
            self.horizons = _horizons(_FIRST_HORIZON * 2**12)
            self._horizons = np.array(self.horizons, dtype=float)

    def log_wealth(self, m: np.ndarray, side: int, alpha: float) -> np.ndarray:
        """Per row, the largest log wealth so far of the bettor against mean ``m`` (rescaled):
        ``side=+1`` bets on a mean above ``m`` (rejects ``m`` too low), ``-1`` below. Values above
        ``log(1/alpha) + 1`` are reported as that (only the comparison with ``log(1/alpha)``
        matters)."""
        if self.population:
            mu = (self.population * m[:, None] - self.sum_before) / (self.population - self.t + 1)
        else:
            mu = np.broadcast_to(m[:, None], self.y.shape)
        mu = np.clip(mu, 1e-12, 1 - 1e-12)
        cap = BET_CAP / (mu if side > 0 else 1 - mu)
        gain = np.where(self.mask, side * (self.y - mu), 0.0)
        threshold = math.log(1 / alpha)
        ceiling = threshold + math.log(len(self.horizons)) + 1.0  # a path this high decides alone
        scale = np.sqrt(2 * threshold / self.var_before)
        stakes = np.minimum(scale[None] / np.sqrt(self._horizons)[:, None, None], cap[None])
        paths = np.cumsum(np.log1p(stakes * gain[None]), axis=2)      # (horizons, rows, items)
        total = np.exp(np.minimum(paths, ceiling)).sum(axis=0)
        best = np.log(total.max(axis=1, initial=len(self.horizons)) / len(self.horizons))
        return np.minimum(np.maximum(best, 0.0), threshold + 1.0)

    def _rejects(self, m: np.ndarray, side: int, alpha: float) -> np.ndarray:
        """True where every mean on the far side of ``m`` is ruled out (``side=+1``: all means
        <= m, i.e. the lower bound is above m; ``-1``: all means >= m)."""
        sure = m < self.lowest if side > 0 else m > self.highest
        never = m >= self.highest if side > 0 else m <= self.lowest
        open_ = ~sure & ~never
        if open_.all():
            return self.log_wealth(m, side, alpha) >= math.log(1 / alpha)
        out = sure.copy()
        if open_.any():
            idx = np.flatnonzero(open_)
            out[idx] = self.rows(idx).log_wealth(m[idx], side, alpha) >= math.log(1 / alpha)
        return out


    def rows(self, index: np.ndarray) -> Sequences:
        """The same prepared sequences restricted to rows ``index`` (no recomputation)."""
        sub = object.__new__(Sequences)
        sub.__dict__.update(self.__dict__)
        for name in ("count", "mask", "y", "sum_before", "var_before", "lowest", "highest"):
            setattr(sub, name, getattr(self, name)[index])
        return sub

    def _scaled(self, m: float | np.ndarray) -> np.ndarray:
        lo, hi = self.value_range
        return (np.broadcast_to(np.asarray(m, dtype=float), self.count.shape) - lo) / (hi - lo)

    def lower_above(self, m: float | np.ndarray, alpha: float) -> np.ndarray:
        """True where the anytime-valid lower bound (level ``alpha``)
        of the row's mean is above ``m``."""
        _check(alpha)
        return self._rejects(self._scaled(m), +1, alpha)

    def upper_below(self, m: float | np.ndarray, alpha: float) -> np.ndarray:
        """True where the anytime-valid upper bound (level ``alpha``)
        of the row's mean is below ``m``."""
        _check(alpha)
        return self._rejects(self._scaled(m), -1, alpha)

    def bounds(self, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) anytime-valid bounds of each row's mean,
        each one-sided at level ``alpha``."""
        _check(alpha)
        threshold = math.log(1 / alpha)
        rows = self.count.size
        spread = self.rows(np.repeat(np.arange(rows), _SPLITS))  # each row once per trial point
        steps = np.arange(1, _SPLITS + 1) / (_SPLITS + 1)
        out = []
        for side in (+1, -1):
            # Search from the sure bound inwards, _SPLITS trial points per round: ``ruled`` is
            # always ruled out, ``kept`` is not; the wealth is monotone in the mean, so the
            # ruled-out trial points come first.
            start, end = (self.lowest, self.highest) if side > 0 else (self.highest, self.lowest)
            moved = self.log_wealth(start, side, alpha) >= threshold
            ruled, kept = start.copy(), end.copy()
            for _ in range(_ROUNDS):
                trial = ruled[:, None] + (kept - ruled)[:, None] * steps[None, :]
                r = (spread.log_wealth(trial.ravel(), side, alpha)
                     >= threshold).reshape(rows, _SPLITS)
                k = r.sum(axis=1)
                at = np.arange(rows)
                ruled = np.where(k > 0, trial[at, np.maximum(k - 1, 0)], ruled)
                kept = np.where(k < _SPLITS, trial[at, np.minimum(k, _SPLITS - 1)], kept)
            out.append(np.where(moved, ruled, start))
        lo, hi = self.value_range
        return lo + (hi - lo) * out[0], lo + (hi - lo) * out[1]


def _horizons(population: int) -> list[int]:
    out, h = [], _FIRST_HORIZON
    while h < population:
        out.append(h)
        h *= 2
    return out + [population]


def _check(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")


def lower_above(x: np.ndarray, m: float | np.ndarray, alpha: float, population: int | None = None,
                value_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """Per row of ``x`` (values in ``value_range`` in sampling order, NaN = unseen): True where the
    anytime-valid lower bound of the population mean (level ``alpha``) is above ``m``. One wealth
    evaluation per row, so deciding costs far less than computing ``bounds``."""
    return Sequences(x, population, value_range).lower_above(m, alpha)


def upper_below(x: np.ndarray, m: float | np.ndarray, alpha: float, population: int | None = None,
                value_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """Per row: True where the anytime-valid upper bound of the population mean is below ``m``."""
    return Sequences(x, population, value_range).upper_below(m, alpha)


def bounds(x: np.ndarray, alpha: float, population: int | None = None,
           value_range: tuple[float, float] = (0.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the anytime-valid (lower, upper) bounds of the population mean, each one-sided at
    level ``alpha`` (see the module doc). Rows with no observed value get the whole range."""
    return Sequences(x, population, value_range).bounds(alpha)


def could_pass(x: np.ndarray, m: float, above: bool, population: int | None = None) -> np.ndarray:
    """A cheap screen before a test: rows whose prefix mean is on the far side of ``m`` by at least
    one (finite-population corrected) standard error, or that are complete. The anytime-valid tests
    are far stricter, so a row failing this screen would fail them; skipping it only saves time."""
    x = np.atleast_2d(x)
    n = prefix_counts(x)
    mask = np.arange(x.shape[1])[None, :] < n[:, None]
    safe = np.maximum(n, 1)
    v = np.where(mask, x, 0.0)
    mean = v.sum(axis=1) / safe
    var = (np.where(mask, v - mean[:, None], 0.0) ** 2).sum(axis=1) / safe
    fpc = np.clip((population - n) / max(population - 1, 1), 0.0, 1.0) if population else 1.0
    se = np.sqrt((var + 1e-12) * fpc / safe)
    gap = (mean - m) if above else (m - mean)
    complete = n >= population if population else np.zeros(n.shape, dtype=bool)
    return (n > 0) & ((gap >= se) | complete)


def look_schedule(n_items: int, first: int | None = None, growth: float = 1.2) -> list[int]:
    """Sample sizes at which a search looks: ``first`` (default ``max(5, N/40)``), then steps of
    ``(growth - 1) * min(n, N - n)`` items (at least one): x growth while few items are seen, finer
    as the unseen items run out (..., 174, 179, 183, ..., 197, 198 of 198), where bounds without
    replacement tighten fastest and a last step of a fifth would pay for items no certificate
    needs. The bounds are valid at every look, so the grid only sets how often a search decides."""
    if n_items <= 0:
        return []
    first = min(first or max(5, math.ceil(n_items / 40)), n_items)
    out = [first]
    while out[-1] < n_items:
        n = out[-1]
        out.append(min(n + max(1, math.ceil((growth - 1) * min(n, n_items - n) - 1e-9)), n_items))
    return out


def next_look(schedule: Sequence[int], n: int) -> int:
    """The first look of ``schedule`` above ``n`` items (the last look if none is)."""
    for size in schedule:
        if size > n:
            return size
    return schedule[-1]
