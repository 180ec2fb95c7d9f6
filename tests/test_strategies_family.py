"""The strategy family: epsilon_lucb, threshold_se, hill_climbing, bayesian, pareto, lm_proposal.

Each runs through search() on small synthetic spaces with a planted answer (best combination,
threshold classes, Pareto front), never pays a cell twice, and reports what it did."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import warnings

import numpy as np
import pytest

from agentopt_search import Outcome, SearchSpace, registry, search
from agentopt_search.bench.decision_time import measure
from agentopt_search.bench.run import main as bench_main
from agentopt_search.bench.synthetic import synthetic_replay
from agentopt_search.state import SearchState
from agentopt_search.strategies import bayesian as bayesian_mod
from agentopt_search.strategies.lm_proposal import cheapest_first, parse_proposals
from search_helpers import _u

NEW = ["epsilon_lucb", "threshold_se", "hill_climbing", "bayesian", "pareto", "lm_proposal"]


class Additive:
    """Scores from per-slot model effects (plus item difficulty): the planted best is every slot's
    best model. Cost and latency are sums over slots of per-model prices and delays."""

    def __init__(self, n_slots: int = 2, n_models: int = 4, n_items: int = 160, top: float = 0.85,
                 step: float = 0.12, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.slots = {f"s{i}": [f"m{j}" for j in range(n_models)] for i in range(n_slots)}
        self.space = SearchSpace(self.slots)
        self.examples = list(range(n_items))
        self.best_model = {s: f"m{int(rng.integers(n_models))}" for s in self.slots}
        coords = np.array(list(self.space.product()))
        gap = np.zeros(self.space.size)
        for s, best in enumerate(self.best_model.values()):
            rank = (coords[:, s] - int(best[1:])) % n_models      # 0 for the slot's best model
            gap += step * (rank > 0) + 0.03 * rank
        self.p = top - gap
        self.price = {m: 0.001 * (1 + j) for j, m in enumerate(self.slots["s0"])}
        self.delay = {m: 0.1 * (n_models - j) for j, m in enumerate(self.slots["s0"])}
        self.calls: dict[tuple[int, int], int] = {}
        self.lock = threading.Lock()

    @property
    def best(self) -> dict[str, str]:
        return dict(self.best_model)

    def score(self, combo: int, item: int) -> float:
        return float(_u(combo, item) < np.clip(self.p[combo] - 0.3 * (_u("d", item) - 0.5), 0, 1))

    def cost(self, combo: int) -> float:
        return sum(self.price[m] for m in self.space.assignment(combo).values())

    def latency(self, combo: int) -> float:
        return sum(self.delay[m] for m in self.space.assignment(combo).values())

    def evaluate(self, assignment: dict[str, str], example: int) -> Outcome:
        combo = self.space.index(assignment)
        with self.lock:
            self.calls[(combo, example)] = self.calls.get((combo, example), 0) + 1
        return Outcome(score=self.score(combo, example), cost_usd=self.cost(combo),
                       latency_s=self.latency(combo))

    def true_means(self) -> np.ndarray:
        return np.array([np.mean([self.score(c, i) for i in self.examples])
                         for c in range(self.space.size)])

    def paid(self) -> float:
        return sum(self.cost(c) for c, _ in self.calls)


def run(prob: Additive, strategy: str, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return search(prob.space, prob.evaluate, prob.examples, strategy=strategy, progress=False,
                      **kw)


def assert_paid_once(prob: Additive, result) -> None:
    assert prob.calls and all(v == 1 for v in prob.calls.values())
    assert result.n_evaluations == len(prob.calls)


def test_every_new_strategy_is_registered():
    assert set(NEW) <= set(registry())


@pytest.mark.parametrize("strategy", ["epsilon_lucb", "hill_climbing", "bayesian"])
@pytest.mark.parametrize("seed", [0, 1])
def test_finds_the_planted_best_and_pays_each_cell_once(strategy, seed):
    prob = Additive(seed=seed)
    result = run(prob, strategy, seed=seed)
    assert result.best.assignment == prob.best
    assert_paid_once(prob, result)
    assert result.spent_usd == pytest.approx(prob.paid())
    assert result.n_evaluations < prob.space.size * len(prob.examples)  # cheaper than brute force
    assert all(s.reason for s in result.leaderboard if s.status == "eliminated")


@pytest.mark.parametrize("strategy", NEW)
def test_budget_stops_every_strategy_with_a_pick(strategy):
    prob = Additive(n_slots=2, n_models=4, seed=1)
    budget = 0.02 * prob.space.size * len(prob.examples) * 0.004  # ~2% of brute force
    kw = {"min_score": 0.6} if strategy == "threshold_se" else {}
    result = run(prob, strategy, budget_usd=budget, **kw)
    assert result.stop_reason == "budget" and result.best is not None
    assert_paid_once(prob, result)
    # max_concurrency calls at most
    in_flight = 8 * max(prob.cost(c) for c in range(prob.space.size))
    assert result.spent_usd <= budget + in_flight + 0.01  # (+ the LM proposal call)


def test_epsilon_lucb_spends_on_the_contenders_and_stops_on_ties():
    prob = Additive(n_models=4, seed=3)
    result = run(prob, "epsilon_lucb")
    n = {s.key: s.n for s in result.leaderboard}
    best_key = result.best.key
    assert n[best_key] == max(n.values())  # the leader is sampled every round
    assert sum(n.values()) < 0.5 * prob.space.size * len(prob.examples)

    space = SearchSpace({"m": ["a", "b", "c"]})
    calls = []

    def tie(a, ex):
        calls.append(ex)
        return Outcome(score=float(ex % 4 != 0), cost_usd=0.001)

    res = search(space, tie, list(range(400)), strategy="epsilon_lucb", epsilon=0.05,
                 progress=False)
    assert len(calls) < 3 * 400 * 0.6 and res.best is not None


@pytest.mark.slow
def test_epsilon_lucb_resumes_from_storage_without_paying_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'run.db'}"
    first = Additive(n_slots=1, n_models=3, n_items=40, step=0.3, seed=2)
    r1 = run(first, "epsilon_lucb", storage=url)
    again = Additive(n_slots=1, n_models=3, n_items=40, step=0.3, seed=2)
    r2 = run(again, "epsilon_lucb", storage=url)
    assert again.calls == {} and r2.extra["paid_this_run"] == 0
    assert r2.best.assignment == r1.best.assignment == first.best


def test_threshold_se_classifies_against_min_score_and_picks_the_cheapest_above():
    def planted() -> Additive:
        prob = Additive(n_models=3)
        # s0 x s1 (row-major): above the bar at (m0, m2), (m1, m2), (m2, m1); the cheapest is (m0,
        # m2)
        prob.p = np.array([0.3, 0.45, 0.9, 0.2, 0.45, 0.8, 0.35, 0.85, 0.3])
        return prob

    prob = planted()
    truth = prob.true_means()
    tau = 0.6
    assert np.all(np.abs(truth - tau) > 0.1)  # a clear margin either side
    result = run(prob, "threshold_se", min_score=tau)
    assert_paid_once(prob, result)
    kept = {s.index for s in result.leaderboard if s.status == "kept"}
    assert kept == set(np.flatnonzero(truth >= tau).tolist())
    assert all("above min_score" in s.reason for s in result.leaderboard if s.status == "kept")
    assert all("below min_score" in s.reason for s in result.leaderboard
               if s.status == "eliminated")
    above = sorted(kept, key=prob.cost)
    assert result.best.index == above[0]

    quick = planted()
    res = run(quick, "threshold_se", min_score=tau, classify_all=False)
    assert res.best.index == above[0] and res.n_evaluations < result.n_evaluations


def test_threshold_se_without_min_score_is_a_clear_error():
    prob = Additive()
    with pytest.raises(ValueError, match=r"strategy 'threshold_se' needs min_score=\.\.\."):
        run(prob, "threshold_se")
    assert prob.calls == {}  # nothing paid


def test_hill_climbing_moves_one_slot_at_a_time_to_the_best():
    prob = Additive(n_slots=3, n_models=4, seed=5)
    result = run(prob, "hill_climbing", restarts=1)
    assert result.best.assignment == prob.best
    assert_paid_once(prob, result)
    assert "local optima" in result.strategy
    # a visited combination sees only as many items as its comparisons needed: far from brute force
    assert result.n_evaluations < 0.5 * prob.space.size * len(prob.examples)


def test_bayesian_sampler_proposes_in_a_large_space():
    prob = Additive(n_slots=3, n_models=5, n_items=120, seed=6)  # 125 combinations, 40 trials
    truth = prob.true_means()
    result = run(prob, "bayesian", sampler="tpe", n_trials=40)
    assert "tpe sampler, 40 explored" in result.strategy
    assert_paid_once(prob, result)
    assert truth.max() - truth[result.best.index] <= 0.05
    assert sum(s.status != "not tried" for s in result.leaderboard) <= 40
    assert result.n_evaluations < 0.25 * prob.space.size * len(prob.examples)


def test_bayesian_gp_falls_back_to_tpe_without_torch(monkeypatch):
    real = bayesian_mod.importlib.util.find_spec
    monkeypatch.setattr(bayesian_mod.importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    monkeypatch.setattr(bayesian_mod, "_warned_gp", False)
    prob = Additive(n_slots=3, n_models=4, n_items=60)
    with pytest.warns(RuntimeWarning, match="needs PyTorch"):
        result = search(prob.space, prob.evaluate, prob.examples, strategy="bayesian", n_trials=20,
                        progress=False)
    assert "tpe sampler" in result.strategy
    with pytest.raises(ValueError, match="'gp' or 'tpe'"):
        search(prob.space, prob.evaluate, prob.examples, strategy="bayesian", sampler="cmaes",
               progress=False)


class Tradeoff:
    """2 slots x 3 models with a planted score / cost / latency trade-off."""

    def __init__(self) -> None:
        self.space = SearchSpace({"planner": ["a", "b", "c"], "solver": ["x", "y", "z"]})
        rng = np.random.default_rng(7)
        n = self.space.size
        self.p = rng.uniform(0.15, 0.9, n)
        self.cost = rng.uniform(0.001, 0.01, n)
        self.lat = rng.uniform(0.5, 5.0, n)
        self.examples = list(range(150))
        self.calls: dict[tuple[int, int], int] = {}

    def score(self, c: int, item: int) -> float:
        return float(_u(c, item) < self.p[c])

    def evaluate(self, assignment, example):
        c = self.space.index(assignment)
        self.calls[(c, example)] = self.calls.get((c, example), 0) + 1
        noise = 1 + 0.1 * (_u("n", c, example) - 0.5)
        return Outcome(score=self.score(c, example), cost_usd=self.cost[c] * noise,
                       latency_s=self.lat[c] * noise)

    def true_front(self, latency: bool = True) -> set[int]:
        mean = np.array([np.mean([self.score(c, i) for i in self.examples])
                         for c in range(self.space.size)])
        lat = self.lat if latency else np.zeros(self.space.size)
        front = set()
        for c in range(self.space.size):
            if not any(mean[d] >= mean[c] and self.cost[d] <= self.cost[c] and lat[d] <= lat[c]
                       and d != c for d in range(self.space.size)):
                front.add(c)
        return front


def test_pareto_finds_the_planted_front_and_leaves_dominated_ones_off():
    prob = Tradeoff()
    result = search(prob.space, prob.evaluate, prob.examples, strategy="pareto", progress=False,
                    epsilon=0.0)
    assert all(v == 1 for v in prob.calls.values())
    front = {s.index for s in result.pareto()}
    assert front == prob.true_front()
    dominated = [s for s in result.leaderboard if s.dominated]
    assert dominated and all(s.status == "eliminated" and "dominated by" in s.reason
                             for s in dominated)
    assert all(s.ci[0] <= s.mean_score <= s.ci[1] for s in result.pareto())
    assert result.best.index in front
    assert result.n_evaluations < prob.space.size * len(prob.examples)

    two = Tradeoff()
    res2 = search(two.space, two.evaluate, two.examples, strategy="pareto",
                  objectives=("score", "cost"), progress=False, epsilon=0.0)
    front2 = {s.index for s in res2.pareto() if not s.dominated}
    assert two.true_front(latency=False) <= front2 and res2.n_evaluations < result.n_evaluations
    assert all("score, cost (" in s.reason for s in res2.leaderboard if s.dominated)
    with pytest.raises(ValueError, match="must include 'score'"):
        search(two.space, two.evaluate, two.examples, strategy="pareto",
               objectives=("cost", "latency"), progress=False)


def test_pareto_with_a_sampler_on_a_larger_space():
    prob = Additive(n_slots=3, n_models=4, n_items=80, seed=8)  # 64 combinations, 30 trials
    result = run(prob, "pareto", n_trials=30)
    assert_paid_once(prob, result)
    tried = [s for s in result.leaderboard if s.n > 0]
    assert len(tried) <= 30
    front = result.pareto()
    assert front and all(not s.dominated and s.status == "kept" for s in front)


# --------------------------------------------------------------------------- lm_proposal

def test_lm_proposal_with_the_offline_sim_model_falls_back_to_cheapest_first():
    prob = Additive(n_models=4)
    with pytest.warns(RuntimeWarning, match="falling back to the 3 cheapest"):
        result = search(prob.space, prob.evaluate, prob.examples, strategy="lm_proposal", k=3,
                        progress=False)
    assert "cheapest-first fallback" in result.strategy
    tried = {s.index for s in result.leaderboard if s.n > 0}
    assert len(tried) == 3  # m0..m3 are unknown to litellm: candidate order
    assert tried == set(cheapest_first(prob.space, {})[:3])
    assert_paid_once(prob, result)


def test_lm_proposal_races_what_the_model_proposes():
    prob = Additive(n_models=4, seed=9)
    best = prob.best
    other = {s: ("m0" if m != "m0" else "m1") for s, m in best.items()}
    answer = "Here you go:\n```json\n" + json.dumps([other,
                                                     {k: v.upper()
                                                      for k, v in best.items()}]) + "\n```"
    result = search(prob.space, prob.evaluate, prob.examples, strategy="lm_proposal", k=4,
                    progress=False, completion_kwargs={"mock_response": answer})
    assert result.strategy.endswith("lm)")
    tried = {s.key for s in result.leaderboard if s.n > 0}
    assert tried == {prob.space.key(prob.space.index(other)),
                     prob.space.key(prob.space.index(best))}
    assert result.best.assignment == best
    assert all("not proposed by" in s.reason for s in result.leaderboard
               if s.status == "not tried")
    assert_paid_once(prob, result)


def test_lm_proposal_unparsable_answer_falls_back_with_a_warning():
    prob = Additive()
    with pytest.warns(RuntimeWarning, match="no combination could be read"):
        result = search(prob.space, prob.evaluate, prob.examples, strategy="lm_proposal", k=2,
                        progress=False,
                        completion_kwargs={"mock_response": "I would pick the strongest models."})
    assert sum(s.n > 0 for s in result.leaderboard) == 2 and result.best is not None


def test_lm_proposal_prices_sim_models_from_litellm_and_orders_cheapest_first():
    space = SearchSpace({"planner": ["sim/frontier", "sim/nano"],
                         "solver": ["sim/xl", "sim/mini"]})
    calls = []

    def evaluate(a, ex):
        calls.append(tuple(a.values()))
        return Outcome(score=1.0, cost_usd=0.0)

    with pytest.warns(RuntimeWarning, match="falling back"):
        result = search(space, evaluate, list(range(20)), strategy="lm_proposal", k=1,
                        progress=False)
    assert set(calls) == {("sim/nano", "sim/mini")}  # the cheapest by the zoo's litellm prices
    assert result.spent_usd > 0  # the proposal call itself was priced and counted


def test_parse_proposals_reads_common_answer_shapes():
    space = SearchSpace({"planner": ["gpt-4o", "gpt-4o-mini"],
                         "solver": ["claude-3-haiku", "llama"]})
    i = space.index
    assert parse_proposals('[{"planner": "gpt-4o-mini", "solver": "llama"}]', space) == [
        i({"planner": "gpt-4o-mini", "solver": "llama"})]
    assert parse_proposals('{"combinations": [["GPT-4o", "Claude-3-Haiku"], ["gpt-4o", "llama"]]}',
                           space) == [
        i({"planner": "gpt-4o", "solver": "claude-3-haiku"}),
        i({"planner": "gpt-4o", "solver": "llama"})]
    text = ("1. planner = gpt-4o-mini, solver: claude-3-haiku\n2. planner=gpt-4o | solver=llama\n"
            "3. nonsense")
    assert parse_proposals(text, space) == [i({"planner": "gpt-4o-mini",
                                               "solver": "claude-3-haiku"}),
                                            i({"planner": "gpt-4o", "solver": "llama"})]
    assert parse_proposals('[{"planner": "gemini", "solver": "llama"}]', space) == []
    assert parse_proposals("", space) == [] and parse_proposals(None, space) == []


@pytest.mark.slow
def test_search_layer_imports_neither_litellm_nor_the_adapters():
    code = ("import sys, agentopt_search; from agentopt_search import registry; registry(); "
            "print('litellm' in sys.modules, 'agentopt_adapters' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["False", "False"]


# --------------------------------------------------------------------------- helpers, bench

def test_estimated_cost_is_additive_over_slots():
    space = SearchSpace({"a": ["x", "y"], "b": ["u", "v", "w"]})
    state = SearchState(space, 4)
    price = {"x": 1.0, "y": 3.0, "u": 0.5, "v": 2.0, "w": 4.0}
    for combo in (space.index({"a": "x", "b": "u"}), space.index({"a": "y", "b": "v"}),
                  space.index({"a": "x", "b": "v"})):
        a = space.assignment(combo)
        state.record((combo, 0), 1.0, price[a["a"]] + price[a["b"]], 0.1, None)
    est = state.estimated_cost_per_item()
    assert est[space.index({"a": "y", "b": "u"})] == pytest.approx(3.5)
    assert np.isnan(est[space.index({"a": "x", "b": "w"})])  # w never ran


def test_synthetic_replay_is_a_full_seeded_grid():
    r = synthetic_replay("3x8", seed=0)
    assert r.name == "synth-3x8" and r.space.size == 512 and r.scores.shape == (512, 200)
    assert set(np.unique(r.scores)) <= {0.0, 1.0}
    assert np.all(r.costs > 0)
    assert np.all(r.latencies > 0)
    again = synthetic_replay("3x8", seed=0)
    assert np.array_equal(r.scores, again.scores) and np.array_equal(r.costs, again.costs)
    assert not np.array_equal(r.scores, synthetic_replay("3x8", seed=1).scores)
    assert synthetic_replay("4x6").space.size == 1296
    truth = r.true_means
    assert truth.max() - np.median(truth) > 0.2  # a real spread to search
    assert r.brute_force_usd == pytest.approx(r.costs.sum())
    with pytest.raises(ValueError, match="3x8"):
        synthetic_replay("three by eight")


def test_bench_accepts_synthetic_names_and_skips_brute_force_there(capsys):
    bench_main(["--benchmarks", "synth-2x4", "--seeds", "2", "--workers", "1", "--tolerances",
                "0.01", "--strategies", "epsilon_lucb,brute_force", "--coverage-sims", "0"])
    out = capsys.readouterr().out
    assert "synth-2x4" in out and "epsilon_lucb" in out and "agentopt_rule" in out
    assert "brute_force" not in out.split("-----")[-1]


def test_decision_time_reports_every_round():
    row = measure("epsilon_lucb", space="2x4")
    assert row["rounds"] > 1 and row["evaluations"] > 0
    assert 0 < row["median_s"] <= row["max_s"]
