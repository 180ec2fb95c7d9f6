"""The certifying bounds (betting confidence sequences, without and with replacement) and the
reported intervals: coverage at every look, exactness at N, consistency of tests and bounds."""

import itertools
import math

import numpy as np
import pytest

from agentopt_search.bench.coverage import CASES, coverage_table, false_certificate_rate
from agentopt_search.stats import (
    Sequences,
    bounds,
    look_schedule,
    lower_above,
    mean_ci,
    next_look,
    prefix_counts,
    upper_below,
)


@pytest.mark.parametrize("p", [0.03, 0.3, 0.5, 0.97])
@pytest.mark.parametrize("n", [10, 40, 150])
def test_mean_ci_covers_bernoulli(p, n):
    rng = np.random.default_rng(1)
    hits = 0
    trials = 400
    for _ in range(trials):
        lo, hi = mean_ci(rng.random(n) < p, 0.95)
        hits += lo <= p <= hi
    assert hits / trials >= 0.92  # nominal 0.95 (Wilson is near-exact)


def _every_prefix(x: np.ndarray) -> np.ndarray:
    """Rows = the prefixes of ``x`` of length 1 .. len(x) (NaN after): one row per look."""
    n = x.size
    rows = np.tile(x, (n, 1))
    rows[np.arange(n)[None, :] >= np.arange(1, n + 1)[:, None]] = np.nan
    return rows


POPULATIONS = {
    "bernoulli 0.5": lambda rng: (rng.random(120) < 0.5).astype(float),
    "fractional F1-like": lambda rng: rng.beta(18, 2, 120),
    "near ceiling 0.99": lambda rng: np.r_[np.ones(119), 0.0],
}


@pytest.mark.parametrize("name", list(POPULATIONS))
def test_bounds_cover_at_every_look_without_replacement(name):
    """Each one-sided bound, read at *every* look of a random order, excludes the population mean
    in at most alpha of the orders (plus Monte-Carlo noise): no charge for repeated looks.
    (``lower_above(x, truth)`` is exactly "the lower bound excludes the truth".)"""
    rng = np.random.default_rng(0)
    pop = POPULATIONS[name](rng)
    truth, alpha, orders = pop.mean(), 0.1, 200
    looks = np.vstack([_every_prefix(rng.permutation(pop))[:-1] for _ in range(orders)])
    low = lower_above(looks, truth + 1e-12, alpha, pop.size).reshape(orders, -1).any(axis=1)
    high = upper_below(looks, truth - 1e-12, alpha, pop.size).reshape(orders, -1).any(axis=1)
    slack = 3 * math.sqrt(alpha * (1 - alpha) / orders)
    assert low.mean() <= alpha + slack and high.mean() <= alpha + slack
    lo, _hi = bounds(looks[:200], alpha, pop.size)  # the bisection agrees with the tests
    assert np.array_equal(lo > truth + 1e-9,
                          lower_above(looks[:200], truth + 1e-9, alpha, pop.size))


@pytest.mark.parametrize("name", list(POPULATIONS))
def test_tests_cover_at_every_look_with_replacement(name):
    """Without a population (i.i.d. draws), the tests at the true mean certify falsely over a whole
    run of looks in at most alpha of the runs."""
    rng = np.random.default_rng(1)
    pop = POPULATIONS[name](rng)
    truth, alpha, runs = pop.mean(), 0.1, 600
    x = rng.choice(pop, size=(runs, 250))
    seq = Sequences(x, None)
    m = np.full(runs, truth)
    false_low = seq.log_wealth(m, +1, alpha) >= math.log(1 / alpha)
    false_high = seq.log_wealth(m, -1, alpha) >= math.log(1 / alpha)
    slack = 3 * math.sqrt(alpha * (1 - alpha) / runs)
    assert false_low.mean() <= alpha + slack and false_high.mean() <= alpha + slack


