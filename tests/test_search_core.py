"""search(): strategies find the planted best, cells are never paid twice, budget, concurrency,
bad input."""

import asyncio
import collections
import itertools
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
    result = search(prob.space, prob.evaluate, prob.examples, strategy=strategy, seed=1,
                    progress=False)
    assert result.best.assignment == BEST
    assert all(v == 1 for v in prob.calls.values())
    assert result.n_evaluations == len(prob.calls)
    assert result.spent_usd == pytest.approx(sum(prob.price[c] for c, _ in prob.calls))


def test_random_search_picks_the_best_of_what_it_sampled():
    prob = Planted(SLOTS, BEST)
    result = search(prob.space, prob.evaluate, prob.examples, strategy="random", seed=3,
                    progress=False, n_combinations=4)
    tried = [s for s in result.leaderboard if s.n > 0]
    assert len(tried) == 4 and all(s.n == len(prob.examples) for s in tried)
    assert result.best.mean_score == max(s.mean_score for s in tried)
    assert sum(s.status == "not tried" for s in result.leaderboard) == prob.space.size - 4


def test_arm_elimination_spends_less_than_brute_force_and_reports_statuses():
    prob = Planted(SLOTS, BEST, gap=0.3, n_items=200)
    result = search(prob.space, prob.evaluate, prob.examples, strategy="arm_elimination",
                    progress=False)
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

    result = search(space, evaluate, examples, strategy="arm_elimination", epsilon=0.05,
                    progress=False)
    assert len(calls) < 2 * len(examples)
    assert result.best is not None


def test_pareto_front_is_non_dominated():
    prob = Planted(SLOTS, BEST)
    result = search(prob.space, prob.evaluate, prob.examples, strategy="brute_force",
                    progress=False)
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

    search(prob.space, evaluate, prob.examples, strategy="brute_force", max_concurrency=16,
           progress=False)
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

    r1 = search(prob_sync.space, prob_sync.evaluate, prob_sync.examples, seed=5, progress=False,
                max_concurrency=16)
    r2 = search(prob_async.space, evaluate, prob_async.examples, seed=5, progress=False,
                max_concurrency=16)
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
    result = search(prob.space, prob.evaluate, prob.examples, strategy="brute_force",
                    budget_usd=budget, max_concurrency=4, progress=False)
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
    assert partial.status != "failed" and partial.n_errors == len([e for e in prob.examples
                                                                   if e % 7 == 0])
    assert result.best.assignment == BEST


def test_all_combinations_failing_raises_with_messages():
    def evaluate(a, ex):
        raise RuntimeError(f"no key for {a['m']}")

    with pytest.raises(SearchError, match="no key for a"):
        search({"m": ["a", "b"]}, evaluate, [1, 2, 3], progress=False)


@pytest.mark.parametrize("bad", [float("nan"), 1.5, -0.1, "0.5"])
def test_bad_score_names_combination_and_example(bad):
    with pytest.raises(ValueError, match=r"m=a.*example #"):
        search({"m": ["a"]}, lambda a, ex: Outcome(score=bad) if not isinstance(bad, str) else bad,
               [0, 1], progress=False)


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
        search(kwargs.pop("space"), lambda a, e: 1.0, kwargs.pop("examples"), progress=False,
               **kwargs)


def test_registry_has_the_core_strategies():
    assert {"auto", "brute_force", "random", "arm_elimination"} <= set(registry())


def test_print_summary_mentions_best_and_spend(capsys):
    prob = Planted(SLOTS, BEST)
    result = search(prob.space, prob.evaluate, prob.examples, progress=False)
    result.print_summary()
    out = capsys.readouterr().out
    assert "Best:" in out and "planner=p2|solver=s3" in out and "brute force" in out


# -- anchors
# ---------------------------------------------------------------------------------------
OWN = {"planner": "app-own", "solver": "app-own"}


def _with_anchor(prob, fail=False):
    """The planted problem plus the anchor OWN (outside the space),
    scored like a middling combination."""
    from search_helpers import _u

    calls = []

    def evaluate(a, ex):
        if a == OWN:
            calls.append(ex)
            if fail:
                raise ConnectionError("the app's own endpoint is down")
            return Outcome(score=float(_u("own", ex) < 0.4), cost_usd=0.02, latency_s=0.1)
        return prob.evaluate(a, ex)

    return evaluate, calls


