"""``pareto``: the score / cost / latency trade-off curve, not a single winner.

1. Explore: Optuna's ``NSGAIISampler`` (three objectives: mean score max, mean cost per item min,
   mean latency min, on the first ``chunk`` items: default 20) proposes which combinations to try;
   a space no larger than ``n_trials`` is tried whole.
2. Settle the front: every surviving explored combination runs on the same growing prefix of
   items (looks ``first``, x ``growth``, ...). At each look ``c`` is eliminated as dominated when
   some survivor ``d`` is, with confidence, no worse on every objective and better on one:
   ``upper(x_c - x_d) <= epsilon`` (score, paired), ``upper(cost_d - cost_c) <= 0`` and
   ``upper(lat_d - lat_c) <= 0`` (paired, on costs and latencies scaled by their largest observed
   value), and one of them strictly (score ``lower(x_d - x_c) > 0`` or a cost / latency upper
   bound below 0). Cost or latency that is the same everywhere (e.g. unpriced) is ignored. It stops when every surviving pair is settled: each side is better on some
   objective with confidence, so no further item can eliminate either.

``SearchResult.pareto()`` then lists the survivors that are not dominated on their (common-item)
means, each with its score interval; the combinations eliminated as dominated are left out.
The pick is the best-scoring survivor (equal scores: the cheaper).

``objectives=("score", "cost")`` leaves latency out (a front on three objectives is wide: many
combinations are best at something, and settling close latencies takes many items).

Confidence: the anytime-valid bounds (``stats.py``) of one (c, d) comparison (one per objective,
``J``) are at ``alpha / (J (k - 1))`` for ``k`` explored combinations, so a combination on the true
front (up to ``tolerance`` in score) is wrongly eliminated with probability at most ``alpha``. Cost
and latency differences are scaled by the largest value observed (they have no a priori bound), so
their part of the statement assumes no unseen item costs or waits more than that.
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np

from ..state import Cell, SearchState
from .. import selection
from ..stats import look_schedule, lower_above, upper_below
from ._explore import Explorer, default_trials, explore_chunk
from .base import Strategy


OBJECTIVES = ("score", "cost", "latency")


def chunk_objectives(state: SearchState, combo: int, chunk: int) -> list[float]:
    """Mean score, cost (0 when unpriced) and latency of ``combo`` on the first ``chunk`` items."""
    def mean(row: np.ndarray) -> float:
        v = float(np.nanmean(row)) if np.any(~np.isnan(row)) else 0.0
        return v if math.isfinite(v) else 0.0

    return [mean(state.scores[combo, :chunk]), mean(state.costs[combo, :chunk]), mean(state.latencies[combo, :chunk])]


class Pareto(Strategy):
    name = "pareto"

    def __init__(self, objectives: Sequence[str] = OBJECTIVES, n_trials: int | None = None,
                 population_size: int | None = None, batch: int | None = None, chunk: int | None = None,
                 first: int | None = None, growth: float = 1.2) -> None:
        objectives = (objectives,) if isinstance(objectives, str) else tuple(objectives)
        if "score" not in objectives or not set(objectives) <= set(OBJECTIVES) or len(set(objectives)) < 2:
            raise ValueError(f"pareto objectives must include 'score' and one or both of 'cost', 'latency'; "
                             f"got {objectives!r}")
        self.objectives = [o for o in OBJECTIVES if o in objectives]
        self.n_trials = n_trials
        self.population_size = population_size
        self.batch = batch
        self.chunk = chunk
        self.first = first
        self.growth = growth
        self.explorer: Explorer | None = None
        self.candidates: np.ndarray | None = None
        self._look = 0
        self._done = False

    def start(self, state: SearchState) -> None:
        self.schedule = look_schedule(state.n_items, self.first, self.growth)
        n_trials = self.n_trials or default_trials(state.space.size)
        pop = self.population_size or max(4, min(50, n_trials // 4))
        sampler = None
        if n_trials < state.space.size:
            import optuna

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sampler = optuna.samplers.NSGAIISampler(population_size=pop, seed=state.seed)
        keep = [OBJECTIVES.index(o) for o in self.objectives]

        def objectives(state: SearchState, combo: int, chunk: int) -> list[float]:
            values = chunk_objectives(state, combo, chunk)
            return [values[i] for i in keep]

        self.explorer = Explorer(state, sampler, ["maximize"] + ["minimize"] * (len(keep) - 1), n_trials,
                                 self.batch or pop, explore_chunk(state.n_items, self.chunk, self.first, self.growth),
                                 objectives)

    def propose(self, state: SearchState) -> list[Cell]:
        assert self.explorer is not None
        if self.candidates is None:
            cells = self.explorer.propose(state)
            if cells:
                return cells
            self.candidates = np.array(sorted(self.explorer.explored), dtype=int)
            chosen = set(self.candidates.tolist())
            for c in range(state.space.size):
                if c not in chosen:
                    state.eliminate(c, "not proposed by the NSGA-II sampler", kind="excluded")
            k = max(2, self.candidates.size)
            self.alpha_each = state.alpha / (len(self.objectives) * (k - 1))
        while not self._done and self._look < len(self.schedule):
            target = self.schedule[self._look]
            pending = state.cells_upto(self._alive(state), target)
            if pending:
                return pending
            self._done = self.decide(state, target)
            self._look += 1
        return []

    def _alive(self, state: SearchState) -> np.ndarray:
        assert self.candidates is not None
        return np.array([c for c in self.candidates if state.status[c] == "alive"], dtype=int)

    def decide(self, state: SearchState, n: int) -> bool:
        """Eliminate confidently dominated survivors at a look on ``n`` items; True when settled."""
        alive = self._alive(state)
        if alive.size <= 1:
            return True
        x = state.scores[alive, :n]
        extra = [(name, np.nan_to_num(rows[alive, :n], nan=0.0)) for name, rows in
                 (("cost", state.costs), ("latency", state.latencies)) if name in self.objectives]
        extra = [(name, v) for name, v in extra if np.ptp(v) > 0]  # unmeasured (unpriced) or constant: ignored
        c_idx, d_idx = (a.ravel() for a in np.meshgrid(np.arange(alive.size), np.arange(alive.size), indexing="ij"))
        pairs = c_idx != d_idx
        c_idx, d_idx = c_idx[pairs], d_idx[pairs]
        tests = _PairTests(x, c_idx, d_idx, self.alpha_each, state.n_items)
        eps = state.tolerance
        no_worse = tests.score_above(-eps)           # d's score is not below c's by more than eps
        strictly, better = tests.score_above(0.0), tests.score_above(eps)
        for _, v in extra:
            lower = tests.other_below(v / float(np.abs(v).max()))  # d certified cheaper / faster than c
            no_worse &= lower
            strictly |= lower
            better |= lower
        dom = np.zeros((alive.size, alive.size), dtype=bool)
        dom[c_idx, d_idx] = no_worse & strictly
        for i in np.flatnonzero(dom.any(axis=1)):
            j = int(np.flatnonzero(dom[i])[0])
            state.eliminate(int(alive[i]), f"dominated by {state.space.key(int(alive[j]))} on "
                                           f"{', '.join(self.objectives)} (paired bounds after {n} items)", dominated=True)
        keep = ~dom.any(axis=1)
        if keep.sum() <= 1:
            return True
        # Settled: for every surviving pair, each side is better than the other on some objective.
        b = np.eye(alive.size, dtype=bool)
        b[c_idx, d_idx] = better
        sub = b[np.ix_(keep, keep)]
        return bool((sub & sub.T).all())

    def pick(self, state: SearchState) -> int | None:
        alive = self._alive(state).tolist() if self.candidates is not None else (
            self.explorer.explored if self.explorer else [])
        picked = selection.pick(state, alive)
        return picked if picked is not None else super().pick(state)

    def describe(self) -> str:
        n = len(self.explorer.explored) if self.explorer else 0
        return f"{self.name} ({n} explored)"


class _PairTests:
    """Paired anytime-valid tests on ``v[d] - v[c]`` for the pairs (``c_idx``, ``d_idx``); rows whose
    point estimate already rules the statement out are not tested (they are False)."""

    def __init__(self, x: np.ndarray, c_idx: np.ndarray, d_idx: np.ndarray, alpha: float, population: int) -> None:
        self.x, self.c, self.d, self.alpha, self.population = x, c_idx, d_idx, alpha, population

    def _test(self, values: np.ndarray, m: float, above: bool) -> np.ndarray:
        diff = values[self.d] - values[self.c]
        mean = diff.mean(axis=1)
        maybe = mean > m if above else mean < m
        out = np.zeros(self.c.size, dtype=bool)
        if maybe.any():
            test = lower_above if above else upper_below
            out[maybe] = test(diff[maybe], m, self.alpha, self.population, (-1.0, 1.0))
        return out

    def score_above(self, m: float) -> np.ndarray:
        """Certified ``score_d - score_c > m``."""
        return self._test(self.x, m, above=True)

    def other_below(self, scaled: np.ndarray) -> np.ndarray:
        """Certified ``v_d - v_c < 0`` for a cost or latency scaled into [0, 1]."""
        return self._test(scaled, 0.0, above=False)
