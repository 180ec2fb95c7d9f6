"""``auto``: choose a strategy from the space size.

Rule: a single combination -> ``brute_force``; otherwise ``arm_elimination`` (paired, anytime-
corrected). Strategies added later extend this rule in this file only.
"""

from __future__ import annotations

from ..state import Cell, SearchState
from .base import Strategy, get_strategy


class Auto(Strategy):
    name = "auto"

    def __init__(self) -> None:
        self.inner: Strategy | None = None

    def choose(self, state: SearchState) -> str:
        if state.space.size == 1:
            return "brute_force"
        return "arm_elimination"

    def start(self, state: SearchState) -> None:
        self.inner = get_strategy(self.choose(state))
        self.inner.start(state)

    def propose(self, state: SearchState) -> list[Cell]:
        assert self.inner is not None
        return self.inner.propose(state)

    def pick(self, state: SearchState) -> int | None:
        assert self.inner is not None
        return self.inner.pick(state)

    def describe(self) -> str:
        return f"auto -> {self.inner.describe() if self.inner else '?'}"
