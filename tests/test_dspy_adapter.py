"""DSPy adapter: discovery, binding, per-slot recording, failures, async, export -> apply
(sim models)."""

from __future__ import annotations

import asyncio
import json
import warnings

import dspy
import pytest

import agentopt_adapters as aa
from agentopt_adapters.dspy import (
    DSPyAdapter,
    UnattributedCallWarning,
    UnseenPredictorWarning,
    export_config,
    unseen_predictors,
)
from agentopt_adapters.models import dspy_lm
from agentopt_adapters.models.pricing import cost_usd
from agentopt_adapters.usage import FailedRun, is_failed
from dspy_programs import SLOTS, GlobalLM, Hidden, Typed, load_example

ex = load_example()
ITEM = ex.TASK.items[0]
EXAMPLE = ex.examples([ITEM])[0]
ASSIGN = {"planner.plan.predict": "sim/small", "agent.react": "sim/medium",
          "agent.extract.predict": "sim/mini", "final": "sim/large"}


@pytest.fixture()
def program():
    return ex.MultiHop()


@pytest.fixture(autouse=True)
def _no_default_lm():
    with dspy.context(lm=None):
        yield


# ---------------------------------------------------------------- discovery

def test_discovered_names_equal_named_predictors(program):
    slots = aa.discover(program)
    assert [s.name for s in slots] == [n for n, _ in program.named_predictors()] == SLOTS
    assert all(s.framework == "dspy" for s in slots)
    assert isinstance(aa.adapter_for(program), DSPyAdapter)
    assert "question -> reasoning, plan" in slots[0].where


def test_discover_reports_default_models(program):
    program.final.lm = dspy_lm("sim/xl")
    with dspy.context(lm=dspy_lm("sim/nano")):
        slots = {s.name: s for s in aa.discover(program)}
    assert slots["final"].default_model == "sim/xl" and "own lm" in slots["final"].where
    assert slots["agent.react"].default_model == "sim/nano"
    assert {s.name: s.default_model for s in aa.discover(program)}["agent.react"] is None


def test_discover_warns_about_predictors_it_cannot_see():
    with pytest.warns(UnseenPredictorWarning) as record:
        slots = aa.discover(Hidden())
    assert [s.name for s in slots] == ["main", "agent.react", "agent.extract.predict"]
    text = " | ".join(str(w.message) for w in record)
    assert "self.grid[0][0]" in text and "nested list" in text
    assert "self.frozen.predict" in text and "compiled" in text
    assert "check_claim" in text and "tool" in text
    assert len(unseen_predictors(Hidden())) == 3


def test_discover_rejects_program_without_predictors():
    class Empty(dspy.Module):
        def forward(self, x):
            return x

    with pytest.raises(aa.DiscoveryError, match="no predictors"):
        aa.discover(Empty())


# ---------------------------------------------------------------- binding + recording

def test_bound_run_uses_only_assigned_lm_per_predictor(program):
    user_lms = {n: p.lm for n, p in program.named_predictors()}
    with aa.bind(program, ASSIGN) as run:
        out, usage = run(EXAMPLE)
    assert usage.models_by_slot() == {slot: {model} for slot, model in ASSIGN.items()}
    assert not usage.unattributed
    assert isinstance(out, dspy.Prediction) and isinstance(out.confidence, float)
    for call in usage:
        assert call.input_tokens > 0 and call.output_tokens > 0 and call.latency_s > 0
        assert call.cost_usd == pytest.approx(cost_usd(call.model, call.input_tokens,
                                                       call.output_tokens))
    assert usage.cost_usd == pytest.approx(sum(c.cost_usd for c in usage))
    # the user's program is untouched
    assert {n: p.lm for n, p in program.named_predictors()} == user_lms
    assert all(p.lm is None for _, p in program.named_predictors())


def test_each_slot_gets_its_own_uncached_lm(program):
    shared = dspy.LM("sim/small")  # cache=True by default, one object for two slots
    with aa.bind(program, {**ASSIGN, "planner.plan.predict": shared, "final": shared}) as run:
        lms = run.lms
        assert lms["planner.plan.predict"] is not lms["final"]
        assert all(lm.cache is False for lm in lms.values()) and shared.cache is True
        _, first = run(EXAMPLE)
        _, second = run(EXAMPLE)  # same input again: billed again, never a cache hit
    assert second.cost_usd == pytest.approx(first.cost_usd) and second.cost_usd > 0
    assert [c.input_tokens for c in second] == [c.input_tokens for c in first]


