"""DSPy programs shared by the test_dspy_* files (the example's MultiHop plus discovery edge cases)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import dspy

from agentopt_adapters.models import dspy_lm

_EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dspy_multihop.py"


def load_example():
    """The examples/dspy_multihop.py module (MultiHop, MIXED, evaluate, examples, metric, TASK)."""
    name = "dspy_multihop_example"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _EXAMPLE)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


SLOTS = ["planner.plan.predict", "agent.react", "agent.extract.predict", "final"]


# ---- programs with predictors named_predictors() cannot see ---------------------------------

_helper = dspy.ChainOfThought("claim -> verdict")


def check_claim(claim: str) -> str:
    """Check a claim with a hidden DSPy module (a module inside a ReAct tool)."""
    return str(_helper(claim=claim).verdict)


class Hidden(dspy.Module):
    """A visible slot, a nested-list predictor, a compiled sub-module and a module inside a tool."""

    def __init__(self) -> None:
        super().__init__()
        self.main = dspy.Predict("question -> answer")
        self.grid = [[dspy.Predict("question -> answer")]]
        self.frozen = dspy.ChainOfThought("question -> answer")
        self.frozen._compiled = True
        self.agent = dspy.ReAct("question -> answer", tools=[check_claim], max_iters=2)

    def forward(self, question: str) -> dspy.Prediction:
        self.grid[0][0](question=question)
        return self.main(question=question)


class DirectLM(dspy.Module):
    """Calls an LM directly in forward (not through a Predict): a call no slot explains."""

    def __init__(self, lm: dspy.BaseLM) -> None:
        super().__init__()
        self.answer = dspy.Predict("question -> answer")
        self.side_lm = lm

    def forward(self, question: str) -> dspy.Prediction:
        self.side_lm(f"Summarize: {question}")
        return self.answer(question=question)


_GLOBAL_LM = dspy_lm("sim/nano")


class GlobalLM(dspy.Module):
    """Calls a module-level LM (not an attribute of the program) directly: a call no slot explains."""

    def __init__(self) -> None:
        super().__init__()
        self.answer = dspy.Predict("question -> answer")

    def forward(self, question: str) -> dspy.Prediction:
        _GLOBAL_LM(f"Summarize: {question}")
        return self.answer(question=question)


class Typed(dspy.Signature):
    """Answer with a typed record."""

    question: str = dspy.InputField()
    answer: str = dspy.OutputField()
    confidence: float = dspy.OutputField()
