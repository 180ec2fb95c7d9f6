"""User-style LangGraph apps used by the LangGraph adapter tests (a module of its own, like a
user's app).

Every model is a simulated ``sim/...`` model built through the model factory.
"""

from __future__ import annotations

import functools
import operator
import threading
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage, HumanMessage, SystemMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.prebuilt import ToolNode, tools_condition

from agentopt_adapters.models import chat_model
from agentopt_adapters.sim import register

register()


def make(model: str, **kwargs: Any):
    """The user's own helper that builds a chat model (here: through the shared factory)."""
    return chat_model(model, **kwargs)


# --------------------------------------------------------------------------------------------
# 1. planner / solver with module-level models
PLANNER = make("sim/large")
SOLVER = make("sim/large", temperature=0.0, max_tokens=256)


class PSState(TypedDict, total=False):
    question: str
    plan: str
    answer: str


def plan(state: PSState) -> PSState:
    msg = PLANNER.invoke([SystemMessage("Write a short plan."), HumanMessage(state["question"])])
    return {"plan": str(msg.content)}


solve_chain = ChatPromptTemplate.from_messages(
    [("system", "Follow the plan: {plan}"), ("human", "{question}")]
) | SOLVER | StrOutputParser()


def solve(state: PSState) -> PSState:
    return {"answer": solve_chain.invoke({"plan": state["plan"], "question": state["question"]})}


def planner_solver():
    b = StateGraph(PSState)
    b.add_node("plan", plan)
    b.add_node("solve", solve)
    b.add_edge(START, "plan")
    b.add_edge("plan", "solve")
    b.add_edge("solve", END)
    return b.compile()


# --------------------------------------------------------------------------------------------
# 2. class-based node holding self.llm, bind_tools inside a ReAct loop with a ToolNode
@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


TOOLS = [add, multiply]


class MsgState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


class Agent:
    def __init__(self, llm: Any, tools: list) -> None:
        self.llm = llm
        self.tools = tools

    def __call__(self, state: MsgState) -> dict:
        bound = self.llm.bind_tools(self.tools)
        return {"messages": [bound.invoke(state["messages"], temperature=0.0)]}


def react_class():
    b = StateGraph(MsgState)
    b.add_node("agent", Agent(make("sim/medium"), TOOLS))
    b.add_node("tools", ToolNode(TOOLS))
    b.add_edge(START, "agent")
    b.add_conditional_edges("agent", tools_condition)
    b.add_edge("tools", "agent")
    return b.compile()


# --------------------------------------------------------------------------------------------
# 3. create_react_agent as a subgraph node, next to a partial-bound summariser
def _summarise(state: MsgState, llm: Any) -> dict:
    # the last exchange without tool results: a tool message without the call it answers is a 400
    # on the real API
    recent = [m for m in state["messages"] if m.type != "tool"][-2:]
    return {"messages": [llm.invoke([SystemMessage("Summarise.")] + recent)]}


def agent_subgraph():
    import warnings

    from langgraph.prebuilt import create_react_agent

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        research = create_react_agent(make("sim/xl"), TOOLS)
    b = StateGraph(MsgState)
    b.add_node("research", research)
    b.add_node("summarize", functools.partial(_summarise, llm=make("sim/small")))
    b.add_edge(START, "research")
    b.add_edge("research", "summarize")
    b.add_edge("summarize", END)
    return b.compile()


# --------------------------------------------------------------------------------------------
# 4. a node that builds its model at call time
class CountState(TypedDict, total=False):
    question: str
    draft: str
    answer: str
    calls: Annotated[int, operator.add]


DRAFTER = make("sim/mini")


def draft(state: CountState) -> CountState:
    return {"draft": str(DRAFTER.invoke(state["question"]).content), "calls": 1}


def finalize(state: CountState) -> CountState:
    # built on every call: invisible to static analysis
    llm = make("sim/frontier", temperature=0.2)
    return {"answer": str(llm.invoke(f"{state['question']}\nDraft: {state['draft']}").content),
            "calls": 1}


def calltime():
    b = StateGraph(CountState)
    b.add_node("draft", draft)
    b.add_node("finalize", finalize)
    b.add_edge(START, "draft")
    b.add_edge("draft", "finalize")
    b.add_edge("finalize", END)
    return b.compile()


QUESTION = {"question": "What is 17 + 25?"}
MESSAGES = {"messages": [("user", "What is 17 + 25?")]}


class QAState(TypedDict, total=False):
    question: str
    answer: str


def tracing_probe(seen: list[tuple[Any, bool, bool]]):
    """One node ``ask`` (question -> answer, through ``PLANNER``) that appends what its run sees of
    tracing: (LangSmith context ``enabled``, tracing enabled by the environment, a LangChainTracer
    among its callbacks)."""
    from langchain_core.runnables import RunnableConfig
    from langchain_core.runnables.config import ensure_config
    from langchain_core.tracers.langchain import LangChainTracer
    from langsmith.run_helpers import get_tracing_context
    from langsmith.utils import tracing_is_enabled

    lock = threading.Lock()

    def ask(state: QAState, config: RunnableConfig) -> QAState:
        handlers = getattr(ensure_config(config)["callbacks"], "handlers", [])
        tracer = any(isinstance(h, LangChainTracer) for h in handlers)
        with lock:
            seen.append((get_tracing_context()["enabled"], bool(tracing_is_enabled()), tracer))
        return {"answer": str(PLANNER.invoke(state["question"]).content)}

    return one_node_graph("ask", ask)


def one_node_graph(name: str, node: Any, state: Any = QAState):
    """START -> ``name`` (running ``node``) -> END, compiled."""
    b = StateGraph(state)
    b.add_node(name, node)
    b.add_edge(START, name)
    b.add_edge(name, END)
    return b.compile()