def test_anchor_is_evaluated_wherever_a_combination_is_and_never_picked():
    prob = Planted(SLOTS, BEST, gap=0.3, n_items=200)
    evaluate, own_calls = _with_anchor(prob)
    result = search(prob.space, evaluate, prob.examples, strategy="arm_elimination",
                    anchors={"own": OWN}, progress=False)
    covered = {ex for _, ex in prob.calls}
    assert sorted(own_calls) == sorted(covered)  # every example any combination saw, once each
    own = result.anchors["own"]
    assert own.assignment == OWN and own.status == "anchor" and own.n == len(covered)
    assert result.best.assignment == BEST and all(s.assignment != OWN for s in result.leaderboard)
    assert result.n_evaluations == len(prob.calls) + len(own_calls)
    assert result.spent_usd == pytest.approx(sum(prob.price[c] for c, _ in prob.calls) + 0.02
                                             * len(own_calls))


def test_comparison_of_the_pick_with_an_anchor_is_paired_on_common_examples():
    prob = Planted(SLOTS, BEST, gap=0.3, n_items=120)
    evaluate, _ = _with_anchor(prob)
    result = search(prob.space, evaluate, prob.examples, strategy="brute_force",
                    anchors={"own": OWN}, progress=False)
    from search_helpers import _u

    best = prob.space.index(BEST)
    diffs = [prob.score(best, ex) - float(_u("own", ex) < 0.4) for ex in prob.examples]
    comp = result.comparisons["own"]
    assert comp.n == len(prob.examples) and comp.mean_difference == pytest.approx(np.mean(diffs))
    # the planted best is clearly better
    assert comp.ci[0] < comp.mean_difference < comp.ci[1] and comp.ci[0] > 0


def test_failing_anchor_is_reported_and_never_stops_the_search():
    prob = Planted(SLOTS, BEST)
    evaluate, own_calls = _with_anchor(prob, fail=True)
    result = search(prob.space, evaluate, prob.examples, anchors={"own": OWN}, progress=False)
    own = result.anchors["own"]
    assert own.status == "failed"
    assert "ConnectionError: the app's own endpoint is down" in own.first_error
    assert own_calls and result.best.assignment == BEST


def test_every_combination_failing_is_an_error_even_when_the_anchor_works():
    def evaluate(a, ex):
        if a["m"] == "own":
            return 1.0
        raise RuntimeError(f"no key for {a['m']}")

    with pytest.raises(SearchError, match="no key for a"):
        search({"m": ["a", "b"]}, evaluate, [1, 2, 3], anchors={"own": {"m": "own"}},
               progress=False)


def test_anchor_equal_to_a_combination_shares_its_cells_and_is_paid_once():
    prob = Planted(SLOTS, BEST)
    result = search(prob.space, prob.evaluate, prob.examples, strategy="brute_force",
                    anchors={"same": BEST}, progress=False)
    assert set(prob.calls.values()) == {1}
    same = result.anchors["same"]
    assert same.n == len(prob.examples) and same.mean_score == result.get(BEST).mean_score
    assert result.comparisons["same"].mean_difference == 0


@pytest.mark.parametrize("anchors,match", [
    ({"own": {"planner": "x"}}, "must give a value for each slot"),
    ({"": OWN}, "non-empty strings"),
    ({"own": {"planner": "x", "solver": 3}}, "values must be non-empty strings"),
    (["own"], "anchors must be a dict"),
])
def test_bad_anchors_are_one_clear_error(anchors, match):
    with pytest.raises(ValueError, match=match):
        search(SLOTS, lambda a, e: 1.0, [1], anchors=anchors, progress=False)


# -- shared cells: slots that made no call -------------------------------------------------------
ROUTED = {"router": ["r1", "r2"], "expert": ["e1", "e2", "e3"]}
PRICE = {"r1": 0.001, "r2": 0.004, "e1": 0.01, "e2": 0.02, "e3": 0.03}


def _routed(expert_called, report_usage=True, calls=None):
    """The router answers; the expert is called only on examples where ``expert_called(ex)``."""
    from search_helpers import _u

    def evaluate(a, ex):
        if calls is not None:
            calls.append((a["router"], a["expert"], ex))
        rows = [("router", a["router"], 1, 100, 20, PRICE[a["router"]])]
        score = float(_u(a["router"], ex) < (0.7 if a["router"] == "r2" else 0.4))
        if expert_called(ex):
            rows.append(("expert", a["expert"], 1, 200, 50, PRICE[a["expert"]]))
            score = float(_u(a["router"], a["expert"], ex) < 0.5)
        return Outcome(score=score, cost_usd=sum(r[5] for r in rows), latency_s=0.1,
                       usage=rows if report_usage else None)

    return evaluate


