"""LangGraph discovery: static walk (globals, closures, attributes, partial, runnables, prebuilt
agents, subgraphs, init_chat_model) and the dynamic probe."""

from __future__ import annotations

import functools
import importlib
import itertools
import warnings
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AnyMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from pydantic import BaseModel

import agentopt_adapters as aa
import lg_graphs as G
from agentopt_adapters.models import chat_model

warnings.filterwarnings("ignore", category=DeprecationWarning)


def by_name(slots: list[aa.Slot]) -> dict[str, aa.Slot]:
    assert all(s.framework == "langgraph" for s in slots)
    return {s.name: s for s in slots}


class S(TypedDict, total=False):
    x: str
    y: str


class M(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def linear(*nodes: tuple[str, Any], state: type = S):
    b = StateGraph(state)
    for name, fn in nodes:
        b.add_node(name, fn)
    names = [n for n, _ in nodes]
    b.add_edge(START, names[0])
    for a, c in itertools.pairwise(names):
        b.add_edge(a, c)
    b.add_edge(names[-1], END)
    return b.compile()


# ---------------------------------------------------------------------------------- must-show
def test_planner_solver_module_level_models():
    slots = by_name(aa.discover(G.planner_solver()))
    assert list(slots) == ["plan", "solve"]
    assert slots["plan"].default_model == "sim/large"
    assert "global 'PLANNER' of plan()" in slots["plan"].where
    assert "global 'solve_chain'" in slots["solve"].where
    assert "RunnableSequence" in slots["solve"].where


def test_class_node_with_bind_tools_in_react_loop():
    slots = by_name(aa.discover(G.react_class()))
    assert list(slots) == ["agent"]  # the ToolNode and tools_condition hold no model
    assert slots["agent"].default_model == "sim/medium"
    assert "attribute 'llm' of Agent" in slots["agent"].where


def test_create_react_agent_as_subgraph_node_and_partial():
    slots = by_name(aa.discover(G.agent_subgraph()))
    assert list(slots) == ["research.agent", "summarize"]
    assert slots["research.agent"].default_model == "sim/xl"
    assert "closure" in slots["research.agent"].where
    assert slots["summarize"].default_model == "sim/small"
    assert "partial kwarg 'llm'" in slots["summarize"].where


def test_model_built_at_call_time_static_hint_then_probe():
    graph = G.calltime()
    static = by_name(aa.discover(graph))
    assert list(static) == ["draft", "finalize"]
    assert static["finalize"].default_model is None  # unknown until the node runs
    assert "at call time" in static["finalize"].where
    probed = by_name(aa.discover(graph, probe_input=G.QUESTION))
    assert probed["finalize"].default_model == "sim/frontier"
    assert "probe: langgraph node path finalize called sim/frontier" in probed["finalize"].where
    assert probed["draft"].default_model == "sim/mini" and "probe" in probed["draft"].where


def test_probe_finds_model_hidden_from_static_view():
    def hidden(state: S) -> S:  # the factory is looked up by name at call time: opaque to the walk
        factory = getattr(importlib.import_module("agentopt_adapters." + "models"),
                          "chat_" + "model")
        return {"y": str(factory("sim/nano").invoke(state["x"]).content)}

    graph = linear(("hidden", hidden))
    with pytest.raises(aa.DiscoveryError, match="probe_input"):
        aa.discover(graph)
    slots = by_name(aa.discover(graph, probe_input={"x": "What is 1 + 1?"}))
    assert list(slots) == ["hidden"]
    assert slots["hidden"].default_model == "sim/nano"
    assert slots["hidden"].where.startswith("probe:")
    # once probed, the slot can be bound on the same graph object
    with aa.bind(graph, {"hidden": "sim/small"}) as run:
        _, usage = run({"x": "What is 1 + 1?"})
    assert usage.models_by_slot() == {"hidden": {"sim/small"}}


# ---------------------------------------------------------------------------------- more shapes
def test_closure_bound_method_with_config_and_structured_output():
    a, b, c = chat_model("sim/nano"), chat_model("sim/mini"), chat_model("sim/small")

    def make_node(llm):
        def closure_node(state: S) -> S:
            return {"y": str(llm.invoke(state["x"]).content)}
        return closure_node

    class Holder:
        def __init__(self) -> None:
            self.runnable = b.with_config(tags=["x"])

        def step(self, state: S) -> S:
            return {"y": str(self.runnable.invoke(state["x"]).content)}

    class Answer(BaseModel):
        value: int

    structured = c.with_structured_output(Answer, method="function_calling")

    def struct(state: S) -> S:
        return {"y": str(structured.invoke(state["x"]))}

    slots = by_name(aa.discover(linear(("c", make_node(a)), ("m", Holder().step), ("s", struct))))
    assert [(n, s.default_model) for n, s in slots.items()] == [("c", "sim/nano"),
                                                                ("m", "sim/mini"),
                                                                ("s", "sim/small")]
    assert "closure 'llm'" in slots["c"].where
    assert "attribute 'runnable' of Holder" in slots["m"].where
    assert "global 'structured'" in slots["s"].where or "closure 'structured'" in slots["s"].where


def test_two_models_in_one_node_and_one_model_in_two_nodes():
    shared = chat_model("sim/small")
    fast, strong = chat_model("sim/nano"), chat_model("sim/large")
    chain = ChatPromptTemplate.from_template("{x}") | fast | StrOutputParser()

    def both(state: S) -> S:
        draft = chain.invoke({"x": state["x"]})
        return {"y": str(strong.invoke(draft).content)}

    def first(state: S) -> S:
        return {"y": str(shared.invoke(state["x"]).content)}

    def second(state: S) -> S:
        return {"y": str(shared.invoke(state["y"]).content)}

    graph = linear(("first", first), ("both", both), ("second", second))
    slots = by_name(aa.discover(graph))
    assert list(slots) == ["first", "both", "both#2", "second"]
    assert slots["both"].default_model == "sim/nano"
    assert slots["both#2"].default_model == "sim/large"
    with aa.bind(graph, {"first": "sim/mini", "both#2": "sim/medium", "second": "sim/xl"}) as run:
        _, usage = run({"x": "What is 2 + 2?"})
    assert [(c.slot, c.model) for c in usage] == [
        ("first", "sim/mini"), ("both", "sim/nano"), ("both#2", "sim/medium"),
        ("second", "sim/xl")]


def test_create_agent_and_nested_subgraph_and_graph_invoked_inside_node():
    from langchain.agents import create_agent

    inner_agent = create_agent(chat_model("sim/mini"), G.TOOLS)
    direct = by_name(aa.discover(inner_agent))
    assert list(direct) == ["model"] and direct["model"].default_model == "sim/mini"

    leaf = linear(("critic", lambda s: {"y": str(G.PLANNER.invoke(s["x"]).content)}))
    middle = linear(("review", leaf))

    def delegate(state: M) -> dict:
        return {"messages": inner_agent.invoke({"messages": state["messages"]})["messages"][-1:]}

    b = StateGraph(M)
    b.add_node("helper", delegate)
    b.add_node("sub", middle)
    b.add_edge(START, "helper")
    b.add_edge("helper", END)
    slots = by_name(aa.discover(b.compile()))
    assert "helper.model" in slots and slots["helper.model"].default_model == "sim/mini"
    assert "sub.review.critic" in slots and slots["sub.review.critic"].default_model == "sim/large"


def test_init_chat_model_configurable_fields():
    from langchain.chat_models import init_chat_model

    llm = init_chat_model("sim/mini", model_provider="litellm",
                          configurable_fields=("model", "temperature"),
                          api_key="sim-no-key-needed")

    def node(state: S) -> S:
        return {"y": str(llm.invoke(state["x"]).content)}

    graph = linear(("ask", node))
    slots = by_name(aa.discover(graph))
    assert slots["ask"].default_model == "sim/mini"
    assert "init_chat_model(configurable_fields=...)" in slots["ask"].where
    with aa.bind(graph, {"ask": "sim/xl"}) as run:
        _, usage = run({"x": "What is 3 + 4?"})
    assert usage.models_by_slot() == {"ask": {"sim/xl"}}


def test_model_in_conditional_edge_belongs_to_source_node():
    judge = chat_model("sim/nano")

    def route(state: S) -> str:
        judge.invoke("yes or no?")
        return END

    b = StateGraph(S)
    b.add_node("prep", lambda s: {"y": "ok"})
    b.add_edge(START, "prep")
    b.add_conditional_edges("prep", route)
    slots = by_name(aa.discover(b.compile()))
    assert list(slots) == ["prep"] and "conditional edge 'route'" in slots["prep"].where


def test_no_chat_model_is_a_clear_error():
    graph = linear(("a", lambda s: {"y": s["x"].upper()}),
                   ("b", functools.partial(lambda s, k: {"y": k}, k="v")))
    with pytest.raises(aa.DiscoveryError, match=r"no chat model found .*nodes \['a', 'b'\]"):
        aa.discover(graph)


def test_discover_rejects_unknown_options():
    with pytest.raises(TypeError, match="probe_input"):
        aa.discover(G.planner_solver(), probe=True)
