"""Certified elimination over every combination (the ``auto`` strategy for most spaces).

Every combination first runs on the first look of the shared example order; then, each decision,
combinations certified worse than another are eliminated and the search stops as soon as its pick
is certified within ``tolerance`` of the best with the stated confidence (``objective="cost"``: the
cheapest combination certified within tolerance, every cheaper one certified outside it). In
between, only the combinations that can still change the answer get more items, and a leader that
would finish the search by itself (near the score ceiling: its own lower bound will pass every
other upper bound minus the tolerance) is evaluated first. The mechanics are ``_race.Race``; the
bounds and their union bound are in ``stats.py`` and ``certify.py``.
"""

from __future__ import annotations

from ..state import Cell, SearchState
from ._race import Race
from .base import Strategy

__all__ = ["ArmElimination"]


class ArmElimination(Strategy):
    name = "arm_elimination"

    def __init__(self, first: int | None = None, growth: float = 1.2,
                 compare_top: int = 3) -> None:
        self.first = first
        self.growth = growth
        self.compare_top = compare_top
        self.race: Race | None = None

    def start(self, state: SearchState) -> None:
        self.race = Race(state, range(state.space.size), self.first, self.growth, self.compare_top)

    def propose(self, state: SearchState) -> list[Cell]:
        assert self.race is not None
        return self.race.propose(state)

    def pick(self, state: SearchState) -> int | None:
        return self.race.pick(state) if self.race is not None else super().pick(state)
