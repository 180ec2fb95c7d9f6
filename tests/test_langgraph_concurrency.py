"""Many assignments evaluated at once on the *same* graph objects, in threads and in asyncio tasks:
every chat-model call must run on its own assignment's model (>= 1,000 calls per mode, 0
misrouted)."""

from __future__ import annotations

import asyncio
import random
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import pytest
from langchain_core.messages import AIMessage

import agentopt_adapters as aa
import lg_graphs as G

warnings.filterwarnings("ignore", category=DeprecationWarning)

pytestmark = pytest.mark.slow  # thousands of calls per mode

MODELS = ["sim/nano", "sim/mini", "sim/small", "sim/medium", "sim/large", "sim/xl", "sim/frontier",
          "sim/maverick"]
GRAPHS = {
    "planner_solver": (G.planner_solver(), G.QUESTION),
    "react_class": (G.react_class(), G.MESSAGES),
    "agent_subgraph": (G.agent_subgraph(), G.MESSAGES),
    "calltime": (G.calltime(), G.QUESTION),
}
MIN_CALLS = 1000


def assignments(per_graph: int = 6) -> list[tuple[str, dict[str, str]]]:
    rng = random.Random(7)
    out = []
    for name, (graph, _) in GRAPHS.items():
        slots = [s.name for s in aa.discover(graph)]
        for _ in range(per_graph):
            out.append((name, {s: rng.choice(MODELS) for s in slots}))
    return out


def check(assignment: dict[str, str], out: Any, usage: aa.Usage) -> tuple[int, int]:
    """(calls, misrouted) for one run: recorded model per slot and the model the responses name."""
    misrouted = 0
    for call in usage:
        if call.slot is None or call.model != assignment[call.slot] or call.error:
            misrouted += 1
    if isinstance(out, dict) and "messages" in out:
        # what the serving models said about themselves
        served = [m.response_metadata.get("model_name") for m in out["messages"]
                  if isinstance(m, AIMessage)]
        expected = {assignment[c.slot] for c in usage if c.slot}
        misrouted += sum(1 for s in served if s not in expected)
        if "summarize" in assignment and served[-1] != assignment["summarize"]:
            misrouted += 1
    return len(usage), misrouted


def test_threads_many_assignments_zero_misrouted():
    plan = assignments()
    with ExitStack() as stack:
        runners = [(name, a, stack.enter_context(aa.bind(GRAPHS[name][0], a))) for name, a in plan]
        jobs = [runners[i % len(runners)] for i in range(480)]
        random.Random(1).shuffle(jobs)

        def work(job):
            name, a, run = job
            out, usage = run(GRAPHS[name][1])
            return check(a, out, usage)

        with ThreadPoolExecutor(max_workers=12) as pool:
            results = list(pool.map(work, jobs))
    calls = sum(c for c, _ in results)
    misrouted = sum(m for _, m in results)
    # the checker does catch a wrong model: the same run judged against another assignment
    name, a, _ = jobs[0]
    other = {slot: next(m for m in MODELS if m != model) for slot, model in a.items()}
    with aa.bind(GRAPHS[name][0], a) as run:
        out, usage = run(GRAPHS[name][1])
    assert check(a, out, usage)[1] == 0 and check(other, out, usage)[1] >= len(usage)
    print(f"\nthreads: {len(jobs)} runs, {len(plan)} assignments, {calls} calls, {misrouted} "
          "misrouted")
    assert calls >= MIN_CALLS
    assert misrouted == 0


def test_asyncio_many_assignments_zero_misrouted():
    plan = assignments()

    async def main():
        with ExitStack() as stack:
            runners = [(name, a, stack.enter_context(aa.bind(GRAPHS[name][0], a)))
                       for name, a in plan]
            jobs = [runners[i % len(runners)] for i in range(480)]
            random.Random(2).shuffle(jobs)

            async def one(job):
                name, a, run = job
                out, usage = await run.acall(GRAPHS[name][1])
                return check(a, out, usage)

            return await asyncio.gather(*(one(j) for j in jobs))

    results = asyncio.run(main())
    calls = sum(c for c, _ in results)
    misrouted = sum(m for _, m in results)
    print(f"\nasyncio: {len(results)} runs, {len(plan)} assignments, {calls} calls, {misrouted} "
          "misrouted")
    assert calls >= MIN_CALLS
    assert misrouted == 0


def test_threads_and_tasks_mixed_with_user_runs_outside_bindings():
    """Bound runs in threads and tasks while the user's own graph.invoke keeps its models."""
    graph, example = GRAPHS["planner_solver"]
    a1, a2 = {"plan": "sim/nano", "solve": "sim/xl"}, {"plan": "sim/maverick", "solve": "sim/mini"}
    with aa.bind(graph, a1) as r1, aa.bind(graph, a2) as r2:
        def thread_job(i: int):
            if i % 3 == 2:  # plain user call, no binding
                from langchain_core.callbacks import UsageMetadataCallbackHandler

                h = UsageMetadataCallbackHandler()
                graph.invoke(example, {"callbacks": [h]})
                return ("user", set(h.usage_metadata))
            a, run = (a1, r1) if i % 3 == 0 else (a2, r2)
            _, usage = run(example)
            return ("bound", check(a, None, usage))

        async def async_part():
            outs = await asyncio.gather(*(r.acall(example) for r in [r1, r2] * 60))
            return [check(a, None, u) for (_, u), a in zip(outs, [a1, a2] * 60)]

        with ThreadPoolExecutor(max_workers=8) as pool:
            fut = pool.submit(lambda: asyncio.run(async_part()))
            results = list(pool.map(thread_job, range(150)))
            async_results = fut.result()
    user = [r for kind, r in results if kind == "user"]
    bound = [r for kind, r in results if kind == "bound"] + async_results
    assert all(models == {"sim/large"} for models in user)  # user's models untouched throughout
    assert sum(m for _, m in bound) == 0 and sum(c for c, _ in bound) == 2 * len(bound)
