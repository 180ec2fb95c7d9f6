"""LangGraph binding: per-slot routing, recording, kwargs/tools/structured output kept, no
mutation, invoke / ainvoke / stream / astream, unattributed calls, clear errors."""

from __future__ import annotations

import asyncio
import json
import threading
import warnings
from typing import Any, TypedDict

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel

import agentopt_adapters as aa
import lg_graphs as G
from agentopt_adapters.models import chat_model

warnings.filterwarnings("ignore", category=DeprecationWarning)


class Capture(BaseCallbackHandler):
    """Records the invocation params of every chat-model call (what the serving model received)."""

    run_inline = True

    def __init__(self) -> None:
        self.params: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def on_chat_model_start(self, serialized, messages, *, run_id, metadata=None, **kw):
        with self.lock:
            self.params.append({**kw.get("invocation_params", {}),
                                "_node": (metadata or {}).get("langgraph_node")})


def served(messages: list) -> list[str]:
    """Model names reported by the responses themselves
    (the sim provider echoes the serving model)."""
    return [m.response_metadata.get("model_name") for m in messages if isinstance(m, AIMessage)]


# ---------------------------------------------------------------------------------- must-show runs
def test_planner_solver_bound_run_uses_assigned_models_and_keeps_kwargs():
    graph = G.planner_solver()
    cap = Capture()
    with aa.bind(graph, {"plan": "sim/small", "solve": "sim/nano"}) as run:
        out, usage = run(G.QUESTION, config={"callbacks": [cap]})
    assert out["answer"]
    assert usage.models_by_slot() == {"plan": {"sim/small"}, "solve": {"sim/nano"}}
    assert [c.slot for c in usage] == ["plan", "solve"]
    for c in usage:
        assert c.input_tokens > 0
        assert c.output_tokens > 0
        assert c.cost_usd
        assert c.cost_usd > 0
        assert c.latency_s > 0
    assert usage.cost_usd == pytest.approx(sum(c.cost_usd for c in usage))
    # SOLVER was built with temperature=0.0: the candidate inherits it (PLANNER set none)
    params = {p["_node"]: p for p in cap.params}
    assert params["solve"]["model"] == "sim/nano" and params["solve"]["temperature"] == 0.0
    assert params["plan"]["model"] == "sim/small" and params["plan"]["temperature"] is None


def test_constructor_max_tokens_is_inherited_by_the_candidate():
    short = chat_model("sim/large", max_tokens=3)  # the sim truncates its answer at max_tokens

    def ask(state: S) -> S:
        return {"y": str(short.invoke(state["x"]).content)}

    graph = one_node(ask)
    with aa.bind(graph, {"ask": "sim/medium"}) as run:
        _, capped = run({"x": "What is 2 + 3? Explain."})
    with aa.bind(graph, {"ask": {"model": "sim/medium", "kwargs": {"max_tokens": 50}}}) as run:
        _, wider = run({"x": "What is 2 + 3? Explain."})
    assert capped.calls[0].model == "sim/medium" and 0 < capped.calls[0].output_tokens <= 3
    assert wider.calls[0].output_tokens > 3  # explicit kwargs override the inherited ones


def test_react_class_node_keeps_bound_tools_and_call_kwargs():
    graph = G.react_class()
    cap = Capture()
    with aa.bind(graph, {"agent": "sim/small"}) as run:
        out, usage = run(G.MESSAGES, config={"callbacks": [cap]})
    assert usage.models_by_slot() == {"agent": {"sim/small"}}
    assert len(usage) >= 2  # tool call -> ToolNode -> answer
    assert any(isinstance(m, ToolMessage) for m in out["messages"])
    assert set(served(out["messages"])) == {"sim/small"}
    for p in cap.params:
        assert {t["function"]["name"] for t in p["tools"]} == {"add", "multiply"}
        assert p["temperature"] == 0.0  # the node's call kwarg reached the candidate


def test_react_agent_subgraph_slots_route_separately():
    graph = G.agent_subgraph()
    with aa.bind(graph, {"research.agent": "sim/mini", "summarize": "sim/medium"}) as run:
        out, usage = run(G.MESSAGES)
    assert usage.models_by_slot() == {"research.agent": {"sim/mini"}, "summarize": {"sim/medium"}}
    assert [c.slot for c in usage].count("research.agent") >= 2
    assert any(isinstance(m, ToolMessage) for m in out["messages"])


def test_call_time_model_routes_and_unassigned_slot_keeps_original():
    graph = G.calltime()
    with aa.bind(graph, {"finalize": "sim/nano"}) as run:
        out, usage = run(G.QUESTION)
    assert out["calls"] == 2
    assert usage.models_by_slot() == {"draft": {"sim/mini"}, "finalize": {"sim/nano"}}


