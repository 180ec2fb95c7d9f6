"""AgentOpt's published arm-elimination rule, the baseline of the replay benchmark.

Unpaired mean +- ``z`` x standard error per combination; first batch = ``first_fraction`` x N
items, batch size doubling; all survivors evaluated on each batch; eliminate i if upper(i) <
lower(j) for some j. The published setting is ``z=1``, first batch N/10; ``z=2``, first batch N/5
is the setting that stays reliable on all six benchmark spaces. Not registered as a product
strategy (its intervals are neither paired nor valid over repeated looks).
"""

from __future__ import annotations

import numpy as np

from ..state import Cell, SearchState
from ..strategies.base import Strategy

__all__ = ["AgentOptRule"]


class AgentOptRule(Strategy):
    name = ""  # benchmark baseline only

    def __init__(self, z: float = 1.0, first_fraction: float = 0.1) -> None:
        self.z = z
        self.first_fraction = first_fraction
        self._k = 0
        self._done = False

    def start(self, state: SearchState) -> None:
        n = state.n_items
        batch = max(1, int(n * self.first_fraction))
        self.schedule = []
        total = 0
        while total < n:
            total = min(n, total + batch)
            self.schedule.append(total)
            batch *= 2

    def describe(self) -> str:
        return f"agentopt_rule (z={self.z:g}, first batch N*{self.first_fraction:g})"

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

    def pick(self, state: SearchState) -> int | None:
        """The best mean among survivors (the rule's own pick, whatever the objective)."""
        alive = [c for c in state.alive if state.n_observed([c])[0] > 0]
        if not alive:
            return super().pick(state)
        means = state.means(alive)
        cost = np.nan_to_num(state.cost_per_item(alive), nan=np.inf)
        return alive[int(np.lexsort((np.asarray(alive), cost, -means))[0])]
