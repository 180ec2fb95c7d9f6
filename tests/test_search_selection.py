"""The selection rule inside the search: tolerance, objective ("score", "cost", weights) and
constraints; ceiling-aware certificates; the summary's cheapest certified combinations."""

import numpy as np
import pytest

from agentopt_search import Outcome, SearchSpace, search
from agentopt_search.certify import levels
from agentopt_search.selection import check_objective


class Planted:
    """One slot; per-model score vectors over ``n`` items (item difficulty shared) and prices."""

    def __init__(self, accuracy: dict[str, float], price: dict[str, float], n: int = 300,
                 seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        order = rng.permutation(n)  # item difficulty rank: a model gets the easiest items right
        self.scores = {m: (order < round(a * n)).astype(float) for m, a in accuracy.items()}
        self.price = price
        self.space = SearchSpace({"model": list(accuracy)})
        self.examples = list(range(n))
        self.calls: dict[str, int] = dict.fromkeys(accuracy, 0)

    def evaluate(self, assignment, item):
        m = assignment["model"]
        self.calls[m] += 1
        return Outcome(score=float(self.scores[m][item]), cost_usd=self.price[m], latency_s=0.1)


def run(prob, **kw):
    return search(prob.space, prob.evaluate, prob.examples, progress=False, seed=0, **kw)


def test_cost_objective_picks_the_cheapest_within_tolerance():
    prob = Planted({"big": 0.80, "mid": 0.795, "small": 0.55},
                   {"big": 1.0, "mid": 0.1, "small": 0.01})
    best = run(prob)
    assert best.best.assignment == {"model": "big"}
    cheap = run(Planted({"big": 0.80, "mid": 0.795, "small": 0.55},
                        {"big": 1.0, "mid": 0.1, "small": 0.01}),
                objective="cost", tolerance=0.01)
    assert cheap.best.assignment == {"model": "mid"} and cheap.objective == "cost"
    small = cheap.get({"model": "small"})
    assert small.status == "eliminated" and "more than the tolerance" in small.reason
    point = cheap.operating_points[0]
    assert point.tolerance == 0.01
    assert point.combination.key == "model=mid"
    assert point.cost_ratio == pytest.approx(1.0)


def test_tolerance_is_epsilon_and_they_cannot_disagree():
    prob = Planted({"a": 0.7, "b": 0.5}, {"a": 1.0, "b": 1.0}, n=60)
    assert run(prob, tolerance=0.02).tolerance == 0.02
    assert run(prob, epsilon=0.03).epsilon == 0.03
    with pytest.raises(ValueError, match="tolerance and epsilon are the same setting"):
        run(prob, tolerance=0.02, epsilon=0.03)
    with pytest.raises(ValueError, match=r"tolerance \(epsilon\) must be a number in \[0, 1\)"):
        run(prob, tolerance=1.5)


@pytest.mark.parametrize("bad, match", [
    ("latency", "objective must be 'score', 'cost' or a dict"),
    ({"accuracy": 1}, "may use the keys"),
    ({"score": float("nan")}, "finite numbers"),
    ({"score": 1, "cost": 5}, "'cost', 'latency' <= 0"),
    ({"score": 0}, "not all 0"),
])
def test_bad_objective_is_one_clear_error(bad, match):
    with pytest.raises(ValueError, match=match):
        check_objective(bad)
    prob = Planted({"a": 0.7}, {"a": 1.0}, n=10)
    with pytest.raises(ValueError, match=match):
        run(prob, objective=bad)
    assert prob.calls == {"a": 0}  # nothing paid


@pytest.mark.parametrize("name, value",
                         [("max_cost_per_example", -1), ("max_latency_s", "fast"),
                          ("min_score", 2)])
def test_bad_constraint_is_one_clear_error(name, value):
    with pytest.raises(ValueError, match=name):
        run(Planted({"a": 0.7}, {"a": 1.0}, n=10), **{name: value})


def test_max_cost_per_example_removes_the_dear_best_inside_the_search():
    prob = Planted({"big": 0.9, "mid": 0.7, "small": 0.5}, {"big": 1.0, "mid": 0.1, "small": 0.01})
    result = run(prob, max_cost_per_example=0.5)
    assert result.best.assignment == {"model": "mid"}
    big = result.get({"model": "big"})
    assert big.status == "eliminated" and "max_cost_per_example" in big.reason
    assert prob.calls["big"] <= 15  # dropped at the first look, not raced to the end


def test_min_score_above_every_combination_leaves_no_pick(capsys):
    prob = Planted({"a": 0.6, "b": 0.4}, {"a": 1.0, "b": 0.5}, n=120)
    result = run(prob, min_score=0.9)
    assert result.best is None and result.extra["no_feasible"] and result.to_dict()["no_feasible"]
    result.print_summary()
    assert "No combination meets the constraints" in capsys.readouterr().out


def test_weights_pick_the_best_trade_off_and_never_drop_it_for_being_worse():
    prob = Planted({"big": 0.82, "mid": 0.78, "small": 0.4},
                   {"big": 1.0, "mid": 0.05, "small": 0.01})
    result = run(prob, objective={"score": 1.0, "cost": -0.1})  # 4 pp of score are worth $0.40
    assert result.best.assignment == {"model": "mid"}
    assert result.get({"model": "mid"}).status == "kept"


def test_a_leader_at_the_ceiling_is_evaluated_first_and_certifies_alone():
    """The best scores 1.0: once its own lower bound passes 1 - tolerance, nothing else needs
    more items than its first look (a paired certificate would need them all)."""
    prob = Planted({"perfect": 1.0, "good": 0.97, "fair": 0.9, "weak": 0.8},
                   dict.fromkeys(("perfect", "good", "fair", "weak"), 1.0), n=200)
    result = run(prob, tolerance=0.01)
    assert result.best.assignment == {"model": "perfect"}
    assert prob.calls["perfect"] > 150
    others = [prob.calls[m] for m in ("good", "fair", "weak")]
    assert max(others) <= 12  # the first look (N/20 = 10) and at most one more
    assert result.spent_usd < 0.4 * 4 * 200


def test_every_strategy_picks_through_the_shared_rule():
    """A strategy without certificates (random sampling every combination here) still picks by
    the objective: the cheapest whose measured score is within tolerance of the best."""
    prob = Planted({"big": 0.8, "mid": 0.8, "small": 0.5}, {"big": 1.0, "mid": 0.1, "small": 0.01},
                   n=40)
    result = run(prob, strategy="random", n_combinations=3, objective="cost")
    assert result.best.assignment == {"model": "mid"}


def test_union_bound_levels():
    pair, one = levels(0.05, 81)
    assert pair == pytest.approx(0.75 * 0.05 / 80) and one == pytest.approx(0.25 * 0.05 / 82)
    pair, one = levels(0.05, 81, "cost")
    assert pair == pytest.approx(0.75 * 0.05 / 160) and one == pytest.approx(0.25 * 0.05 / 83)


def test_summary_lists_the_cheapest_certified_combination_at_each_tolerance(capsys):
    prob = Planted({"big": 0.80, "mid": 0.78, "cheap": 0.76, "bad": 0.3},
                   {"big": 1.0, "mid": 0.3, "cheap": 0.05, "bad": 0.01}, n=400)
    result = run(prob, objective="cost", tolerance=0.05)
    points = {p.tolerance: p for p in result.operating_points}
    assert set(points) == {0.01, 0.025, 0.05}
    assert points[0.05].combination.key == "model=cheap"
    assert points[0.05].cost_ratio == pytest.approx(1.0)
    d = result.to_dict()
    assert [p["tolerance"] for p in d["operating_points"]] == [0.01, 0.025, 0.05]
    result.print_summary()
    out = capsys.readouterr().out
    assert "Cheapest combination certified within tolerance" in out and "5 pp" in out


def test_with_every_item_seen_the_certified_operating_points_are_the_true_ones():
    """brute_force sees every item: bounds are exact, so the cheapest certified combination within
    each tolerance is exactly the cheapest one whose score is within it."""
    acc = {"a": 0.90, "b": 0.885, "c": 0.87, "d": 0.84, "e": 0.5}
    price = {"a": 1.0, "b": 0.5, "c": 0.2, "d": 0.05, "e": 0.01}
    prob = Planted(acc, price, n=200)
    result = run(prob, strategy="brute_force")
    truth = {m: prob.scores[m].mean() for m in acc}
    for point in result.operating_points:
        ok = [m for m in acc if truth[m] >= max(truth.values()) - point.tolerance - 1e-12]
        assert point.combination.key == f"model={min(ok, key=price.get)}"
        assert point.cost_ratio == pytest.approx(price[min(ok, key=price.get)] / price["a"])


def test_certificates_use_only_the_items_a_combination_may_use():
    """The evidence cap (``Certifier.allow``): with later cells already held (another worker's, or
    a resumed run's), statements rest on the planned prefix only, exactly as if the rest were
    unseen."""
    from agentopt_search.certify import Certifier
    from agentopt_search.state import SearchState

    rng = np.random.default_rng(5)
    space = SearchSpace({"model": ["a", "b", "c"]})
    full, cut = SearchState(space, 80), SearchState(space, 80)
    scores = (rng.random((3, 80)) < np.array([[0.9], [0.6], [0.3]])).astype(float)
    for c in range(3):
        for p in range(80):
            full.record((c, p), scores[c, p], 0.01 * (c + 1), 0.1, None)
            if p < 20:
                cut.record((c, p), scores[c, p], 0.01 * (c + 1), 0.1, None)
    capped, prefix = Certifier(full, 0.01, 0.01), Certifier(cut, 0.01, 0.01)
    capped.limit[:] = 0
    capped.allow([0, 1, 2], 20)
    assert capped.counts([0, 1, 2]).tolist() == [20, 20, 20]
    assert np.allclose(capped.bounds([0, 1, 2]), prefix.bounds([0, 1, 2]))
    assert capped.beats(0, [1, 2]).tolist() == prefix.beats(0, [1, 2]).tolist()
    uncapped = Certifier(full, 0.01, 0.01)  # every held item: tighter than the 20-item prefix
    assert np.all(np.diff(uncapped.bounds([0, 1, 2]), axis=0)
                  < np.diff(capped.bounds([0, 1, 2]), axis=0))