def test_no_mutation_and_pass_through_outside_binding():
    graph = G.planner_solver()
    nodes_before = {k: (v, v.bound) for k, v in graph.nodes.items()}
    planner, solver = G.PLANNER, G.SOLVER
    dump = (planner.model_dump(), solver.model_dump())
    with aa.bind(graph, {"plan": "sim/nano", "solve": "sim/nano"}) as run:
        run(G.QUESTION)
        # while the binding is open, the user's own calls still use their models
        cap = Capture()
        graph.invoke(G.QUESTION, {"callbacks": [cap]})
        assert [p["model"] for p in cap.params] == ["sim/large", "sim/large"]
    assert G.PLANNER is planner and G.SOLVER is solver and G.solve_chain.steps[1] is solver
    assert (planner.model_dump(), solver.model_dump()) == dump
    assert {k: (v, v.bound) for k, v in graph.nodes.items()} == nodes_before
    cap = Capture()
    graph.invoke(G.QUESTION, {"callbacks": [cap]})
    assert [p["model"] for p in cap.params] == ["sim/large", "sim/large"]


# ---------------------------------------------------------------------------------- kwargs,
# outputs
class Answer(BaseModel):
    value: int
    reason: str


class S(TypedDict, total=False):
    x: str
    y: Any


def one_node(fn) -> Any:
    b = StateGraph(S)
    b.add_node("ask", fn)
    b.add_edge(START, "ask")
    b.add_edge("ask", END)
    return b.compile()


def test_structured_output_and_response_format_survive_rebinding():
    base = chat_model("sim/large")
    structured = base.with_structured_output(Answer, method="function_calling")
    json_mode = base.bind(response_format={"type": "json_object"})

    def ask(state: S) -> S:
        return {"y": (structured.invoke(state["x"]),
                      json.loads(json_mode.invoke(state["x"]).content))}

    graph = one_node(ask)
    with aa.bind(graph, {"ask": "sim/mini"}) as run:
        out, usage = run({"x": "What is 2 + 3?"})
    parsed, as_json = out["y"]
    assert isinstance(parsed, Answer)
    assert isinstance(as_json, dict)
    assert [c.model for c in usage] == ["sim/mini", "sim/mini"]


def test_assignment_accepts_model_objects_and_kwargs():
    graph = G.planner_solver()
    cap = Capture()
    with aa.bind(graph,
                 {"plan": chat_model("sim/xl"),
                  "solve": {"model": "sim/mini", "kwargs": {"max_tokens": 2}}}) as run:
        _, usage = run(G.QUESTION, config={"callbacks": [cap]})
    assert usage.models_by_slot() == {"plan": {"sim/xl"}, "solve": {"sim/mini"}}
    assert usage.calls[1].output_tokens <= 2 and cap.params[1]["temperature"] == 0.0


# ---------------------------------------------------------------------------------- async /
# streaming
def test_acall_routes_like_call():
    graph = G.agent_subgraph()

    async def main():
        with aa.bind(graph, {"research.agent": "sim/nano", "summarize": "sim/large"}) as run:
            return await run.acall(G.MESSAGES)

    out, usage = asyncio.run(main())
    assert usage.models_by_slot() == {"research.agent": {"sim/nano"}, "summarize": {"sim/large"}}
    assert served(out["messages"])[-1] == "sim/large"


def test_stream_and_astream_graph_and_model_level_streaming():
    base = chat_model("sim/large")

    def ask(state: S) -> S:  # the node streams its model
        return {"y": "".join(str(chunk.content) for chunk in base.stream(state["x"]))}

    graph = one_node(ask)
    with aa.bind(graph, {"ask": "sim/nano"}) as run:
        stream = run.stream({"x": "What is 6 + 7?"}, stream_mode="updates")
        chunks = list(stream)
        assert chunks and chunks[-1]["ask"]["y"]
        assert [c.model for c in stream.usage] == ["sim/nano"]
        assert stream.usage.calls[0].output_tokens > 0

        msgs = run.stream({"x": "What is 6 + 7?"}, stream_mode="messages")
        tokens = [m for m, meta in msgs]
        assert tokens and {t.response_metadata.get("model_name") for t in tokens} >= {"sim/nano"}

        async def consume():
            s = run.astream({"x": "What is 6 + 7?"}, stream_mode="updates")
            got = [c async for c in s]
            return got, s.usage

        got, usage = asyncio.run(consume())
        assert got and [c.model for c in usage] == ["sim/nano"]

        async def events():
            names = []
            async for ev in G.react_class().astream_events(G.MESSAGES, version="v2"):
                if ev["event"] == "on_chat_model_end":
                    names.append(ev["data"]["output"].response_metadata.get("model_name"))
            return names

        assert set(asyncio.run(events())) == {"sim/medium"}  # outside the runner: the user's model


