"""DSPy programs of the shapes real ones have (issue 12): the user's own LMs are the baseline,
models chosen in forward, LMs called directly, BestOfN / Refine, compiled demos through export ->
apply, async-only modules, dataset rows. Small programs written for these tests
(tests/dspy_programs.py)."""

from __future__ import annotations

import asyncio
import itertools
import json
import warnings

import dspy
import pytest

import agentopt_adapters as aa
from agentopt_adapters.dspy import (
    DemosLostWarning,
    DSPyAdapter,
    UnattributedCallWarning,
    UnseenPredictorWarning,
    example_from_row,
    export_config,
)
from agentopt_adapters.models import dspy_lm
from agentopt_adapters.sim.server import serve_in_thread
from dspy_programs import AsyncOnly, Engines, PlainThreads, Privacy, TwoStep, load_example

ex = load_example()
Q = {"question": "What is 12 + 30?"}


@pytest.fixture(autouse=True)
def _no_default_lm():
    with dspy.context(lm=None):
        yield


def _slots_models(usage):
    return [(c.slot, c.model) for c in usage]


# ---------------------------------------------------------------- the baseline is the program as
# it is

@pytest.mark.slow
def test_baseline_calls_the_users_own_lm_on_its_own_endpoint_uncached():
    with serve_in_thread(port=0) as users, serve_in_thread(port=0) as candidates:
        # cache=True, as users write it
        own = dspy.LM("openai/small", api_base=users.url, api_key="k")
        with dspy.context(lm=own):
            program = dspy.Predict("question -> answer")
            with aa.bind(program, {}) as run:
                first, _ = run(Q)
                # the same input again: the endpoint is asked again, never a cache hit
                second, usage = run(Q)
            assert first.answer == second.answer == "42"
            assert users.request_count == 2 and candidates.request_count == 0
            assert _slots_models(usage) == [("self", "openai/small")] and usage.input_tokens > 0
            spec = {"model": "openai/sim/mini",
                    "kwargs": {"api_base": candidates.url, "api_key": "k2"}}
            with aa.bind(program, {"self": spec}) as run:
                _, usage = run(Q)
            assert candidates.request_count == 1 and users.request_count == 2
            assert _slots_models(usage) == [("self", "openai/sim/mini")]
    assert own.cache is True and own.history == []  # the user's LM is not touched


class CountingLM(dspy.LM):
    """A user's own LM subclass (a proxy, custom client, headers, ...)."""

    calls = 0

    def __call__(self, *args, **kwargs):
        CountingLM.calls += 1
        return super().__call__(*args, **kwargs)


def test_unassigned_slots_use_the_users_lm_subclass_as_is():
    CountingLM.calls = 0
    program = Privacy(CountingLM("sim/xl", headers={"X-Team": "a"}))
    with dspy.context(lm=dspy_lm("sim/mini")):
        with aa.bind(program, {"craft.predict": "sim/small"}) as run:
            _, usage = run(Q)
            bound_lm = run.program.untrusted_model
    assert CountingLM.calls == 1 and isinstance(bound_lm, CountingLM)
    assert bound_lm.kwargs["headers"] == {"X-Team": "a"} and bound_lm.cache is False
    assert _slots_models(usage) == [("craft.predict", "sim/small"), ("untrusted_model", "sim/xl"),
                                    ("respond", "sim/mini")]
    assert all(c.cost_usd > 0 and c.latency_s > 0 for c in usage)


# ---------------------------------------------------------------- models chosen in forward

def test_models_chosen_in_forward_are_unknown_statically_and_found_by_the_probe():
    program = Engines(dspy_lm("sim/nano"), dspy_lm("sim/large"))
    static = {s.name: s for s in aa.discover(program)}
    # the LMs are used as context, never called directly
    assert set(static) == {"draft", "final.predict"}
    assert all(s.default_model is None and "known after probing" in s.where
               for s in static.values())
    probed = {s.name: s for s in aa.discover(program, probe_input=Q)}
    assert {n: s.default_model for n, s in probed.items()} == {"draft": "sim/nano",
                                                               "final.predict": "sim/large"}
    assert probed["draft"].where.startswith("probe: called sim/nano x1")
    with aa.bind(program, {}) as run:  # the baseline is what forward chooses
        _, usage = run(Q)
    assert _slots_models(usage) == [("draft", "sim/nano"), ("final.predict", "sim/large")]
    with aa.bind(program, {"draft": "sim/small"}) as run:
        # an assigned slot wins over dspy.context
        _, usage = run(Q)
    assert _slots_models(usage) == [("draft", "sim/small"), ("final.predict", "sim/large")]


def test_probe_failure_names_the_error():
    program = Engines(dspy_lm("sim/nano"), dspy_lm("sim/large"))
    with pytest.raises(aa.DiscoveryError, match=r"probe run of Engines failed: .*AgentOptError"):
        aa.discover(program, probe_input={"query": "no such field"})