@pytest.mark.parametrize("case", CASES[:6], ids=lambda c: c.name)
def test_near_tie_cases_stay_at_or_below_nominal(case):
    """The benchmark's coverage cases (paired ties, a tie at the tolerance, near-ceiling scores),
    quickly: false-certificate rate over every look <= alpha (+ noise)."""
    alpha, sims = 0.1, 1500
    rate = false_certificate_rate(case, alpha, sims, seed=3)
    assert rate <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / sims)


@pytest.mark.slow
def test_coverage_table_heavy():
    """Every coverage case at alpha 0.05 and 0.005 over 20,000 orders each."""
    _, worst = coverage_table(sims=20_000)
    assert worst <= 1.1  # Monte-Carlo noise at alpha = 0.005 is ~10%


def test_bounds_are_exact_when_every_item_is_seen_and_sure_bounds_always_hold():
    rng = np.random.default_rng(2)
    x = (rng.random((4, 60)) < 0.6).astype(float)
    lo, hi = bounds(x, 0.01, 60)
    assert np.allclose(lo, x.mean(axis=1)) and np.allclose(hi, x.mean(axis=1))
    part = x.copy()
    part[:, 50:] = np.nan
    lo, hi = bounds(part, 1e-9, 60)  # a tiny alpha: only what the seen items prove
    seen = np.nansum(part, axis=1)
    assert np.all(lo >= seen / 60 - 1e-9) and np.all(hi <= (seen + 10) / 60 + 1e-9)


def test_identical_scores_never_give_a_zero_width_bound_before_the_end():
    lo, hi = bounds(np.ones((1, 8)), 0.01, 200)
    assert hi[0] == pytest.approx(1.0) and lo[0] < 0.9


def test_tests_agree_with_bounds():
    rng = np.random.default_rng(3)
    x = (rng.random((30, 80)) < 0.7).astype(float)
    x[:, 50:] = np.nan
    lo, hi = bounds(x, 0.01, 100)  # found to 9^-5 of the range, rounded to the safe side
    assert lower_above(x, lo - 1e-9, 0.01, 100).all()
    assert not lower_above(x, lo + 1e-4, 0.01, 100).any()
    assert upper_below(x, hi + 1e-9, 0.01, 100).all()
    assert not upper_below(x, hi - 1e-4, 0.01, 100).any()


def test_rows_use_their_observed_prefix_only():
    x = np.array([[1.0, 1.0, np.nan, 0.0, 0.0]])
    assert prefix_counts(x).tolist() == [2]
    assert np.allclose(bounds(x, 0.05, 5), bounds(np.array([[1.0, 1.0]]), 0.05, 5))


def test_paired_bounds_are_tighter_than_two_one_sample_bounds_when_items_drive_scores():
    rng = np.random.default_rng(4)
    difficulty = rng.random(200)
    a = (difficulty < 0.7).astype(float)[None, :150]
    b = (difficulty < 0.6).astype(float)[None, :150]
    plo, _ = bounds(a - b, 0.01, 200, (-1.0, 1.0))
    alo, _ = bounds(a, 0.01, 200)
    _, bhi = bounds(b, 0.01, 200)
    assert plo[0] > 0 and plo[0] > alo[0] - bhi[0]  # paired certifies a > b, unpaired cannot


def test_bad_input_is_one_clear_error():
    with pytest.raises(ValueError, match="alpha"):
        bounds(np.ones((1, 3)), 1.5, 10)
    with pytest.raises(ValueError, match="population of 3"):
        bounds(np.ones((1, 5)), 0.05, 3)


def test_look_schedule_grows_by_a_fifth_and_gets_finer_as_the_items_run_out():
    s = look_schedule(400)
    assert s[0] == 10 and s[-1] == 400 and all(b > a for a, b in itertools.pairwise(s))
    assert s[1] == 12 and look_schedule(3) == [3] and look_schedule(135)[0] == 5
    assert all(b - a <= max(1, math.ceil(0.2 * min(a, 400 - a))) for a, b in itertools.pairwise(s))
    assert s[-4:] == [397, 398, 399, 400] and look_schedule(198)[-3:] == [196, 197, 198]
    assert next_look(s, 10) == 12 and next_look(s, 400) == 400 and next_look(s, 0) == 10
