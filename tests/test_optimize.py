"""optimize() end to end on a plain callable app with simulated models; bad input; export/apply;
plot."""

from __future__ import annotations

import json
import math

import pytest

import agentopt_adapters as aa
from agentopt_adapters.callable import CallableApp, completion
from agentopt_adapters.errors import (
    AgentOptError,
    DatasetError,
    MetricError,
    ModelError,
    SlotError,
)
from agentopt_adapters.sim.tasks import load_task

TASK = load_task("arithmetic")
DATA = TASK.items[:12]
CALLS = {"n": 0}


def two_slot_app(models, ex):
    """plan with one model, answer with another (both real simulated calls)."""
    CALLS["n"] += 1
    plan = completion(models, "plan",
                      messages=[{"role": "user", "content": f"Plan: {ex['question']}"}])
    ans = completion(models, "solve", messages=[
        {"role": "user", "content": ex["question"]},
        {"role": "assistant", "content": plan.choices[0].message.content}])
    return ans.choices[0].message.content


two_slot_app.agentopt_slots = {"plan": "sim/large", "solve": "sim/large"}


def single(models, ex):
    r = completion(models, "solve", messages=[{"role": "user", "content": ex["question"]}])
    return r.choices[0].message.content


def opt(app=two_slot_app, data=DATA, metric=TASK.metric, candidates=("sim/nano", "sim/small"),
        **kw):
    kw.setdefault("progress", False)
    return aa.optimize(app, data, metric,
                       list(candidates) if not isinstance(candidates, dict) else candidates, **kw)


@pytest.fixture(scope="module")
def result():
    return opt(strategy="brute_force")


def test_callable_end_to_end_with_baseline(result, capsys):
    assert result.framework == "callable"
    # the baseline (the app's declared sim/large in both slots) is measured beside the space, not
    # in it
    assert result.baseline is not None
    assert result.baseline.assignment == {"plan": "(current)", "solve": "(current)"}
    assert result.baseline.n == len(DATA) and result.baseline.status == "anchor"
    assert len(result.leaderboard) == 4  # exactly the asked space: {nano, small}^2
    assert all(s.n == len(DATA) for s in result.leaderboard)
    assert result.best is not None and result.best.mean_score == max(s.mean_score
                                                                     for s in result.leaderboard)
    assert result.n_paid == 5 * len(DATA)  # four combinations and the baseline, each cell once
    spent = sum(s.mean_cost_usd * s.n for s in [*result.leaderboard, result.baseline])
    assert math.isclose(result.spent_usd, spent, rel_tol=1e-6)
    per = result.per_slot_usage(result.baseline.assignment)
    assert per["plan"]["models"] == per["solve"]["models"] == ["sim/large"]
    result.print_summary()
    out = capsys.readouterr().out
    assert "baseline" in out.lower() and "Leaderboard" in out
    assert result.comparison() in out.replace("\n", " ") or "Best vs baseline" in out \
        or "is the pick" in out


def test_comparison_is_honest(result):
    from agentopt_adapters.optimization import baseline_sentence

    b, base = result.best, result.baseline
    s = baseline_sentence(b, base)
    if b.assignment == base.assignment:
        assert "is the pick" in s
    elif b.mean_cost_usd < base.mean_cost_usd:
        assert f"{base.mean_cost_usd / b.mean_cost_usd:.1f}x lower cost" in s
    cheap = min(result.leaderboard, key=lambda r: r.mean_cost_usd)
    s2 = baseline_sentence(cheap, base)
    if cheap.mean_score < base.mean_score - 0.01:
        assert "lower accuracy" in s2
    assert "No baseline" in baseline_sentence(b, None)


def test_per_slot_usage_sums_match_usage(result):
    a = result.leaderboard[0].assignment
    per = result.per_slot_usage(a)
    assert set(per) == {"plan", "solve"}
    assert per["plan"]["calls"] == per["solve"]["calls"] == len(DATA)
    assert per["plan"]["models"] == [a["plan"]]
    total = sum(r["cost_usd"] for r in per.values())
    assert math.isclose(total, result.get(a).mean_cost_usd * len(DATA), rel_tol=1e-9)
    # and equals a fresh run's Usage totals
    with aa.bind(two_slot_app, a) as run:
        usages = [run(ex)[1] for ex in DATA]
    assert math.isclose(total, sum(u.cost_usd for u in usages), rel_tol=1e-9)
    assert sum(r["input_tokens"] for r in per.values()) == sum(u.input_tokens for u in usages)


