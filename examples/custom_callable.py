"""Optimize any Python function that calls LLMs: the plain-callable adapter.

Runs offline on the simulated model zoo:  python examples/custom_callable.py
Your function takes ``(models, example)`` -- ``models`` maps each slot to the model string to use
-- and makes its calls through ``agentopt_adapters.callable.completion`` (a thin litellm
wrapper that records tokens, cost and latency per slot). Any framework, or none, works this way.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import agentopt_adapters as aa
from agentopt_adapters.callable import completion
from agentopt_adapters.sim.tasks import load_task

warnings.filterwarnings("ignore")


def app(models: dict[str, str], example: dict) -> str:
    """Planner writes a plan, solver answers from it: two LLM slots."""
    plan = completion(models, "planner", messages=[
        {"role": "system",
         "content": "You are a planner. Break the problem down into numbered steps."},
        {"role": "user", "content": example["question"]},
    ]).choices[0].message.content
    reply = completion(models, "solver", messages=[
        {"role": "system",
         "content": "Solve the problem by following the plan. End with 'Answer: <number>'."},
        {"role": "user", "content": f"Problem: {example['question']}\n\nPlan:\n{plan}"},
    ])
    return reply.choices[0].message.content


# What the app uses today (the baseline agentopt compares against).
app.agentopt_slots = {"planner": "sim/frontier", "solver": "sim/frontier"}

# To use real providers, change only this line (and the defaults above), e.g.
# CANDIDATES = ["openai/gpt-4o-mini", "openai/gpt-4o", "anthropic/claude-haiku-4-5"]
CANDIDATES = ["sim/nano", "sim/small", "sim/large", "sim/xl"]


def main() -> None:
    task = load_task("arithmetic")
    result = aa.optimize(app, task.items[:30], task.metric, candidates=CANDIDATES, seed=0,
                         progress=False)
    result.print_summary(top=5)
    path = result.export(Path(tempfile.mkdtemp()) / "agentopt.json")
    tuned = aa.apply(app, path)  # tuned(example) calls app(best_models, example)
    print(f"\nwrote {path}; tuned app uses {tuned.models}")
    print("answer:", tuned(task.items[0]).splitlines()[-1], "(gold", task.items[0]["answer"], ")")


if __name__ == "__main__":
    main()
