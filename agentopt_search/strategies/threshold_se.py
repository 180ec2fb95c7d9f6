"""``threshold_se``: which combinations reach ``min_score``? Successive elimination against a bar.

Every undecided combination runs on the same growing prefix of items (looks ``first``, x
``growth``, ...). At each look a combination is classified *above* when the lower bound of its
mean is at least ``min_score``, *below* (eliminated) when the upper bound is under it; the others
go on to the next look. At the last look every item is seen and the bounds are exact, so every
combination ends classified. Cells are proposed cheapest combination first (observed cost per
item, an additive per-slot estimate for unseen ones), so a budget stop leaves the cheap end
settled. The pick is the cheapest combination confidently above the bar.

``classify_all=False`` stops as soon as the pick is settled: a combination is confidently above
and every cheaper one confidently below (dearer ones are dropped, unclassified).

Confidence: one-sample anytime-valid bounds (``stats.py``, exact at N) at ``alpha / m`` for ``m``
combinations. A combination is misclassified only if the one bound on the side of its true mean
fails at some look, so every combination is classified correctly at once with probability
``confidence``. The pick answers "the cheapest above the bar" whatever ``objective`` says (with
weights, the best weighted sum among those above).
"""

from __future__ import annotations

import numpy as np

from .. import selection
from ..state import Cell, SearchState
from ..stats import bounds, look_schedule, lower_above, upper_below
from .base import Strategy

__all__ = ["ThresholdSE"]


class ThresholdSE(Strategy):
    name = "threshold_se"

    def __init__(self, first: int | None = None, growth: float = 1.2,
                 classify_all: bool = True) -> None:
        self.first = first
        self.growth = growth
        self.classify_all = classify_all
        self.above: dict[int, float] = {}  # combination -> lower bound when classified
        self._look = 0
        self._done = False

    def start(self, state: SearchState) -> None:
        if state.min_score is None:
            raise ValueError("strategy 'threshold_se' needs min_score=...: the score every "
                             "combination is classified against, e.g. search(..., "
                             "strategy='threshold_se', min_score=0.8)")
        if not 0 <= state.min_score <= 1:
            raise ValueError("strategy 'threshold_se' needs min_score in [0, 1], got "
                             f"{state.min_score!r}")
        self.schedule = look_schedule(state.n_items, self.first, self.growth)
        self.alpha_each = state.alpha / max(1, state.space.size)
        state.pair_alpha, state.one_alpha = None, self.alpha_each

    def _undecided(self, state: SearchState) -> list[int]:
        return [c for c in state.alive if c not in self.above]

    def propose(self, state: SearchState) -> list[Cell]:
        while not self._done and self._look < len(self.schedule):
            target = self.schedule[self._look]
            undecided = self._undecided(state)
            order = np.asarray(undecided, dtype=int)
            if order.size:
                cost = state.estimated_cost_per_item()[order]
                order = order[np.lexsort((order, np.nan_to_num(cost, nan=np.inf)))]
            pending = state.cells_upto(order, target)
            if pending:
                return pending
            self._done = self.decide(state, undecided, target)
            self._look += 1
        return []

    def decide(self, state: SearchState, undecided: list[int], n: int) -> bool:
        """Classify at a look on the first ``n`` items; True when the search can stop."""
        tau = float(state.min_score)  # type: ignore[arg-type]
        if undecided:
            combos = np.asarray(undecided, dtype=int)
            x = state.scores[combos, :n]
            mean = x.mean(axis=1)
            last = n >= state.n_items
            above = lower_above(x, tau, self.alpha_each, state.n_items) | (last & (mean >= tau))
            below = ~above & (upper_below(x, tau, self.alpha_each, state.n_items) | last)
            settled = above | below
            # for the reasons only
            lower, upper = bounds(x[settled], self.alpha_each, state.n_items)
            for c, is_above, lo, hi in zip(combos[settled].tolist(), above[settled], lower, upper):
                if is_above:
                    self.above[c] = float(lo)
                    state.reasons[c] = (f"above min_score {tau:g} (lower bound {lo:.3f} "
                                        f"after {n} items)")
                else:
                    state.eliminate(c, f"below min_score {tau:g} (upper bound {hi:.3f} "
                                       f"after {n} items)", kind="infeasible")
        if not self._undecided(state):
            return True
        if self.classify_all or not self.above:
            return False
        # Settled pick: the cheapest confidently-above combination; dearer undecided ones cannot
        # beat it.
        cost = np.nan_to_num(state.cost_per_item(), nan=np.inf)
        best = min(self.above, key=lambda c: (cost[c], c))
        for c in self._undecided(state):
            if cost[c] > cost[best]:
                state.eliminate(c,
                                f"dearer than {state.space.key(best)}, which is above min_score "
                                f"{tau:g}", kind="dearer")
        return not self._undecided(state)

    def pick(self, state: SearchState) -> int | None:
        above = [c for c in self.above if state.status[c] == "alive"]
        if above:
            kind = "weights" if selection.objective_kind(state) == "weights" else "cost"
            return selection.pick(state, above, above, objective=kind)
        # nothing confidently above: the best mean (None if below min_score)
        return super().pick(state)

    def describe(self) -> str:
        return f"{self.name} ({len(self.above)} above min_score)"
