"""``auto``: choose a strategy from the space size.

Rule (measured with ``python -m agentopt_search.bench``):

- one combination -> ``brute_force`` (nothing to choose);
- ``min_score`` given -> ``threshold_se``: the cheapest combination whose score is above it with
  the stated confidence (the question "what is the cheapest that is good enough");
- up to ``LARGE_SPACE`` combinations -> ``arm_elimination``: paired elimination with the stated
  confidence over every combination (on the 9x9 real benchmarks a slot-model screen drops the best
  too often: planner/solver interactions are strong there);
- more -> ``screening``: a slot-effects model prunes the space on a few examples, the finalists are
  confirmed by paired elimination (>= 0.9 within 1 pp at <= 10% of brute force on the synthetic
  3x8 and 4x6 spaces, where even one look at every combination would cost more).
"""

from __future__ import annotations

from ..state import Cell, SearchState
from .base import Strategy, get_strategy

#: Above this many combinations ``auto`` screens with a slot model before eliminating.
LARGE_SPACE = 200


class Auto(Strategy):
    name = "auto"

    def __init__(self) -> None:
        self.inner: Strategy | None = None

    def choose(self, state: SearchState) -> str:
        if state.space.size == 1:
            return "brute_force"
        if state.min_score is not None:
            return "threshold_se"
        if state.space.size > LARGE_SPACE:
            return "screening"
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
