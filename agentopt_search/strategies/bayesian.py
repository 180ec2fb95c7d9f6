"""``bayesian``: a Bayesian-optimisation sampler picks which combinations of a large space to try.

1. Explore: an in-memory Optuna study with one categorical parameter per slot proposes
   combinations (``sampler="gp"``: ``GPSampler``, which needs PyTorch, falling back to
   ``TPESampler(multivariate=True)`` with a warning when it is missing; ``sampler="tpe"``: TPE).
   Each proposal is evaluated on the first ``chunk`` items (default 20, or the first look of
   the item grid if larger; the same items for every combination) and told its mean score
   there; ``n_trials`` proposals (default ~4 sqrt(size)) in rounds of ``batch``.
2. Race: the ``top_k`` best explored combinations (default: max(8, an eighth of those explored);
   all of them when the space was small enough to be tried whole)
   get more items in a paired successive-elimination race (``_race.Race``), which makes the pick.

The guarantee covers the race (the pick is within ``epsilon`` of the best *raced* combination
with probability ``confidence``); which combinations get raced is the sampler's bet. Use it when
the space is too large to look at every combination even once.
"""

from __future__ import annotations

import importlib.util
import math
import warnings

import numpy as np

from .. import selection
from ..state import Cell, SearchState
from ._explore import Explorer, default_trials, explore_chunk
from ._race import Race, ranked
from .base import Strategy

__all__ = ["make_sampler", "chunk_mean", "Bayesian"]

_warned_gp = False


def make_sampler(kind: str, seed: int, n_startup: int, multi_objective: bool = False):  # type: ignore[no-untyped-def]
    """(Optuna sampler, its name). ``gp`` without PyTorch falls back to TPE, with one warning."""
    global _warned_gp
    import optuna

    if kind not in ("gp", "tpe"):
        raise ValueError(f"bayesian sampler must be 'gp' or 'tpe', got {kind!r}")
    if kind == "gp":
        if importlib.util.find_spec("torch") is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return optuna.samplers.GPSampler(seed=seed, n_startup_trials=n_startup), "gp"
        if not _warned_gp:
            _warned_gp = True
            warnings.warn("bayesian: sampler='gp' needs PyTorch (pip install torch); using the "
                          "TPE sampler instead",
                          RuntimeWarning, stacklevel=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup, multivariate=True,
                                          constant_liar=True), "tpe"


def chunk_mean(state: SearchState, combo: int, chunk: int) -> list[float]:
    return [float(np.nanmean(state.scores[combo, :chunk]))]


class Bayesian(Strategy):
    name = "bayesian"

    def __init__(self, sampler: str = "gp", n_trials: int | None = None, batch: int = 8,
                 top_k: int | None = None, chunk: int | None = None, first: int | None = None,
                 growth: float = 1.2) -> None:
        if sampler not in ("gp", "tpe"):
            raise ValueError(f"bayesian sampler must be 'gp' or 'tpe', got {sampler!r}")
        self.sampler = sampler
        self.n_trials = n_trials
        self.batch = batch
        self.top_k = top_k
        self.chunk = chunk
        self.first = first
        self.growth = growth
        self.used = sampler
        self.explorer: Explorer | None = None
        self.race: Race | None = None

    def start(self, state: SearchState) -> None:
        chunk = explore_chunk(state.n_items, self.chunk, self.first, self.growth)
        n_trials = self.n_trials or default_trials(state.space.size)
        sampler = None
        if n_trials < state.space.size:
            sampler, self.used = make_sampler(self.sampler, state.seed,
                                              n_startup=max(4, min(10, n_trials // 3)))
        else:
            self.used = "all"
        self.explorer = Explorer(state, sampler, ["maximize"], n_trials, self.batch, chunk,
                                 chunk_mean)

    def propose(self, state: SearchState) -> list[Cell]:
        assert self.explorer is not None
        if self.race is None:
            cells = self.explorer.propose(state)
            if cells:
                return cells
            explored = self.explorer.explored
            whole = len(explored) >= state.space.size  # a small space tried whole: race all of it
            k = self.top_k or (len(explored) if whole else max(8, math.ceil(len(explored) / 8)))
            top = ranked(state, explored, self.explorer.chunk)[:k].tolist()
            chosen = set(top)
            tried = set(explored)
            for c in range(state.space.size):
                if c not in chosen:
                    state.eliminate(c,
                                    f"not in the top {k} of the first {self.explorer.chunk} items"
                                    if c in tried else f"not proposed by the {self.used} sampler",
                                    kind="excluded")
            self.race = Race(state, top, self.first, self.growth)
        return self.race.propose(state)

    def pick(self, state: SearchState) -> int | None:
        if self.race is not None:
            picked = self.race.pick(state)
        else:  # stopped while exploring (budget)
            picked = selection.pick(state, self.explorer.explored if self.explorer else [])
        return picked if picked is not None else super().pick(state)

    def describe(self) -> str:
        n = len(self.explorer.explored) if self.explorer else 0
        return f"{self.name} ({self.used} sampler, {n} explored)"
