"""Inference-time scaling applied by the adapters (issue 17, part 1): a slot given
``{"model", "samples", "select", "judge"}`` draws its samples side by side and keeps one.

Everything runs on the simulated zoo (seeded per request and sample, so runs repeat exactly) or on
a scripted chat model that answers by sample index; no sleeps."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any, TypedDict

import dspy
import pytest
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel

import agentopt_adapters as aa
from agentopt_adapters.cli.loading import parse_candidates
from agentopt_adapters.dspy.scaled import _vote_key as dspy_vote_key
from agentopt_adapters.errors import ConfigError, ModelError
from agentopt_adapters.models import chat_model, dspy_lm
from agentopt_adapters.scaling import normalize, parse_scaling, parse_shorthand, vote
from agentopt_adapters.settings import settings
from agentopt_adapters.sim import register
from agentopt_adapters.sim.engine import simulate
from agentopt_adapters.sim.tasks import load_task
from agentopt_adapters.usage import CallUsage, Usage

register()
ITEMS = load_task("arithmetic").items
HARD = ITEMS[5]  # sim/nano's samples disagree on it (asserted where it matters)


# ---- apps -------------------------------------------------------------------------------------
class State(TypedDict, total=False):
    question: str
    answer: Any


def one_node_graph(node: Any):
    b = StateGraph(State)
    b.add_node("solve", node)
    b.add_edge(START, "solve")
    b.add_edge("solve", END)
    return b.compile()


NANO = chat_model("sim/nano")


def text_graph():
    return one_node_graph(lambda s: {"answer": NANO.invoke([HumanMessage(s["question"])])})


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression such as '(12 + 5) * 3'."""
    return expression


def tools_graph():
    return one_node_graph(lambda s: {
        "answer": NANO.bind_tools([calculator]).invoke([HumanMessage(s["question"])])})


class Answer(BaseModel):
    answer: int


def structured_graph():
    return one_node_graph(lambda s: {
        "answer": NANO.with_structured_output(Answer).invoke([HumanMessage(s["question"])])})


async def _async_node(s: State) -> State:
    return {"answer": await NANO.ainvoke([HumanMessage(s["question"])])}


def async_graph():
    return one_node_graph(_async_node)


def streaming_graph():
    def node(s: State) -> State:
        chunks = list(NANO.stream([HumanMessage(s["question"])]))
        return {"answer": "".join(str(c.content) for c in chunks)}

    return one_node_graph(node)


class Scripted(BaseChatModel):
    """Answers by sample index (``agentopt_sample`` in the run metadata; 0 for a plain call)."""

    answers: dict[int, str]

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        i = ((run_manager.metadata if run_manager else None) or {}).get("agentopt_sample", 0)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(self.answers[i]))])


def scripted_graph(model: Scripted):
    return one_node_graph(lambda s: {"answer": model.invoke(s["question"]).content})


class Spy:
    """A select function that keeps what it was shown and picks ``index``."""

    def __init__(self, index: int = 0) -> None:
        self.index, self.seen = index, []
        self.__name__ = "spy"

    def __call__(self, outputs: list[Any]) -> int:
        self.seen.append(list(outputs))
        return self.index


def slot_calls(usage: Usage, slot: str) -> list[CallUsage]:
    return [c for c in usage if c.slot == slot]


def scaled(model: str = "sim/nano", samples: int = 5, select: Any = "vote",
           **extra: Any) -> dict[str, Any]:
    return {"model": model, "samples": samples, "select": select, **extra}


