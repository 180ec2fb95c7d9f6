"""AgentOpt's published arm-elimination rule, the baseline of the replay benchmark.

Unpaired mean +- 1.0 x standard error per combination; first batch = n // 10 items, batch size
doubling; all survivors evaluated on each batch; eliminate i if upper(i) < lower(j) for some j.
Not registered as a product strategy (its intervals are neither paired nor corrected for looks).
"""

from __future__ import annotations

import numpy as np

from ..state import Cell, SearchState
from ..strategies.base import Strategy


class AgentOptRule(Strategy):
    name = ""  # benchmark baseline only

    def __init__(self, z: float = 1.0) -> None:
        self.z = z
        self._k = 0
        self._done = False

    def start(self, state: SearchState) -> None:
        n = state.n_items
        batch = max(1, n // 10)
        self.schedule = []
        total = 0
        while total < n:
            total = min(n, total + batch)
            self.schedule.append(total)
            batch *= 2

    def describe(self) -> str:
        return "agentopt_rule"

    def propose(self, state: SearchState) -> list[Cell]:
        while not self._done and self._k < len(self.schedule):
            target = self.schedule[self._k]
            pending = [(c, p) for c in state.alive for p in state.unseen(c, target)]
            if pending:
                return pending
            alive = np.array(state.alive)
            x = state.scores[alive, :target]
            m = x.mean(axis=1)
            se = x.std(axis=1, ddof=1) / np.sqrt(target) if target > 1 else np.ones(len(alive))
            lower, upper = m - self.z * se, m + self.z * se
            for i in np.flatnonzero(upper < lower.max()):
                state.eliminate(int(alive[i]), "upper < some lower")
            self._done = len(state.alive) <= 1
            self._k += 1
        return []
