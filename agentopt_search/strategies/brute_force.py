"""Evaluate every combination on every example. The reference every other strategy is measured by."""

from __future__ import annotations

from ..state import Cell, SearchState
from .base import Strategy


class BruteForce(Strategy):
    name = "brute_force"

    def __init__(self, batch_items: int = 10) -> None:
        self.batch_items = batch_items
        self._next = 0

    def propose(self, state: SearchState) -> list[Cell]:
        # Item-major batches so a budget stop leaves every combination on the same items.
        start, self._next = self._next, min(self._next + self.batch_items, state.n_items)
        return [(c, p) for p in range(start, self._next) for c in range(state.space.size)]
