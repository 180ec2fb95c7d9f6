"""``hill_climbing``: change one slot at a time, keep a change when paired evidence says it helps.

A climb starts from the cheapest combination (estimated cost; unknown = first candidate of each
slot) and, after a local optimum, restarts from a random combination not visited yet
(``restarts`` times). From the current combination it compares neighbours (one slot changed,
``SearchSpace.neighbours``) cheapest first: observed or additively estimated cost per item,
unknown cost in candidate order. ``width`` neighbours are compared at once, each on a growing
prefix of the shared items (looks ``first``, x ``growth``, ...), paired with the current one:

* accept (move) when the lower bound of ``x_n - x_current`` is above 0: better with confidence;
* reject when its upper bound is at most ``epsilon``: not better by more than ``epsilon``.

No neighbour accepted = local optimum. The local optima then race (certified elimination,
``_race.Race``) for the pick. Every visited combination is thus evaluated only as far as its
comparisons need. Bounds (anytime-valid, ``stats.py``) of one step's comparisons are at
``alpha / (2 d)`` for ``d`` possible neighbours, so each step is right with probability
``confidence``; the climb as a whole is a heuristic (it can stop at a local optimum of an
interacting space), restarts hedge it.
"""

from __future__ import annotations

import numpy as np

from .. import selection
from ..state import Cell, SearchState
from ..stats import look_schedule, lower_above, upper_below
from ._race import Race, price_order
from .base import Strategy

__all__ = ["HillClimbing"]


class HillClimbing(Strategy):
    name = "hill_climbing"

    def __init__(self, restarts: int = 3, width: int = 4, start_from: str = "cheap",
                 first: int | None = None, growth: float = 1.2) -> None:
        if start_from not in ("cheap", "random"):
            raise ValueError("hill_climbing start_from must be 'cheap' or 'random', got "
                             f"{start_from!r}")
        self.restarts = restarts
        self.width = max(1, width)
        self.start_from = start_from
        self.first = first
        self.growth = growth
        self.current: int | None = None
        self.visited: set[int] = set()        # combinations that were the current one
        self.optima: list[int] = []
        self.rejected: dict[int, str] = {}    # combination -> why it was left behind
        self.queue: list[int] = []            # neighbours still to compare, cheapest first
        self.active: dict[int, int] = {}      # neighbour -> look index of its comparison
        self.climbs = 0
        self.race: Race | None = None

    def start(self, state: SearchState) -> None:
        self.schedule = look_schedule(state.n_items, self.first, self.growth)
        self.n_slots_changes = max(1, sum(len(c) - 1 for c in state.space.slots.values()))
        self.alpha_each = state.alpha / (2 * self.n_slots_changes)

    # -- climbing -----------------------------------------------------------------------------
    def _begin(self, state: SearchState, combo: int) -> None:
        self.current = combo
        self.visited.add(combo)
        self.rejected.pop(combo, None)
        self.queue = [n for n in price_order(state, state.space.neighbours(combo))
                      if n not in self.visited]
        self.active = {}

    def _restart(self, state: SearchState) -> bool:
        """Start the next climb; False when no climbs are left."""
        if self.climbs > self.restarts:
            return False
        self.climbs += 1
        if self.climbs == 1 and self.start_from == "cheap":
            order = price_order(state, range(state.space.size))
            self._begin(state, order[0])
            return True
        fresh = np.flatnonzero(np.isnan(state.scores).all(axis=1))
        fresh = fresh[[c not in self.visited for c in fresh]] if fresh.size else fresh
        pool = fresh if fresh.size else np.array([c for c in range(state.space.size)
                                                  if c not in self.visited])
        if pool.size == 0:
            return False
        self._begin(state, int(state.rng.choice(pool)))
        return True

    def propose(self, state: SearchState) -> list[Cell]:
        if self.race is not None:
            return self.race.propose(state)
        if self.current is None and not self._restart(state):
            return self._finish(state)
        while True:
            assert self.current is not None
            while len(self.active) < self.width and self.queue:
                self.active[self.queue.pop(0)] = 0
            if not self.active:  # local optimum
                if self.current not in self.optima:
                    self.optima.append(self.current)
                if not self._restart(state):
                    return self._finish(state)
                continue
            cells: list[Cell] = []
            for n, k in self.active.items():
                cells += state.cells_upto([self.current, n], self.schedule[k])
            if cells:
                return list(dict.fromkeys(cells))
            self._decide(state)

    def _decide(self, state: SearchState) -> None:
        """All active comparisons reached their look: accept the cheapest proven better, drop the
        proven not-better, move the rest to their next look."""
        assert self.current is not None
        cur = self.current
        better: list[int] = []
        for n, k in list(self.active.items()):
            size = self.schedule[k]
            d = state.scores[[n], :size] - state.scores[[cur], :size]
            up = (-1.0, 1.0)
            if lower_above(d, 0.0, self.alpha_each, state.n_items, up)[0]:
                better.append(n)
            elif (upper_below(d, state.tolerance, self.alpha_each, state.n_items, up)[0]
                  or k + 1 >= len(self.schedule)):
                self.rejected[n] = (f"not better than {state.space.key(cur)} by more than the "
                                    f"tolerance (paired, {size} items)")
                del self.active[n]
            else:
                self.active[n] = k + 1
        if better:
            order = {c: i for i, c in enumerate(self.active)}  # insertion = price order
            first = min(better, key=order.__getitem__)
            self.rejected[cur] = f"a neighbour is better: {state.space.key(first)}"
            self._begin(state, first)

    def _finish(self, state: SearchState) -> list[Cell]:
        optima = self.optima or ([self.current] if self.current is not None else [])
        keep = set(optima)
        for c in range(state.space.size):
            if c not in keep:
                state.eliminate(c, self.rejected.get(c, "not visited by the climbs"),
                                kind="excluded")
        self.race = Race(state, optima, self.first, self.growth, label="local optima race: ")
        return self.race.propose(state)

    def pick(self, state: SearchState) -> int | None:
        if self.race is not None:
            picked = self.race.pick(state)
            if picked is not None:
                return picked
        # Stopped mid-climb (budget): the best of the optima and the current point, paired.
        reached = [*self.optima, *([self.current] if self.current is not None else [])]
        picked = selection.pick(state, reached)
        return picked if picked is not None else super().pick(state)

    def describe(self) -> str:
        return (f"{self.name} ({self.climbs} climbs, {len(self.optima)} local optima, "
                f"{len(self.visited)} visited)")
