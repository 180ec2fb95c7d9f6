"""Search traffic is recognisable in tracing tools: every evaluation ``optimize`` runs on a
LangGraph app carries the tag ``agentopt`` and the metadata ``agentopt_combination`` /
``agentopt_example`` (with the user's own config merged), and ``tracing=False`` turns
LangChain/LangSmith tracing off for the search."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import RunnableConfig

import agentopt_adapters as aa
import lg_graphs as G
from agentopt_adapters.sim.tasks import load_task

TASK = load_task("arithmetic")
DATA = [{"question": it["question"], "answer": it["answer"]} for it in TASK.items[:4]]
CANDIDATES = ["sim/nano", "sim/small"]


class Seen(BaseCallbackHandler):
    """Tags and metadata of every graph run (root chain) and every chat model call."""

    def __init__(self) -> None:
        self.roots: list[tuple[set[str], dict[str, Any]]] = []
        self.chats: list[tuple[set[str], dict[str, Any], dict[str, Any]]] = []
        self.lock = threading.Lock()

    def on_chain_start(self, serialized, inputs, *, run_id, parent_run_id=None, tags=None,
                       metadata=None, **kw):
        if parent_run_id is None:
            with self.lock:
                self.roots.append((set(tags or []), dict(metadata or {})))

    def on_chat_model_start(self, serialized, messages, *, run_id, parent_run_id=None, tags=None,
                            metadata=None, **kw):
        with self.lock:
            params = dict(kw.get("invocation_params") or {})
            self.chats.append((set(tags or []), dict(metadata or {}), params))


def test_each_evaluation_run_carries_the_agentopt_tag_combination_and_example():
    seen = Seen()
    config: RunnableConfig = {"callbacks": [seen], "tags": ["my-app"],
                              "metadata": {"team": "research"}}
    res = aa.optimize(G.planner_solver(), DATA, TASK.metric, candidates=CANDIDATES,
                      strategy="brute_force", config=config, max_concurrency=4, progress=False)
    keys = {f"plan={p}|solve={s}" for p in CANDIDATES for s in CANDIDATES}
    keys.add("plan=(current)|solve=(current)")
    assert {r.key for r in res.leaderboard} | {res.baseline.key} == keys
    cells = {(k, i) for k in keys for i in range(len(DATA))}
    # one graph run per evaluation, each named by its combination and dataset index
    assert len(seen.roots) == len(cells)
    assert {(m["agentopt_combination"], m["agentopt_example"]) for _, m in seen.roots} == cells
    for tags, metadata in seen.roots:
        assert {"agentopt", "my-app"} <= tags and metadata["team"] == "research"
    # the model calls inside inherit them, and each is the model the combination gives its slot
    assert len(seen.chats) == 2 * len(cells)
    for tags, metadata, params in seen.chats:
        assert "agentopt" in tags and metadata["team"] == "research"
        assignment = dict(kv.split("=", 1) for kv in metadata["agentopt_combination"].split("|"))
        want = assignment[metadata["agentopt_slot"]]
        assert params["model"] == ("sim/large" if want == "(current)" else want)
    assert {(m["agentopt_combination"], m["agentopt_example"]) for _, m, _ in seen.chats} == cells
    # not mutated
    assert config == {"callbacks": [seen], "tags": ["my-app"], "metadata": {"team": "research"}}


def test_tracing_false_turns_langchain_tracing_off_for_the_search(monkeypatch):
    from langsmith.run_helpers import get_tracing_context
    from langsmith.utils import get_env_var, tracing_is_enabled

    monkeypatch.setenv("LANGSMITH_TRACING", "true")  # the user's environment traces everything
    get_env_var.cache_clear()  # langsmith caches environment reads
    assert tracing_is_enabled()  # so this test could fail
    seen: list[tuple[Any, bool, bool]] = []
    try:
        res = aa.optimize(G.tracing_probe(seen), DATA, TASK.metric, candidates=CANDIDATES,
                          strategy="brute_force", tracing=False, max_concurrency=4, progress=False)
        # two candidates and the baseline, every example
        assert res.n_paid == len(seen) == 3 * len(DATA)
        assert set(seen) == {(False, False, False)}
        assert get_tracing_context()["enabled"] is None  # the caller's context is untouched
        assert tracing_is_enabled()
    finally:
        monkeypatch.delenv("LANGSMITH_TRACING")
        get_env_var.cache_clear()


def test_tracing_is_a_langgraph_setting_only():
    def app(models: dict[str, str], example: Any) -> str:
        return "4"

    app.agentopt_slots = {"solve": "sim/large"}  # type: ignore[attr-defined]
    with pytest.raises(aa.AgentOptError, match="LangGraph runtime inputs"):
        aa.optimize(app, DATA, TASK.metric, candidates=CANDIDATES, config={"tags": ["x"]},
                    progress=False)
