"""LangGraph ReAct agent with tools: discover its model slots, try model combinations, export /
apply.

Runs offline on simulated models:  python examples/langgraph_react_tools.py
"""

from __future__ import annotations

import itertools
import json
import tempfile
import warnings
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage, SystemMessage
from langchain_core.tools import tool
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode, tools_condition

import agentopt_adapters as aa
from agentopt_adapters.models import chat_model
from agentopt_adapters.sim.tasks import arithmetic, load_task

warnings.filterwarnings("ignore")

# --- the user's app (unchanged by agentopt) -------------------------------------------------
# To use real providers, change only the model strings, e.g. chat_model("openai/gpt-4o-mini")
# (or use your own ChatOpenAI / ChatAnthropic objects); agentopt finds them the same way.
PLANNER = chat_model("sim/frontier")
EXECUTOR = chat_model("sim/frontier", temperature=0.0)


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression such as '(12 + 7) * 3'."""
    return arithmetic.calculator(expression)


TOOLS = [calculator]


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def plan(state: State) -> dict:
    note = PLANNER.invoke([SystemMessage("Plan the tool calls in one sentence.")]
                          + state["messages"])
    return {"messages": [note]}


class Executor:  # class-based node holding its model in an attribute
    def __init__(self, llm: Any) -> None:
        self.llm = llm

    def __call__(self, state: State) -> dict:
        return {"messages": [self.llm.bind_tools(TOOLS).invoke(state["messages"])]}


builder = StateGraph(State)
builder.add_node("plan", plan)
builder.add_node("act", Executor(EXECUTOR))
builder.add_node("tools", ToolNode(TOOLS))
builder.add_edge(START, "plan")
builder.add_edge("plan", "act")
builder.add_conditional_edges("act", tools_condition)
builder.add_edge("tools", "act")
graph = builder.compile()

# --- a small dataset and metric (bundled arithmetic word problems) ------------------------------
TASK = load_task("arithmetic")
DATA = TASK.items[:12]


def evaluate(assignment: dict[str, str]) -> tuple[float, float]:
    with aa.bind(graph, assignment) as run:
        results = [(item, *run({"messages": [("user", item["question"])]})) for item in DATA]
    acc = sum(TASK.metric(item, out) for item, out, _ in results) / len(results)
    cost = sum(usage.cost_usd or 0.0 for _, _, usage in results)
    return acc, cost


def main() -> None:
    print("slots:")
    for slot in aa.discover(graph):
        print(f"  {slot.name:6} default={slot.default_model:14} where: {slot.where}")

    with aa.bind(graph, {"plan": "sim/nano", "act": "sim/small"}) as run:
        out, usage = run({"messages": [("user", DATA[0]["question"])]})
    print("\none bound run (plan=sim/nano, act=sim/small):")
    for c in usage:
        print(f"  {c.slot:6} {c.model:12} in={c.input_tokens:4} out={c.output_tokens:3} "
              f"${c.cost_usd:.6f} {c.latency_s * 1000:.1f} ms")

    baseline_acc, baseline_cost = evaluate({"plan": "sim/frontier", "act": "sim/frontier"})
    print(f"\nbaseline frontier/frontier: accuracy {baseline_acc:.2f}  cost ${baseline_cost:.5f}")
    candidates = ["sim/nano", "sim/small", "sim/large", "sim/frontier"]
    best = None
    for p, a in itertools.product(candidates, candidates):
        # exhaustive here; aa.optimize searches smarter
        acc, cost = evaluate({"plan": p, "act": a})
        if acc >= baseline_acc and (best is None or cost < best[1]):
            best = ({"plan": p, "act": a}, cost, acc)
    assert best is not None
    print(f"cheapest combination keeping accuracy: {best[0]}  accuracy {best[2]:.2f}  cost "
          f"${best[1]:.5f}")

    path = Path(tempfile.mkdtemp()) / "agentopt_assignment.json"
    path.write_text(json.dumps(aa.export_config(graph, best[0]), indent=2))
    print(f"\nexported {path}:\n{path.read_text()}")

    tuned = aa.apply(graph, path)  # <- the one line your app needs
    out = tuned.invoke({"messages": [("user", DATA[0]["question"])]})
    print(f"tuned graph answer: {out['messages'][-1].content!r} (gold {DATA[0]['answer']})")


if __name__ == "__main__":
    main()
