"""One worker of a shared search (agentopt_search only): ``python mw_search_worker.py URL STUDY LOG
STRATEGY``.

Evaluates a planted problem with an anchor (an assignment outside the space); every finished
evaluation appends ``pid a b example`` to LOG. Env ``MW_HANG_AFTER``: after this many evaluations
(counted from when the file ``MW_HANG_WHEN`` appears, if set) every call blocks for good -- a stuck
worker holding claims, for the test to kill -- and ``<LOG>.hung-<pid>`` is touched. Deciding to
hang and logging happen under one lock, so once a worker hangs its log is final. ``MW_GATE`` (a
directory): the first call writes ``ready-<pid>`` and waits for ``go``, so every worker is known to
hold claims before any evaluates.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

from agentopt_search import Outcome, search
from search_helpers import Planted, _u

SLOTS = {"a": ["a1", "a2", "a3"], "b": ["b1", "b2"]}
BEST = {"a": "a3", "b": "b1"}
ANCHORS = {"own": {"a": "a-own", "b": "b1"}}
N_ITEMS = 60


def make_evaluate(prob: Planted, log_line=None, sleep_s: float = 0.0, before=None):
    """The planted problem; the anchor scores like an average combination."""

    def evaluate(assignment, example):
        if before is not None:
            before()
        if assignment["a"] == "a-own":
            out = Outcome(score=float(_u("own", example) < 0.45), cost_usd=0.004, latency_s=0.01)
        else:
            out = prob.evaluate(assignment, example)
        if sleep_s:
            time.sleep(sleep_s)
        if log_line is not None:
            log_line(assignment, example)
        return out

    return evaluate


if __name__ == "__main__":
    url, study, log, strategy = sys.argv[1:5]
    prob = Planted(SLOTS, BEST, n_items=N_ITEMS)
    lock = threading.Lock()
    state = {"done": 0, "since": None}

    def must_hang() -> bool:
        limit, when = os.environ.get("MW_HANG_AFTER"), os.environ.get("MW_HANG_WHEN")
        if limit is None:
            return False
        if when is not None and state["since"] is None:
            if not Path(when).exists():
                return False
            state["since"] = state["done"]
        return state["done"] - (state["since"] or 0) >= int(limit)

    def block() -> None:
        Path(f"{log}.hung-{os.getpid()}").touch()
        threading.Event().wait()  # stuck for good: only SIGKILL ends this worker

    gate_passed = threading.Event()

    def gate() -> None:
        where = os.environ.get("MW_GATE")
        if not where or gate_passed.is_set():
            return
        Path(where, f"ready-{os.getpid()}").touch()
        while not Path(where, "go").exists():  # the test creates it once every worker is ready
            threading.Event().wait(0.02)
        gate_passed.set()

    def log_line(assignment, example):
        with lock:
            hang = must_hang()
            if not hang:
                state["done"] += 1
                with open(log, "a") as f:  # O_APPEND: whole lines, from any process
                    f.write(f"{os.getpid()} {assignment['a']} {assignment['b']} {example}\n")
        if hang:
            block()

    evaluate = make_evaluate(prob, log_line, sleep_s=float(os.environ.get("MW_SLEEP", "0")),
                             before=gate)
    res = search(prob.space, evaluate, prob.examples, strategy=strategy, storage=url,
                 study_name=study, max_concurrency=4, progress=False, anchors=ANCHORS)
    print(json.dumps({"best": res.best.assignment, "paid": res.n_paid,
                      "merged": res.extra["from_other_workers"]}))
