"""The search space: one ordered list of candidate models per slot; a point is a combination."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence

__all__ = ["SearchSpace", "Assignment"]

Assignment = dict[str, str]


def _checked(slot: object, candidates: object) -> tuple[str, ...]:
    """The candidates of ``slot`` as a tuple (ValueError saying what is wrong with them)."""
    if not isinstance(slot, str) or not slot:
        raise ValueError(f"slot names must be non-empty strings, got {slot!r}")
    if isinstance(candidates, str) or not isinstance(candidates, Sequence):
        raise ValueError(f"slot {slot!r}: candidates must be a list of model names, got "
                         f"{candidates!r}")
    if not candidates:
        raise ValueError(f"slot {slot!r} has no candidate models; give at least one")
    bad = [c for c in candidates if not isinstance(c, str) or not c]
    if bad:
        raise ValueError(f"slot {slot!r}: candidates must be non-empty model name strings, "
                         f"got {bad[0]!r}")
    dupes = sorted({c for c in candidates if list(candidates).count(c) > 1})
    if dupes:
        raise ValueError(f"slot {slot!r} lists duplicate candidates {dupes}; list each model once")
    return tuple(str(c) for c in candidates)


class SearchSpace:
    """Slot -> ordered candidates. Combinations are indexed 0..size-1 in row-major order."""

    def __init__(self, slots: Mapping[str, Sequence[str]]) -> None:
        if not isinstance(slots, Mapping) or not slots:
            raise ValueError("SearchSpace needs at least one slot: SearchSpace({'planner': "
                             "['model-a', 'model-b']})")
        self.slots: dict[str, tuple[str, ...]] = {
            slot: _checked(slot, candidates) for slot, candidates in slots.items()}
        self.names: tuple[str, ...] = tuple(self.slots)
        self._sizes = [len(c) for c in self.slots.values()]
        self.size = 1
        for n in self._sizes:
            self.size *= n

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[Assignment]:
        for i in range(self.size):
            yield self.assignment(i)

    def __repr__(self) -> str:
        slots = {k: list(v) for k, v in self.slots.items()}
        return f"SearchSpace({slots})"

    def assignment(self, index: int) -> Assignment:
        """Combination ``index`` as {slot: model}."""
        return {slot: self.slots[slot][j] for slot, j in zip(self.names, self.coords(index))}

    def coords(self, index: int) -> tuple[int, ...]:
        """Per-slot candidate positions of combination ``index``."""
        if not 0 <= index < self.size:
            raise IndexError(f"combination index {index} out of range 0..{self.size - 1}")
        out = []
        for n in reversed(self._sizes):
            index, r = divmod(index, n)
            out.append(r)
        return tuple(reversed(out))

    def index(self, assignment: Mapping[str, str]) -> int:
        """Inverse of ``assignment``; ValueError for unknown slots or models."""
        if set(assignment) != set(self.names):
            raise ValueError(f"assignment slots {sorted(assignment)} do not match the space's "
                             f"slots {sorted(self.names)}")
        idx = 0
        for slot, n in zip(self.names, self._sizes):
            try:
                j = self.slots[slot].index(assignment[slot])
            except ValueError:
                raise ValueError(
                    f"model {assignment[slot]!r} is not a candidate of slot {slot!r}: "
                    f"{list(self.slots[slot])}"
                ) from None
            idx = idx * n + j
        return idx

    def key(self, index: int) -> str:
        """Stable text key of a combination, e.g. ``planner=m1|solver=m4``."""
        return "|".join(f"{k}={v}" for k, v in self.assignment(index).items())

    def neighbours(self, index: int) -> list[int]:
        """Combinations that differ from ``index`` in exactly one slot."""
        coords = list(self.coords(index))
        out = []
        for s, n in enumerate(self._sizes):
            for j in range(n):
                if j != coords[s]:
                    c = coords.copy()
                    c[s] = j
                    out.append(self._from_coords(c))
        return out

    def _from_coords(self, coords: Sequence[int]) -> int:
        idx = 0
        for c, n in zip(coords, self._sizes):
            idx = idx * n + c
        return idx

    def product(self) -> Iterator[tuple[int, ...]]:
        return itertools.product(*(range(n) for n in self._sizes))