# ---- settings, shorthand, vote (no model calls) -------------------------------------------------
def test_shorthand_and_one_clear_error_per_bad_setting() -> None:
    assert parse_shorthand("sim/small*8:vote") == {"model": "sim/small", "samples": 8,
                                                   "select": "vote"}
    assert parse_shorthand("sim/small*4:judge=sim/large") == {"model": "sim/small", "samples": 4,
                                                              "select": "judge",
                                                              "judge": "sim/large"}
    assert parse_shorthand("sim/small") == "sim/small"
    bad = [({"samples": 0}, "samples must be an integer from 1"),
           ({"samples": 2.5}, "samples must be an integer"),
           ({"samples": "4"}, "samples must be an integer"),
           ({"samples": True}, "samples must be an integer"),
           ({"samples": 4, "select": "best"}, "select must be 'vote', 'judge' or a function"),
           ({"samples": 4, "select": "judge"}, "needs judge=<model string>"),
           ({"samples": 4, "judge": "sim/large"}, "only used with select='judge'"),
           ({"samples": 4, "select": "judge", "judge": "sim/nope"}, "unknown model 'sim/nope'")]
    for spec, message in bad:
        with pytest.raises(ModelError, match=message):
            parse_scaling(spec, "slot 'solve'")
    with pytest.raises(ModelError, match="write samples as 'model\\*8:vote'"):
        parse_shorthand("sim/small*4:best")


def test_vote_normalises_text_and_objects_ties_to_the_earliest() -> None:
    assert vote([normalize(x) for x in ["Paris", " paris ", "Lyon", "LYON", "lyon"]]) == 2
    assert vote([normalize(x) for x in ['{"a": 1, "b": 2}', '{"b":2,"a":1}', "x"]]) == 0
    assert vote(["a", "b", "b", "a"]) == 0
    pred = dspy.Prediction(reasoning="first I add", answer=" 42 ")
    assert dspy_vote_key(pred) == dspy_vote_key(dspy.Prediction(reasoning="I multiply",
                                                                answer="42"))
    assert dspy_vote_key(pred) != dspy_vote_key(dspy.Prediction(reasoning="first I add",
                                                                answer="41"))


def test_a_step_waits_for_its_slowest_sample() -> None:
    calls = [CallUsage("plan", "m", latency_s=1.0),
             *(CallUsage("solve", "m", latency_s=t, sample_group="g") for t in (0.5, 2.0, 1.5)),
             CallUsage("solve", "judge", latency_s=0.25)]
    assert Usage(calls).latency_s == pytest.approx(1.0 + 2.0 + 0.25)


def test_cli_candidates_take_the_shorthand() -> None:
    assert parse_candidates(["sim/small*8:vote,sim/small*4:judge=sim/large,sim/frontier"]) == [
        "sim/small*8:vote", "sim/small*4:judge=sim/large", "sim/frontier"]
    assert parse_candidates(["solve=sim/small*4:judge=sim/large,sim/frontier"]) == {
        "solve": ["sim/small*4:judge=sim/large", "sim/frontier"]}


# ---- LangGraph
# -------------------------------------------------------------------------------------
def test_langgraph_vote_keeps_the_most_frequent_normalised_text() -> None:
    model = Scripted(answers={0: "Paris", 1: " paris ", 2: "Lyon", 3: "LYON", 4: "lyon"})
    graph = scripted_graph(model)
    with aa.bind(graph, {"solve": {"model": model, "samples": 5}}) as run:
        out, usage = run({"question": "Capital?"})
    assert out["answer"] == "Lyon"  # 3 of 5 say lyon; the earliest of them is kept
    assert len(slot_calls(usage, "solve")) == 5 and len({c.sample_group for c in usage}) == 1
    with aa.bind(graph, {"solve": {"model": model, "samples": 2}}) as run:
        out, _ = run({"question": "Capital?"})
    assert out["answer"] == "Paris"  # Paris and paris agree


def test_langgraph_samples_are_independent_recorded_and_voted() -> None:
    graph, spy = text_graph(), Spy()
    with aa.bind(graph, {"solve": scaled(select=spy)}) as run:
        _, spied_usage = run({"question": HARD["question"]})
    samples = spy.seen[0]
    keys = [normalize(m.content) for m in samples]
    assert len(samples) == 5 and len(set(keys)) > 1  # drawn independently: they disagree
    with aa.bind(graph, {"solve": scaled()}) as run:
        out, usage = run({"question": HARD["question"]})
    assert normalize(out["answer"].content) == Counter(keys).most_common(1)[0][0]
    calls = slot_calls(usage, "solve")
    assert len(calls) == 5
    assert {c.model for c in calls} == {"sim/nano"}
    assert all(c.cost_usd > 0 for c in calls)
    assert len({c.sample_group for c in calls}) == 1 and calls[0].sample_group is not None
    assert usage.latency_s == pytest.approx(max(c.latency_s for c in calls))
    assert usage.cost_usd == pytest.approx(spied_usage.cost_usd)  # same seeded samples, same bill
    with aa.bind(graph, {"solve": "sim/nano"}) as run:
        single, one = run({"question": HARD["question"]})
    # sample 0 is the plain call
    assert single["answer"].content == samples[0].content and len(one) == 1


