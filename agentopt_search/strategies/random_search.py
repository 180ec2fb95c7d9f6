"""Random search: evaluate a random subset of combinations on every example."""

from __future__ import annotations

import math

from ..state import Cell, SearchState
from .base import Strategy

__all__ = ["RandomSearch"]


class RandomSearch(Strategy):
    """Samples ``n_combinations`` (default: a quarter of the space, at least 2)
    without replacement."""

    name = "random"

    def __init__(self, n_combinations: int | None = None) -> None:
        self.n_combinations = n_combinations
        self._done = False

    def start(self, state: SearchState) -> None:
        k = self.n_combinations or max(2, math.ceil(state.space.size / 4))
        k = min(k, state.space.size)
        chosen = set(state.rng.choice(state.space.size, size=k, replace=False).tolist())
        for c in range(state.space.size):
            if c not in chosen:
                state.eliminate(c, "not sampled", kind="excluded")

    def propose(self, state: SearchState) -> list[Cell]:
        if self._done:
            return []
        self._done = True
        return [(c, p) for c in state.alive for p in range(state.n_items)]
