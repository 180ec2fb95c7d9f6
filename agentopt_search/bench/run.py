"""Replay benchmark: strategies through the public ``search()`` on recorded and synthetic spaces.

``python -m agentopt_search.bench [--seeds 50] [--tolerances 0.01,0.025,0.05]
[--strategies auto,auto:cost]``

For each space, seed (= item order) and tolerance, each strategy searches with ``evaluate``
looking cells up and charging their recorded cost (``name:cost`` runs it with
``objective="cost"``). AgentOpt's rule runs beside them at z = 2 with a first batch of N/5 (the
setting that stays reliable everywhere) and as published (z = 1, N/10). Per space, strategy and
tolerance the table shows:

* ``P(<=tol)``: the pick's true score (mean over every item) is within the tolerance of the best;
* ``P(ok&<=1.1x$)``: that, and its true cost per example is at most 1.1x the cheapest combination
  within the tolerance (the product's promise: the cheapest combination that keeps accuracy);
* mean regret (pp), dollars as % of brute force, dollars / each AgentOpt rule, CPU s per run.

Then the mean over spaces of dollars / AgentOpt (z = 2, N/5), and a coverage check of the bounds
(``coverage.py``): simulated near-tie cases whose false-certificate rate must stay <= nominal.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..engine import search
from ..strategies.base import Strategy
from .agentopt_rule import AgentOptRule
from .coverage import coverage_table
from .replay import Replay, find_data_dir, load_replay
from .synthetic import synthetic_replay

__all__ = [
    "BASELINE", "PUBLISHED", "RULES", "DEFAULT_STRATEGIES", "TOLERANCES", "SYNTH_PREFIX",
    "RunRecord", "make_strategy", "run_one", "get_replay", "summarise", "format_table",
    "format_means", "main",
]

BASELINE = "agentopt_z2"     # z = 2, first batch N/5
PUBLISHED = "agentopt_rule"  # z = 1, first batch N/10
RULES = {BASELINE: (2.0, 0.2), PUBLISHED: (1.0, 0.1)}
DEFAULT_STRATEGIES = ["auto", "auto:cost"]
TOLERANCES = (0.01, 0.025, 0.05)
SYNTH_PREFIX = "synth-"


@dataclass
class RunRecord:
    bench: str
    strategy: str
    tolerance: float
    seed: int
    pick_true: float        # true mean score of the pick
    best_true: float
    pick_cost: float        # true mean cost per example of the pick
    cheapest_ok: float      # true cost per example of the cheapest combination within tolerance
    spent: float
    brute: float
    evaluations: int
    seconds: float          # CPU seconds


def make_strategy(name: str) -> str | Strategy:
    if name in RULES:
        z, first = RULES[name]
        return AgentOptRule(z=z, first_fraction=first)
    return name.split(":")[0]


def run_one(replay: Replay, strategy: str, seed: int, tolerances: Sequence[float] = (0.01,),
            **options: Any) -> list[RunRecord]:
    """One search per tolerance (the AgentOpt rules ignore it: one search, judged at each)."""
    items = list(range(replay.n_items))
    truth, cost = replay.true_means, replay.costs.mean(axis=1)
    if strategy.endswith(":cost"):
        options = {**options, "objective": "cost"}
    runs = [(None, tolerances)] if strategy in RULES else [(t, (t,)) for t in tolerances]
    out = []
    for tol, judged in runs:
        t0 = time.process_time()
        opts = dict(options) if tol is None else {**options, "tolerance": tol}
        result = search(replay.space, replay.evaluate, items, strategy=make_strategy(strategy),
                        seed=seed, max_concurrency=1, progress=False, **opts)
        dt = time.process_time() - t0
        pick = result.best.index if result.best else int(np.argmin(truth))
        for t in judged:
            ok = truth >= truth.max() - t - 1e-12
            out.append(RunRecord(replay.name, strategy, t, seed, float(truth[pick]),
                                 float(truth.max()), float(cost[pick]), float(cost[ok].min()),
                                 result.spent_usd, replay.brute_force_usd, result.n_evaluations,
                                 dt))
    return out


_REPLAYS: dict[str, Replay] = {}


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


#: One worker's job: (CSV path or synthetic space, strategy, seed, tolerances, search options).
_Job = tuple[str, str, int, tuple[float, ...], dict[str, Any]]


def _job(args: _Job) -> list[RunRecord]:
    source, strategy, seed, tolerances, options = args
    return run_one(get_replay(source, seed), strategy, seed, tolerances, **options)


def summarise(records: list[RunRecord]) -> list[dict[str, Any]]:
    """One row per (space, strategy, tolerance)."""
    groups: dict[tuple[str, str, float], list[RunRecord]] = {}
    for r in records:
        groups.setdefault((r.bench, r.strategy, r.tolerance), []).append(r)
    spent = {k: float(np.mean([r.spent for r in rs])) for k, rs in groups.items()}
    rows = []
    for (bench, strategy, tol), rs in groups.items():
        regret = np.array([r.best_true - r.pick_true for r in rs])
        within = regret <= tol + 1e-12
        priced = np.array([r.pick_cost <= 1.1 * r.cheapest_ok * (1 + 1e-12) for r in rs])
        mine = spent[(bench, strategy, tol)]
        rows.append({
            "bench": bench, "strategy": strategy, "tolerance": tol, "seeds": len(rs),
            "p_within": float(within.mean()), "p_cheap": float((within & priced).mean()),
            "regret_pp": float(100 * regret.mean()),
            "pct_brute": float(100 * np.mean([r.spent / r.brute for r in rs])),
            "vs_z2": (mine / spent[(bench, BASELINE, tol)] if (bench, BASELINE, tol) in spent
                      else float("nan")),
            "vs_published": (mine / spent[(bench, PUBLISHED, tol)]
                             if (bench, PUBLISHED, tol) in spent else float("nan")),
            "sec": float(np.mean([r.seconds for r in rs])),
        })
    return sorted(rows, key=lambda r: (r["tolerance"], r["bench"]))


def format_table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'tol':>5} {'benchmark':<10} {'strategy':<15} {'P(<=tol)':>8} {'P(ok&<=1.1x$)':>13} "
            f"{'regret pp':>9} {'% brute $':>9} {'$/AgentOpt z2':>13} {'$/published':>11} "
            f"{'cpu s':>6}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['tolerance']:>5.3f} {r['bench']:<10} {r['strategy']:<15} "
                     f"{r['p_within']:>8.2f} {r['p_cheap']:>13.2f} {r['regret_pp']:>9.2f} "
                     f"{r['pct_brute']:>8.1f}% {r['vs_z2']:>12.2f}x {r['vs_published']:>10.2f}x "
                     f"{r['sec']:>6.2f}")
    return "\n".join(lines)


def format_means(rows: list[dict[str, Any]]) -> str:
    """Mean over spaces of dollars / AgentOpt (z = 2, N/5), per strategy and tolerance."""
    out = ["mean over spaces of dollars / AgentOpt rule (z=2, first batch N/5):"]
    keys = sorted({(r["strategy"], r["tolerance"]) for r in rows if r["strategy"] not in RULES})
    for strategy, tol in keys:
        ratios = [r["vs_z2"] for r in rows if r["strategy"] == strategy and r["tolerance"] == tol]
        out.append(f"  {strategy:<15} tol {tol:.3f}: {np.nanmean(ratios):.2f}x over {len(ratios)} "
                   "spaces")
    return "\n".join(out)


def _jobs(benches: list[str], strategies: list[str], seeds: int, tolerances: tuple[float, ...],
          data: Path | None, options: dict[str, Any]) -> list[_Job]:
    jobs = []
    for bench in benches:
        synthetic = bench.startswith(SYNTH_PREFIX)
        source = bench if synthetic else str(Path(data) / f"{bench}.csv")  # type: ignore[arg-type]
        for strategy in strategies:
            if strategy == "brute_force" and synthetic:
                continue  # its row is known without running: 100% of brute force $
            opts = dict(options)
            if strategy.split(":")[0] == "threshold_se":
                truth = get_replay(source).true_means
                opts["min_score"] = opts.get("min_score") or float(np.quantile(truth, 0.9))
            rounds = range(1) if strategy == "brute_force" else range(seeds)  # deterministic
            jobs += [(source, strategy, seed, tolerances, opts) for seed in rounds]
    jobs.sort(key=lambda j: (j[0], j[2]))  # a worker reuses one synthetic grid across strategies
    return jobs


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m agentopt_search.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="folder with the benchmark CSVs (default: ../shared/bench-data)")
    p.add_argument("--benchmarks", default="hotpotqa,mathqa,gpqa,bfcl,synth-3x8,synth-4x6",
                   help="recorded CSV names and/or synthetic spaces synth-3x8, synth-4x6 (slots x "
                        "models)")
    p.add_argument("--strategies", default=",".join(DEFAULT_STRATEGIES),
                   help="strategy names; 'name:cost' runs with objective='cost'")
    p.add_argument("--tolerances", default=",".join(map(str, TOLERANCES)))
    p.add_argument("--seeds", type=int, default=50)
    p.add_argument("--workers", type=int, default=max(1, mp.cpu_count()))
    p.add_argument("--confidence", type=float, default=0.95)
    p.add_argument("--min-score", type=float, default=None,
                   help="bar for threshold_se (default: the 90th percentile of the true means)")
    p.add_argument("--coverage-sims", type=int, default=50_000,
                   help="orders per coverage case (0: skip)")
    p.add_argument("--records", help="JSON-lines file: each finished job's records are appended "
                   "as it ends; jobs already in it are not run again (resume a long run)")
    return p


def _names(text: str) -> list[str]:
    """The non-empty names of a comma-separated list."""
    return [name for name in text.split(",") if name]


def _job_key(bench: str, strategy: str, seed: int) -> str:
    return f"{bench}|{strategy}|{seed}"


def _bench_name(source: str) -> str:
    """A job's space as its records name it (a CSV's stem, or ``synth-SxM``)."""
    return source if source.startswith(SYNTH_PREFIX) else Path(source).stem


def _read_records(path: str | None) -> list[RunRecord]:
    if not path or not Path(path).exists():
        return []
    with open(path) as f:
        return [RunRecord(**json.loads(line)) for line in f if line.strip()]


def _records(jobs: list[_Job], workers: int, path: str | None = None) -> list[RunRecord]:
    """Every job's records (``workers`` > 1: in a process pool). With ``path``, the records of
    jobs already in that JSON-lines file are read instead of run, and each new job's are appended
    as it ends."""
    done = _read_records(path)
    keys = {_job_key(r.bench, r.strategy, r.seed) for r in done}
    todo = [j for j in jobs if _job_key(_bench_name(j[0]), j[1], j[2]) not in keys]
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(open(path, "a")) if path else None
        pool = stack.enter_context(mp.Pool(workers)) if workers > 1 else None
        for rs in pool.imap(_job, todo) if pool is not None else map(_job, todo):
            done += rs
            if out is not None:
                out.writelines(json.dumps(asdict(r)) + "\n" for r in rs)
                out.flush()
    return done


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    benches = _names(args.benchmarks)
    recorded = any(not b.startswith(SYNTH_PREFIX) for b in benches)
    data = find_data_dir(args.data) if recorded else None
    strategies = _names(args.strategies)
    strategies += [r for r in RULES if r not in strategies]
    tolerances = tuple(float(t) for t in args.tolerances.split(",") if t)
    options: dict[str, Any] = {"confidence": args.confidence}
    if args.min_score is not None:
        options["min_score"] = args.min_score
    jobs = _jobs(benches, strategies, args.seeds, tolerances, data, options)
    t0 = time.perf_counter()
    records = _records(jobs, args.workers, args.records)
    rows = summarise(records)
    print(f"replay benchmark: {args.seeds} item orders, confidence {args.confidence}, tolerances "
          f"{', '.join(map(str, tolerances))}, data {data or 'synthetic'}  "
          f"({time.perf_counter() - t0:.0f}s)")
    print(format_table(rows))
    print(format_means(rows))
    if args.coverage_sims:
        table, _ = coverage_table(sims=args.coverage_sims)
        print(table)
    return 0
