"""10,000 model calls from 32 bound assignments at once (threads and asyncio, a LangGraph graph and
a plain callable sharing the process) against the simulated OpenAI-compatible server: no call
reaches another assignment's or slot's model, and the usage the adapters record equals the server's
own request log.

Every prompt carries ``[tag:<assignment>:<slot>]``; the server logs the tag with the model it
served.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import random
import re
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypedDict

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph

import agentopt_adapters as aa
from agentopt_adapters.callable import acompletion, completion
from agentopt_adapters.models import chat_model

pytestmark = pytest.mark.slow

SLOTS = ("plan", "solve", "check")
MODELS = ["sim/nano", "sim/mini", "sim/small", "sim/medium", "sim/large", "sim/xl", "sim/frontier",
          "sim/maverick"]
N_ASSIGNMENTS = 32
MIN_CALLS = 10_000
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server_url():
    """The sim server in its own process (its own core and GIL); time scale 0. It binds port 0
    itself and prints the port it got (a port probed here and passed on could be taken by then on a
    busy machine)."""
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "agentopt_adapters.cli", "sim-server", "--port",
                             "0", "--time-scale", "0"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        banner = proc.stdout.readline()  # printed once the socket is bound
        found = re.search(r"http://127\.0\.0\.1:(\d+)/v1", banner)
        assert found and found.group(1) != "0", banner + proc.stdout.read()
        yield found.group(0)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.loads(r.read())


# ---- the apps: a 3-node LangGraph graph and a 3-slot callable (sync and async) ------------------

class State(TypedDict, total=False):
    tag: str
    question: str
    plan: str
    answer: str
    verdict: str


def build_graph(url: str) -> Any:
    plan_llm = chat_model("openai/sim/large", api_base=url)
    solve_llm = chat_model("openai/sim/large", api_base=url)
    check_llm = chat_model("openai/sim/large", api_base=url)

    def plan(state: State) -> State:
        msg = plan_llm.invoke([SystemMessage(f"You are a planner. [tag:{state['tag']}:plan]"),
                               HumanMessage(state["question"])])
        return {"plan": msg.content}

    def solve(state: State) -> State:
        msg = solve_llm.invoke([SystemMessage(f"Solve it. [tag:{state['tag']}:solve]"),
                                HumanMessage(f"{state['question']}\nPlan: {state['plan']}")])
        return {"answer": msg.content}

    def check(state: State) -> State:
        msg = check_llm.invoke([SystemMessage(f"Check the answer. [tag:{state['tag']}:check]"),
                                HumanMessage(f"{state['question']}\nAnswer: {state['answer']}")])
        return {"verdict": msg.content}

    b = StateGraph(State)
    for name, fn in (("plan", plan), ("solve", solve), ("check", check)):
        b.add_node(name, fn)
    b.add_edge(START, "plan")
    b.add_edge("plan", "solve")
    b.add_edge("solve", "check")
    b.add_edge("check", END)
    return b.compile()


def _messages(ex: dict[str, str], slot: str, text: str) -> list[dict[str, str]]:
    """The run's id in every prompt makes each call's request body unique
    (a retry is then visible)."""
    return [{"role": "system",
             "content": f"You are the {slot} step of run {ex['run']}. [tag:{ex['tag']}:{slot}]"},
            {"role": "user", "content": text}]


def make_callables(url: str) -> tuple[Any, Any]:
    def app(models: dict[str, str], ex: dict[str, str]) -> str:
        text = ex["question"]
        for slot in SLOTS:
            text = completion(models, slot, messages=_messages(ex, slot, text), api_base=url,
                              api_key="sim").choices[0].message.content
        return text

    async def aapp(models: dict[str, str], ex: dict[str, str]) -> str:
        text = ex["question"]
        for slot in SLOTS:
            resp = await acompletion(models, slot, messages=_messages(ex, slot, text),
                                     api_base=url, api_key="sim")
            text = resp.choices[0].message.content
        return text

    app.agentopt_slots = aapp.agentopt_slots = list(SLOTS)
    return app, aapp


def _assignments() -> list[dict[str, str]]:
    """32 distinct assignments, each with a different model in every slot
    (so any leak is visible)."""
    rng = random.Random(11)
    seen: set[tuple[str, ...]] = set()
    while len(seen) < N_ASSIGNMENTS:
        seen.add(tuple(rng.sample(MODELS, len(SLOTS))))
    return [dict(zip(SLOTS, models)) for models in sorted(seen)]


def test_10k_calls_32_assignments_zero_misrouted_usage_matches_server(server_url):
    url = server_url
    assert _get(url.replace("/v1", "/sim/stats"))["requests"] == 0
    graph = build_graph(url)
    assert [s.name for s in aa.discover(graph)] == list(SLOTS)
    app, aapp = make_callables(url)
    plan = _assignments()
    # 8 LangGraph (threads + asyncio), 12 callable in threads, 12 async callable on the event loop
    kinds = ["graph"] * 8 + ["callable"] * 12 + ["async"] * 12
    n_runs = -(-MIN_CALLS // len(SLOTS))  # 3,334 runs x 3 calls
    # LangGraph runs cost ~2x the CPU of a callable's: 40 per graph assignment, the rest spread
    # evenly
    graph_ids = [i for i, k in enumerate(kinds) if k == "graph"]
    other_ids = [i for i, k in enumerate(kinds) if k != "graph"]
    owners = [aid for aid in graph_ids for _ in range(40)]
    owners += [other_ids[k % len(other_ids)] for k in range(n_runs - len(owners))]
    jobs = [(aid, k) for k, aid in enumerate(owners)]
    random.Random(3).shuffle(jobs)

    recorded: dict[tuple[int, int], list[Any]] = {}  # (assignment, run) -> usage calls

    with ExitStack() as stack:
        runners = []
        for a, kind in zip(plan, kinds):
            target = {"graph": graph, "callable": app, "async": aapp}[kind]
            spec = {s: {"model": f"openai/{m}", "kwargs": {"api_base": url}}
                    for s, m in a.items()} if kind == "graph" else \
                {s: f"openai/{m}" for s, m in a.items()}
            runners.append((kind, stack.enter_context(aa.bind(target, spec))))

        def example(aid: int, k: int) -> dict[str, str]:
            q = f"What is {k % 97} + {aid}? (run {k})"
            return {"tag": f"A{aid}", "question": q, "run": f"{aid}/{k}"}

        def sync_job(job: tuple[int, int]) -> None:
            aid, k = job
            _, usage = runners[aid][1](example(aid, k))
            recorded[(aid, k)] = list(usage)

        async def async_jobs(mine: list[tuple[int, int]]) -> None:
            sem = asyncio.Semaphore(32)

            async def one(job: tuple[int, int]) -> None:
                aid, k = job
                async with sem:
                    _, usage = await runners[aid][1].acall(example(aid, k))
                recorded[(aid, k)] = list(usage)

            await asyncio.gather(*(one(j) for j in mine))

        # asyncio: the async callables and every third LangGraph run (ainvoke); threads: the rest
        on_loop = [j for j in jobs
                   if kinds[j[0]] == "async" or (kinds[j[0]] == "graph" and j[1] % 3 == 0)]
        looped = set(on_loop)
        in_threads = [j for j in jobs if j not in looped]
        with ThreadPoolExecutor(max_workers=9) as pool:
            loop_done = pool.submit(asyncio.run, async_jobs(on_loop))
            list(pool.map(sync_job, in_threads))
            loop_done.result()

    assert len(recorded) == n_runs
    # adapter side: every recorded call names its slot and the assignment's model for it
    per_tag: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    per_model: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    wrong_recorded = 0
    for (aid, _), calls in recorded.items():
        assert sorted(c.slot for c in calls) == sorted(SLOTS), calls
        for c in calls:
            wrong_recorded += c.model != f"openai/{plan[aid][c.slot]}"
            for counter in (per_tag[f"A{aid}:{c.slot}"],
                            per_model[c.model.removeprefix("openai/")]):
                counter.update(requests=1, input_tokens=c.input_tokens,
                               output_tokens=c.output_tokens)

    # server side: its own log of every request, the model it served and the tag in the prompt.
    # Every call's prompt is unique, so one request body is one call: a body logged twice is a
    # client retry of a reply lost in transit (e.g. a dropped connection on a busy machine),
    # answered alike both times
    log = _get(url.replace("/v1", "/sim/requests"))
    n_calls = sum(len(c) for c in recorded.values())
    misrouted = 0
    first: dict[str, dict[str, Any]] = {}
    retried: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    server_tag: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for r in log:
        assert r["status"] == 200 and r["tag"], r
        aid, slot = r["tag"][1:].split(":")
        misrouted += r["model"] != plan[int(aid)][slot]
        usage = dict(requests=1, input_tokens=r["input_tokens"], output_tokens=r["output_tokens"])
        if r["key"] in first:
            assert _same_call(r, first[r["key"]]), (r, first[r["key"]])
            retried[r["model"]].update(usage)
            continue
        first[r["key"]] = r
        server_tag[r["tag"]].update(usage)
    server_model = {m: collections.Counter(u)
                    for m, u in _get(url.replace("/v1", "/sim/stats"))["usage_by_model"].items()}
    n_retried = len(log) - len(first)
    print(f"\n{n_calls} calls from {len(plan)} assignments ({collections.Counter(kinds)}), "
          f"{len(log)} server requests ({n_retried} retried), misrouted: {misrouted} at the "
          f"server, {wrong_recorded} in the recorded usage; usage totals "
          f"{'match' if _plus(per_model, retried) == server_model else 'DIFFER'}")
    # every call reached the server, nothing else did
    assert n_calls >= MIN_CALLS and len(first) == n_calls
    assert misrouted == 0 and wrong_recorded == 0
    assert per_tag == server_tag  # per assignment and slot: requests, input and output tokens
    # the server's totals: every call, and each retry
    assert _plus(per_model, retried) == server_model


def _same_call(a: dict[str, Any], b: dict[str, Any]) -> bool:
    fields = ("model", "tag", "status", "input_tokens", "output_tokens")
    return all(a[f] == b[f] for f in fields)


def _plus(*tables: dict[str, collections.Counter]) -> dict[str, collections.Counter]:
    out: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for table in tables:
        for key, counts in table.items():
            out[key].update(counts)
    return dict(out)
