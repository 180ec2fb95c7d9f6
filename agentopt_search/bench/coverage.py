"""Coverage check of the certifying bounds: how often does a test certify something false?

Each case is a fixed population (or, without replacement off, an i.i.d. source) whose true mean
sits exactly on the boundary a test must not cross: a paired difference of exactly 0 (a tied best
certified worse), of exactly the tolerance (a wrong tolerance stop), a score exactly at the bound
(near-ceiling one-sample certificates, fractional scores). For ``sims`` random orders the test
statistic is followed over *every* look up to the last item but one (the last look is exact), and
a false certificate is counted when the wealth of the bettor at the true mean ever reaches
``1/alpha`` (``stats.Sequences.log_wealth``: the statistic every ``lower_above`` / ``upper_below``
/ ``bounds`` decision rests on). The rate must stay at or below ``alpha`` (Ville's inequality);
``ratio`` = rate / alpha.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..stats import Sequences

__all__ = ["Case", "CASES", "false_certificate_rate", "coverage_table"]


@dataclass
class Case:
    name: str
    population: Callable[[np.random.Generator], np.ndarray]  # values in value_range
    value_range: tuple[float, float]
    # +1: false "lower bound above the mean"; -1: false "upper bound below the mean"
    side: int
    finite: bool = True  # False: i.i.d. draws from the population (sampling with replacement)


def _paired(n: int, discordant: float,
            shift: float) -> Callable[[np.random.Generator], np.ndarray]:
    """Differences in {-1, 0, 1}: ``discordant`` of items disagree, mean exactly ``shift``."""
    def make(rng: np.random.Generator) -> np.ndarray:
        k = round(discordant * n)
        plus = round((k + shift * n) / 2)
        d = np.zeros(n)
        d[:plus] = 1.0
        d[plus:k] = -1.0
        return d
    return make


def _scores(n: int, ones: int) -> Callable[[np.random.Generator], np.ndarray]:
    def make(rng: np.random.Generator) -> np.ndarray:
        x = np.zeros(n)
        x[:ones] = 1.0
        return x
    return make


def _fractional(n: int) -> Callable[[np.random.Generator], np.ndarray]:
    def make(rng: np.random.Generator) -> np.ndarray:
        return np.random.default_rng(7).beta(18, 2, n)  # F1-like, skewed towards 1
    return make


CASES = [
    Case("paired tie, 30% discordant, N=200", _paired(200, 0.30, 0.0), (-1.0, 1.0), +1),
    Case("paired tie, 4% discordant, N=135", _paired(135, 0.04, 0.0), (-1.0, 1.0), +1),
    Case("paired at +1 pp, 20% discordant, N=200", _paired(200, 0.20, 0.01), (-1.0, 1.0), -1),
    Case("score 0.99 near ceiling, N=200", _scores(200, 198), (0.0, 1.0), +1),
    Case("score 0.993 near ceiling, N=135", _scores(135, 134), (0.0, 1.0), +1),
    Case("score 0.30, N=200 (upper side)", _scores(200, 60), (0.0, 1.0), -1),
    Case("fractional F1-like scores, N=200", _fractional(200), (0.0, 1.0), +1),
    Case("paired tie, i.i.d. (with replacement), n=300", _paired(200, 0.30, 0.0), (-1.0, 1.0), +1,
         finite=False),
    Case("score 0.95, i.i.d. (with replacement), n=300", _scores(200, 190), (0.0, 1.0), +1,
         finite=False),
]


def false_certificate_rate(case: Case, alpha: float, sims: int, seed: int = 0,
                           batch: int = 5000) -> float:
    """Share of ``sims`` random orders in which the test of ``case``
    ever certifies at level ``alpha``."""
    rng = np.random.default_rng(seed)
    pop = case.population(rng)
    lo, hi = case.value_range
    truth = float(pop.mean())
    hits = 0
    done = 0
    while done < sims:
        k = min(batch, sims - done)
        if case.finite:
            # every look but the exact last
            x = np.array([rng.permutation(pop) for _ in range(k)])[:, :-1]
            seq = Sequences(x, pop.size, case.value_range)
        else:
            x = rng.choice(pop, size=(k, 300))
            seq = Sequences(x, None, case.value_range)
        m = np.full(k, (truth - lo) / (hi - lo))
        hits += int((seq.log_wealth(m, case.side, alpha) >= math.log(1 / alpha)).sum())
        done += k
    return hits / sims


def coverage_table(alphas: tuple[float, ...] = (0.05, 0.005), sims: int = 20_000,
                   seed: int = 0) -> tuple[str, float]:
    """The printed coverage table and the worst rate / alpha over every case and level."""
    head = f"{'case':<48} {'alpha':>8} {'false rate':>10} {'ratio':>6}"
    lines = [f"coverage check: false certificates over every look, {sims} orders per row "
             "(must be <= alpha; ratio = rate / alpha)", head, "-" * len(head)]
    worst = 0.0
    for case in CASES:
        for alpha in alphas:
            rate = false_certificate_rate(case, alpha, sims, seed)
            worst = max(worst, rate / alpha)
            lines.append(f"{case.name:<48} {alpha:>8.4g} {rate:>10.5f} {rate / alpha:>6.2f}")
    lines.append(f"worst ratio (false-certificate rate / nominal): {worst:.2f}"
                 + ("  OK" if worst <= 1.0 else "  <- above nominal"))
    return "\n".join(lines), worst
