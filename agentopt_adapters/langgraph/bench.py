"""Adapter overhead per chat-model call on a zero-latency model: ``python -m
agentopt_adapters.langgraph.bench``.

One graph node calls a model that answers instantly (``CALLS`` calls per run). The same graph runs
as the user runs it (``graph.invoke``, no callbacks), with a LangChain callback handler that does
nothing (what any tracing costs), and under ``aa.bind``: the baseline (``{}``: the app's own
model, recorded) and a candidate model object. Printed: µs per call for each, the adapter's extra
µs per call over the plain run and over the no-op callback, and the ratios.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any, TypedDict

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph.graph import END, START, StateGraph

__all__ = ["ZeroLatencyChat", "OtherZeroLatencyChat", "make_graph", "measure", "main"]

CALLS = 50


class ZeroLatencyChat(BaseChatModel):
    """Answers at once, reporting token usage and its model name (priced by litellm's cost map)."""

    model: str = "gpt-4o-mini"

    @property
    def _llm_type(self) -> str:
        return "zero-latency"

    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kwargs: Any) -> Any:
        from langchain_core.utils.function_calling import convert_to_openai_tool

        extra = {"tool_choice": tool_choice} if tool_choice is not None else {}
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **extra, **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        usage = {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12}
        message = AIMessage(content="ok", usage_metadata=usage,
                            response_metadata={"model_name": self.model})
        return ChatResult(generations=[ChatGeneration(message=message)])


class OtherZeroLatencyChat(ZeroLatencyChat):
    """A candidate of another class (its tools are re-bound in its own format)."""


def _add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class _State(TypedDict, total=False):
    x: str
    n: int


class _Noop(BaseCallbackHandler):
    run_inline = True


def make_graph(llm: BaseChatModel, calls: int = CALLS, tools: bool = False) -> Any:
    model: Any = llm.bind_tools([_add], tool_choice="_add") if tools else llm

    def work(state: _State) -> _State:
        for _ in range(calls):
            model.invoke(state["x"])
        return {"n": calls}

    b = StateGraph(_State)
    b.add_node("work", work)
    b.add_edge(START, "work")
    b.add_edge("work", END)
    return b.compile()


def _best_of(variants: dict[str, Callable[[], Any]], runs: int, repeats: int) -> dict[str, float]:
    """CPU seconds of this process per run for each variant: the best of ``repeats`` timings of
    ``runs`` runs, the variants interleaved (CPU time, not wall time: other processes on a shared
    machine then barely move the figures; the model answers at once, so a run is all CPU)."""
    best = {name: float("inf") for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            t0 = time.process_time()
            for _ in range(runs):
                fn()
            best[name] = min(best[name], (time.process_time() - t0) / runs)
    return best


def measure(runs: int = 20, calls: int = CALLS, repeats: int = 9) -> dict[str, float]:
    """µs per model call for each way of running the graph (the router is installed first, so the
    plain run includes its pass-through cost, as it does in a user's process after ``import``)."""
    # litellm prices the calls: from its bundled cost map (set before it is first imported), a
    # benchmark never downloads prices
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import agentopt_adapters as aa

    graph, tooled = make_graph(ZeroLatencyChat(), calls), make_graph(ZeroLatencyChat(), calls,
                                                                     tools=True)
    x = {"x": "What is 2 + 3?"}
    with aa.bind(graph, {}) as baseline, \
            aa.bind(graph, {"work": ZeroLatencyChat(model="gpt-4o")}) as candidate, \
            aa.bind(tooled, {"work": OtherZeroLatencyChat(model="gpt-4o")}) as rebound:
        best = _best_of({
            "plain graph.invoke": lambda: graph.invoke(x),
            "graph.invoke + no-op callback": lambda: graph.invoke(x, {"callbacks": [_Noop()]}),
            "aa.bind(graph, {}) (baseline)": lambda: baseline(x),
            "aa.bind(graph, {work: other model})": lambda: candidate(x),
            "plain, forced tool": lambda: tooled.invoke(x),
            "aa.bind, forced tool, other class": lambda: rebound(x),
        }, runs, repeats)
    return {k: v / calls * 1e6 for k, v in best.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20,
                        help="graph runs per timing (best of 5 timings)")
    parser.add_argument("--calls", type=int, default=CALLS, help="model calls per graph run")
    args = parser.parse_args(argv)
    us = measure(args.runs, args.calls)
    plain, noop = us["plain graph.invoke"], us["graph.invoke + no-op callback"]
    print(f"{'CPU µs per model call':<40} {'µs':>8} {'x plain':>8} {'+µs vs plain':>13} "
          f"{'+µs vs callback':>16}")
    for name, value in us.items():
        if name == "plain, forced tool":
            plain = noop = value  # the tool rows compare with the plain run of the tool graph
        print(f"{name:<40} {value:8.1f} {value / plain:8.2f} {value - plain:13.1f} "
              f"{value - noop:16.1f}")


if __name__ == "__main__":
    main()
