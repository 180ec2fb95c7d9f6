"""``screening`` on a large space: the slot model prunes, paired elimination confirms;
``auto`` uses it."""

import numpy as np
import pytest

from agentopt_search import Outcome, SearchSpace, search
from agentopt_search.strategies.auto import LARGE_SPACE
from search_helpers import _u


class Additive:
    """Slot main effects + one harmful interaction + item difficulty; binary scores."""

    def __init__(self, shape=(7, 7, 7), n_items=120):
        self.space = SearchSpace({f"slot{k}": [f"m{j}" for j in range(n)]
                                  for k, n in enumerate(shape)})
        self.coords = np.array([self.space.coords(i) for i in range(self.space.size)])
        effects = [np.linspace(-1.0, 0.6, n) for n in shape]
        self.logit = sum(e[self.coords[:, k]] for k, e in enumerate(effects))
        # The per-slot best models clash (interaction), so the best combination is not the sum of
        # per-slot bests.
        clash = (self.coords[:, 0] == shape[0] - 1) & (self.coords[:, 1] == shape[1] - 1)
        self.logit = self.logit - 1.5 * clash
        self.examples = list(range(n_items))
        self.price = 0.001 * (1 + self.coords.sum(axis=1))
        self.calls: dict[tuple[int, int], int] = {}

    def score(self, combo, item):
        p = 1 / (1 + np.exp(-(self.logit[combo] + 2.0 * (_u("d", item) - 0.5))))
        return float(_u(combo, item) < p)

    def evaluate(self, assignment, example):
        combo = self.space.index(assignment)
        self.calls[(combo, example)] = self.calls.get((combo, example), 0) + 1
        return Outcome(score=self.score(combo, example), cost_usd=float(self.price[combo]),
                       latency_s=0.01)

    def true_means(self):
        return np.array([[self.score(c, i) for i in self.examples]
                         for c in range(self.space.size)]).mean(axis=1)


@pytest.mark.parametrize("strategy, share", [("screening", 0.2), ("auto", 0.4)])
def test_large_space_finds_a_top_combination_cheaply(strategy, share):
    """``screening`` prunes with the slot model (cheapest, no guarantee over the pruned); ``auto``
    keeps the guarantee over every combination (certified elimination) at a higher price."""
    prob = Additive()
    assert prob.space.size > LARGE_SPACE
    result = search(prob.space, prob.evaluate, prob.examples, strategy=strategy, seed=2,
                    progress=False)
    truth = prob.true_means()
    assert truth.max() - truth[result.best.index] <= 0.02
    # avoided the clash
    assert result.best.assignment["slot0"] != "m6" or result.best.assignment["slot1"] != "m6"
    assert all(v == 1 for v in prob.calls.values())
    brute = prob.price.sum() * len(prob.examples)
    assert result.spent_usd < share * brute
    statuses = {s.status for s in result.leaderboard}
    assert "eliminated" in statuses
    if strategy == "screening":
        assert result.strategy == "screening" and any("screened out" in s.reason
                                                      for s in result.leaderboard)
    else:
        assert result.strategy == "auto -> arm_elimination"
        assert not any("screened out" in s.reason for s in result.leaderboard)


def test_small_spaces_stay_with_arm_elimination():
    prob = Additive(shape=(3, 3))
    result = search(prob.space, prob.evaluate, prob.examples, strategy="auto", seed=0,
                    progress=False)
    assert "arm_elimination" in result.strategy
