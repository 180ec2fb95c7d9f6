"""The default store: nothing is written or shared; the search state is the only record."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import CellKey, RunSpec, StoredCell

__all__ = ["MemoryStore"]


class MemoryStore:
    """``search(storage=None)``: cells live in the search state of this process only."""

    url = None
    shared = False

    def __init__(self) -> None:
        self.metadata: dict[str, Any] = {}

    def load(self, run: RunSpec) -> list[StoredCell]:
        return []

    def poll(self) -> list[StoredCell]:
        return []

    def claim(self, wanted: Sequence[CellKey], limit: int) -> tuple[list[StoredCell],
                                                                    list[CellKey]]:
        return [], list(dict.fromkeys(wanted))[:limit]

    def save(self, cell: StoredCell) -> None:
        pass

    def finish(self) -> None:
        pass

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.finish()