def test_export_apply_round_trip(result, tmp_path):
    path = result.export(tmp_path / "agentopt.json")
    doc = json.loads(path.read_text())
    assert doc["format"] == "agentopt.assignment/v1" and doc["framework"] == "callable"
    assert {k: v["model"] for k, v in doc["slots"].items()} == result.best.assignment
    assert doc["agentopt"]["n"] == len(DATA)
    tuned = aa.apply(two_slot_app, path)
    assert isinstance(tuned, CallableApp) and tuned.models == result.best.assignment
    assert isinstance(tuned(DATA[0]), str)


def test_plot_written_with_data(result, tmp_path):
    path = result.plot(tmp_path / "pareto.html")
    html = path.read_text()
    assert "Pareto front" in html and "baseline" in html and "plotly" in html.lower()
    assert result.best.key.replace("/", "\\u002f") in html  # plotly escapes '/' in its JSON
    assert f"{result.best.mean_score:.3f}" in html
    assert len(html) > 1_000_000  # plotly.js inlined: works offline


def test_to_dict_json(result):
    d = result.to_dict()
    json.dumps(d, default=str)
    assert d["baseline"]["assignment"] == {"plan": "(current)", "solve": "(current)"}
    assert d["framework"] == "callable"


def test_candidates_dict_declares_slots_and_constraints():
    res = opt(app=single, candidates={"solve": ["sim/nano", "sim/medium"]}, strategy="brute_force",
              max_cost_per_example=0.00005)
    assert res.baseline is None
    assert "No baseline: the app declares no default model" in res.comparison()
    cheap = res.get({"solve": "sim/nano"})
    assert res.best is not None and res.best.assignment == {"solve": "sim/nano"}
    assert cheap.mean_cost_usd <= 0.00005 < res.get({"solve": "sim/medium"}).mean_cost_usd
    none = opt(app=single, candidates={"solve": ["sim/nano"]}, min_score=1.01 - 0.01,
               max_cost_per_example=0.0)
    assert none.best is None and none.extra["no_feasible"]


def test_weighted_objective_prefers_cheap():
    res = opt(app=single, candidates={"solve": ["sim/nano", "sim/frontier"]},
              strategy="brute_force", objective={"score": 1.0, "cost": -1e6})
    assert res.best.assignment == {"solve": "sim/nano"}


def test_slot_restriction_keeps_other_slot_on_its_own_model(tmp_path):
    res = opt(slots=["solve"], candidates=["sim/nano"], strategy="brute_force", data=DATA[:4])
    assert [s.assignment for s in res.leaderboard] == [{"solve": "sim/nano"}]  # the space as asked
    assert res.baseline.assignment == {"solve": "(current)"}
    per = res.per_slot_usage({"solve": "sim/nano"})
    assert per["plan"]["models"] == ["sim/large"] and per["solve"]["models"] == ["sim/nano"]
    doc = json.loads(res.export(tmp_path / "a.json").read_text())
    assert set(doc["slots"]) == {"solve"}  # only the searched slot is written


def test_pairs_and_failed_runs_and_app_errors():
    from agentopt_adapters.usage import CallUsage, FailedRun, Usage

    def app(models, x):
        if x == 3:
            raise RuntimeError("boom")
        u = Usage([CallUsage(slot="m", model=models["m"], cost_usd=0.001)])
        if x == 2:
            return FailedRun("could not parse"), u
        return x * 2, u

    app.agentopt_slots = ["m"]
    seen = []

    def metric(example, out):
        seen.append(example)
        return float(out == example[1])

    res = opt(app=app, data=[(1, 2), (2, 4), (3, 6), (4, 8)], metric=metric,
              candidates=["sim/nano"])
    s = res.leaderboard[0]
    assert s.n == 4 and s.n_errors == 2 and s.mean_score == 0.5
    assert all(isinstance(e, tuple) for e in seen)  # metric got the original pair
    # the FailedRun's real cost counted; the crash cost 0
    assert math.isclose(s.mean_cost_usd, 0.003 / 4)


# ---- bad input: one clear error each, before any call -----------------------------------------

@pytest.mark.parametrize("data, msg",
                         [([], "empty"), (None, "list"), (42, "iterable"), ("abc", "list")])
def test_bad_dataset(data, msg):
    CALLS["n"] = 0
    with pytest.raises(DatasetError, match=msg):
        opt(data=data)
    assert CALLS["n"] == 0


def test_unknown_model_lists_available():
    CALLS["n"] = 0
    with pytest.raises(ModelError,
                       match=r"unknown model 'sim/bogus'; provider 'sim' serves \[.*'sim/nano'"):
        opt(candidates=["sim/nano", "sim/bogus"])
    with pytest.raises(ModelError, match="plan"):
        opt(candidates={"plan": ["sim/nope"], "solve": ["sim/nano"]})
    assert CALLS["n"] == 0


def test_unknown_slot_override():
    with pytest.raises(SlotError, match=r"unknown slot.*\['critic'\].*\['plan', 'solve'\]"):
        opt(slots=["critic"])
    with pytest.raises(SlotError, match="critic"):
        opt(candidates={"critic": ["sim/nano"]})


