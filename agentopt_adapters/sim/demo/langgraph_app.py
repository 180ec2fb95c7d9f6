"""A normal user-style LangGraph agent: a planner writes a plan, a solver follows it with a
calculator.

Nothing in here knows about agentopt. Today it runs ``sim/frontier`` everywhere (the baseline the
demo beats). To run on real providers change only the two model strings, e.g.
``chat_model("openai/gpt-4o")`` (or use your own ``ChatOpenAI(...)`` / ``ChatAnthropic(...)``
objects).

```python
from agentopt_adapters.sim.demo.langgraph_app import graph
graph.invoke({"question": "Ava has 12 apples. ..."})["final_answer"]
```
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode

from agentopt_adapters.models import chat_model
from agentopt_adapters.sim.tasks.arithmetic import calculator as _calculator

__all__ = ["graph", "build_graph", "PLANNER", "SOLVER", "TASK", "to_input"]

TASK = "arithmetic"

# The models of the app, created once at import (the way most apps do it).
PLANNER = chat_model("sim/frontier", temperature=0.0)
SOLVER = chat_model("sim/frontier", temperature=0.0)

PLANNER_PROMPT = (
    "You are a planner. Break the word problem down into numbered steps, one arithmetic operation "
    "per step, and write each intermediate result. Do not skip steps."
)
SOLVER_PROMPT = (
    "You are a careful math solver. Follow the plan you are given, use the calculator tool for "
    "the arithmetic, and finish with 'Answer: <number>'."
)


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression such as '(12 + 5) * 3' and return the result."""
    return _calculator(expression)


TOOLS = [calculator]


class State(TypedDict, total=False):
    question: str
    plan: str
    messages: Annotated[list[AnyMessage], add_messages]
    final_answer: str


def plan(state: State) -> dict[str, Any]:
    reply = PLANNER.invoke([SystemMessage(PLANNER_PROMPT), HumanMessage(state["question"])])
    return {"plan": str(reply.content)}


def solve(state: State) -> dict[str, Any]:
    prompt = [SystemMessage(SOLVER_PROMPT),
              HumanMessage(f"Problem: {state['question']}\n\nPlan:\n{state.get('plan', '')}")]
    reply = SOLVER.bind_tools(TOOLS).invoke(prompt + list(state.get("messages") or []))
    out: dict[str, Any] = {"messages": [reply]}
    if not getattr(reply, "tool_calls", None):
        out["final_answer"] = str(reply.content)
    return out


def route_after_solve(state: State) -> str:
    messages = state.get("messages") or []
    last = messages[-1] if messages else None
    if isinstance(last, AIMessage) and last.tool_calls and len(state["messages"]) < 8:
        return "tools"
    return END


def build_graph() -> Any:
    """The compiled graph: START -> plan -> solve <-> tools -> END."""
    builder = StateGraph(State)
    builder.add_node("plan", plan)
    builder.add_node("solve", solve)
    builder.add_node("tools", ToolNode(TOOLS))
    builder.add_edge(START, "plan")
    builder.add_edge("plan", "solve")
    builder.add_conditional_edges("solve", route_after_solve, {"tools": "tools", END: END})
    builder.add_edge("tools", "solve")
    return builder.compile()


graph = build_graph()


def to_input(item: dict[str, Any]) -> dict[str, Any]:
    """The graph input for a task item (only the question:
    the gold answer never enters the app)."""
    return {"question": item["question"]}