def test_a_directly_called_lm_attribute_is_a_slot_bound_exported_and_applied(tmp_path):
    program = Privacy(dspy_lm("sim/xl"))
    with dspy.context(lm=dspy_lm("sim/mini")):
        slots = {s.name: s for s in aa.discover(program)}
        assert list(slots) == ["craft.predict", "respond", "untrusted_model"]
        assert slots["untrusted_model"].default_model == "sim/xl"
        assert "called directly" in slots["untrusted_model"].where
        for model in ("sim/nano", "sim/small", "sim/large"):
            with aa.bind(program, {"untrusted_model": model, "respond": model}) as run:
                out, usage = run(Q)
            assert not usage.unattributed and out.answer
            assert dict(_slots_models(usage)) == {"craft.predict": "sim/mini",
                                                  "untrusted_model": model, "respond": model}
        path = tmp_path / "cfg.json"
        path.write_text(json.dumps(aa.export_config(program, {"untrusted_model": "sim/small"})))
        tuned = aa.apply(Privacy(dspy_lm("sim/xl")), path)
        assert tuned.untrusted_model.model == "sim/small"
        with aa.bind(tuned, {}) as run:
            _, usage = run(Q)
    assert dict(_slots_models(usage))["untrusted_model"] == "sim/small"


# ---------------------------------------------------------------- BestOfN / Refine

def _never_good(args, pred):
    return 0.0


@pytest.mark.parametrize("wrapper", [dspy.BestOfN, dspy.Refine])
def test_wrapper_around_two_predictors_runs_every_assignment_all_attributed(wrapper):
    program = wrapper(TwoStep(), N=2, reward_fn=_never_good, threshold=1.0)  # every attempt runs
    names = [s.name for s in aa.discover(program)]
    inner = ["module.think.predict", "module.check"]
    assert names == inner + (["feedback"] if wrapper is dspy.Refine else [])
    with dspy.context(lm=dspy_lm("sim/mini")):
        for models in itertools.product(["sim/small", "sim/large"], repeat=len(names)):
            assignment = dict(zip(names, models))
            with aa.bind(program, assignment) as run:
                out, usage = run(Q)
            assert out.answer and not usage.unattributed
            assert {c.slot: c.model for c in usage} == assignment
            attempts = [c.slot for c in usage if c.slot in inner]
            # N attempts, each through both predictors, each on its own model
            assert attempts == inner * 2
        with aa.bind(program, {"module.check": "sim/large"}) as run:
            # unassigned: the configured LM
            _, usage = run(Q)
    used = {c.slot: c.model for c in usage if c.slot in inner}
    assert used == {"module.think.predict": "sim/mini", "module.check": "sim/large"}


def test_wrapper_around_one_predictor_is_attributed_and_applied(tmp_path):
    program = dspy.BestOfN(dspy.ChainOfThought("question -> answer"), N=3, reward_fn=_never_good,
                           threshold=1.0)
    with aa.bind(program, {"module.predict": "sim/small"}) as run:
        _, usage = run(Q)
    assert _slots_models(usage) == [("module.predict", "sim/small")] * 3
    two = dspy.BestOfN(TwoStep(), N=2, reward_fn=_never_good, threshold=1.0)
    cfg = aa.export_config(two, {"module.think.predict": "sim/small", "module.check": "sim/large"})
    tuned = aa.apply(dspy.BestOfN(TwoStep(), N=2, reward_fn=_never_good, threshold=1.0), cfg)
    assert tuned(**Q).answer  # plain DSPy would raise "Multiple LMs are being used in the module"
    with aa.bind(tuned, {}) as run:
        _, usage = run(Q)
    assert {c.slot: c.model for c in usage} == {"module.think.predict": "sim/small",
                                                "module.check": "sim/large"}


# ---------------------------------------------------------------- compiled state through export ->
# apply

def _compiled_multihop():
    train = ex.examples(ex.TASK.items[:3])
    for item, example in zip(ex.TASK.items, train):
        example["plan"], example["draft"] = "look it up", item["answer"]
        example["confidence"] = 0.9
    return dspy.LabeledFewShot(k=3).compile(ex.MultiHop(), trainset=train)


def test_compiled_demos_survive_the_readme_path(tmp_path):
    compiled = _compiled_multihop()
    assert len(compiled.final.demos) == 3
    path = tmp_path / "best.json"
    # what result.export writes
    path.write_text(json.dumps(aa.export_config(compiled, dict(ex.MIXED))))
    tuned = aa.apply(ex.MultiHop(), path)
    assert [d["answer"] for d in tuned.final.demos] == [d["answer"] for d in compiled.final.demos]
    assert {n: p.lm.model for n, p in tuned.named_predictors()} == ex.MIXED
    assert "dspy_state" not in export_config(compiled, dict(ex.MIXED), include_state=False)


def test_apply_warns_when_demos_are_lost():
    class Wide(dspy.Module):
        def __init__(self):
            super().__init__()
            self.a = dspy.Predict("question -> answer")
            self.b = dspy.Predict("question -> answer")

        def forward(self, question):
            return self.a(question=question)

    class Narrow(dspy.Module):
        def __init__(self):
            super().__init__()
            self.a = dspy.Predict("question -> answer")

        def forward(self, question):
            return self.a(question=question)

    wide = Wide()
    wide.a.demos = [dspy.Example(question="q", answer="a")]
    wide.b.demos = [dspy.Example(question="q", answer="a")] * 2
    cfg = aa.export_config(wide, {"a": "sim/small"})
    with pytest.warns(DemosLostWarning,
                      match="1 few-shot demos after apply, the config carries 3"):
        aa.apply(Narrow(), cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DemosLostWarning)
        assert len(aa.apply(Wide(), cfg).b.demos) == 2