# ---------------------------------------------------------------------------------- gaps and
# errors
def test_unattributed_call_is_reported_not_dropped():
    planner = G.PLANNER

    def ask(state: S, config) -> S:
        handlers = list(config["callbacks"].handlers)  # user passes bare handlers to a thread
        result: dict[str, Any] = {}

        def work():
            stray = chat_model("sim/nano")  # built in the thread: no node, no known model
            result["a"] = stray.invoke(state["x"], {"callbacks": handlers}).content

        t = threading.Thread(target=work)
        t.start()
        t.join()
        return {"y": str(planner.invoke(state["x"]).content) + str(result["a"])}

    graph = one_node(ask)
    with aa.bind(graph, {"ask": "sim/small"}) as run:
        _, usage = run({"x": "What is 1 + 2?"})
    assert len(usage) == 2
    assert [c.slot for c in usage.unattributed] == [None]
    assert usage.unattributed[0].model == "sim/nano"
    assert usage.by_slot()["ask"][0].model == "sim/small"


def test_unknown_slot_and_bad_values_are_clear_errors():
    graph = G.planner_solver()
    with pytest.raises(aa.SlotError, match=r"unknown slot\(s\) \['slove'\].*\['plan', 'solve'\]"):
        aa.bind(graph, {"slove": "sim/small"})
    with pytest.raises(aa.SlotError, match="unknown slot"):
        aa.bind(graph, {"tools": "sim/small"})
    with pytest.raises(aa.ConfigError, match="model string"):
        aa.bind(graph, {"plan": 42})
    with pytest.raises(aa.ModelError, match="plan"):
        aa.bind(graph, {"plan": "sim/does-not-exist"})


# ---------------------------------------------------------------------------------- more graph
# shapes
def _react(llm, tools, **compile_kwargs):
    from langgraph.prebuilt import ToolNode, tools_condition

    b = StateGraph(G.MsgState)
    b.add_node("agent", G.Agent(llm, tools))
    b.add_node("tools", ToolNode(tools))
    b.add_edge(START, "agent")
    b.add_conditional_edges("agent", tools_condition)
    b.add_edge("tools", "agent")
    return b.compile(**compile_kwargs)


def test_create_agent_subgraph_node_routes():
    from langchain.agents import create_agent

    b = StateGraph(G.MsgState)
    b.add_node("research", create_agent(chat_model("sim/mini"), G.TOOLS))
    b.add_edge(START, "research")
    b.add_edge("research", END)
    graph = b.compile()
    assert [s.name for s in aa.discover(graph)] == ["research.model"]
    with aa.bind(graph, {"research.model": "sim/large"}) as run:
        out, usage = run(G.MESSAGES)
    assert usage.models_by_slot() == {"research.model": {"sim/large"}} and len(usage) >= 2
    assert set(served(out["messages"])) == {"sim/large"}


def test_subgraph_invoked_in_node_with_its_own_thread_id():
    from langgraph.checkpoint.memory import InMemorySaver

    sub = _react(chat_model("sim/medium"), G.TOOLS, checkpointer=InMemorySaver())

    def delegate(state: G.MsgState) -> dict:
        res = sub.invoke({"messages": state["messages"]},
                         {"configurable": {"thread_id": "private"}})
        return {"messages": res["messages"][-1:]}

    b = StateGraph(G.MsgState)
    b.add_node("delegate", delegate)
    b.add_edge(START, "delegate")
    b.add_edge("delegate", END)
    graph = b.compile()
    assert [s.name for s in aa.discover(graph)] == ["delegate.agent"]
    with aa.bind(graph, {"delegate.agent": "sim/nano"}) as run:
        _, usage = run(G.MESSAGES)
    assert usage.models_by_slot() == {"delegate.agent": {"sim/nano"}}


def test_model_called_inside_a_tool_is_the_tools_slot():
    from langchain_core.tools import tool

    helper = chat_model("sim/small")

    @tool
    def lookup(q: str) -> str:
        """Look something up."""
        return str(helper.invoke(q).content)

    graph = _react(chat_model("sim/medium"), [lookup])
    slots = {s.name: s for s in aa.discover(graph)}
    # the tool held by Agent for bind_tools is not agent#2
    assert list(slots) == ["agent", "tools"]
    assert "tool 'lookup'" in slots["tools"].where
    with aa.bind(graph, {"tools": "sim/xl"}) as run:
        _, usage = run(G.MESSAGES)
    assert [(c.slot, c.model) for c in usage] == [("agent", "sim/medium"), ("tools", "sim/xl"),
                                                  ("agent", "sim/medium")]
