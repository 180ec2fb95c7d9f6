"""search(): strategies find the planted best, cells are never paid twice, budget, concurrency, bad input."""

import asyncio
import threading

import numpy as np
import pytest

from agentopt_search import Outcome, SearchError, SearchSpace, registry, search
from search_helpers import Planted

SLOTS = {"planner": ["p1", "p2", "p3"], "solver": ["s1", "s2", "s3"]}
BEST = {"planner": "p2", "solver": "s3"}


@pytest.mark.parametrize("strategy", ["auto", "arm_elimination", "brute_force"])
@pytest.mark.parametrize("fractional", [False, True])
def test_strategy_finds_planted_best(strategy, fractional):
    prob = Planted(SLOTS, BEST, fractional=fractional)
    result = search(prob.space, prob.evaluate, prob.examples, strategy=strategy, seed=1, progress=False)
    assert result.best.assignment == BEST
    assert all(v == 1 for v in prob.calls.values())
    assert result.n_evaluations == len(prob.calls)
    assert result.spent_usd == pytest.approx(sum(prob.price[c] for c, _ in prob.calls))


def test_random_search_picks_the_best_of_what_it_sampled():
    prob = Planted(SLOTS, BEST)
    result = search(prob.space, prob.evaluate, prob.examples, strategy="random", seed=3, progress=False,
                    n_combinations=4)
    tried = [s for s in result.leaderboard if s.n > 0]
    assert len(tried) == 4 and all(s.n == len(prob.examples) for s in tried)
    assert result.best.mean_score == max(s.mean_score for s in tried)
    assert sum(s.status == "not tried" for s in result.leaderboard) == prob.space.size - 4


def test_arm_elimination_spends_less_than_brute_force_and_reports_statuses():
    prob = Planted(SLOTS, BEST, gap=0.3, n_items=200)
    result = search(prob.space, prob.evaluate, prob.examples, strategy="arm_elimination", progress=False)
    assert result.n_evaluations < prob.space.size * len(prob.examples) * 0.6
    statuses = {s.status for s in result.leaderboard}
    assert statuses <= {"kept", "eliminated"} and "eliminated" in statuses
    assert all(s.reason for s in result.leaderboard if s.status == "eliminated")
    assert result.best.status == "kept"
    lo, hi = result.best.ci
    assert lo <= result.best.mean_score <= hi


def test_ties_stop_early_within_epsilon():
    space = SearchSpace({"m": ["a", "b"]})
    examples = list(range(400))
    calls = []

    def evaluate(a, ex):  # identical combinations: a tie
        calls.append(ex)
        return Outcome(score=1.0 if ex % 10 else 0.0, cost_usd=0.001)

    result = search(space, evaluate, examples, strategy="arm_elimination", epsilon=0.05, progress=False)
    assert len(calls) < 2 * len(examples)
    assert result.best is not None


def test_pareto_front_is_non_dominated():
    prob = Planted(SLOTS, BEST)
    result = search(prob.space, prob.evaluate, prob.examples, strategy="brute_force", progress=False)
    front = result.pareto()
    assert front and result.best in front
    for p in front:
        for q in result.leaderboard:
            assert not (q.mean_score > p.mean_score and q.mean_cost_usd < p.mean_cost_usd
                        and q.mean_latency_s <= p.mean_latency_s)


def test_sync_evaluate_runs_concurrently_and_never_twice():
    prob = Planted(SLOTS, BEST)
    active, peak = [0], [0]
    lock = threading.Lock()
    barrier = threading.Barrier(4, timeout=10)
    started = [0]

    def evaluate(a, ex):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
            started[0] += 1
            first = started[0] <= 4
        if first:
            barrier.wait()  # the first 4 calls meet: proves they are in flight at once
        try:
            return prob.evaluate(a, ex)
        finally:
            with lock:
                active[0] -= 1

    search(prob.space, evaluate, prob.examples, strategy="brute_force", max_concurrency=16, progress=False)
    assert peak[0] >= 4 and peak[0] <= 16
    assert len(prob.calls) == prob.space.size * len(prob.examples)
    assert set(prob.calls.values()) == {1}


