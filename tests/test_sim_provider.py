"""In-process way in: litellm provider `sim/<name>`, costs, DSPy adapters, LangChain tool calls."""

from __future__ import annotations

import asyncio
import json
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import dspy
import litellm
import pytest

from agentopt_adapters import sim
from agentopt_adapters.models import chat_model, dspy_lm
from agentopt_adapters.sim.tasks import load_task
from agentopt_adapters.sim.tasks.arithmetic import calculator

sim.register()
ITEM = load_task("arithmetic").items[11]
HOP = load_task("multihop").items[4]
CALC_TOOL = {"type": "function", "function": {
    "name": "calculator", "description": "Evaluate an arithmetic expression.",
    "parameters": {"type": "object", "properties": {"expression": {"type": "string"}},
                   "required": ["expression"]}}}


def test_register_is_idempotent() -> None:
    sim.register()
    sim.register()
    assert sum(p["provider"] == "sim" for p in litellm.custom_provider_map) == 1


def test_litellm_completion_has_usage_and_registered_cost() -> None:
    r = litellm.completion(model="sim/small",
                           messages=[{"role": "user", "content": ITEM["question"]}], seed=0)
    u = r.usage
    assert u.prompt_tokens > 0 and u.completion_tokens > 0
    spec = sim.ZOO["sim/small"]
    expected = u.prompt_tokens * spec.input_cost_per_token \
        + u.completion_tokens * spec.output_cost_per_token
    assert litellm.completion_cost(r) == pytest.approx(expected, rel=1e-9)
    again = litellm.completion(model="sim/small",
                               messages=[{"role": "user", "content": ITEM["question"]}], seed=0)
    assert again.choices[0].message.content == r.choices[0].message.content


def test_litellm_async_and_streaming() -> None:
    msgs = [{"role": "user", "content": "What is 3 + 4?"}]
    r = asyncio.run(litellm.acompletion(model="sim/mini", messages=msgs))
    assert "7" in r.choices[0].message.content and r.usage.total_tokens > 0
    chunks = list(litellm.completion(model="sim/mini", messages=msgs, stream=True))
    assert "7" in "".join(c.choices[0].delta.content or "" for c in chunks)


def test_unknown_sim_model_via_litellm_lists_available() -> None:
    with pytest.raises(Exception, match="available: sim/nano"):
        litellm.completion(model="sim/nope", messages=[{"role": "user", "content": "hi"}])


def test_litellm_tool_call_then_tool_result_is_used() -> None:
    msgs = [{"role": "user", "content": ITEM["question"]}]
    r = litellm.completion(model="sim/xl", messages=msgs, tools=[CALC_TOOL])
    call = r.choices[0].message.tool_calls[0]
    assert r.choices[0].finish_reason == "tool_calls" and call.function.name == "calculator"
    result = calculator(json.loads(call.function.arguments)["expression"])
    msgs += [r.choices[0].message.model_dump(),
             {"role": "tool", "tool_call_id": call.id, "content": result}]
    final = litellm.completion(model="sim/xl", messages=msgs, tools=[CALC_TOOL])
    assert final.choices[0].message.content.strip().endswith(f"Answer: {result}")


class PlanSolve(dspy.Signature):
    """Solve the word problem."""

    question: str = dspy.InputField()
    answer: int = dspy.OutputField()


@pytest.mark.parametrize("adapter", [dspy.ChatAdapter(), dspy.JSONAdapter()], ids=["chat", "json"])
def test_dspy_adapters_parse_simulated_answers(adapter: dspy.Adapter) -> None:
    lm = dspy_lm("sim/large")
    prog = dspy.ChainOfThought(PlanSolve)
    task = load_task("arithmetic")
    with dspy.context(lm=lm, adapter=adapter):
        outs = [prog(question=it["question"]) for it in task.items[:15]]
    assert all(isinstance(o.answer, int) and o.reasoning for o in outs)
    assert sum(task.metric(it, o) for it, o in zip(task.items, outs)) >= 10
    assert all(h["usage"]["prompt_tokens"] > 0 and h["cost"] > 0 for h in lm.history)
    if isinstance(adapter, dspy.JSONAdapter):
        assert json.loads(lm.history[-1]["outputs"][0])["answer"] == outs[-1].answer


def test_dspy_planner_solver_program_interacts() -> None:
    class Plan(dspy.Signature):
        question: str = dspy.InputField()
        plan: str = dspy.OutputField()

    class Solve(dspy.Signature):
        question: str = dspy.InputField()
        plan: str = dspy.InputField()
        answer: str = dspy.OutputField()

    class Prog(dspy.Module):
        def __init__(self) -> None:
            super().__init__()
            self.planner, self.solver = dspy.Predict(Plan), dspy.Predict(Solve)

        def forward(self, question: str) -> dspy.Prediction:
            plan = self.planner(question=question).plan
            return self.solver(question=question, plan=plan)

    task = load_task("multihop")

    def score(planner: str, solver: str) -> float:
        prog = Prog()
        prog.planner.lm, prog.solver.lm = dspy_lm(planner), dspy_lm(solver)
        return sum(task.metric(it, prog(question=it["question"])) for it in task.items[:30]) / 30

    assert score("sim/xl", "sim/medium") > score("sim/nano", "sim/medium") + 0.15


def test_dspy_react_calls_the_calculator() -> None:
    def calc(expression: str) -> str:
        """Evaluate an arithmetic expression."""
        return calculator(expression)

    agent = dspy.ReAct("question -> answer: int", tools=[calc], max_iters=4)
    lm = dspy_lm("sim/frontier")
    with dspy.context(lm=lm):
        pred = agent(question=ITEM["question"])
    assert pred.trajectory["tool_name_0"] == "calc"
    assert pred.trajectory["tool_name_1"] == "finish"
    assert pred.answer == int(pred.trajectory["observation_0"])


def test_langchain_tool_calls_parse() -> None:
    from langchain_core.messages import HumanMessage, ToolMessage
    from langchain_core.tools import tool

    @tool
    def calculator_tool(expression: str) -> str:
        """Evaluate an arithmetic expression (calculator)."""
        return calculator(expression)

    llm = chat_model("sim/large").bind_tools([calculator_tool])
    msgs = [HumanMessage(ITEM["question"])]
    ai = llm.invoke(msgs)
    assert ai.tool_calls and ai.tool_calls[0]["name"] == "calculator_tool"
    assert "expression" in ai.tool_calls[0]["args"] and ai.usage_metadata["input_tokens"] > 0
    out = calculator_tool.invoke(ai.tool_calls[0]["args"])
    final = llm.invoke(msgs + [ai, ToolMessage(out, tool_call_id=ai.tool_calls[0]["id"])])
    assert not final.tool_calls and final.content.strip().endswith(f"Answer: {out}")


def test_langchain_async_and_generic_tool() -> None:
    from langchain_core.tools import tool

    @tool
    def search(query: str) -> str:
        """Search the web."""
        return "nothing"

    llm = chat_model("sim/medium", temperature=0)
    ai = asyncio.run(llm.bind_tools([search]).ainvoke("Who won the 1990 cup?"))
    assert ai.tool_calls[0]["name"] == "search" and isinstance(ai.tool_calls[0]["args"]["query"],
                                                               str)
    msg = asyncio.run(llm.ainvoke(HOP["question"]))
    assert msg.usage_metadata["output_tokens"] > 0
