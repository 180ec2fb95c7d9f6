"""LangGraph export_config -> file -> apply -> run uses the exported models."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import textwrap
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import pytest
from langchain_core.callbacks import BaseCallbackHandler

import agentopt_adapters as aa
import lg_graphs as G

warnings.filterwarnings("ignore", category=DeprecationWarning)


class Models(BaseCallbackHandler):
    """(node path, model) of every chat-model call, as the serving model reports it."""

    run_inline = True

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def on_chat_model_start(self, serialized, messages, *, run_id, metadata=None, **kw):
        ns = (metadata or {}).get("langgraph_checkpoint_ns", "")
        path = ".".join(p.split(":")[0] for p in ns.split("|") if p)
        with self.lock:
            self.calls.append((path, kw["invocation_params"]["model"]))

    def by_node(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for path, model in self.calls:
            out.setdefault(path, set()).add(model)
        return out


CASES = [
    ("planner_solver", G.QUESTION, {"plan": "sim/nano", "solve": "sim/mini"},
     {"plan": {"sim/nano"}, "solve": {"sim/mini"}}),
    ("react_class", G.MESSAGES, {"agent": "sim/small"}, {"agent": {"sim/small"}}),
    ("agent_subgraph", G.MESSAGES, {"research.agent": "sim/nano", "summarize": "sim/maverick"},
     {"research.agent": {"sim/nano"}, "summarize": {"sim/maverick"}}),
    ("calltime", G.QUESTION, {"finalize": "sim/small"},
     {"draft": {"sim/mini"}, "finalize": {"sim/small"}}),
]


@pytest.mark.parametrize("name,example,assignment,expected", CASES, ids=[c[0] for c in CASES])
def test_export_file_apply_run(tmp_path, name, example, assignment, expected):
    graph = getattr(G, name)()
    cfg = aa.export_config(graph, assignment)
    assert cfg["format"] == "agentopt.assignment/v1" and cfg["framework"] == "langgraph"
    assert {k: v["model"] for k, v in cfg["slots"].items()} == assignment
    path = tmp_path / "assignment.json"
    path.write_text(json.dumps(cfg))
    tuned = aa.apply(graph, str(path))
    seen = Models()
    out = tuned.invoke(example, {"callbacks": [seen]})
    assert out
    assert seen.by_node() == expected
    # the user's graph is untouched
    seen = Models()
    graph.invoke(example, {"callbacks": [seen]})
    assert all(models.isdisjoint(expected[n]) or n not in assignment
               for n, models in seen.by_node().items())


def test_export_keeps_generation_kwargs_and_drops_secrets():
    graph = G.planner_solver()
    cfg = aa.export_config(graph,
                           {"plan": {"model": "sim/small",
                                     "kwargs": {"api_key": "sk-secret", "top_p": 0.5}},
                                   "solve": "sim/nano"})
    assert cfg["slots"]["plan"] == {"model": "sim/small", "kwargs": {"top_p": 0.5}}
    assert cfg["slots"]["solve"] == {"model": "sim/nano",
                                     "kwargs": {"temperature": 0.0, "max_tokens": 256}}
    assert "sk-secret" not in json.dumps(cfg)


def test_tuned_graph_streams_copies_and_runs_concurrently():
    graph = G.agent_subgraph()
    t1 = aa.apply(graph,
                  aa.export_config(graph, {"research.agent": "sim/mini", "summarize": "sim/mini"}))
    t2 = aa.apply(graph,
                  aa.export_config(graph,
                                   {"research.agent": "sim/large", "summarize": "sim/large"}))

    def run(tuned):
        seen = Models()
        tuned.invoke(G.MESSAGES, {"callbacks": [seen]})
        return {m for _, m in seen.calls}

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, [t1, t2] * 10))
    assert results == [{"sim/mini"}, {"sim/large"}] * 10

    seen = Models()
    chunks = list(t1.with_config(recursion_limit=40).stream(G.MESSAGES, {"callbacks": [seen]},
                                                            stream_mode="updates"))
    assert chunks and {m for _, m in seen.calls} == {"sim/mini"}

    async def astream():
        s = Models()
        got = [c async for c in t2.astream(G.MESSAGES, {"callbacks": [s]})]
        out = await t2.ainvoke(G.MESSAGES, {"callbacks": [s]})
        return got, out, {m for _, m in s.calls}

    got, out, models = asyncio.run(astream())
    assert got and out["messages"] and models == {"sim/large"}


def test_apply_errors_name_the_fix(tmp_path):
    graph = G.planner_solver()
    cfg = aa.export_config(graph, {"plan": "sim/nano"})
    typo = {**cfg, "slots": {"pln": cfg["slots"]["plan"]}}
    with pytest.raises(aa.SlotError,
                       match=r"config names unknown slot\(s\) \['pln'\].*\['plan', 'solve'\]"):
        aa.apply(graph, typo)
    with pytest.raises(aa.ConfigError, match="framework 'dspy'"):
        aa.apply(graph, {**cfg, "framework": "dspy"})
    with pytest.raises(aa.ConfigError, match="format"):
        aa.apply(graph, {"slots": cfg["slots"]})
    with pytest.raises(aa.ConfigError, match="does not exist"):
        aa.apply(graph, str(tmp_path / "missing.json"))
    with pytest.raises(aa.ModelError, match="plan"):
        aa.apply(graph, {**cfg, "slots": {"plan": {"model": "sim/nope", "kwargs": {}}}})


def test_apply_to_graph_defined_in_another_module(tmp_path, monkeypatch):
    (tmp_path / "user_app_graph.py").write_text(textwrap.dedent('''
        from typing import TypedDict
        from langgraph.graph import StateGraph, START, END
        from agentopt_adapters.models import chat_model

        llm = chat_model("sim/frontier")

        class State(TypedDict, total=False):
            question: str
            answer: str

        def answer(state):
            return {"answer": llm.invoke(state["question"]).content}

        builder = StateGraph(State)
        builder.add_node("answer", answer)
        builder.add_edge(START, "answer")
        builder.add_edge("answer", END)
        graph = builder.compile()
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    mod = importlib.import_module("user_app_graph")
    try:
        path = tmp_path / "best.json"
        path.write_text(json.dumps(aa.export_config(mod.graph, {"answer": "sim/nano"})))
        tuned = aa.apply(mod.graph, path)  # the one line a user adds to their app
        seen = Models()
        tuned.invoke({"question": "What is 4 + 4?"}, {"callbacks": [seen]})
        assert seen.calls == [("answer", "sim/nano")]
        assert mod.llm.model == "sim/frontier"
    finally:
        sys.modules.pop("user_app_graph", None)