def test_unassigned_slots_keep_their_lm_or_the_configured_one(program):
    program.final.lm = dspy.LM("sim/xl")  # cached LM of the user: used uncached in runs
    with dspy.context(lm=dspy.LM("sim/nano")):
        with aa.bind(program, {"agent.react": "sim/medium"}) as run:
            _, usage = run(EXAMPLE)
    assert usage.models_by_slot() == {"planner.plan.predict": {"sim/nano"},
                                      "agent.react": {"sim/medium"},
                                      "agent.extract.predict": {"sim/nano"}, "final": {"sim/xl"}}
    assert all(c.cost_usd > 0 for c in usage)


def test_bind_errors_name_the_problem(program):
    with pytest.raises(aa.SlotError, match=r"'final\.predict'.*did you mean 'final'"):
        aa.bind(program, {"final.predict": "sim/small"})
    with pytest.raises(aa.SlotError, match="has no model"):
        aa.bind(program, {"final": "sim/small"})  # others have no LM and none is configured
    with pytest.raises(aa.ModelError, match="unknown model 'sim/"):
        aa.bind(program, {**ASSIGN, "final": "sim/huge"})
    with pytest.raises(aa.ModelError, match="expected a model string"):
        aa.bind(program, {**ASSIGN, "final": 42})


def test_inputs_from_dict_example_or_single_value(program):
    with aa.bind(program, ASSIGN) as run:
        a, ua = run(EXAMPLE)
        b, ub = run({"question": ITEM["question"], "answer": "ignored label"})
        c, uc = run(ITEM["question"])
        with pytest.raises(aa.AgentOptError, match="no input field"):
            run({"query": "x"})
    assert a.answer == b.answer == c.answer
    assert ua.cost_usd == pytest.approx(ub.cost_usd) == pytest.approx(uc.cost_usd)


def test_unexplained_calls_are_recorded_with_slot_none():
    program = GlobalLM()  # calls a module-level LM directly: no slot explains it
    with aa.bind(program, {"answer": "sim/small"}) as run:
        with pytest.warns(UnattributedCallWarning, match="not through a dspy.Predict"):
            _, usage = run({"question": ITEM["question"]})
        with warnings.catch_warnings():
            warnings.simplefilter("error", UnattributedCallWarning)  # warned once per runner
            _, again = run({"question": ITEM["question"]})
    assert [(c.slot, c.model) for c in usage] == [(None, "sim/nano"), ("answer", "sim/small")]
    assert usage.unattributed[0].cost_usd > 0 and len(again.unattributed) == 1


def test_calls_inside_tools_and_nested_lists_are_unattributed():
    program = Hidden()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnseenPredictorWarning)
        with dspy.context(lm=dspy_lm("sim/nano")):
            with aa.bind(program, {"main": "sim/small"}) as run:
                with pytest.warns(UnattributedCallWarning, match="is not a slot"):
                    _, usage = run({"question": ITEM["question"]})
    assert [(c.slot, c.model) for c in usage] == [(None, "sim/nano"), ("main", "sim/small")]


def test_parse_failure_is_a_failed_run_with_its_real_cost():
    program = dspy.Predict(Typed)
    with aa.bind(program, {"self": {"model": "sim/small", "kwargs": {"max_tokens": 8}}}) as run:
        out, usage = run({"question": ITEM["question"]})
    assert isinstance(out, FailedRun) and is_failed(out) and not out
    assert out.kind == "parse_error" and out.slot == "self" and "AdapterParseError" in out.error
    assert len(usage) == 2  # ChatAdapter, then DSPy's JSONAdapter retry: both billed
    assert usage.cost_usd > 0 and all(c.output_tokens == 8 for c in usage)


def test_other_errors_propagate_with_usage_attached(program):
    def boom(question):
        raise RuntimeError("tool crashed outside ReAct")

    class Crashing(dspy.Module):
        def __init__(self):
            super().__init__()
            self.step = dspy.Predict("question -> answer")

        def forward(self, question):
            self.step(question=question)
            boom(question)

    with aa.bind(Crashing(), {"step": "sim/mini"}) as run:
        with pytest.raises(RuntimeError, match="tool crashed") as info:
            run({"question": ITEM["question"]})
    assert [c.slot for c in info.value.agentopt_usage] == ["step"]


def test_async_acall_matches_sync(program):
    with aa.bind(program, ASSIGN) as run:
        sync_out, sync_usage = run(EXAMPLE)

        async def both():
            return await asyncio.gather(run.acall(EXAMPLE), run.acall(EXAMPLE))

        results = asyncio.run(both())
    for out, usage in results:
        assert out.answer == sync_out.answer
        assert [(c.slot, c.model, c.input_tokens, c.output_tokens) for c in usage] == \
            [(c.slot, c.model, c.input_tokens, c.output_tokens) for c in sync_usage]


