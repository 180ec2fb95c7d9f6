"""A normal user-style DSPy program for multi-hop questions: a planner decomposes the question, an
answerer follows the plan.

Nothing in here knows about agentopt. Today both predictors run ``sim/frontier`` (the baseline the
demo beats). To use real providers change only the model string, e.g. ``dspy_lm("openai/gpt-4o")``
(or ``dspy.LM("anthropic/claude-sonnet-4-5")``).

```python
from agentopt_adapters.sim.demo.dspy_app import program
program(question="...").answer
```
"""

from __future__ import annotations

from typing import Any

import dspy

from agentopt_adapters.models import dspy_lm

__all__ = ["MultiHop", "program", "build_program", "TASK", "to_input"]

TASK = "multihop"


class Decompose(dspy.Signature):
    """Decompose the multi-hop question into a short chain of lookups, one fact per step."""

    question: str = dspy.InputField()
    plan: str = dspy.OutputField(desc="numbered steps, each resolving one fact")


class Answer(dspy.Signature):
    """Answer the question by following the plan; reply with the final entity only."""

    question: str = dspy.InputField()
    plan: str = dspy.InputField()
    answer: str = dspy.OutputField(desc="the final entity, a short name")


class MultiHop(dspy.Module):
    def __init__(self, lm: Any = None) -> None:
        super().__init__()
        self.plan = dspy.ChainOfThought(Decompose)
        self.answer = dspy.Predict(Answer)
        lm = lm if lm is not None else dspy_lm("sim/frontier")  # today's model, everywhere
        self.set_lm(lm)

    def forward(self, question: str) -> dspy.Prediction:
        plan = self.plan(question=question).plan
        return self.answer(question=question, plan=plan)


def build_program() -> MultiHop:
    return MultiHop()


program = build_program()


def to_input(item: dict[str, Any]) -> dict[str, Any]:
    """The program input for a task item (only the question)."""
    return {"question": item["question"]}