def test_async_evaluate_same_results_as_sync():
    prob_sync, prob_async = Planted(SLOTS, BEST), Planted(SLOTS, BEST)
    in_flight, peak = [0], [0]

    async def evaluate(a, ex):
        in_flight[0] += 1
        peak[0] = max(peak[0], in_flight[0])
        await asyncio.sleep(0)
        in_flight[0] -= 1
        return prob_async.evaluate(a, ex)

    r1 = search(prob_sync.space, prob_sync.evaluate, prob_sync.examples, seed=5, progress=False, max_concurrency=16)
    r2 = search(prob_async.space, evaluate, prob_async.examples, seed=5, progress=False, max_concurrency=16)
    assert r1.best.assignment == r2.best.assignment
    assert r1.n_evaluations == r2.n_evaluations and set(prob_async.calls.values()) == {1}
    assert 1 < peak[0] <= 16


def test_search_inside_a_running_event_loop():
    prob = Planted(SLOTS, BEST)

    async def main():
        return search(prob.space, prob.evaluate, prob.examples, progress=False)

    assert asyncio.run(main()).best.assignment == BEST


def test_budget_cap_stops_with_best_so_far():
    prob = Planted(SLOTS, BEST)
    budget = 0.5
    result = search(prob.space, prob.evaluate, prob.examples, strategy="brute_force", budget_usd=budget,
                    max_concurrency=4, progress=False)
    assert result.stopped_on_budget and result.stop_reason == "budget"
    assert result.spent_usd <= budget + 4 * prob.price.max()  # at most the calls in flight
    assert result.best is not None and result.best.n > 0


def test_errors_are_recorded_and_search_goes_on():
    prob = Planted(SLOTS, BEST)
    broken = {"planner": "p1", "solver": "s1"}

    def evaluate(a, ex):
        if a == broken:
            raise TimeoutError("provider timed out")
        if a == {"planner": "p1", "solver": "s2"} and ex % 7 == 0:
            raise ConnectionError("reset")
        return prob.evaluate(a, ex)

    result = search(prob.space, evaluate, prob.examples, strategy="brute_force", progress=False)
    row = result.get(broken)
    assert row.status == "failed" and "TimeoutError: provider timed out" in row.first_error
    partial = result.get({"planner": "p1", "solver": "s2"})
    assert partial.status != "failed" and partial.n_errors == len([e for e in prob.examples if e % 7 == 0])
    assert result.best.assignment == BEST


def test_all_combinations_failing_raises_with_messages():
    def evaluate(a, ex):
        raise RuntimeError(f"no key for {a['m']}")

    with pytest.raises(SearchError, match="no key for a"):
        search({"m": ["a", "b"]}, evaluate, [1, 2, 3], progress=False)


@pytest.mark.parametrize("bad", [float("nan"), 1.5, -0.1, "0.5"])
def test_bad_score_names_combination_and_example(bad):
    with pytest.raises(ValueError, match=r"m=a.*example #"):
        search({"m": ["a"]}, lambda a, ex: Outcome(score=bad) if not isinstance(bad, str) else bad, [0, 1],
               progress=False)


@pytest.mark.parametrize("kwargs,match", [
    (dict(space={"m": ["a"]}, examples=[]), "examples is empty"),
    (dict(space={}, examples=[1]), "at least one slot"),
    (dict(space={"m": []}, examples=[1]), "no candidate models"),
    (dict(space={"m": ["a", "a"]}, examples=[1]), "duplicate candidates"),
    (dict(space={"m": ["a"]}, examples=[1], strategy="nope"), "unknown strategy 'nope'"),
    (dict(space={"m": ["a"]}, examples=[1], budget_usd=-1), "budget_usd"),
    (dict(space={"m": ["a"]}, examples=[1], max_concurrency=0), "max_concurrency"),
])
def test_bad_input_is_one_clear_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        search(kwargs.pop("space"), lambda a, e: 1.0, kwargs.pop("examples"), progress=False, **kwargs)


def test_registry_has_the_core_strategies():
    assert {"auto", "brute_force", "random", "arm_elimination"} <= set(registry())


def test_print_summary_mentions_best_and_spend(capsys):
    prob = Planted(SLOTS, BEST)
    result = search(prob.space, prob.evaluate, prob.examples, progress=False)
    result.print_summary()
    out = capsys.readouterr().out
    assert "Best:" in out and "planner=p2|solver=s3" in out and "brute force" in out