# ---------------------------------------------------------------- async, dataset rows

def test_async_only_module_runs_sync_and_async_and_says_it_prefers_async():
    program = AsyncOnly()
    with aa.bind(program, {"first": "sim/small", "second": "sim/large"}) as run:
        assert run.prefers_async is True
        out, usage = run(Q)  # no event loop here: a private one

        async def inside_a_loop():
            return run(Q), await run.acall(Q)  # run(x) from async code: a helper thread's loop

        (out2, usage2), (out3, usage3) = asyncio.run(inside_a_loop())
    assert out.answer == out2.answer == out3.answer
    for u in (usage, usage2, usage3):
        assert _slots_models(u) == [("first", "sim/small"), ("second", "sim/large")]
    with aa.bind(TwoStep(), {"think.predict": "sim/small", "check": "sim/small"}) as run:
        assert run.prefers_async is False
        assert _slots_models(asyncio.run(run.acall(Q))[1]) == [("think.predict", "sim/small"),
                                                               ("check", "sim/small")]


def test_dataset_rows_become_examples_with_the_programs_inputs():
    row = {"question": "Who?", "answer": "Ada"}
    example = DSPyAdapter.example_from_row(ex.MultiHop(), row)
    assert isinstance(example, dspy.Example) and example.answer == "Ada"
    assert dict(example.inputs()) == {"question": "Who?"}
    assert dict(example.labels()) == {"answer": "Ada"}
    rag = example_from_row(dspy.ChainOfThought("context, question -> answer"),
                           {**row, "context": "c"})
    assert set(rag.inputs()) == {"context", "question"}
    with pytest.raises(aa.AgentOptError, match=r"no field\(s\) \['question'\]"):
        example_from_row(ex.MultiHop(), {"query": "Who?"})


def test_calls_from_plain_threads_in_forward_are_warned_about_not_lost_silently():
    program = PlainThreads(dspy_lm("sim/small"))
    with aa.bind(program, {}) as run:
        with pytest.warns(UnattributedCallWarning,
                          match="ran outside the DSPy context of its run"):
            out, usage = run(Q)
    assert out.answer == "42" and len(usage) == 0  # DSPy's context does not reach plain threads


def test_predictors_inside_a_reward_function_are_reported_as_not_slots():
    judge = dspy.Predict("statement -> verdict")

    def reward(args, pred):
        return float(judge(statement=pred.answer).verdict == "yes")

    program = dspy.Refine(dspy.Predict("question -> answer"), N=2, reward_fn=reward, threshold=1.0)
    with pytest.warns(UnseenPredictorWarning, match="inside the reward function of Refine"):
        assert [s.name for s in aa.discover(program)] == ["module", "feedback"]


@pytest.mark.slow
def test_sim_models_work_in_dspy_right_after_import():
    """``import dspy; import agentopt_adapters`` then ``dspy.LM("sim/small")``
    (DSPy imports litellm lazily)."""
    import subprocess
    import sys

    code = ("import dspy, agentopt_adapters\n"
            "print(dspy.LM('sim/small', cache=False)('What is 2 + 2?')[0])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120,
                          env={**__import__("os").environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"})
    assert done.returncode == 0 and "4" in done.stdout, done.stderr[-2000:]


def test_refine_feedback_slot_gets_its_model_while_a_reward_judge_keeps_the_configured_one():
    judge = dspy.Predict("statement -> verdict")

    def reward(args, pred):
        judge(statement=pred.answer)
        return 0.0

    program = dspy.Refine(TwoStep(), N=2, reward_fn=reward, threshold=1.0)
    with dspy.context(lm=dspy_lm("sim/mini")), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with aa.bind(program, {"feedback": "sim/large"}) as run:
            _, usage = run(Q)
    calls = _slots_models(usage)
    assert calls.count(("feedback", "sim/large")) == 1  # advice after the first of N=2 attempts
    # the judge: once per attempt, on the configured LM
    assert calls.count((None, "sim/mini")) == 2
    assert {m for s, m in calls if s in ("module.think.predict", "module.check")} == {"sim/mini"}


def test_an_lm_argument_that_overrides_an_assigned_slot_is_warned_about():
    class PassesLM(dspy.Module):
        def __init__(self):
            super().__init__()
            self.big = dspy_lm("sim/large")
            self.answer = dspy.Predict("question -> answer")

        def forward(self, question):
            return self.answer(question=question, lm=self.big)

    with aa.bind(PassesLM(), {"answer": "sim/small"}) as run:
        with pytest.warns(UnattributedCallWarning,
                          match="'answer' was assigned sim/small but called sim/large"):
            _, usage = run(Q)
    assert _slots_models(usage) == [("answer", "sim/large")]
