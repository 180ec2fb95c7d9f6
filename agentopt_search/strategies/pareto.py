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
   bound below 0). Cost or latency that is the same everywhere (e.g. unpriced) is ignored. It
   stops when every surviving pair is settled: each side is better on some objective with
   confidence, so no further item can eliminate either.

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
from collections.abc import Sequence

import numpy as np

from .. import selection
from ..state import Cell, SearchState
from ..stats import could_pass, look_schedule, lower_above, upper_below
from ._explore import Direction, Explorer, default_trials, explore_chunk
from .base import Strategy

__all__ = ["OBJECTIVES", "chunk_objectives", "Pareto"]

OBJECTIVES = ("score", "cost", "latency")


def chunk_objectives(state: SearchState, combo: int, chunk: int) -> list[float]:
    """Mean score, cost (0 when unpriced) and latency of ``combo`` on the first ``chunk`` items."""
    def mean(row: np.ndarray) -> float:
        v = float(np.nanmean(row)) if np.any(~np.isnan(row)) else 0.0
        return v if math.isfinite(v) else 0.0

    return [mean(state.scores[combo, :chunk]), mean(state.costs[combo, :chunk]),
            mean(state.latencies[combo, :chunk])]


class Pareto(Strategy):
    name = "pareto"

    def __init__(self, objectives: Sequence[str] = OBJECTIVES, n_trials: int | None = None,
                 population_size: int | None = None, batch: int | None = None,
                 chunk: int | None = None, first: int | None = None, growth: float = 1.2) -> None:
        objectives = (objectives,) if isinstance(objectives, str) else tuple(objectives)
        if ("score" not in objectives or not set(objectives) <= set(OBJECTIVES)
                or len(set(objectives)) < 2):
            raise ValueError("pareto objectives must include 'score' and one or both of 'cost', "
                             f"'latency'; got {objectives!r}")
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

        directions: list[Direction] = ["maximize"]  # score, then cost and / or latency
        directions += ["minimize"] * (len(keep) - 1)
        self.explorer = Explorer(state, sampler, directions, n_trials, self.batch or pop,
                                 explore_chunk(state.n_items, self.chunk, self.first, self.growth),
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
        """Eliminate confidently dominated survivors at a look on ``n`` items;
        True when settled."""
        alive = self._alive(state)
        if alive.size <= 1:
            return True
        x = state.scores[alive, :n]
        extra = [np.nan_to_num(rows[alive, :n], nan=0.0) for name, rows in
                 (("cost", state.costs), ("latency", state.latencies)) if name in self.objectives]
        # unmeasured (unpriced) or constant: ignored
        extra = [v / float(np.abs(v).max()) for v in extra if np.ptp(v) > 0]
        eps = state.tolerance
        # Pairs (c, d) where d might dominate c on the point estimates; only those are tested.
        score, others = x.mean(axis=1), [v.mean(axis=1) for v in extra]
        c_idx, d_idx = np.nonzero(~np.eye(alive.size, dtype=bool))
        maybe = score[d_idx] >= score[c_idx] - eps
        for o in others:
            maybe &= o[d_idx] <= o[c_idx]
        dom = np.zeros((alive.size, alive.size), dtype=bool)
        dom[c_idx[maybe], d_idx[maybe]] = self._dominates(x, extra, c_idx[maybe], d_idx[maybe],
                                                          state)
        for i in np.flatnonzero(dom.any(axis=1)):
            j = int(np.flatnonzero(dom[i])[0])
            state.eliminate(int(alive[i]), f"dominated by {state.space.key(int(alive[j]))} on "
                                           f"{', '.join(self.objectives)} (paired bounds after "
                                           f"{n} items)", dominated=True)
        keep = np.flatnonzero(~dom.any(axis=1))
        if keep.size <= 1:
            return True
        # Settled: for every surviving pair, each side is better than the other on some objective.
        c_idx, d_idx = (a[~np.eye(keep.size, dtype=bool)]
                        for a in np.meshgrid(keep, keep, indexing="ij"))
        could = score[d_idx] > score[c_idx] + eps
        for o in others:
            could |= o[d_idx] < o[c_idx]
        if not could.all():
            return False  # some side measures better on nothing: not settled, no test needed
        tests = _PairTests(x, c_idx, d_idx, self.alpha_each, state.n_items)
        better = tests.score_above(eps)
        for v in extra:
            better |= tests.other_below(v, ~better)
        return bool(better.all())

    def _dominates(self, x: np.ndarray, extra: list[np.ndarray], c_idx: np.ndarray,
                   d_idx: np.ndarray, state: SearchState) -> np.ndarray:
        """Certified: d no dearer / slower than c on every extra objective, score not below c's by
        more than the tolerance, and strictly better on one objective."""
        tests = _PairTests(x, c_idx, d_idx, self.alpha_each, state.n_items)
        cheaper = np.ones(c_idx.size, dtype=bool)
        some = np.zeros(c_idx.size, dtype=bool)
        for v in extra:
            lower = tests.other_below(v, cheaper)       # d certified cheaper / faster than c
            cheaper &= lower
            some |= lower
        no_worse = tests.score_above(-state.tolerance, cheaper)
        return no_worse & (some | tests.score_above(0.0, no_worse & ~some))

    def pick(self, state: SearchState) -> int | None:
        alive = self._alive(state).tolist() if self.candidates is not None else (
            self.explorer.explored if self.explorer else [])
        picked = selection.pick(state, alive)
        return picked if picked is not None else super().pick(state)

    def describe(self) -> str:
        n = len(self.explorer.explored) if self.explorer else 0
        return f"{self.name} ({n} explored)"


class _PairTests:
    """Paired anytime-valid tests on ``v[d] - v[c]`` for the pairs (``c_idx``, ``d_idx``); rows
    whose point estimate already rules the statement out are not tested (they are False)."""

    def __init__(self, x: np.ndarray, c_idx: np.ndarray, d_idx: np.ndarray, alpha: float,
                 population: int) -> None:
        self.x, self.c, self.d, self.alpha, self.population = x, c_idx, d_idx, alpha, population

    def _test(self, values: np.ndarray, m: float, above: bool,
              rows: np.ndarray | None = None) -> np.ndarray:
        """The test on the pairs ``rows`` (default all; the others are False),
        after a cheap screen."""
        out = np.zeros(self.c.size, dtype=bool)
        idx = np.arange(self.c.size) if rows is None else np.flatnonzero(rows)
        if idx.size == 0:
            return out
        diff = values[self.d[idx]] - values[self.c[idx]]
        maybe = could_pass(diff, m, above, self.population)
        if maybe.any():
            test = lower_above if above else upper_below
            out[idx[maybe]] = test(diff[maybe], m, self.alpha, self.population, (-1.0, 1.0))
        return out

    def score_above(self, m: float, rows: np.ndarray | None = None) -> np.ndarray:
        """Certified ``score_d - score_c > m`` (on the pairs ``rows``)."""
        return self._test(self.x, m, above=True, rows=rows)

    def other_below(self, scaled: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Certified ``v_d - v_c < 0`` for a cost or latency scaled into [0, 1]
        (on the pairs ``rows``)."""
        return self._test(scaled, 0.0, above=False, rows=rows)
