"""optimize() on a LangGraph graph and a DSPy program
(skipped when that adapter is not available)."""

from __future__ import annotations

import importlib
import json

import pytest

import agentopt_adapters as aa
from agentopt_adapters.sim.tasks import load_task


def _adapter(name: str) -> None:
    try:
        importlib.import_module(f"agentopt_adapters.{name}")
    except ModuleNotFoundError as exc:
        pytest.skip(f"agentopt_adapters.{name} not available yet ({exc})")


def test_optimize_langgraph(tmp_path):
    _adapter("langgraph")
    import lg_graphs

    graph = lg_graphs.planner_solver()
    task = load_task("arithmetic")
    data = [{"question": it["question"], "answer": it["answer"]} for it in task.items[:6]]
    res = aa.optimize(graph, data, task.metric, candidates=["sim/nano", "sim/small"],
                      strategy="brute_force", progress=False, max_concurrency=4)
    assert res.framework == "langgraph"
    assert res.baseline is not None and res.baseline.assignment == {"plan": "(current)",
                                                                    "solve": "(current)"}
    assert res.to_dict()["baseline_models"] == {"plan": "sim/large", "solve": "sim/large"}
    # exactly the asked candidates
    assert res.baseline.n == len(data) and len(res.leaderboard) == 4
    per = res.per_slot_usage(res.best.assignment)
    assert set(per) <= {"plan", "solve"} and sum(r["calls"] for r in per.values()) >= len(data)
    assert abs(sum(r["cost_usd"] for r in per.values()) - res.best.mean_cost_usd
               * res.best.n) < 1e-12
    path = res.export(tmp_path / "agentopt.json")
    assert json.loads(path.read_text())["framework"] == "langgraph"
    tuned = aa.apply(graph, path)
    out = tuned.invoke(data[0])
    assert "answer" in out


def test_optimize_dspy(tmp_path):
    _adapter("dspy")
    from dspy_programs import load_example

    ex = load_example()
    program = ex.MultiHop()
    data = ex.examples(ex.TASK.items[:4])
    slots = [s.name for s in aa.discover(program)]
    cands = {s: [ex.MIXED[s]] for s in slots}
    cands[slots[-1]] = ["sim/nano", "sim/medium"]
    res = aa.optimize(program, data, ex.metric, candidates=cands,
                      strategy="brute_force", progress=False, max_concurrency=4)
    assert res.framework == "dspy"
    assert {s.n for s in res.leaderboard if s.n} == {len(data)}
    # no dspy.configure(lm=...): the program as it is cannot run, so the baseline fails; the search
    # goes on
    assert res.baseline.status == "failed" and "has no model" in res.comparison()
    path = res.export(tmp_path / "agentopt.json")
    assert json.loads(path.read_text())["framework"] == "dspy"
    aa.apply(program, path)


def test_dspy_unassigned_slot_is_a_clear_error():
    _adapter("dspy")
    from dspy_programs import load_example

    ex = load_example()
    program = ex.MultiHop()
    with pytest.raises(aa.SlotError, match="has no model"):
        aa.optimize(program, ex.examples(ex.TASK.items[:2]), ex.metric,
                    candidates={"final": ["sim/nano"]}, progress=False)