def test_async_runs_sync_only_module_in_a_thread():
    program = dspy.Predict("question -> answer")  # has aforward; wrap in a forward-only module
    class SyncOnly(dspy.Module):
        def __init__(self):
            super().__init__()
            self.p = program

        def forward(self, question):
            return self.p(question=question)

    with aa.bind(SyncOnly(), {"p": "sim/mini"}) as run:
        out, usage = asyncio.run(run.acall({"question": ITEM["question"]}))
    assert out.answer and [c.slot for c in usage] == ["p"]


# ---------------------------------------------------------------- export -> apply

def test_export_apply_run_uses_those_lms(program, tmp_path):
    cfg = aa.export_config(program, {**ASSIGN, "final": {"model": "sim/large",
                                                         "kwargs": {"temperature": 0.0,
                                                                    "api_key": "sk-secret"}}})
    assert cfg["format"] == "agentopt.assignment/v1" and cfg["framework"] == "dspy"
    assert cfg["slots"]["final"] == {"model": "sim/large", "kwargs": {"temperature": 0.0}}
    assert "sk-secret" not in json.dumps(cfg)
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg))

    fresh = ex.MultiHop()
    tuned = aa.apply(fresh, path)
    assert tuned is not fresh and all(p.lm is None for _, p in fresh.named_predictors())
    assert {n: p.lm.model for n, p in tuned.named_predictors()} == ASSIGN
    out = tuned(question=ITEM["question"])
    assert isinstance(out.answer, str) and out.answer
    # and the applied program, bound with no assignment, runs each slot on its exported model
    with aa.bind(tuned, {}) as run:
        _, usage = run(EXAMPLE)
    assert usage.models_by_slot() == {slot: {model} for slot, model in ASSIGN.items()}


def test_export_with_program_state_roundtrips(program, tmp_path):
    program.final.demos = [dspy.Example(question="q?", plan="p", draft="d", answer="a",
                                        confidence=0.5)]
    cfg = export_config(program, ASSIGN, include_state=True)
    state = cfg["dspy_state"]
    assert set(state) == set(SLOTS)
    assert state["final"]["lm"]["model"] == "sim/large"
    assert "_dspy_lm_class" in state["final"]["lm"]
    assert "api_key" not in json.dumps(state)
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg))
    tuned = aa.apply(ex.MultiHop(), path)
    assert len(tuned.final.demos) == 1 and tuned.final.demos[0]["answer"] == "a"
    assert {n: p.lm.model for n, p in tuned.named_predictors()} == ASSIGN


def test_apply_errors(program):
    cfg = aa.export_config(program, ASSIGN)
    with pytest.raises(aa.SlotError,
                       match=r"unknown DSPy slot\(s\) \['agent\.reac'\].*did you mean "
                             r"'agent\.react'"):
        aa.apply(program, {**cfg, "slots": {"agent.reac": {"model": "sim/small"}}})
    with pytest.raises(aa.ConfigError, match="framework 'langgraph'"):
        aa.apply(program, {**cfg, "framework": "langgraph"})
    with pytest.raises(aa.ConfigError, match="format"):
        aa.apply(program, {"slots": cfg["slots"]})
    with pytest.raises(aa.SlotError, match="unknown DSPy slot"):
        aa.export_config(program, {"nope": "sim/small"})


def test_calls_in_dspy_parallel_workers_are_attributed_even_without_history():
    class Fan(dspy.Module):
        def __init__(self):
            super().__init__()
            self.a = dspy.Predict("question -> answer")
            self.b = dspy.ChainOfThought("question -> answer")

        def forward(self, questions):
            par = dspy.Parallel(num_threads=4, disable_progress_bar=True)
            outs = par([(self.a, {"question": q}) for q in questions]
                       + [(self.b, {"question": q}) for q in questions])
            return dspy.Prediction(answers=[o.answer for o in outs])

    questions = [it["question"] for it in ex.TASK.items[:3]]
    with dspy.context(disable_history=True):
        # the user's setting; runs still see each call's entry
        with aa.bind(Fan(), {"a": "sim/mini", "b.predict": "sim/large"}) as run:
            out, usage = run({"questions": questions})
    assert len(out.answers) == 6 and len(usage) == 6
    assert usage.models_by_slot() == {"a": {"sim/mini"}, "b.predict": {"sim/large"}}
    assert all(c.cost_usd > 0 and c.input_tokens > 0 for c in usage)
