"""What storage costs a search: ``python -m agentopt_search.bench.storage [--sizes 64,512]``.

For each space size, the same search (zero-latency evaluate, so only the search's own work is
timed) runs in memory and with ``storage="sqlite:///..."``; it prints the added milliseconds per
stored cell and whether the picks agree; then the speedup over the sum of latencies of evaluations
that take time (``--latency``), in memory and with SQLite, at ``max_concurrency=32``. Last, a run
is killed with SIGKILL part-way and started again: the resumed run must pay exactly the cells that
were not flushed before the kill.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np

from agentopt_search import Outcome, SearchSpace, search

__all__ = [
    "problem", "timed", "warm_up", "overhead", "concurrency", "kill_and_resume_counts",
    "kill_and_resume", "main",
]

_SHAPES = {64: (4, 3), 512: (8, 3), 1296: (6, 4)}  # combinations -> (models per slot, slots)


def _u(*key: object) -> float:
    return int.from_bytes(hashlib.blake2b(repr(key).encode(), digest_size=8).digest(),
                          "little") / 2**64


def problem(size: int, n_items: int) -> tuple[SearchSpace, Any, list[int]]:
    """A planted space of ``size`` combinations: skill per model, Bernoulli scores,
    fixed prices."""
    models, slots = _SHAPES[size]
    space = SearchSpace({f"s{i}": [f"m{j}" for j in range(models)] for i in range(slots)})
    skill = {m: 0.3 + 0.5 * _u("skill", m) for m in space.slots["s0"]}

    def evaluate(assignment: dict[str, str], example: int) -> Outcome:
        p = float(np.mean([skill[m] for m in assignment.values()]))
        key = tuple(assignment.values())
        return Outcome(score=float(_u(key, example) < p),
                       cost_usd=0.001 * (1 + sum(map(len, key))), latency_s=0.01)

    return space, evaluate, list(range(n_items))


def timed(size: int, n_items: int, storage: str | None, strategy: str) -> tuple[float, Any]:
    space, evaluate, examples = problem(size, n_items)
    start = time.perf_counter()
    result = search(space, evaluate, examples, strategy=strategy, storage=storage,
                    max_concurrency=8, progress=False)
    return time.perf_counter() - start, result


def warm_up() -> float:
    """Import SQLAlchemy and Optuna and open a store once (what the first stored run of a process
    pays on top, reported apart so the tables show the cost per cell)."""
    from agentopt_search.storage import OptunaStore

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, OptunaStore(f"sqlite:///{tmp}/warm.db"):
        pass
    return time.perf_counter() - start


def overhead(sizes: list[int], n_items: int, strategy: str, repeats: int) -> None:
    print("| combinations | examples | strategy | cells | memory s | SQLite s | added ms per cell "
          "| same pick |")
    print("|---|---|---|---|---|---|---|---|")
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            mem = min(timed(size, n_items, None, strategy)[0] for _ in range(repeats))
            t_mem, r_mem = timed(size, n_items, None, strategy)
            mem = min(mem, t_mem)
            db_times = []
            for k in range(repeats):
                t_db, r_db = timed(size, n_items, f"sqlite:///{tmp}/run{k}.db", strategy)
                db_times.append(t_db)
            cells = r_db.n_evaluations
            added = (min(db_times) - mem) / cells * 1e3
            same = r_db.best.assignment == r_mem.best.assignment
            print(f"| {size} | {n_items} | {strategy} | {cells} | {mem:.2f} | {min(db_times):.2f} "
                  f"| {added:.3f} | {same} |")


def _delayed(evaluate: Callable[[dict[str, str], int], Outcome], latency_s: float
             ) -> Callable[[dict[str, str], int], Awaitable[Outcome]]:
    """``evaluate`` as an async function that first sleeps ``latency_s``."""
    import asyncio

    async def slow(assignment: dict[str, str], example: int) -> Outcome:
        await asyncio.sleep(latency_s)
        return evaluate(assignment, example)
    return slow


def _line_count(path: str) -> int:
    with open(path) as f:
        return sum(1 for _ in f)


def concurrency(size: int, n_items: int, latency_s: float, max_concurrency: int) -> None:
    """Speedup over the sum of the evaluations' latencies (async evaluate sleeping ``latency_s``),
    in memory and with SQLite: what storage costs a search whose calls take real time."""
    print("\n| storage | cells | latency s | max_concurrency | wall s | speedup (sum of latencies "
          "/ wall) |")
    print("|---|---|---|---|---|---|")
    for storage in (None, "sqlite"):
        with tempfile.TemporaryDirectory() as tmp:
            space, evaluate, examples = problem(size, n_items)
            slow = _delayed(evaluate, latency_s)
            start = time.perf_counter()
            result = search(space, slow, examples, strategy="brute_force",
                            max_concurrency=max_concurrency, progress=False,
                            storage=None if storage is None else f"sqlite:///{tmp}/c.db")
            wall = time.perf_counter() - start
            cells = result.n_evaluations
            print(f"| {storage or 'memory'} | {cells} | {latency_s} | {max_concurrency} | "
                  f"{wall:.2f} | {cells * latency_s / wall:.1f}x |")


_CHILD = """
import json, sys, time
sys.path[:0] = {path!r}
from agentopt_search.bench.storage import problem
from agentopt_search import search
space, evaluate, examples = problem({size}, {n_items})
log = open({log!r}, "a", buffering=1)
def slow(assignment, example):
    out = evaluate(assignment, example)
    log.write(json.dumps([list(assignment.values()), example, time.time()]) + "\\n")
    time.sleep(0.002)
    return out
