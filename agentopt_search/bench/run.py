"""Run strategies through the public ``search()`` on replayed benchmarks, many seeds, one table.

For each benchmark and seed (= item order permutation), each strategy searches with ``evaluate``
looking cells up and charging their recorded cost. Side by side, AgentOpt's published rule runs as
the baseline, and every strategy's dollars are also shown relative to it.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..engine import search
from ..strategies.base import Strategy
from .agentopt_rule import AgentOptRule
from .replay import Replay, find_data_dir, load_replay
from .synthetic import synthetic_replay

BASELINE = "agentopt_rule"
DEFAULT_STRATEGIES = ["auto", "arm_elimination", "random", "brute_force"]


@dataclass
class RunRecord:
    bench: str
    strategy: str
    seed: int
    pick_true: float
    best_true: float
    spent: float
    brute: float
    evaluations: int
    seconds: float


def make_strategy(name: str) -> str | Strategy:
    return AgentOptRule() if name == BASELINE else name


def run_one(replay: Replay, strategy: str, seed: int, **options: Any) -> RunRecord:
    items = list(range(replay.n_items))
    t0 = time.perf_counter()
    result = search(replay.space, replay.evaluate, items, strategy=make_strategy(strategy), seed=seed,
                    max_concurrency=1, progress=False, **options)
    dt = time.perf_counter() - t0
    truth = replay.true_means
    pick = result.best.index if result.best else int(np.argmin(truth))
    return RunRecord(replay.name, strategy, seed, float(truth[pick]), float(truth.max()), result.spent_usd,
                     replay.brute_force_usd, result.n_evaluations, dt)


_REPLAYS: dict[str, Replay] = {}


SYNTH_PREFIX = "synth-"


def get_replay(source: str, seed: int = 0) -> Replay:
    """A recorded benchmark by CSV path, or ``synth-SxM``: a fresh synthetic space per ``seed``
    (``synthetic.synthetic_replay(SxM, seed)``), so seeds measure many spaces, not one."""
    name = Path(source).name
    key = f"{source}#{seed}" if name.startswith(SYNTH_PREFIX) else source
    if key not in _REPLAYS:
        if name.startswith(SYNTH_PREFIX):
            _REPLAYS.clear()  # one synthetic grid at a time per worker: they are large
            _REPLAYS[key] = synthetic_replay(name[len(SYNTH_PREFIX):], seed=seed)
        else:
            _REPLAYS[key] = load_replay(source)
    return _REPLAYS[key]


def _job(args: tuple[str, str, int, dict[str, Any]]) -> RunRecord:
    source, strategy, seed, options = args
    return run_one(get_replay(source, seed), strategy, seed, **options)


def summarise(records: list[RunRecord], tol: float = 0.01) -> list[dict[str, Any]]:
    rows = []
    groups: dict[tuple[str, str], list[RunRecord]] = {}
    for r in records:
        groups.setdefault((r.bench, r.strategy), []).append(r)
    base_spent = {b: np.mean([r.spent for r in rs]) for (b, s), rs in groups.items() if s == BASELINE}
    for (bench, strategy), rs in groups.items():
        regret = np.array([r.best_true - r.pick_true for r in rs])
        spent = float(np.mean([r.spent for r in rs]))
        rows.append({
            "bench": bench, "strategy": strategy, "seeds": len(rs),
            "p_best": float(np.mean(regret <= 1e-12)), "p_1pp": float(np.mean(regret <= tol + 1e-12)),
            "regret_pp": float(100 * regret.mean()), "pct_brute": float(100 * np.mean([r.spent / r.brute for r in rs])),
            "evals": float(np.mean([r.evaluations for r in rs])),
            "vs_agentopt": spent / base_spent[bench] if bench in base_spent else float("nan"),
            "sec": float(np.mean([r.seconds for r in rs])),
        })
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    head = f"{'benchmark':<10} {'strategy':<17} {'P(best)':>7} {'P(<=1pp)':>8} {'regret pp':>9} " \
           f"{'% brute $':>9} {'evals':>8} {'$ vs AgentOpt':>13} {'s/run':>6}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['bench']:<10} {r['strategy']:<17} {r['p_best']:>7.2f} {r['p_1pp']:>8.2f} "
                     f"{r['regret_pp']:>9.2f} {r['pct_brute']:>8.1f}% {r['evals']:>8.0f} {r['vs_agentopt']:>12.2f}x "
                     f"{r['sec']:>6.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m agentopt_search.bench", description=__doc__)
    p.add_argument("--data", help="folder with the benchmark CSVs (default: ../shared/bench-data)")
    p.add_argument("--benchmarks", default="hotpotqa,mathqa,gpqa,bfcl",
                   help="recorded CSV names and/or synthetic spaces synth-3x8, synth-4x6 (slots x models)")
    p.add_argument("--strategies", default=",".join(DEFAULT_STRATEGIES))
    p.add_argument("--seeds", type=int, default=50)
    p.add_argument("--workers", type=int, default=max(1, mp.cpu_count()))
    p.add_argument("--confidence", type=float, default=0.95)
    p.add_argument("--epsilon", type=float, default=0.01)
    p.add_argument("--min-score", type=float, default=None,
                   help="bar for threshold_se (default: the 90th percentile of the true means)")
    args = p.parse_args(argv)
    benches = [b for b in args.benchmarks.split(",") if b]
    data = find_data_dir(args.data) if any(not b.startswith(SYNTH_PREFIX) for b in benches) else None
    strategies = [s for s in args.strategies.split(",") if s]
    if BASELINE not in strategies:
        strategies.append(BASELINE)
    options = {"confidence": args.confidence, "epsilon": args.epsilon}
    jobs = []
    for bench in benches:
        synthetic = bench.startswith(SYNTH_PREFIX)
        source = bench if synthetic else str(Path(data) / f"{bench}.csv")  # type: ignore[arg-type]
        for strategy in strategies:
            if strategy == "brute_force" and synthetic:
                continue  # its row is known without running: P(best) 1, 100% of brute force $
            opts = dict(options)
            if strategy == "threshold_se":
                truth = get_replay(source).true_means
                opts["min_score"] = args.min_score if args.min_score is not None else float(np.quantile(truth, 0.9))
            seeds = range(1) if strategy == "brute_force" else range(args.seeds)  # deterministic
            jobs += [(source, strategy, seed, opts) for seed in seeds]
    jobs.sort(key=lambda j: (j[0], j[2]))  # a worker reuses one synthetic grid across strategies
    t0 = time.perf_counter()
    if args.workers > 1:
        with mp.Pool(args.workers) as pool:
            records = pool.map(_job, jobs, chunksize=4)
    else:
        records = [_job(j) for j in jobs]
    print(f"replay benchmark: {args.seeds} seeds, confidence {args.confidence}, epsilon {args.epsilon}, "
          f"data {data or 'synthetic'}  ({time.perf_counter() - t0:.0f}s)")
    print(format_table(summarise(records)))
    return 0
