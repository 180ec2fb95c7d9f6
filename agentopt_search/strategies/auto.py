"""``auto``: choose a strategy from the space and the objective.

Rule (measured with ``python -m agentopt_search.bench``):

- one combination -> ``brute_force`` (nothing to choose);
- ``min_score`` with ``objective="cost"`` -> ``threshold_se``: the cheapest combination whose score
  is above the bar with the stated confidence ("what is the cheapest that is good enough");
- otherwise -> ``arm_elimination``: certified elimination over every combination, so the stated
  confidence covers the whole space, however large (``screening`` is cheaper on thousands of
  combinations but only covers the finalists of its heuristic screen: pick it explicitly).
"""

from __future__ import annotations

from ..state import Cell, SearchState
from .base import Strategy, get_strategy

__all__ = ["LARGE_SPACE", "Auto"]

#: Spaces larger than this are "large" (``screening`` targets them; ``auto`` does not switch).
LARGE_SPACE = 200


class Auto(Strategy):
    name = "auto"

    def __init__(self) -> None:
        self.inner: Strategy | None = None

    def choose(self, state: SearchState) -> str:
        if state.space.size == 1:
            return "brute_force"
        if state.min_score is not None and state.objective == "cost":
            return "threshold_se"
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
