"""optimize() on the shapes public apps have (found trying them as a new user would; the apps here
are our own small ones): a model built at run time from the runtime context (the LangGraph ReAct
template) or set in forward (STORM's outline writer), an async graph whose ChatOpenAI client
already ran on an event loop that is closed (the user tried the graph with asyncio.run first), and
a graph run without the runtime context it declares."""

from __future__ import annotations

import asyncio
import warnings
from dataclasses import dataclass
from typing import Any, TypedDict

import pytest
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

import agentopt_adapters as aa
from agentopt_adapters.models import chat_model
from agentopt_adapters.sim.server import serve_in_thread
from agentopt_search import SearchError

warnings.filterwarnings("ignore", category=DeprecationWarning)

QUESTIONS = [{"q": f"What is {i} + {i + 1}?"} for i in range(3)]


def always(example: Any, output: Any) -> float:
    return 1.0


class S(TypedDict, total=False):
    q: str
    a: str


def one_node(fn: Any, **graph_kw: Any) -> Any:
    b = StateGraph(S, **graph_kw)
    b.add_node("answer", fn)
    b.add_edge(START, "answer")
    b.add_edge("answer", END)
    return b.compile()


@dataclass
class Context:
    model: str = "sim/large"


async def answer_from_context(state: S, runtime: Runtime[Context]) -> S:
    model = chat_model(runtime.context.model)  # built at run time: discovery cannot know it
    return {"a": (await model.ainvoke([HumanMessage(state["q"])])).content}


def test_baseline_models_are_the_models_the_baseline_called_when_discovery_cannot_know():
    graph = one_node(answer_from_context, context_schema=Context)
    assert [s.default_model for s in aa.discover(graph)] == [None]
    res = aa.optimize(graph, QUESTIONS, always, candidates=["sim/nano"],
                      context=Context(model="sim/medium"), progress=False, max_concurrency=2)
    assert res.baseline.n == len(QUESTIONS) and res.baseline.n_errors == 0
    assert res.baseline_models == {"answer": "sim/medium"}
    assert res.to_dict()["baseline_models"] == {"answer": "sim/medium"}


def test_dspy_engine_set_in_forward_is_the_baseline_model():
    dspy = pytest.importorskip("dspy")

    class Outline(dspy.Module):  # like STORM's WriteOutline: its engine is set in forward
        def __init__(self, engine: Any) -> None:
            super().__init__()
            self.engine = engine
            self.draft = dspy.Predict("topic -> outline")

        def forward(self, topic: str) -> Any:
            with dspy.context(lm=self.engine):
                return self.draft(topic=topic)

    program = Outline(dspy.LM("sim/large"))
    data = [dspy.Example(topic=t).with_inputs("topic") for t in ("rivers", "bridges")]
    res = aa.optimize(program, data, always, candidates=["sim/nano"], progress=False,
                      max_concurrency=2)
    assert res.baseline.n_errors == 0
    assert res.baseline_models == {s.name: "sim/large" for s in res.slots}


def test_a_client_left_from_a_closed_event_loop_does_not_fail_the_baseline():
    server = serve_in_thread(port=0)
    try:
        own = ChatOpenAI(model="sim/large", base_url=server.url, api_key="k", max_retries=0)

        async def answer(state: S) -> S:
            return {"a": (await own.ainvoke(state["q"])).content}

        graph = one_node(answer)
        # the user tries the graph: its client now holds a closed loop
        asyncio.run(graph.ainvoke(QUESTIONS[0]))
        for _ in range(2):
            # and optimize twice in one process (each search runs on a loop of its own)
            res = aa.optimize(graph, QUESTIONS, always, candidates=["sim/nano"], progress=False,
                              max_concurrency=2)
            assert res.baseline.n_errors == 0, res.baseline.first_error
            assert res.baseline.mean_score == 1.0
            assert res.baseline_models == {"answer": "sim/large"}
    finally:
        server.stop()


def test_a_graph_run_without_its_runtime_context_says_to_pass_context():
    graph = one_node(answer_from_context, context_schema=Context)
    with pytest.raises(SearchError,
                       match=r"context_schema='Context'.*optimize\(\.\.\., context=") as info:
        aa.optimize(graph, QUESTIONS, always, candidates=["sim/nano"], progress=False,
                    max_concurrency=2)
    # LangGraph's own per-task note is not repeated
    assert "During task with name" not in str(info.value)
