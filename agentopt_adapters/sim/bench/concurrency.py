"""Does ``max_concurrency`` mean what it says? ``aa.optimize`` on a 3-LLM-node LangGraph graph and
a 3-predictor DSPy program whose model calls sleep (the simulated zoo with a real-time scale).

    python -m agentopt_adapters.sim.bench.concurrency [--scale 0.3] [--examples 20]
        [--concurrency 8,32]

Speedup = the sum of every call's sleep (simulated latency x scale, all calls of the run, the
baseline's included) / the run's wall time. A run that evaluated examples one at a time would
score about 1x; ``max_concurrency=32`` should approach 32x when sleeps dominate.

Each framework first runs one untimed warm-up search with sleeps off (its ``cold s`` column): the
first ``optimize`` of a process imports the search engine (scipy) and litellm's lazily loaded
parts (about 1-2 s on 2 cores); that is paid once per process, not per evaluation, and would
otherwise be counted against whichever concurrency is measured first.

What limits the speedup, per row: ``cpu ms/call`` is the process CPU time of the run per model
call; Python code holds one lock (the GIL), so wall >= CPU time whatever the concurrency and the
speedup cannot exceed ``cpu cap`` = sleeps / CPU seconds (short calls hit it first). ``tail`` =
wall - (sleeps / max_concurrency): the time the slots were not all busy (the first cells, the last
ones, calls slowed by waiting for the GIL); with few cells per slot, heavy-tailed latencies make it
a few cell durations.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any, TypedDict

__all__ = ["main", "langgraph_app", "dspy_app"]

SLOTS = ("plan", "solve", "check")
CANDIDATES = ["sim/small", "sim/medium"]


def langgraph_app() -> Any:
    """plan -> solve -> check, each node one chat-model call
    (sim/large as the app's own models)."""
    from langgraph.graph import END, START, StateGraph

    from ...models import chat_model

    class State(TypedDict, total=False):
        question: str
        plan: str
        answer: str
        checked: str

    planner, solver, checker = (chat_model("sim/large") for _ in SLOTS)

    def plan(state: State) -> State:
        return {"plan": planner.invoke(f"Plan how to answer: {state['question']}").content}

    def solve(state: State) -> State:
        return {"answer": solver.invoke(f"{state['question']}\nPlan: {state['plan']}").content}

    def check(state: State) -> State:
        prompt = f"Check this answer to {state['question']}: {state['answer']}"
        return {"checked": checker.invoke(prompt).content}

    g = StateGraph(State)
    for name, fn in (("plan", plan), ("solve", solve), ("check", check)):
        g.add_node(name, fn)
    g.add_edge(START, "plan")
    g.add_edge("plan", "solve")
    g.add_edge("solve", "check")
    g.add_edge("check", END)
    return g.compile()


def dspy_app() -> Any:
    """Three predictors in a row (sim/large as the configured LM)."""
    import dspy

    from ...models import dspy_lm

    class Program(dspy.Module):
        def __init__(self) -> None:
            super().__init__()
            self.plan = dspy.Predict("question -> plan")
            self.solve = dspy.Predict("question, plan -> answer")
            self.check = dspy.Predict("question, answer -> verdict")

        def forward(self, question: str) -> Any:
            plan = self.plan(question=question).plan
            answer = self.solve(question=question, plan=plan).answer
            self.check(question=question, answer=answer)
            return dspy.Prediction(answer=answer)

    program = Program()
    for _, pred in program.named_predictors():
        pred.lm = dspy_lm("sim/large")
    return program


def _metric(example: Any, output: Any) -> float:
    return 1.0 if output else 0.0


def warm_up(framework: str) -> float:
    """One untimed search with sleeps off (imports, first-call setup); returns its wall seconds."""
    before = os.environ.get("AGENTOPT_SIM_TIME_SCALE")
    os.environ["AGENTOPT_SIM_TIME_SCALE"] = "0"
    try:
        return measure(framework, 4, 2, 0.0)["wall_s"]
    finally:
        if before is None:
            os.environ.pop("AGENTOPT_SIM_TIME_SCALE", None)
        else:
            os.environ["AGENTOPT_SIM_TIME_SCALE"] = before


def measure(framework: str, concurrency: int, n_examples: int, scale: float,
            strategy: str = "brute_force") -> dict[str, float]:
    """One optimize run: wall and CPU seconds, the sum of the calls' sleeps, and their ratios."""
    import agentopt_adapters as aa

    from ..tasks import load_task

    items = load_task("arithmetic").items[:n_examples]
    if framework == "langgraph":
        app, data = langgraph_app(), [{"question": it["question"]} for it in items]
    else:
        import dspy

        app = dspy_app()
        data = [dspy.Example(question=it["question"]).with_inputs("question") for it in items]
    cpu_started, started = time.process_time(), time.perf_counter()
    res = aa.optimize(app, data, _metric, candidates=CANDIDATES, strategy=strategy,
                      max_concurrency=concurrency, progress=False)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    rows = [*res.leaderboard, *res.anchors.values()]
    assert res.n_paid == sum(r.n for r in rows), (
        "every cell paid (no shared cells): the sleeps all happened")
    slept = scale * sum(r.mean_latency_s * r.n for r in rows if r.n)
    calls = len(SLOTS) * res.n_paid
    return {"wall_s": wall, "slept_s": slept, "speedup": slept / wall, "cells": res.n_paid,
            "cpu_s": cpu, "call_ms": 1e3 * slept / calls, "cpu_ms_call": 1e3 * cpu / calls,
            "cpu_cap": slept / cpu if cpu else float("inf"), "tail_s": wall - slept / concurrency}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.3,
                        help="real seconds slept per simulated second")
    parser.add_argument("--examples", type=int, default=20)
    parser.add_argument("--concurrency", default="8,32")
    parser.add_argument("--frameworks", default="langgraph,dspy")
    parser.add_argument("--strategy", default="brute_force",
                        help="brute_force evaluates every cell; an adaptive one (auto) waits for "
                             "each look's outcomes before deciding, so its looks cap the speedup")
    args = parser.parse_args(argv)
    os.environ["AGENTOPT_SIM_TIME_SCALE"] = str(args.scale)
    print(f"optimize, {args.strategy} over {len(CANDIDATES) ** len(SLOTS)} combinations + "
          f"baseline, {args.examples} examples, 3 model calls per example, "
          f"time scale {args.scale}")
    print(f"{'framework':<10} {'cold s':>6} {'max_conc':>8} {'cells':>6} {'call ms':>7} "
          f"{'calls slept s':>13} {'wall s':>8} {'speedup':>8} {'cpu ms/call':>11} "
          f"{'cpu cap':>8} {'tail s':>7}")
    for fw in args.frameworks.split(","):
        cold = warm_up(fw)
        for c in (int(x) for x in args.concurrency.split(",")):
            r = measure(fw, c, args.examples, args.scale, args.strategy)
            print(f"{fw:<10} {cold:>6.1f} {c:>8} {r['cells']:>6.0f} {r['call_ms']:>7.0f} "
                  f"{r['slept_s']:>13.1f} {r['wall_s']:>8.1f} {r['speedup']:>7.1f}x "
                  f"{r['cpu_ms_call']:>11.1f} {r['cpu_cap']:>7.1f}x {r['tail_s']:>7.1f}",
                  flush=True)


if __name__ == "__main__":
    main()
