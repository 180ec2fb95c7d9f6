"""DSPy programs shared by the test_dspy_* files
(the example's MultiHop plus discovery edge cases)."""

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
    """A visible slot, a nested-list predictor,
    a compiled sub-module and a module inside a tool."""

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
    """Calls a module-level LM (not an attribute of the program) directly:
    a call no slot explains."""

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


# ---- shapes of real programs (issue 12): models chosen in forward, direct LM calls, wrappers
# ------

class Engines(dspy.Module):
    """Each step's model is chosen in forward with dspy.context(lm=<an LM attribute>)."""

    def __init__(self, cheap: dspy.BaseLM, strong: dspy.BaseLM) -> None:
        super().__init__()
        self.cheap, self.strong = cheap, strong
        self.draft = dspy.Predict("question -> answer")
        self.final = dspy.ChainOfThought("question, draft -> answer")

    def forward(self, question: str) -> dspy.Prediction:
        with dspy.context(lm=self.cheap):
            draft = self.draft(question=question).answer
        with dspy.context(lm=self.strong):
            return self.final(question=question, draft=draft)


class Privacy(dspy.Module):
    """PAPILLON-shaped: predictors on the configured (trusted) LM,
    an untrusted LM called directly."""

    def __init__(self, untrusted_model: dspy.BaseLM) -> None:
        super().__init__()
        self.craft = dspy.ChainOfThought("question -> request")
        self.respond = dspy.Predict("question, request, reply -> answer")
        self.untrusted_model = untrusted_model

    def forward(self, question: str) -> dspy.Prediction:
        request = self.craft(question=question).request
        reply = self.untrusted_model(question)[0]
        return self.respond(question=question, request=request, reply=reply)


class TwoStep(dspy.Module):
    """Two predictors: the module BestOfN / Refine wrap."""

    def __init__(self) -> None:
        super().__init__()
        self.think = dspy.ChainOfThought("question -> answer")
        self.check = dspy.Predict("question, draft -> answer")

    def forward(self, question: str) -> dspy.Prediction:
        answer = self.think(question=question).answer
        return self.check(question=question, draft=answer)


class AsyncOnly(dspy.Module):
    """Only aforward (awaited predictors)."""

    def __init__(self) -> None:
        super().__init__()
        self.first = dspy.Predict("question -> answer")
        self.second = dspy.Predict("question, draft -> answer")

    async def aforward(self, question: str) -> dspy.Prediction:
        first = await self.first.acall(question=question)
        return await self.second.acall(question=question, draft=first.answer)


class PlainThreads(dspy.Module):
    """Calls its predictor from a plain ThreadPoolExecutor (DSPy's context does not follow)."""

    def __init__(self, engine: dspy.BaseLM) -> None:
        super().__init__()
        self.engine = engine
        self.answer = dspy.Predict("question -> answer")

    def forward(self, question: str) -> dspy.Prediction:
        from concurrent.futures import ThreadPoolExecutor

        def one(q: str) -> str:
            with dspy.context(lm=self.engine):
                return self.answer(question=q).answer

        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(one, [question, question]))
        return dspy.Prediction(answer=answers[0])
