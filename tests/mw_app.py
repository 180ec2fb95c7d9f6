"""A two-slot callable app for the many-workers tests: every evaluation is logged to a shared file.

Env: ``MW_LOG`` (append one JSON line per finished evaluation: pid, models, example id),
``MW_GATE`` (a directory: the first call writes ``ready-<pid>`` and waits for ``go``, so two
workers are known to hold claims at the same time), ``MW_HANG_AFTER`` (after this many
evaluations -- counted from when the file ``MW_HANG_WHEN`` appears, if that is set -- every call
blocks: a stuck worker holding claims, to be killed by the test; it touches
``<MW_LOG>.hung-<pid>``). Deciding to hang and logging happen under one lock, so once a worker
hangs its log is final.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from agentopt_adapters.callable import completion
from agentopt_adapters.sim.tasks import load_task

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


_since: list[int] = []  # evaluations done when MW_HANG_WHEN appeared


def _must_hang() -> bool:
    """Call with _lock held."""
    limit, when = os.environ.get("MW_HANG_AFTER"), os.environ.get("MW_HANG_WHEN")
    if limit is None:
        return False
    if when is not None and not _since:
        if not Path(when).exists():
            return False
        _since.append(_done)
    return _done - (_since[0] if _since else 0) >= int(limit)


def _block() -> None:
    Path(f"{os.environ['MW_LOG']}.hung-{os.getpid()}").touch()
    threading.Event().wait()  # stuck for good: only SIGKILL ends this worker


def app(models: dict[str, str], example: dict) -> str:
    global _done
    _gate()
    with _lock:
        hang = _must_hang()
    if hang:
        _block()
    plan = completion(models, "planner", messages=[
        {"role": "system",
         "content": "You are a planner. Break the problem down into numbered steps."},
        {"role": "user", "content": example["question"]},
    ]).choices[0].message.content
    reply = completion(models, "solver", messages=[
        {"role": "system",
         "content": "Solve the problem by following the plan. End with 'Answer: <number>'."},
        {"role": "user", "content": f"Problem: {example['question']}\n\nPlan:\n{plan}"},
    ]).choices[0].message.content
    with _lock:  # decide and log atomically
        hang = _must_hang()
        if not hang:
            _done += 1
            with open(os.environ["MW_LOG"], "a") as f:  # O_APPEND: whole lines, from any process
                f.write(json.dumps({"pid": os.getpid(), "planner": models["planner"],
                                    "solver": models["solver"], "id": example["id"]}) + "\n")
    if hang:
        _block()
    return reply


app.agentopt_slots = ["planner", "solver"]  # no current model: no baseline pass


def app_with_baseline(models: dict[str, str], example: dict) -> str:
    return app(models, example)


app_with_baseline.agentopt_slots = {"planner": "sim/large", "solver": "sim/large"}


def metric(example: dict, output: str) -> float:
    return load_task("arithmetic").metric(example, output)
