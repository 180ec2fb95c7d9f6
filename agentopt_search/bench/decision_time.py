"""Decision time: how long each strategy thinks per round on a large space.

``python -m agentopt_search.bench.decision_time [--space 4x6] [--strategies ...] [--seed 0]``
runs each strategy through ``search()`` on the synthetic 4-slot x 6-model space (1,296
combinations, 200 items; ``synthetic.py``), timing every ``propose()`` call (the strategy's own
work: bounds, eliminations, sampler asks) apart from the evaluations, which are replayed. It
prints the median and max seconds per round, the number of rounds, and the whole run's time.
Target: under 1 s per round, so a strategy never keeps paid-for model calls waiting.
"""

from __future__ import annotations

import argparse
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine import search
from ..state import Cell, SearchState
from ..strategies.base import Strategy, get_strategy
from .synthetic import synthetic_replay

__all__ = ["DEFAULT", "Timed", "measure", "format_rows", "main"]

DEFAULT = ["arm_elimination", "epsilon_lucb", "threshold_se", "hill_climbing", "bayesian",
           "pareto", "lm_proposal", "random"]


@dataclass
class Timed(Strategy):
    """Wraps a strategy and records the wall time of each ``propose`` / ``start`` / ``pick``."""

    inner: Strategy
    rounds: list[float] = field(default_factory=list)
    other: float = 0.0

    def start(self, state: SearchState) -> None:
        t = time.perf_counter()
        self.inner.start(state)
        self.other += time.perf_counter() - t

    def propose(self, state: SearchState) -> list[Cell]:
        t = time.perf_counter()
        cells = self.inner.propose(state)
        self.rounds.append(time.perf_counter() - t)
        return cells

    def pick(self, state: SearchState) -> int | None:
        t = time.perf_counter()
        out = self.inner.pick(state)
        self.other += time.perf_counter() - t
        return out

    def describe(self) -> str:
        return self.inner.describe()


def measure(strategy: str, space: str = "4x6", seed: int = 0, **options: Any) -> dict[str, Any]:
    replay = synthetic_replay(space, seed=0)
    if strategy == "threshold_se" and "min_score" not in options:
        options["min_score"] = float(np.quantile(replay.true_means, 0.9))
    engine_opts = {k: options.pop(k) for k in ("min_score", "epsilon", "confidence")
                   if k in options}
    timed = Timed(get_strategy(strategy, **options))
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = search(replay.space, replay.evaluate, list(range(replay.n_items)), strategy=timed,
                        seed=seed, max_concurrency=1, progress=False, **engine_opts)
    total = time.perf_counter() - t0
    r = np.array(timed.rounds)
    truth = replay.true_means
    pick = result.best.index if result.best else None
    return {"strategy": strategy, "rounds": len(r), "median_s": float(np.median(r)),
            "max_s": float(r.max()), "think_s": float(r.sum() + timed.other), "total_s": total,
            "evaluations": result.n_evaluations,
            "regret_pp": (100 * float(truth.max() - truth[pick]) if pick is not None
                          else float("nan"))}


def format_rows(rows: list[dict[str, Any]], space: str) -> str:
    head = (f"{'strategy':<16} {'rounds':>7} {'median s/round':>15} {'max s/round':>12} "
            f"{'think s':>8} {'run s':>7} {'evals':>8} {'regret pp':>9}")
    out = [f"decision time on synthetic {space} (per propose() round; target < 1 s)", head,
           "-" * len(head)]
    for r in rows:
        flag = "" if r["max_s"] < 1.0 else "  <- over 1 s"
        out.append(f"{r['strategy']:<16} {r['rounds']:>7} {r['median_s']:>15.4f} "
                   f"{r['max_s']:>12.3f} {r['think_s']:>8.2f} {r['total_s']:>7.1f} "
                   f"{r['evaluations']:>8} {r['regret_pp']:>9.2f}{flag}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m agentopt_search.bench.decision_time",
                                description=__doc__)
    p.add_argument("--space", default="4x6",
                   help="synthetic space SxM (default 4x6: 1,296 combinations)")
    p.add_argument("--strategies", default=",".join(DEFAULT))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    rows = [measure(s, args.space, args.seed) for s in args.strategies.split(",") if s]
    print(format_rows(rows, args.space))
    return 0 if all(r["max_s"] < 1.0 for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