def test_langgraph_tool_calls_vote_on_name_and_arguments() -> None:
    graph, spy = tools_graph(), Spy()
    with aa.bind(graph, {"solve": scaled(samples=7, select=spy)}) as run:
        run({"question": HARD["question"]})
    args = [json.dumps(m.tool_calls[0]["args"], sort_keys=True) for m in spy.seen[0]]
    assert all(m.tool_calls for m in spy.seen[0]) and len(set(args)) > 1
    with aa.bind(graph, {"solve": scaled(samples=7)}) as run:
        out, usage = run({"question": HARD["question"]})
    best = Counter(args).most_common(1)[0]
    assert best[1] > 1 and json.dumps(out["answer"].tool_calls[0]["args"],
                                      sort_keys=True) == best[0]
    assert len(slot_calls(usage, "solve")) == 7


def test_langgraph_structured_output_votes_on_the_parsed_object() -> None:
    graph, spy = structured_graph(), Spy()
    question = ITEMS[0]["question"]
    with aa.bind(graph, {"solve": scaled(select=spy)}) as run:
        run({"question": question})
    objects = [normalize(m.content) for m in spy.seen[0]]
    assert len(set(objects)) > 1
    with aa.bind(graph, {"solve": scaled()}) as run:
        out, usage = run({"question": question})
    assert isinstance(out["answer"], Answer)
    assert normalize(out["answer"].model_dump_json()) == Counter(objects).most_common(1)[0][0]
    assert len(slot_calls(usage, "solve")) == 5


def test_langgraph_async_node_draws_the_same_samples_concurrently() -> None:
    graph = async_graph()
    with aa.bind(graph, {"solve": scaled()}) as run:
        out, usage = asyncio.run(run.acall({"question": HARD["question"]}))
    with aa.bind(text_graph(), {"solve": scaled()}) as run:
        sync_out, sync_usage = run({"question": HARD["question"]})
    assert out["answer"].content == sync_out["answer"].content
    assert len(slot_calls(usage, "solve")) == 5
    assert usage.cost_usd == pytest.approx(sync_usage.cost_usd)
    assert len({c.sample_group for c in usage}) == 1


def test_langgraph_stream_of_a_scaled_slot_yields_the_kept_reply() -> None:
    with aa.bind(streaming_graph(), {"solve": scaled()}) as run:
        out, usage = run({"question": HARD["question"]})
    with aa.bind(text_graph(), {"solve": scaled()}) as run:
        voted, _ = run({"question": HARD["question"]})
    assert out["answer"] == voted["answer"].content and len(slot_calls(usage, "solve")) == 5


def test_langgraph_judge_is_one_more_call_when_samples_disagree() -> None:
    graph = text_graph()
    with aa.bind(graph, {"solve": scaled(select="judge", judge="sim/large")}) as run:
        out, usage = run({"question": HARD["question"]})
    calls = slot_calls(usage, "solve")
    assert [c.model for c in calls].count("sim/nano") == 5
    assert [c.model for c in calls].count("sim/large") == 1
    judge = next(c for c in calls if c.model == "sim/large")
    assert judge.sample_group is None and judge.cost_usd > 0
    samples = [c for c in calls if c.model == "sim/nano"]
    assert usage.latency_s == pytest.approx(max(c.latency_s for c in samples) + judge.latency_s)

    agree = Scripted(answers=dict.fromkeys(range(4), "same"))
    with aa.bind(scripted_graph(agree), {"solve": {"model": agree, "samples": 4, "select": "judge",
                                                   "judge": "sim/large"}}) as run:
        out, usage = run({"question": "x"})
    assert out["answer"] == "same"
    assert {c.model for c in usage} != {"sim/large"}
    assert len(usage) == 4


