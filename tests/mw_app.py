"""A two-slot callable app for the many-workers tests: every evaluation is logged to a shared file.

Env: ``MW_LOG`` (append one JSON line per finished evaluation: pid, models, example id),
``MW_GATE`` (a directory: the first call writes ``ready-<pid>`` and waits for ``go``, so two
workers are known to hold claims at the same time), ``MW_HANG_AFTER`` (after this many
evaluations every call blocks: a stuck worker holding claims, to be killed by the test).
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from agentopt_adapters.callable_adapter import completion
from agentopt_adapters.tasks import load_task

_lock = threading.Lock()
_done = 0
_gate_passed = threading.Event()


def _gate() -> None:
    gate = os.environ.get("MW_GATE")
    if not gate or _gate_passed.is_set():
        return
    Path(gate, f"ready-{os.getpid()}").touch()
    go = Path(gate, "go")
    while not go.exists():  # the test creates it once every worker is ready
        threading.Event().wait(0.02)
    _gate_passed.set()


def _log(models: dict[str, str], example: dict) -> None:
    global _done
    line = json.dumps({"pid": os.getpid(), "planner": models["planner"], "solver": models["solver"],
                       "id": example["id"]}) + "\n"
    with _lock:
        _done += 1
        with open(os.environ["MW_LOG"], "a") as f:  # O_APPEND: whole lines, from any process
            f.write(line)


def _hang() -> None:
    limit = os.environ.get("MW_HANG_AFTER")
    if limit is not None and _done >= int(limit):
        threading.Event().wait()  # stuck for good: only SIGKILL ends this worker


def app(models: dict[str, str], example: dict) -> str:
    _gate()
    _hang()
    plan = completion(models, "planner", messages=[
        {"role": "system", "content": "You are a planner. Break the problem down into numbered steps."},
        {"role": "user", "content": example["question"]},
    ]).choices[0].message.content
    reply = completion(models, "solver", messages=[
        {"role": "system", "content": "Solve the problem by following the plan. End with 'Answer: <number>'."},
        {"role": "user", "content": f"Problem: {example['question']}\n\nPlan:\n{plan}"},
    ]).choices[0].message.content
    _hang()
    _log(models, example)
    return reply


app.agentopt_slots = ["planner", "solver"]  # no current model: no baseline pass


def app_with_baseline(models: dict[str, str], example: dict) -> str:
    return app(models, example)


app_with_baseline.agentopt_slots = {"planner": "sim/large", "solver": "sim/large"}


def metric(example: dict, output: str) -> float:
    return load_task("arithmetic").metric(example, output)
