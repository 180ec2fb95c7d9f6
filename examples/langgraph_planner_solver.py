"""Optimize a LangGraph planner + solver agent (with a calculator tool) end to end with
aa.optimize.

Runs offline on the simulated model zoo:  python examples/langgraph_planner_solver.py
The graph is the one `agentopt demo` uses (agentopt_adapters/demo/langgraph_app.py), written the
way any LangGraph app is: module-level chat models, a `plan` node, a `solve` node that calls a
tool.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import agentopt_adapters as aa
from agentopt_adapters.sim.demo.langgraph_app import (
    graph,  # PLANNER / SOLVER = chat_model("sim/frontier")
)
from agentopt_adapters.sim.tasks import load_task

warnings.filterwarnings("ignore")

# To use real providers: change the model strings in the app (chat_model("openai/gpt-4o") or your
# own ChatOpenAI/ChatAnthropic objects) and this one line, e.g.
# CANDIDATES = ["openai/gpt-4o-mini", "openai/gpt-4o", "anthropic/claude-haiku-4-5",
# "anthropic/claude-sonnet-4-5"]
CANDIDATES = ["sim/mini", "sim/small", "sim/large", "sim/xl"]


def main() -> None:
    task = load_task("arithmetic")
    # dicts with "question" (the graph's input) and "answer" (for the metric)
    data = task.items[:30]

    for slot in aa.discover(graph):
        print(f"slot {slot.name}: today {slot.default_model}  ({slot.where})")

    result = aa.optimize(graph, data, task.metric, candidates=CANDIDATES, seed=0, progress=False)
    result.print_summary(top=5)
    print("per-slot usage of the best:",
          {k: round(v["cost_usd"], 5) for k, v in result.per_slot_usage().items()})

    path = result.export(Path(tempfile.mkdtemp()) / "agentopt.json")
    tuned = aa.apply(graph, path)  # <- the one line your app needs
    out = tuned.invoke({"question": data[0]["question"]})
    print(f"\nwrote {path}; tuned graph answers: {out['final_answer'].splitlines()[-1]} (gold "
          f"{data[0]['answer']})")


if __name__ == "__main__":
    main()
