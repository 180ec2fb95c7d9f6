"""Recording: where one evaluation lands in a search, once, and what it tells about other cells.

A *row* is what a search evaluates: a combination of the space (rows ``0 .. size-1``, observed in
the ``SearchState`` strategies read) or an anchor (rows ``size ..``, a named assignment outside the
space, kept here: never eliminated or picked). Cells are ``(row, item position)``. An evaluation is
keyed by its assignment, so it lands in every row with that assignment (an anchor equal to a
combination shares its cells) and is counted in the spend once.

Shared cells: an outcome whose usage table shows that some slots made no call holds for every row
that differs only in those slots at that example; it is recorded for them too, never paid again.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from .outcome import Outcome, UsageRow
from .state import Cell, SearchState
from .storage.base import CellKey, Store, StoredCell

__all__ = ["Recorder", "AnchorRecords", "Source"]

Source = Literal["paid", "reused", "other", "prior", "shared"]
Values = tuple[str, ...]


@dataclass
class AnchorRecords:
    """Observations of the anchors, (anchor x item position) arrays like ``SearchState``'s."""

    names: list[str]
    values: list[Values]
    n_items: int
    scores: np.ndarray = field(init=False)
    costs: np.ndarray = field(init=False)
    latencies: np.ndarray = field(init=False)
    errors: dict[Cell, str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        shape = (len(self.names), self.n_items)
        self.scores = np.full(shape, np.nan)
        self.costs = np.full(shape, np.nan)
        self.latencies = np.full(shape, np.nan)

    def record(self, k: int, pos: int, o: Outcome) -> None:
        self.scores[k, pos] = o.score
        self.costs[k, pos] = np.nan if o.cost_usd is None else o.cost_usd
        self.latencies[k, pos] = o.latency_s
        if o.error:
            self.errors[(k, pos)] = o.error


class Recorder:
    """Lands evaluations in rows (once per cell), stores what this run learns, derives shared
    cells, and counts cells by source and this run's spend."""

    def __init__(self, state: SearchState, anchors: dict[str, dict[str, str]], order: np.ndarray,
                 store: Store) -> None:
        self.state, self.space, self.store = state, state.space, store
        self.slots = state.space.names
        self.size = state.space.size
        self.anchors = AnchorRecords(list(anchors),
                                     [tuple(a[s] for s in self.slots) for a in anchors.values()],
                                     state.n_items)
        self.order = order  # item position -> example index
        self.position = np.empty_like(order)
        self.position[order] = np.arange(len(order))
        self._candidate = [{m: j for j, m in enumerate(c)} for c in state.space.slots.values()]
        self._strides = [int(np.prod([len(c) for c in list(state.space.slots.values())[i + 1:]],
                                     dtype=np.int64))
                         for i in range(len(self.slots))]
        self.never_called: set[str] = set(self.slots)
        self.idle_seen: set[str] = set()  # slots some evaluation showed idle
        self.usage_seen = False
        self.n_paid_outcomes = 0
        self.counts: dict[Source, int] = {"paid": 0, "reused": 0, "other": 0, "prior": 0,
                                          "shared": 0}
        self.stored_usd = 0.0  # dollars of the cells read, not paid, by this run
        self.covered: set[int] = set()  # positions some combination was observed at
        # assignment -> example -> usage table
        self.usage: dict[Values, dict[int, tuple[UsageRow, ...]]] = {}

    # -- rows ----------------------------------------------------------------------------------
    @property
    def n_rows(self) -> int:
        return self.size + len(self.anchors.names)

    def values(self, row: int) -> Values:
        if row < self.size:
            return tuple(self.space.assignment(row).values())
        return self.anchors.values[row - self.size]

    def combination(self, values: Values) -> int | None:
        """The space's combination with these values (None when some value is not a candidate)."""
        idx = 0
        for j, (v, cands) in enumerate(zip(values, self._candidate)):
            pos = cands.get(v)
            if pos is None:
                return None
            idx += pos * self._strides[j]
        return idx

    def rows(self, values: Values) -> list[int]:
        combo = self.combination(values)
        out = [] if combo is None else [combo]
        return out + [self.size + k for k, a in enumerate(self.anchors.values) if a == values]

    def observed(self, cell: Cell) -> bool:
        row, pos = cell
        if row < self.size:
            return self.state.observed(cell)
        return not np.isnan(self.anchors.scores[row - self.size, pos])

    def key(self, cell: Cell) -> CellKey:
        return self.values(cell[0]), int(self.order[cell[1]])

    def anchor_cells(self, positions: Iterable[int]) -> list[Cell]:
        """Unobserved anchor cells at ``positions``."""
        return [(self.size + k, p) for p in sorted(set(positions))
                for k in range(len(self.anchors.names))
                if np.isnan(self.anchors.scores[k, p])]

    # -- recording -----------------------------------------------------------------------------
    def record(self, values: Values, example: int, outcome: Outcome, source: Source,
               save: bool = True) -> bool:
        """Land one evaluation of ``values`` on ``example`` in its rows; False if every row had it.

        ``save``: keep it in the store (False for cells read from the store and what derives from
        them).
        """
        if not 0 <= example < len(self.position):
            return False
        pos = int(self.position[example])
        landed = False
        for row in self.rows(values):
            if self.observed((row, pos)):
                continue
            landed = True
            if row < self.size:
                self.state.record((row, pos), float(outcome.score), outcome.cost_usd,
                                  float(outcome.latency_s), outcome.error, paid=False)
                self.covered.add(pos)
            else:
                self.anchors.record(row - self.size, pos, outcome)
        if landed or source == "paid":
            # a paid duplicate (shared while in flight) still cost money
            self._count(outcome, source)
        if not landed:
            return False
        if outcome.usage is not None:
            self.usage.setdefault(values, {})[example] = outcome.usage
        if save:
            self.store.save(StoredCell(dict(zip(self.slots, values)), example, outcome,
                                       shared=source == "shared"))
        if source != "shared":
            self._learn_usage(outcome, source)
            self._share(values, example, outcome, save)
        return True

    def merge(self, cells: Iterable[StoredCell], source: Source) -> int:
        """Record stored cells (resumed, from other workers, or given as prior);
        returns how many landed."""
        n, save = 0, source == "prior"
        for c in cells:
            values = tuple(c.assignment[s] for s in self.slots)
            n += self.record(values, c.example, c.outcome,
                             "shared" if c.shared and not save else source, save)
        return n

    def _count(self, outcome: Outcome, source: Source) -> None:
        self.counts[source] += 1
        if source == "shared":
            return
        self.state.n_evaluations += 1
        if outcome.cost_usd:
            self.state.spent_usd += outcome.cost_usd
            if source != "paid":
                self.stored_usd += outcome.cost_usd

    def _learn_usage(self, outcome: Outcome, source: Source) -> None:
        called = outcome.called_slots()
        if source == "paid":
            self.n_paid_outcomes += 1
        if called is not None:
            self.usage_seen = True
            self.never_called -= called
            self.idle_seen |= set(self.slots) - called

    # -- shared cells --------------------------------------------------------------------------
    def _share(self, values: Values, example: int, outcome: Outcome, save: bool) -> None:
        called = outcome.called_slots()
        if called is None:
            return
        idle = [i for i, s in enumerate(self.slots) if s not in called]
        if not idle:
            return
        for other in self._equivalent(values, idle):
            if other != values:
                self.record(other, example, outcome, "shared", save)

    def _equivalent(self, values: Values, idle: Sequence[int]) -> Iterable[Values]:
        """Every row's values equal to ``values`` outside the ``idle`` slot positions."""
        kept = [i for i in range(len(self.slots)) if i not in idle]
        if all(values[i] in self._candidate[i] for i in kept):
            choices = [self.space.slots[self.slots[i]] if i in idle else (values[i],)
                       for i in range(len(self.slots))]
            yield from itertools.product(*choices)
        for a in self.anchors.values:
            if all(a[i] == values[i] for i in kept) and self.combination(a) is None:
                yield a

    # -- gating --------------------------------------------------------------------------------
    @property
    def gate_slots(self) -> set[str]:
        """Slots that may be idle on an example: never called so far, or idle on some example.
        Empty (nothing held back) once outcomes come without usage."""
        if not (self.usage_seen or self.n_paid_outcomes == 0):
            return set()
        return self.never_called | self.idle_seen

    def outside_space(self, values: Values) -> bool:
        """No value is a candidate of its slot: an outcome of ``values`` lands in the space's rows
        only when the app made no model call at all on that example (then it holds for every
        combination)."""
        return not any(v in cands for v, cands in zip(values, self._candidate))

    def may_share(self, a: Values, b: Values, gate: set[str]) -> bool:
        """True when sharing one of ``a``, ``b`` from the other may save dollars: they differ only
        in ``gate`` slots, and not in every slot (sharing across every slot needs an evaluation
        that called no slot, which cost nothing)."""
        pairs = list(zip(self.slots, a, b))
        return (all(x == y or s in gate for s, x, y in pairs)
                and any(x == y for _, x, y in pairs))

    def idle_slots(self) -> list[str]:
        """Slots that made no call in any evaluation that reported usage
        ([] when none reported)."""
        return [s for s in self.slots if s in self.never_called] if self.usage_seen else []
