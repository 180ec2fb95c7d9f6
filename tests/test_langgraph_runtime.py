"""Async graphs (probe, run, acall, prefers_async), LangGraph runtime context, per-run config
(tags / metadata merged with the binding's), and tracing switched off for a binding."""

from __future__ import annotations

import asyncio
import threading
import warnings
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AnyMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.runtime import Runtime

import agentopt_adapters as aa
import lg_graphs as G
from agentopt_adapters.models import chat_model

warnings.filterwarnings("ignore", category=DeprecationWarning)


class S(TypedDict, total=False):
    x: str
    y: str
    z: str


DRAFTER = chat_model("sim/mini")


async def draft(state: S) -> S:
    return {"y": str((await DRAFTER.ainvoke(state["x"])).content)}


async def finish(state: S) -> S:
    llm = chat_model("sim/xl")  # built at call time: only the probe sees it
    return {"z": str((await llm.ainvoke(f"{state['x']} Draft: {state['y']}")).content)}


def async_graph() -> Any:
    b = StateGraph(S)
    b.add_node("draft", draft)
    b.add_node("finish", finish)
    b.add_edge(START, "draft")
    b.add_edge("draft", "finish")
    b.add_edge("finish", END)
    return b.compile()


# ---------------------------------------------------------------------------------- async
def test_probe_awaits_an_async_graph_and_finds_call_time_models():
    graph = async_graph()
    slots = {s.name: s.default_model
             for s in aa.discover(graph, probe_input={"x": "What is 2 + 2?"})}
    assert slots == {"draft": "sim/mini", "finish": "sim/xl"}


def test_async_only_graph_runs_from_sync_code_and_awaited():
    graph = async_graph()
    with aa.bind(graph, {"draft": "sim/nano", "finish": "sim/small"}) as run:
        assert run.prefers_async
        out, usage = run({"x": "What is 2 + 2?"})  # no loop here: runs on a private loop
        assert out["z"] and [(c.slot, c.model) for c in usage] == [("draft", "sim/nano"),
                                                                   ("finish", "sim/small")]

        async def inside_a_running_loop():
            sync_result = run({"x": "What is 3 + 3?"})  # a sync call from async code still works
            return sync_result, await run.acall({"x": "What is 3 + 3?"})

        (_, u1), (_, u2) = asyncio.run(inside_a_running_loop())
    assert [c.model for c in u1] == [c.model for c in u2] == ["sim/nano", "sim/small"]


def test_sync_graph_prefers_sync_and_acall_works():
    graph = G.planner_solver()
    with aa.bind(graph, {"plan": "sim/nano"}) as run:
        assert not run.prefers_async
        _, usage = asyncio.run(run.acall(G.QUESTION))
    assert [(c.slot, c.model) for c in usage] == [("plan", "sim/nano"), ("solve", "sim/large")]


# ---------------------------------------------------------------------------------- runtime
# context
@dataclass
class Context:
    """Like the official ReAct-agent template:
    the model and prompt come from the runtime context."""

    model: str = "sim/large"
    system_prompt: str = "You are a helpful assistant."


