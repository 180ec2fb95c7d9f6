"""Evaluate every combination on every example: the reference other strategies are measured by."""

from __future__ import annotations

import math

from ..state import Cell, SearchState
from .base import Strategy

__all__ = ["BruteForce"]


class BruteForce(Strategy):
    """Item-major batches, so a budget stop leaves every combination on the same items (give or
    take the cells in flight). A batch holds at least ``batch_items`` items and at least
    ``batch_cells`` cells: the engine finishes a batch before it asks for the next one, and every
    such wait idles the evaluation slots while the batch's slowest cells finish, so a batch spans
    many rounds of ``max_concurrency`` (a small space comes in one batch). Nothing here depends on
    outcomes: the batch size changes when cells start, never which cells are evaluated."""

    name = "brute_force"

    def __init__(self, batch_items: int = 10, batch_cells: int = 4096) -> None:
        self.batch_items = batch_items
        self.batch_cells = batch_cells
        self._next = 0

    def propose(self, state: SearchState) -> list[Cell]:
        by_cells = math.ceil(self.batch_cells / max(state.space.size, 1))
        per_batch = max(self.batch_items, by_cells, 1)
        start, self._next = self._next, min(self._next + per_batch, state.n_items)
        return [(c, p) for p in range(start, self._next) for c in range(state.space.size)]
