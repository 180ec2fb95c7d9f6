"""An Optuna sampler proposing which combinations to try (shared by ``bayesian`` and ``pareto``).

An in-memory study has one categorical parameter per slot; ``ask()`` gives a combination, which
is evaluated on the first ``chunk`` items (the same items for every combination: paired), then
``tell()`` gets its objective values on those items. ``batch`` trials are asked per round (the
sampler's ``constant_liar`` keeps a batch diverse). A repeated proposal is told its known values
for free; when a whole round brings nothing new the sampler has converged and exploration ends.
Spaces no larger than ``n_trials`` skip the sampler: every combination is tried.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..state import Cell, SearchState

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

__all__ = ["Explorer", "default_trials", "explore_chunk"]

Objectives = Callable[[SearchState, int, int], Sequence[float]]
Direction = Literal["minimize", "maximize"]


def default_trials(size: int) -> int:
    """Combinations to try in a space of ``size``: all of a small space, ~4 sqrt(size)
    of a large one."""
    return min(size, max(24, math.ceil(4 * math.sqrt(size))))


def explore_chunk(n_items: int, chunk: int | None, first: int | None, growth: float) -> int:
    """Items a proposal is first evaluated on: ``chunk``, else 20 or the grid's first look if
    larger. (On the synthetic 4x6 space 20 items instead of 10 took the bayesian pick from ~4 pp
    regret to ~1.)"""
    from ..stats import look_schedule

    if chunk:
        return max(1, min(int(chunk), n_items))
    return min(n_items, max(20, look_schedule(n_items, first, growth)[0]))


class Explorer:
    def __init__(self, state: SearchState, sampler: Any, directions: Sequence[Direction],
                 n_trials: int, batch: int, chunk: int, objectives: Objectives) -> None:
        self.n_trials = min(n_trials, state.space.size)
        self.batch = max(1, batch)
        self.chunk = chunk
        self.objectives = objectives
        self.values: dict[int, Sequence[float]] = {}
        self.pending: dict[int, Any] = {}   # combination -> optuna trial (None without a study)
        self.done = False
        self.study = None
        if self.n_trials >= state.space.size:
            self.pending = dict.fromkeys(range(state.space.size))
            return
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        self.dists: dict[str, BaseDistribution] = {
            slot: optuna.distributions.CategoricalDistribution(list(cands))
            for slot, cands in state.space.slots.items()}
        self.study = optuna.create_study(directions=directions, sampler=sampler)
        # Resumed runs: combinations already seen on the chunk are told up front, for free.
        seen = np.flatnonzero(~np.isnan(state.scores[:, :chunk]).any(axis=1))
        for c in seen[: self.n_trials].tolist():
            self._tell_known(state, c)

    @property
    def explored(self) -> list[int]:
        return list(self.values)

    def _value(self, vals: Sequence[float]) -> float | list[float]:
        return float(vals[0]) if len(vals) == 1 else [float(v) for v in vals]

    def _tell_known(self, state: SearchState, combo: int) -> None:
        vals = self.objectives(state, combo, self.chunk)
        self.values[combo] = vals
        if self.study is not None:
            trial = self.optuna.trial.create_trial(params=state.space.assignment(combo),
                                                   distributions=self.dists,
                                                   value=None if len(vals) > 1 else float(vals[0]),
                                                   values=[float(v) for v in vals] if len(vals) > 1
                                                   else None)
            self.study.add_trial(trial)

    def propose(self, state: SearchState) -> list[Cell]:
        if self.done:
            return []
        cells = state.cells_upto(list(self.pending), self.chunk)
        if cells:
            return cells
        for combo, trial in self.pending.items():
            vals = self.objectives(state, combo, self.chunk)
            self.values[combo] = vals
            if trial is not None:
                self.study.tell(trial, self._value(vals))  # type: ignore[union-attr]
        self.pending = {}
        if self.study is None or len(self.values) >= self.n_trials:
            self.done = True
            return []
        want = min(self.batch, self.n_trials - len(self.values))
        attempts = 0
        with warnings.catch_warnings():
            # Optuna's ExperimentalWarning for multivariate/constant_liar
            warnings.simplefilter("ignore")
            while len(self.pending) < want and attempts < 10 * want:
                attempts += 1
                trial = self.study.ask(self.dists)
                combo = state.space.index(trial.params)
                if combo in self.values:
                    self.study.tell(trial, self._value(self.values[combo]))
                elif combo in self.pending:
                    self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
                else:
                    self.pending[combo] = trial
        if not self.pending:  # the sampler keeps proposing known combinations: converged
            self.done = True
            return []
        return state.cells_upto(list(self.pending), self.chunk) or self.propose(state)