def test_an_idle_slot_is_not_paid_for_and_is_reported():
    examples = list(range(60))
    plain = search(ROUTED, _routed(lambda ex: False, report_usage=False), examples,
                   strategy="brute_force", progress=False)
    calls = []
    shared = search(ROUTED, _routed(lambda ex: False, calls=calls), examples,
                    strategy="brute_force", max_concurrency=8, progress=False)
    assert plain.n_paid == 6 * 60 and plain.idle_slots == []
    # one expert paid per router
    assert shared.n_paid == len(calls) == 2 * 60 and shared.n_shared == 4 * 60
    assert shared.spent_usd == pytest.approx(plain.spent_usd / 3)
    assert shared.best.assignment == plain.best.assignment and shared.idle_slots == ["expert"]
    assert all(s.n == 60 for s in shared.leaderboard)


def test_a_slot_called_on_some_examples_is_shared_exactly_on_the_others():
    examples = list(range(30))
    called = lambda ex: ex % 3 == 0  # noqa: E731
    calls = []
    result = search(ROUTED, _routed(called, calls=calls), examples, strategy="brute_force",
                    max_concurrency=1, progress=False)
    per_example = collections.Counter(ex for _, _, ex in calls)
    assert all(per_example[ex] == (6 if called(ex) else 2) for ex in examples)
    assert result.n_shared == 4 * sum(not called(ex) for ex in examples)
    assert result.idle_slots == []
    fresh = search(ROUTED, _routed(called, report_usage=False), examples, strategy="brute_force",
                   progress=False)
    for row in fresh.leaderboard:  # sharing changed no number
        assert result.get(row.assignment).mean_score == row.mean_score
        assert result.get(row.assignment).mean_cost_usd == pytest.approx(row.mean_cost_usd)


def test_shared_cells_are_correct_under_concurrency():
    examples = list(range(40))
    called = lambda ex: ex % 4 == 0  # noqa: E731
    calls = []
    result = search(ROUTED, _routed(called, calls=calls), examples, strategy="brute_force",
                    max_concurrency=8, progress=False)
    assert len(calls) == len(set(calls)) == result.n_paid
    assert {ex for _, _, ex in calls if called(ex)} == {ex for ex in examples if called(ex)}
    assert result.n_paid + result.n_shared == 6 * 40
    fresh = search(ROUTED, _routed(called, report_usage=False), examples, strategy="brute_force",
                   progress=False)
    assert {r.key: r.mean_score for r in result.leaderboard} == {r.key: r.mean_score
                                                                 for r in fresh.leaderboard}


def test_before_usage_is_known_only_cells_that_could_share_wait_for_each_other():
    """Until an outcome shows which slots are called, two cells of one example wait for each other
    only when sharing could save dollars: they agree in some slot. Cells that differ in every slot
    could share only an evaluation that called no slot (which cost nothing): they run together."""
    space = {"a": ["x", "y"], "b": ["x", "y"]}
    running: set[tuple[str, str]] = set()
    together: list[frozenset[tuple[str, str]]] = []  # in flight before any outcome
    landed = []

    async def evaluate(assignment, example):
        cell = (assignment["a"], assignment["b"])
        running.add(cell)
        if not landed:
            together.append(frozenset(running))
        for _ in range(20):  # let the scheduler start whatever may start
            await asyncio.sleep(0)
        running.discard(cell)
        landed.append(cell)
        return Outcome(score=1.0, usage=[("a", cell[0], 1, 1, 1, 0.0),
                                         ("b", cell[1], 1, 1, 1, 0.0)])

    search(space, evaluate, [0], strategy="brute_force", max_concurrency=4, progress=False)
    overlaps = [c for c in together if len(c) > 1]
    assert overlaps, "cells that differ in every slot ran one after the other"
    for cells in overlaps:
        for p, q in itertools.combinations(cells, 2):
            assert p[0] != q[0] and p[1] != q[1], f"{p} and {q} could share yet ran together"


@pytest.mark.parametrize("usage,match", [
    ([("s", "m", -1, 0, 0, None)], "usage row"),
    ([("s", "m", 1, 0, 0, float("nan"))], "usage row"),
])
def test_bad_usage_rows_name_combination_and_example(usage, match):
    with pytest.raises(ValueError, match=match + r".*s=m on example #0"):
        search({"s": ["m"]}, lambda a, ex: Outcome(score=1.0, usage=usage), [0], progress=False)
    with pytest.raises(ValueError, match="usage must be rows"):
        Outcome(score=1.0, usage=[("s", "m")])
