"""Replay a recorded benchmark: per-item results of every combination,
looked up instead of paid."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..outcome import Outcome
from ..space import SearchSpace

__all__ = ["Replay", "load_replay", "find_data_dir"]

_NON_SLOT = {"item", "score", "latency_s", "cost_usd", "input_tokens", "output_tokens"}


@dataclass
class Replay:
    """A full (combination x item) grid: ground truth is each combination's mean over all items."""

    name: str
    space: SearchSpace
    scores: np.ndarray   # (combos, items), NaN = missing
    costs: np.ndarray
    latencies: np.ndarray

    @property
    def n_items(self) -> int:
        return self.scores.shape[1]

    @property
    def true_means(self) -> np.ndarray:
        return self.scores.mean(axis=1)

    @property
    def brute_force_usd(self) -> float:
        return float(np.nansum(self.costs))

    def evaluate(self, assignment: dict[str, str], item: int) -> Outcome:
        c = self.space.index(assignment)
        return Outcome(score=float(self.scores[c, item]), cost_usd=float(self.costs[c, item]),
                       latency_s=float(self.latencies[c, item]))


def load_replay(path: str | Path) -> Replay:
    """Read one ``bench-data/*.csv`` file, keeping the items that have a result for every
    combination (a few published runs are incomplete: MathQA keeps 135 of 200 items). A missing
    cell is a run that was never recorded, not a failure, so it is neither scored 0 nor guessed."""
    path = Path(path)
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path} has no rows")
    slots = [k for k in rows[0] if k not in _NON_SLOT]
    candidates: dict[str, list[str]] = {s: [] for s in slots}
    for r in rows:
        for s in slots:
            if r[s] not in candidates[s]:
                candidates[s].append(r[s])
    space = SearchSpace({s: sorted(v) for s, v in candidates.items()})
    items = sorted({int(r["item"]) for r in rows})
    col = {it: j for j, it in enumerate(items)}
    shape = (space.size, len(items))
    scores, costs, lats = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
    for r in rows:
        c = space.index({s: r[s] for s in slots})
        j = col[int(r["item"])]
        scores[c, j], costs[c, j], lats[c, j] = (float(r["score"]), float(r["cost_usd"]),
                                                 float(r["latency_s"]))
    complete = ~np.isnan(scores).any(axis=0)
    return Replay(path.stem, space, scores[:, complete], costs[:, complete], lats[:, complete])


def find_data_dir(explicit: str | None = None) -> Path:
    """``explicit``, $AGENTOPT_BENCH_DATA, or ``shared/bench-data`` beside the repository."""
    import os

    here = Path(__file__).resolve()
    options = [explicit, os.environ.get("AGENTOPT_BENCH_DATA"),
               Path.cwd() / "../shared/bench-data", here.parents[3] / "shared/bench-data",
               Path.cwd() / "shared/bench-data"]
    for opt in options:
        if opt and Path(opt).is_dir() and list(Path(opt).glob("*.csv")):
            return Path(opt).resolve()
    raise FileNotFoundError("benchmark data not found: pass --data DIR or set AGENTOPT_BENCH_DATA "
                            "to the folder holding hotpotqa.csv, mathqa.csv, ...")
