"""Every call attributed and routed: subgraphs run with .batch / .abatch inside a node (LangGraph
adds a batch-index namespace segment), and a graph made by aa.apply used as a node of a parent
graph, with one model object serving several slots (the multi-level supervisor pattern)."""

from __future__ import annotations

import asyncio
import itertools
import threading
import warnings
from typing import Any, TypedDict

from langchain_core.callbacks import BaseCallbackHandler
from langgraph.graph import END, START, StateGraph

import agentopt_adapters as aa
from agentopt_adapters.models import chat_model

warnings.filterwarnings("ignore", category=DeprecationWarning)

QUESTIONS = ["What is 1 + 2?", "What is 3 + 4?", "What is 5 + 6?"]


class S(TypedDict, total=False):
    x: str
    draft: str
    y: Any


def chain(**nodes: Any) -> Any:
    b = StateGraph(S)
    names = list(nodes)
    for name, fn in nodes.items():
        b.add_node(name, fn)
    b.add_edge(START, names[0])
    for a, c in itertools.pairwise(names):
        b.add_edge(a, c)
    b.add_edge(names[-1], END)
    return b.compile()


def two_step_team(llm: Any) -> Any:
    """A subgraph whose two nodes share one model object."""
    def draft(state: S) -> S:
        return {"draft": str(llm.invoke(state["x"]).content)}

    async def check(state: S) -> S:
        return {"y": str((await llm.ainvoke(f"{state['x']} Draft: {state['draft']}")).content)}

    def check_sync(state: S) -> S:
        return {"y": str(llm.invoke(f"{state['x']} Draft: {state['draft']}").content)}

    return chain(draft=draft, check=check_sync), chain(draft=draft, check=check)


class NodeModels(BaseCallbackHandler):
    """(innermost node, model) of every chat-model call, as invoked."""

    run_inline = True

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def on_chat_model_start(self, serialized, messages, *, run_id, metadata=None, **kw):
        with self.lock:
            self.calls.append(((metadata or {}).get("langgraph_node"),
                               kw["invocation_params"]["model"]))


# ---------------------------------------------------------------------------------- batch / abatch
def test_subgraph_batch_inside_a_node_every_item_routed():
    llm = chat_model("sim/large")
    team, _ = two_step_team(llm)

    def fan(state: S) -> S:
        return {"y": [o["y"] for o in team.batch([{"x": q} for q in QUESTIONS])]}

    graph = chain(fan=fan)
    assert [s.name for s in aa.discover(graph)] == ["fan.draft", "fan.check"]
    with aa.bind(graph, {"fan.draft": "sim/nano", "fan.check": "sim/mini"}) as run:
        out, usage = run({"x": "go"})
    assert len(out["y"]) == 3 and len(usage) == 6 and usage.unattributed == []
    assert usage.models_by_slot() == {"fan.draft": {"sim/nano"}, "fan.check": {"sim/mini"}}


def test_subgraph_abatch_inside_an_async_node_every_item_routed():
    llm = chat_model("sim/large")
    _, team = two_step_team(llm)

    async def fan(state: S) -> S:
        return {"y": [o["y"] for o in await team.abatch([{"x": q} for q in QUESTIONS])]}

    graph = chain(fan=fan)
    with aa.bind(graph, {"fan.check": "sim/small"}) as run:
        assert run.prefers_async
        _, usage = asyncio.run(run.acall({"x": "go"}))
    assert len(usage) == 6 and usage.unattributed == []
    assert usage.models_by_slot() == {"fan.draft": {"sim/large"}, "fan.check": {"sim/small"}}


# ---------------------------------------------------------------------------------- applied graph
# nested
def supervisor_over(team: Any, llm: Any) -> Any:
    def plan(state: S) -> S:
        return {"x": f"{state['x']} ({llm.invoke(state['x']).content})"}

    return chain(plan=plan, team=team)


def test_applied_graph_as_a_node_of_a_parent_uses_its_config():
    llm = chat_model("sim/large")  # one object: the parent's planner and both team members
    team, ateam = two_step_team(llm)
    cfg = aa.export_config(team, {"draft": "sim/nano", "check": "sim/mini"})
    for applied in (aa.apply(team, cfg), aa.apply(ateam, cfg)):
        parent = supervisor_over(applied, llm)
        seen = NodeModels()
        if applied.nodes["check"].bound.func is None:
            asyncio.run(parent.ainvoke({"x": QUESTIONS[0]}, {"callbacks": [seen]}))
        else:
            parent.invoke({"x": QUESTIONS[0]}, {"callbacks": [seen]})
        assert seen.calls == [("plan", "sim/large"), ("draft", "sim/nano"), ("check", "sim/mini")]


def test_bound_parent_over_an_applied_graph_attributes_every_call_and_outer_assignment_wins():
    llm = chat_model("sim/large")
    team, _ = two_step_team(llm)
    parent = supervisor_over(aa.apply(team,
                                      aa.export_config(team,
                                                       {"draft": "sim/nano",
                                                        "check": "sim/mini"})), llm)
    slots = {s.name: s.default_model for s in aa.discover(parent)}
    assert slots == {"plan": "sim/large", "team.draft": "sim/nano", "team.check": "sim/mini"}

    with aa.bind(parent, {}) as run:  # the app as it is: the applied config runs inside
        _, usage = run({"x": QUESTIONS[1]})
    assert [(c.slot, c.model) for c in usage] == [("plan", "sim/large"),
                                                  ("team.draft", "sim/nano"),
                                                   ("team.check", "sim/mini")]
    with aa.bind(parent, {"team.draft": "sim/small", "plan": "sim/medium"}) as run:
        _, usage = run({"x": QUESTIONS[1]})
    assert [(c.slot, c.model) for c in usage] == [("plan", "sim/medium"),
                                                  ("team.draft", "sim/small"),
                                                   ("team.check", "sim/mini")]