def test_langgraph_export_apply_round_trip(tmp_path) -> None:
    graph = text_graph()
    cfg = aa.export_config(graph, {"solve": scaled(samples=3, select="judge", judge="sim/large")})
    assert cfg["slots"]["solve"] == {"model": "sim/nano", "kwargs": {}, "samples": 3,
                                     "select": "judge", "judge": "sim/large"}
    path = tmp_path / "agentopt.json"
    path.write_text(json.dumps(cfg))
    tuned = aa.apply(graph, str(path))
    with aa.bind(tuned, {}) as run:  # the tuned graph as it is, recorded
        out, usage = run({"question": HARD["question"]})
    assert Counter(c.model for c in usage) == {"sim/nano": 3, "sim/large": 1}
    with aa.bind(graph, {"solve": scaled(samples=3, select="judge", judge="sim/large")}) as run:
        bound, _ = run({"question": HARD["question"]})
    assert out["answer"].content == bound["answer"].content
    plain = aa.export_config(graph, {"solve": "sim/nano"})
    assert plain["slots"]["solve"] == {"model": "sim/nano", "kwargs": {}}


def test_a_select_function_runs_but_cannot_be_exported(tmp_path) -> None:
    graph, spy = text_graph(), Spy(index=3)
    with aa.bind(graph, {"solve": scaled(select=spy)}) as run:
        out, _ = run({"question": HARD["question"]})
    assert out["answer"].content == spy.seen[0][3].content
    with pytest.raises(ConfigError, match="select is the function 'spy'"):
        aa.export_config(graph, {"solve": scaled(select=spy)})
    with pytest.raises(ConfigError, match="'select' in a config is 'vote' or 'judge'"):
        aa.apply(graph,
                 {"format": "agentopt.assignment/v1", "slots": {"solve": scaled(select=spy)}})
    with pytest.raises(ConfigError, match="samples must be an integer"):
        aa.apply(graph,
                 {"format": "agentopt.assignment/v1", "slots": {"solve": scaled(samples=0)}})
    res = _optimize(graph, [scaled(samples=2, select=Spy())])
    assert res.best is not None and res.best.assignment == {"solve": "sim/nano*2:spy"}
    with pytest.raises(ConfigError, match="select is the function 'spy'"):
        res.export(tmp_path / "agentopt.json")
    with aa.bind(graph, {"solve": scaled(select=lambda outs: len(outs))}) as run:
        with pytest.raises(ModelError,
                           match="select function <lambda> returned 5; it must return the index"):
            run({"question": HARD["question"]})


# ---- DSPy
# --------------------------------------------------------------------------------------------
def predict_program() -> dspy.Module:
    prog = dspy.Predict("question -> answer: int")
    prog.lm = dspy_lm("sim/nano")
    return prog


class TwoStep(dspy.Module):
    """A ChainOfThought answerer and a checker; forward and aforward."""

    def __init__(self) -> None:
        super().__init__()
        self.solve = dspy.ChainOfThought("question -> answer: int")
        self.check = dspy.Predict("question, answer -> verdict: str")
        self.set_lm(dspy_lm("sim/nano"))

    def forward(self, question: str) -> dspy.Prediction:
        answer = self.solve(question=question).answer
        self.check(question=question, answer=str(answer))
        return dspy.Prediction(answer=answer)

    async def aforward(self, question: str) -> dspy.Prediction:
        answer = (await self.solve.acall(question=question)).answer
        await self.check.acall(question=question, answer=str(answer))
        return dspy.Prediction(answer=answer)


def test_dspy_predictor_samples_vote_sync_and_async() -> None:
    prog, spy = predict_program(), Spy()
    with aa.bind(prog, {"self": scaled(select=spy)}) as run:
        run({"question": HARD["question"]})
    answers = [p.answer for p in spy.seen[0]]
    assert len(set(answers)) > 1  # independent samples
    with aa.bind(prog, {"self": scaled()}) as run:
        out, usage = run({"question": HARD["question"]})
        aout, ausage = asyncio.run(run.acall({"question": HARD["question"]}))
    assert out.answer == aout.answer == Counter(answers).most_common(1)[0][0]
    for u in (usage, ausage):
        calls = slot_calls(u, "self")
        assert len(calls) == 5
        assert len({c.sample_group for c in calls}) == 1
        assert calls[0].sample_group
        assert u.latency_s == pytest.approx(max(c.latency_s for c in calls))
    assert usage.cost_usd == pytest.approx(ausage.cost_usd)


