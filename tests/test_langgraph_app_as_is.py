"""The app as it is: the baseline and unassigned slots call the user's own model objects (their
endpoint), candidates reach their own, and candidates keep what the app's model does (structured
output schema *and* method, forced tools, call kwargs) on every candidate path."""

from __future__ import annotations

import asyncio
import itertools
import warnings
from collections.abc import Iterator
from typing import Any, TypedDict

import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel

import agentopt_adapters as aa
from agentopt_adapters.models import chat_model
from agentopt_adapters.sim.server import SimServer, serve_in_thread

warnings.filterwarnings("ignore", category=DeprecationWarning)

QUESTION = "What is 6 * 7?"


class Answer(BaseModel):
    answer: str | int | float  # json_mode sends no schema: the model may answer with a number


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


class S(TypedDict, total=False):
    x: str
    y: Any
    z: Any


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[SimServer, SimServer]]:
    """(the user's own endpoint, an endpoint only candidates know)."""
    user, cand = serve_in_thread(port=0), serve_in_thread(port=0)
    yield user, cand
    user.stop()
    cand.stop()


def graph_of(**nodes: Any) -> Any:
    b = StateGraph(S)
    names = list(nodes)
    for name, fn in nodes.items():
        b.add_node(name, fn)
    b.add_edge(START, names[0])
    for a, c in itertools.pairwise(names):
        b.add_edge(a, c)
    b.add_edge(names[-1], END)
    return b.compile()


def counts(*servers: SimServer) -> tuple[int, ...]:
    return tuple(s.request_count for s in servers)


# ---------------------------------------------------------------------------------- the baseline
def test_baseline_and_unassigned_slots_reach_the_users_endpoint_candidates_reach_theirs(servers):
    user, cand = servers
    own = ChatOpenAI(model="sim/large", base_url=user.url, api_key="user-key", temperature=0.0)
    other = ChatOpenAI(model="sim/medium", base_url=user.url, api_key="user-key")

    def plan(state: S) -> S:
        return {"y": own.invoke(state["x"]).content}

    def solve(state: S) -> S:
        return {"z": other.invoke(f"{state['x']} Plan: {state['y']}").content}

    graph = graph_of(plan=plan, solve=solve)
    before = counts(user, cand)
    with aa.bind(graph, {}) as run:
        _, usage = run({"x": QUESTION})
    assert counts(user, cand) == (before[0] + 2, before[1])  # the app as it is: its own endpoint
    assert [(c.slot, c.model) for c in usage] == [("plan", "sim/large"), ("solve", "sim/medium")]
    assert all(c.cost_usd and c.cost_usd > 0 for c in usage)

    before = counts(user, cand)
    with aa.bind(graph, {"plan": "sim/small"}) as run:  # in-process candidate; 'solve' unassigned
        _, usage = run({"x": QUESTION})
    assert counts(user, cand) == (before[0] + 1, before[1])
    assert [(c.slot, c.model) for c in usage] == [("plan", "sim/small"), ("solve", "sim/medium")]

    before = counts(user, cand)
    # a candidate's own settings
    over_http = {"model": "openai/sim/nano", "kwargs": {"api_base": cand.url}}
    with aa.bind(graph, {"plan": over_http, "solve": over_http}) as run:
        _, usage = run({"x": QUESTION})
    assert counts(user, cand) == (before[0], before[1] + 2)
    assert {c.model for c in usage} == {"openai/sim/nano"} and usage.unattributed == []
    cfg = aa.export_config(graph,
                           {"plan": {"model": "openai/sim/nano",
                                     "kwargs": {"api_base": cand.url, "api_key": "sk-x"}}})
    # secret never written
    assert cfg["slots"]["plan"]["kwargs"] == {"api_base": cand.url, "temperature": 0.0}


# ---------------------------------------------------------------------------------- what the model
# does
def _patterns(own: ChatOpenAI) -> dict[str, tuple[Any, Any]]:
    """name -> (runnable built from the app's own model, check of its output)."""
    def is_answer(out: Any) -> bool:
        return isinstance(out, Answer) and str(out.answer) != ""

    def forced_call(out: Any) -> bool:
        return isinstance(out, AIMessage) and [c["name"] for c in out.tool_calls] == ["multiply"]

    def raw_and_parsed(out: Any) -> bool:
        return isinstance(out["parsed"], Answer) and out["parsing_error"] is None

    return {
        "json_schema (default method)": (own.with_structured_output(Answer), is_answer),
        "function_calling": (own.with_structured_output(Answer, method="function_calling"),
                             is_answer),
        "json_mode": (own.with_structured_output(Answer, method="json_mode"), is_answer),
        "include_raw": (own.with_structured_output(Answer, include_raw=True), raw_and_parsed),
        "forced tool_choice": (own.bind_tools([multiply], tool_choice="multiply"), forced_call),
    }


def _candidates(cand: SimServer) -> dict[str, Any]:
    return {
        "model string": "sim/small",
        "model string + own endpoint": {"model": "openai/sim/small",
                                        "kwargs": {"api_base": cand.url}},
        "same class, other endpoint": ChatOpenAI(model="sim/mini", base_url=cand.url, api_key="k"),
        "other class object": chat_model("sim/mini"),
    }


def test_every_candidate_path_keeps_structured_output_and_forced_tools(servers):
    user, cand = servers
    own = ChatOpenAI(model="sim/large", base_url=user.url, api_key="user-key")
    for pattern, (runnable, ok) in _patterns(own).items():
        graph = graph_of(ask=lambda state, r=runnable: {"y": r.invoke(state["x"])})
        before = counts(user)
        with aa.bind(graph, {}) as run:
            out, usage = run({"x": QUESTION})
        assert ok(out["y"]) and counts(user) == (before[0] + 1,), pattern
        for name, candidate in _candidates(cand).items():
            before = counts(user)
            with aa.bind(graph, {"ask": candidate}) as run:
                out, usage = run({"x": QUESTION})
            assert ok(out["y"]), (pattern, name, out["y"])
            assert counts(user) == before, (pattern, name)  # the app's endpoint is not called
            assert len(usage) == 1
            assert usage.calls[0].slot == "ask"
            assert usage.calls[0].model != "sim/large"


def test_structured_output_streamed_and_awaited_on_a_candidate(servers):
    user, _ = servers
    structured = ChatOpenAI(model="sim/large", base_url=user.url,
                            api_key="k").with_structured_output(Answer)

    def streamed(state: S) -> S:
        return {"y": list(structured.stream(state["x"]))[-1]}

    async def awaited(state: S) -> S:
        return {"z": await structured.ainvoke(state["x"])}

    graph = graph_of(streamed=streamed, awaited=awaited)
    with aa.bind(graph, {"streamed": "sim/nano", "awaited": "sim/mini"}) as run:
        out, usage = asyncio.run(run.acall({"x": QUESTION}))
    assert isinstance(out["y"], Answer) and isinstance(out["z"], Answer)
    assert [(c.slot, c.model) for c in usage] == [("streamed", "sim/nano"),
                                                  ("awaited", "sim/mini")]
