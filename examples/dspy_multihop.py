"""A multi-module DSPy program, rebound per slot with agentopt_adapters (runs offline on sim/
models).

The program answers the bundled multi-hop questions ("What is the capital of the country where X
was born?") with three kinds of module:

* ``planner`` - a custom module with a ``dspy.ChainOfThought`` inside  -> slot
``planner.plan.predict``
* ``agent``   - a ``dspy.ReAct`` agent with a fact-lookup tool         -> ``agent.react``,
``agent.extract.predict``
* ``final``   - a plain ``dspy.Predict`` with typed outputs (str, float) -> ``final``

Run: ``python examples/dspy_multihop.py``. It discovers the slots, measures a few single-model and
mixed assignments on 60 questions, exports the best one as JSON and applies it to a fresh program.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dspy

import agentopt_adapters as aa
from agentopt_adapters.models import dspy_lm
from agentopt_adapters.sim.tasks import load_task

TASK = load_task("multihop")


def lookup(entity: str) -> str:
    """Facts of the world that mention ``entity`` (a person, company, city or country)."""
    hits = [fact for fact in TASK.facts if entity.lower() in fact.lower()]
    return "\n".join(hits[:10]) or f"no facts mention {entity!r}"


class Planner(dspy.Module):
    def __init__(self) -> None:
        super().__init__()
        self.plan = dspy.ChainOfThought("question -> plan")

    def forward(self, question: str) -> dspy.Prediction:
        return self.plan(question=question)

    async def aforward(self, question: str) -> dspy.Prediction:
        return await self.plan.acall(question=question)


class FinalAnswer(dspy.Signature):
    """Give the final answer to the question, using the plan and the agent's draft answer."""

    question: str = dspy.InputField()
    plan: str = dspy.InputField()
    draft: str = dspy.InputField()
    answer: str = dspy.OutputField(desc="the entity that answers the question")
    confidence: float = dspy.OutputField(desc="0..1")


class MultiHop(dspy.Module):
    def __init__(self) -> None:
        super().__init__()
        self.planner = Planner()
        self.agent = dspy.ReAct("question, plan -> answer", tools=[lookup], max_iters=3)
        self.final = dspy.Predict(FinalAnswer)

    def forward(self, question: str) -> dspy.Prediction:
        plan = self.planner(question=question).plan
        draft = self.agent(question=question, plan=plan).answer
        return self.final(question=question, plan=plan, draft=draft)

    async def aforward(self, question: str) -> dspy.Prediction:
        plan = (await self.planner.acall(question=question)).plan
        draft = (await self.agent.acall(question=question, plan=plan)).answer
        return await self.final.acall(question=question, plan=plan, draft=draft)


def examples(items: Iterable[Mapping[str, Any]]) -> list[dspy.Example]:
    return [dspy.Example(question=it["question"], answer=it["answer"]).with_inputs("question")
            for it in items]


def metric(example: Any, output: Any) -> float:
    """The task's metric; a failed run (aa FailedRun marker) scores 0."""
    if not output:
        return 0.0
    return TASK.metric(example, output)


def evaluate(program: dspy.Module, assignment: Mapping[str, Any], data: list[dspy.Example],
             threads: int = 8) -> dict[str, Any]:
    """Accuracy, total cost and calls of ``program`` under ``assignment`` (one bound copy,
    many threads)."""
    with aa.bind(program, assignment) as run, ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(run, data))
    return {
        "accuracy": sum(metric(ex, out) for ex, (out, _) in zip(data, results)) / len(data),
        "cost_usd": sum(usage.cost_usd or 0.0 for _, usage in results),
        "calls": sum(len(usage) for _, usage in results),
        "results": results,
    }


# A mixed assignment that beats every single model on this task: the typed final answer needs a
# strong model, planning and the ReAct loop do fine on cheap ones.
MIXED = {"planner.plan.predict": "sim/small", "agent.react": "sim/medium",
         "agent.extract.predict": "sim/mini", "final": "sim/large"}


def main() -> int:
    # The default LM for slots you do not assign. For a real provider change this one line, e.g.
    # dspy.configure(lm=dspy.LM("openai/gpt-4o-mini")), and use real model names below.
    dspy.configure(lm=dspy_lm("sim/large"))

    program = MultiHop()
    slots = aa.discover(program)
    print("slots:", [s.name for s in slots])

    data = examples(TASK.items[:60])
    rows = [(f"all {m}", {s.name: m for s in slots})
            for m in ("sim/small", "sim/medium", "sim/large", "sim/xl")]
    rows.append(("mixed", MIXED))
    print(f"\n{'assignment':<16}{'accuracy':>10}{'cost $':>10}{'calls':>7}")
    for label, assignment in rows:
        r = evaluate(program, assignment, data)
        print(f"{label:<16}{r['accuracy']:>10.3f}{r['cost_usd']:>10.4f}{r['calls']:>7}")

    with aa.bind(program, MIXED) as run:
        _, usage = run(data[0])
    print("\none run, per call:")
    for call in usage:
        print(f"  {call.slot:<24}{call.model:<12}{call.input_tokens:>6} in "
              f"{call.output_tokens:>5} out ${call.cost_usd:.6f} {call.latency_s:.2f}s")

    path = Path(tempfile.mkdtemp()) / "dspy_assignment.json"
    path.write_text(json.dumps(aa.export_config(program, MIXED), indent=2))
    tuned = aa.apply(MultiHop(), path)  # a fresh program instance with the assigned LMs
    print(f"\nexported {path}; applied: "
          + ", ".join(f"{name}={pred.lm.model}" for name, pred in tuned.named_predictors()))
    print("tuned answer:", tuned(question=data[0].question).answer, "| gold:", data[0].answer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