def test_dspy_chain_of_thought_slot_with_judge_in_a_module() -> None:
    prog = TwoStep()
    assignment = {"solve.predict": scaled(select="judge", judge="sim/large")}
    with aa.bind(prog, assignment) as run:
        out, usage = run({"question": HARD["question"]})
        aout, ausage = asyncio.run(run.acall({"question": HARD["question"]}))
    assert out.answer == aout.answer
    for u in (usage, ausage):
        solve = Counter(c.model for c in slot_calls(u, "solve.predict"))
        # the samples disagree: the judge was asked
        assert solve == {"sim/nano": 5, "sim/large": 1}
        assert Counter(c.slot for c in u)["check"] == 1  # the other slot is untouched
    assert usage.cost_usd == pytest.approx(ausage.cost_usd)


def test_dspy_export_apply_round_trip(tmp_path) -> None:
    prog = TwoStep()
    cfg = aa.export_config(prog, {"solve.predict": scaled(samples=3)})
    assert {k: v for k, v in cfg["slots"]["solve.predict"].items() if k != "kwargs"} == {
        "model": "sim/nano", "samples": 3, "select": "vote"}
    path = tmp_path / "agentopt.json"
    path.write_text(json.dumps(cfg))
    tuned = aa.apply(TwoStep(), str(path))
    with aa.bind(tuned, {}) as run:
        out, usage = run({"question": HARD["question"]})
    assert Counter(c.slot for c in usage) == {"solve.predict": 3, "check": 1}
    with aa.bind(prog, {"solve.predict": scaled(samples=3)}) as run:
        bound, _ = run({"question": HARD["question"]})
    assert out.answer == bound.answer
    with pytest.raises(ConfigError, match="select is the function 'spy'"):
        aa.export_config(prog, {"solve.predict": scaled(select=Spy())})


# ---- bad input, end to end through optimize
# -----------------------------------------------------------
def _optimize(app: Any, candidates: Any, **kw: Any) -> Any:
    data = [{"question": it["question"], "answer": it["answer"]} for it in ITEMS[:2]]
    return aa.optimize(app, data, load_task("arithmetic").metric, candidates,
                       strategy="brute_force", progress=False, baseline=False, **kw)


@pytest.mark.parametrize("candidates, message", [
    (["sim/nano*0:vote"], "samples must be an integer from 1 to 64, got 0"),
    ([{"model": "sim/nano", "samples": "4"}], "samples must be an integer from 1 to 64, got '4'"),
    ([{"model": "sim/nano", "samples": 2.5}], "samples must be an integer from 1 to 64, got 2.5"),
    ([{"model": "sim/nano", "samples": 4, "select": "best"}],
     "select must be 'vote', 'judge' or a function"),
    (["sim/nano*4:best"], "write samples as 'model\\*8:vote'"),
    (["sim/nano*4:judge=sim/nope"], "unknown model 'sim/nope'"),
])
def test_bad_scaling_input_is_one_clear_error_before_any_call(candidates: Any,
                                                              message: str) -> None:
    with pytest.raises(ModelError, match=message):
        _optimize(text_graph(), candidates)


def test_scaling_with_explicit_samples_is_one_clear_error() -> None:
    with pytest.raises(ModelError,
                       match="give samples either with scaling= or in the candidates, not both"):
        _optimize(text_graph(), ["sim/nano*4:vote", "sim/small"], scaling={"samples": [1, 4]})
    with pytest.raises(ModelError, match="'samples' must be a list of counts"):
        _optimize(text_graph(), ["sim/nano"], scaling={"samples": 4})


def test_a_plain_callable_cannot_draw_samples() -> None:
    def app(models: dict[str, str], example: Any) -> str:
        return "0"

    with pytest.raises(ModelError, match="samples are drawn by the LangGraph and DSPy adapters"):
        _optimize(app, {"solve": ["sim/nano*4:vote"]})