search(space, slow, examples, strategy="brute_force", storage={url!r}, max_concurrency=4,
       progress=False)
"""


def _stored_count(db: str) -> int:
    import sqlite3

    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT count(*) FROM trial_system_attributes WHERE key LIKE "
                                    "'cell:%'").fetchone()[0])
    except sqlite3.Error:  # not created yet
        return 0


def kill_and_resume_counts(tmp: str | Path, size: int, n_items: int, kill_after: int
                           ) -> tuple[dict[Any, float], set[Any], Any, float]:
    """SIGKILL a brute-force run once it evaluated ``kill_after`` cells and stored some, then run
    it again. Returns (cells evaluated before the kill -> when, cells stored, the resumed result
    with ``extra["repaid_stored"]``, the time of the kill)."""
    from agentopt_search.storage import read_run

    db, log = f"{tmp}/kill.db", f"{tmp}/kill-evals.jsonl"
    url = f"sqlite:///{db}"
    code = _CHILD.format(path=sys.path, size=size, n_items=n_items, log=log, url=url)
    child = subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ))
    while not Path(log).exists() or _line_count(log) < kill_after or _stored_count(db) == 0:
        if child.poll() is not None:
            raise RuntimeError("the run ended before it could be killed "
                               f"(code {child.returncode})")
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    killed_at = time.time()
    child.wait()
    with open(log) as f:
        evaluated = {(tuple(a), e): t for a, e, t in map(json.loads, f)}
    stored = {(tuple(c.assignment.values()), c.example) for c in read_run(url).cells}
    space, evaluate, examples = problem(size, n_items)
    paid: list[Any] = []

    def counting(assignment: dict[str, str], example: int) -> Outcome:
        paid.append((tuple(assignment.values()), example))
        return evaluate(assignment, example)

    result = search(space, counting, examples, strategy="brute_force", storage=url,
                    max_concurrency=4, progress=False)
    result.extra["repaid_stored"] = len(set(paid) & stored)
    return evaluated, stored, result, killed_at


def kill_and_resume(size: int, n_items: int, kill_after: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        evaluated, stored, result, killed_at = kill_and_resume_counts(tmp, size, n_items,
                                                                      kill_after)
    total = size * n_items
    lost = [t for k, t in evaluated.items() if k not in stored]
    oldest = f"{killed_at - min(lost):.2f} s" if lost else "-"
    print(f"\nkill -9 after {len(evaluated)} evaluations: {len(stored)} were stored, {len(lost)} "
          f"lost (the oldest lost one finished {oldest} before the kill; flush interval 0.5 s); "
          f"the resumed run reused {result.n_reused} and paid {result.n_paid} (= {total} - "
          f"{len(stored)}: {result.n_paid == total - len(stored)}); stored cells paid again: "
          f"{result.extra['repaid_stored']}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="64,512")
    ap.add_argument("--items", type=int, default=60)
    ap.add_argument("--strategy", default="brute_force")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--latency", type=float, default=0.05,
                    help="seconds per evaluation in the concurrency table")
    args = ap.parse_args(argv)
    print(f"first stored run of a process: {warm_up():.2f} s to import SQLAlchemy/Optuna and open "
          "a study (once; opening a study after that: see the tables)\n")
    overhead([int(s) for s in args.sizes.split(",")], args.items, args.strategy, args.repeats)
    concurrency(64, 30, args.latency, 32)
    kill_and_resume(64, args.items, kill_after=1500)


if __name__ == "__main__":
    main()