class M(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


async def call_model(state: M, runtime: Runtime[Context]) -> dict:
    model = chat_model(runtime.context.model).bind_tools(G.TOOLS)
    reply = await model.ainvoke([SystemMessage(runtime.context.system_prompt), *state["messages"]])
    return {"messages": [reply]}


def react_template() -> Any:
    b = StateGraph(M, context_schema=Context)
    b.add_node("call_model", call_model)
    b.add_node("tools", ToolNode(G.TOOLS))
    b.add_edge(START, "call_model")
    b.add_conditional_edges("call_model", tools_condition)
    b.add_edge("tools", "call_model")
    return b.compile()


def test_runtime_context_reaches_the_nodes_and_the_slot_is_routed():
    graph = react_template()
    slots = {s.name: s.default_model for s in aa.discover(graph, probe_input=G.MESSAGES,
                                                           probe_context=Context(model="sim/medium"))}
    assert slots == {"call_model": "sim/medium"}
    with aa.bind(graph, {}, context=Context(model="sim/small")) as run:
        _, usage = run(G.MESSAGES)
        assert {c.model for c in usage} == {"sim/small"} and len(usage) >= 2
        # per run, a dict coerced by LangGraph
        _, usage = run(G.MESSAGES, context={"model": "sim/mini"})
        assert {c.model for c in usage} == {"sim/mini"}
    with aa.bind(graph, {"call_model": "sim/nano"}, context=Context()) as run:
        _, usage = run(G.MESSAGES)
    assert usage.models_by_slot() == {"call_model": {"sim/nano"}}


def test_missing_runtime_context_error_says_what_to_pass():
    with aa.bind(react_template(), {}) as run, pytest.raises(AttributeError) as info:
        run(G.MESSAGES)
    assert "context_schema='Context'" in "\n".join(getattr(info.value, "__notes__", []))


# ---------------------------------------------------------------------------------- config and
# tracing
class Seen(BaseCallbackHandler):
    run_inline = True

    def __init__(self) -> None:
        self.starts: list[tuple[list[str], dict[str, Any]]] = []
        self.lock = threading.Lock()

    def on_chat_model_start(self, serialized, messages, *, run_id, tags=None, metadata=None, **kw):
        with self.lock:
            self.starts.append((list(tags or []), dict(metadata or {})))


def test_run_config_tags_and_metadata_merge_with_the_bindings():
    seen_bind, seen_run = Seen(), Seen()
    user_cfg: RunnableConfig = {"tags": ["my-app"],
                                "metadata": {"team": "research", "agentopt_example": -1},
                                "callbacks": [seen_bind]}
    search_cfg: RunnableConfig = {"tags": ["agentopt"], "callbacks": [seen_run],
                                  "metadata": {"agentopt_combination": "plan=sim/nano",
                                               "agentopt_example": 3}}
    with aa.bind(G.planner_solver(), {"plan": "sim/nano"}, config=user_cfg) as run:
        _, usage = run(G.QUESTION, config=search_cfg)
    assert len(usage) == 2 and len(seen_bind.starts) == len(seen_run.starts) == 2
    for tags, metadata in seen_run.starts:
        assert {"my-app", "agentopt"} <= set(tags)
        assert metadata["team"] == "research" and metadata["agentopt_example"] == 3
        assert metadata["agentopt_combination"] == "plan=sim/nano"
    assert seen_run.starts[0][1]["agentopt_slot"] == "plan"


def test_tracing_off_for_a_binding(monkeypatch):
    from langsmith.run_helpers import get_tracing_context
    from langsmith.utils import get_env_var, tracing_is_enabled

    monkeypatch.setenv("LANGSMITH_TRACING", "true")  # the user's environment traces everything
    get_env_var.cache_clear()  # langsmith caches environment reads
    assert tracing_is_enabled()  # so this test could fail
    seen: list[tuple[Any, bool, bool]] = []

    graph = G.tracing_probe(seen)
    with aa.bind(graph, {"ask": "sim/nano"}, tracing=False) as run:
        _, usage = run({"question": "What is 1 + 1?"})
        asyncio.run(run.acall({"question": "What is 1 + 1?"}))
        list(run.stream({"question": "What is 1 + 1?"}))
    try:
        assert seen == [(False, False, False)] * 3
        assert [c.model for c in usage] == ["sim/nano"]
        assert get_tracing_context()["enabled"] is None  # the caller's context is untouched
    finally:
        monkeypatch.delenv("LANGSMITH_TRACING")
        get_env_var.cache_clear()


def test_unknown_bind_option_is_a_clear_error():
    with pytest.raises(TypeError, match="tracin"):
        aa.bind(G.planner_solver(), {}, tracin=False)


# ---------------------------------------------------------------------------------- failures
def failing_after_one_call() -> Any:
    def think(state: S) -> S:
        # built at call time
        return {"y": str(chat_model("sim/medium").invoke(state["x"]).content)}

    def explode(state: S) -> S:
        raise ValueError("the app's own bug")

    b = StateGraph(S)
    b.add_node("think", think)
    b.add_node("explode", explode)
    b.add_edge(START, "think")
    b.add_edge("think", "explode")
    b.add_edge("explode", END)
    return b.compile()


def test_a_failing_probe_keeps_what_it_saw_and_a_failing_run_keeps_what_it_paid():
    graph = failing_after_one_call()
    with pytest.warns(RuntimeWarning,
                      match=r"probe run .* failed after 1 model call\(s\) \(ValueError"):
        slots = {s.name: s.default_model
                 for s in aa.discover(graph, probe_input={"x": "What is 5 + 5?"})}
    assert slots == {"think": "sim/medium"}
    with aa.bind(graph, {"think": "sim/nano"}) as run:
        with pytest.raises(ValueError, match="own bug") as info:
            run({"x": "What is 5 + 5?"})
    paid = info.value.agentopt_usage
    assert [(c.slot, c.model) for c in paid] == [("think", "sim/nano")] and paid.cost_usd > 0
