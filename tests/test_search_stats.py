"""Interval coverage on synthetic Bernoulli and fractional scores, and paired bound validity."""

import numpy as np
import pytest

from agentopt_search.stats import look_schedule, mean_ci, paired_bounds


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


@pytest.mark.parametrize("n", [10, 60])
def test_mean_ci_covers_fractional_scores_near_one(n):
    rng = np.random.default_rng(2)
    mu = 0.9
    hits = 0
    for _ in range(400):
        x = np.clip(rng.beta(18, 2, n), 0, 1)  # F1-like, mean 0.9, skewed towards 1
        lo, hi = mean_ci(x, 0.95)
        hits += lo <= mu <= hi
    assert hits / 400 >= 0.92


def test_identical_scores_never_give_a_zero_width_bound():
    mean, lo, hi, n = paired_bounds(np.zeros((1, 8)), None, 0.01, population=200)
    assert hi[0] - lo[0] > 0.1


def test_paired_bounds_are_exact_when_every_item_is_seen():
    d = np.random.default_rng(0).choice([-1.0, 0.0, 1.0], size=(3, 50))
    mean, lo, hi, n = paired_bounds(d, None, 0.01, population=50)
    assert np.allclose(lo, mean) and np.allclose(hi, mean)


@pytest.mark.parametrize("alpha", [0.05, 0.005])
@pytest.mark.parametrize("n", [20, 60, 150])
def test_paired_bounds_hold_without_replacement(alpha, n):
    """Items sampled without replacement from a fixed population: each one-sided bound on the
    population mean difference is wrong at most alpha of the time (plus Monte-Carlo noise)."""
    rng = np.random.default_rng(3)
    N = 200
    population = rng.choice([-1.0, 0.0, 1.0], p=[0.12, 0.8, 0.08], size=N)
    trials = 4000
    samples = np.array([rng.permutation(population)[:n] for _ in range(trials)])
    _, lo, hi, _ = paired_bounds(samples, None, alpha, population=N)
    tolerance = 3 * np.sqrt(alpha * (1 - alpha) / trials)
    assert np.mean(lo > population.mean()) <= alpha + tolerance
    assert np.mean(hi < population.mean()) <= alpha + tolerance


def test_paired_bounds_tighter_than_unpaired_when_items_drive_scores():
    rng = np.random.default_rng(4)
    difficulty = rng.random(100)
    a = (difficulty < 0.7).astype(float)
    b = (difficulty < 0.6).astype(float)
    _, lo, hi, _ = paired_bounds((a - b)[None, :], None, 0.05, population=None)
    unpaired_half = 1.645 * np.sqrt(a.var() / 100 + b.var() / 100)
    assert (hi[0] - lo[0]) / 2 < unpaired_half


def test_look_schedule_grows_and_ends_at_n():
    s = look_schedule(200)
    assert s[0] == 10 and s[-1] == 200 and all(b > a for a, b in zip(s, s[1:]))
    assert look_schedule(3) == [3]