def test_unhandled_app_type():
    with pytest.raises(AgentOptError, match="no adapter handles an app of type int"):
        opt(app=42)


def test_callable_without_slots():
    with pytest.raises(AgentOptError, match="declare them"):
        opt(app=single, candidates=["sim/nano"])


@pytest.mark.parametrize("metric, msg", [
    (lambda ex, out: 1 / 0, r"metric raised ZeroDivisionError.* for combination .* on example #"),
    (lambda ex, out: 1.5, r"metric returned 1.5 for combination .* on example #"),
    (lambda ex, out: float("nan"), r"metric returned nan"),
    (lambda ex, out: "yes", r"metric returned 'yes'"),
])
def test_broken_metric_stops_early(metric, msg):
    """A metric that fails on each of its first examples is broken:
    stop before spending the budget."""
    from agentopt_adapters.optimization.evaluate import METRIC_FAILURES_TO_STOP

    CALLS["n"] = 0
    with pytest.raises(MetricError, match=msg):
        opt(metric=metric, max_concurrency=1)
    # the first examples of four combinations + baseline
    assert CALLS["n"] <= 5 * METRIC_FAILURES_TO_STOP


def test_one_bad_metric_value_is_an_error_cell_and_the_run_goes_on(capsys):
    judged = {"n": 0}

    def judge(example, output):  # an LLM judge that once answers out of range
        judged["n"] += 1
        return 7.0 if example is DATA[3] else TASK.metric(example, output)

    res = opt(metric=judge, strategy="brute_force")
    assert judged["n"] == 5 * len(DATA)  # every cell scored: the run went on
    assert len(res.metric_errors) == 5 and all("example #3" in e for e in res.metric_errors)
    assert all(s.n_errors == 1 for s in res.leaderboard)
    res.print_summary()
    assert "because the metric failed" in capsys.readouterr().out
    with pytest.raises(MetricError, match="strict_metric=True"):
        opt(metric=judge, strict_metric=True, max_concurrency=1)


def test_bad_objective_and_constraints():
    with pytest.raises(AgentOptError, match="objective"):
        opt(objective={"accuracy": 1})
    with pytest.raises(AgentOptError, match="max_latency_s"):
        opt(max_latency_s=-1)


@pytest.mark.slow
def test_storage_resume_and_meta(tmp_path):
    from agentopt_search import read_run

    url = f"sqlite:///{tmp_path / 'run.db'}"
    first = opt(candidates={"solve": ["sim/nano", "sim/small"]}, storage=url, data=DATA[:6])
    again = opt(candidates={"solve": ["sim/nano", "sim/small"]}, storage=url, data=DATA[:6])
    assert again.n_reused == first.n_paid and again.n_paid == 0 and again.spent_usd == 0
    assert again.best.assignment == first.best.assignment
    meta = read_run(url).metadata
    assert meta["framework"] == "callable" and meta["slots"] == {"solve": "solve"}


@pytest.mark.slow
def test_load_result_reprices_and_moves_a_cost_pick_with_no_call(tmp_path):
    url = f"sqlite:///{tmp_path / 'run.db'}"
    cands = {"solve": ["sim/nano", "sim/small", "sim/medium"]}
    # tolerance 1: every combination is acceptable, so the cheapest is the pick
    first = opt(candidates=cands, storage=url, data=DATA[:6], objective="cost", tolerance=0.99,
                strategy="brute_force")
    cheapest = first.best.assignment["solve"]
    assert first.best.mean_cost_usd == min(s.mean_cost_usd for s in first.leaderboard)
    calls = CALLS["n"]
    same = aa.load_result(url)
    assert same.best.assignment == first.best.assignment
    assert same.n_paid == 0
    assert same.spent_usd == 0
    assert [(s.assignment, s.mean_score, s.n) for s in same.leaderboard] == \
        [(s.assignment, s.mean_score, s.n) for s in first.leaderboard]
    assert same.evidence_usd == pytest.approx(first.evidence_usd)
    dearer = aa.load_result(url, prices={cheapest: [1000.0, 1000.0]})
    assert CALLS["n"] == calls  # no evaluation at all
    assert dearer.best.assignment["solve"] != cheapest and dearer.n_paid == 0
    before = first.get({"solve": cheapest}).mean_cost_usd
    assert dearer.get({"solve": cheapest}).mean_cost_usd > 10 * before
    path = dearer.export(tmp_path / "agentopt.json")  # no app needed: the stored candidates
    exported = json.loads(path.read_text())["slots"]["solve"]["model"]
    assert exported == dearer.best.assignment["solve"]
    with pytest.raises(aa.ModelError, match="must be a pair"):
        aa.load_result(url, prices={"sim/nano": 3})
