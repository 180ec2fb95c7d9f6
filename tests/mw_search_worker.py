"""One worker of a shared search (agentopt_search only): ``python mw_search_worker.py URL STUDY LOG STRATEGY``.

Evaluates a planted problem; every evaluation appends ``pid combo example`` to LOG.
"""

from __future__ import annotations

import json
import os
import sys
import threading

from agentopt_search import search
from search_helpers import Planted

SLOTS = {"a": ["a1", "a2", "a3"], "b": ["b1", "b2"]}
BEST = {"a": "a3", "b": "b1"}
N_ITEMS = 60

if __name__ == "__main__":
    url, study, log, strategy = sys.argv[1:5]
    prob = Planted(SLOTS, BEST, n_items=N_ITEMS)
    lock = threading.Lock()

    def evaluate(assignment, example):
        out = prob.evaluate(assignment, example)
        with lock, open(log, "a") as f:
            f.write(f"{os.getpid()} {prob.space.index(assignment)} {example}\n")
        return out

    res = search(prob.space, evaluate, prob.examples, strategy=strategy, storage=url, study_name=study,
                 max_concurrency=4, progress=False)
    print(json.dumps({"best": res.best.assignment, "paid": res.extra["paid_this_run"],
                      "merged": res.extra["from_other_workers"]}))