def test_a_failing_judge_stops_optimize_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("AGENTOPT_RETRIES", "0")
    settings.reload()
    try:
        with pytest.raises(ModelError,
                           match="slot 'solve': the judge model 'openai/gpt-4o-mini' failed"):
            _optimize(text_graph(), [scaled(select="judge", judge="openai/gpt-4o-mini")])
        with aa.bind(predict_program(),
                     {"self": scaled(select="judge", judge="openai/gpt-4o-mini")}) as run:
            with pytest.raises(ModelError,
                               match="slot 'self': the judge model 'openai/gpt-4o-mini' failed"):
                run({"question": HARD["question"]})
    finally:
        monkeypatch.undo()
        settings.reload()


# ---- the sim zoo as a judge
# ---------------------------------------------------------------------------
def test_sim_judge_names_a_numbered_answer_as_often_as_its_skill_allows() -> None:
    from agentopt_adapters.scaling import judge_choice, judge_prompt

    item = ITEMS[5]
    answers = [f"Answer: {item['answer'] + 3}", f"Answer: {item['answer']}",
               f"Answer: {item['answer'] - 2}"]
    prompt = [{"role": "user", "content": judge_prompt(f"Question: {item['question']}", answers)}]

    def right(model: str) -> int:
        return sum(judge_choice(simulate(model, prompt, seed=s).content, 3) == 1
                   for s in range(60))

    assert right("sim/frontier") > right("sim/nano") > 0
    generic = judge_prompt("Say hi", ["hello", "Hi", "hi "])
    # the most agreed
    assert simulate("sim/small", [{"role": "user", "content": generic}]).content == "2"


# ---- end to end (slow)
# --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_optimize_searches_samples_exports_and_applies(tmp_path) -> None:
    from agentopt_adapters.sim.demo.langgraph_app import graph

    data = [dict(it) for it in ITEMS[:6]]
    res = aa.optimize(graph, data, load_task("arithmetic").metric,
                      ["sim/small", "sim/small*4:vote", "sim/frontier"], slots=["solve"],
                      strategy="brute_force", progress=False)
    labels = {s.assignment["solve"] for s in res.leaderboard}
    assert labels >= {"sim/small", "sim/small*4:vote", "sim/frontier"}
    four, one = (next(s for s in res.leaderboard if s.assignment["solve"] == k)
                 for k in ("sim/small*4:vote", "sim/small"))
    # every sample is paid for (plan runs the app's sim/frontier)
    assert four.mean_cost_usd > one.mean_cost_usd
    path = res.export(tmp_path / "agentopt.json", {"solve": "sim/small*4:vote"})
    assert json.loads(path.read_text())["slots"]["solve"]["samples"] == 4
    tuned = aa.apply(graph, str(path))
    with aa.bind(tuned, {}) as run:
        _, usage = run({"question": ITEMS[0]["question"]})
    solve = slot_calls(usage, "solve")
    assert len(solve) % 4 == 0 and len({c.sample_group for c in solve}) == len(solve) // 4


@pytest.mark.slow
def test_cli_optimize_with_sample_shorthand(tmp_path) -> None:
    from typer.testing import CliRunner

    from agentopt_adapters.cli import app

    (tmp_path / "metric.py").write_text("from agentopt_adapters.sim.tasks import load_task\n"
                                        "def metric(example, output):\n"
                                        "    return load_task('arithmetic').metric(example, "
                                        "output)\n")
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(it) + "\n" for it in ITEMS[:4]))
    out = tmp_path / "agentopt.json"
    res = CliRunner().invoke(app,
                             ["optimize", "agentopt_adapters.sim.demo.langgraph_app:graph",
                              "--data",
                                   str(tmp_path / "data.jsonl"), "--metric",
                                   f"{tmp_path / 'metric.py'}:metric", "--candidates",
                                   "sim/small*8:vote,sim/small*2:judge=sim/large,sim/frontier",
                              "--slots", "solve", "--strategy", "brute_force",
                                   "--no-progress", "--out", str(out)],
                             env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    assert "solve=sim/small*8:vote" in res.output
    assert "solve=sim/small*2:judge=sim/large" in res.output
    slot = json.loads(out.read_text())["slots"]["solve"]
    assert slot["model"] in ("sim/small", "sim/frontier")
