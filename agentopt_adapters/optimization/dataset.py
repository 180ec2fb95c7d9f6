"""The dataset as the search sees it: one ``Item`` per example (what the app gets,
what the metric sees)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import DatasetError

__all__ = ["Item", "normalize_dataset"]


@dataclass(frozen=True)
class Item:
    """One dataset entry: what the app is called with (``input``) and what the metric sees
    (``example``)."""

    index: int
    input: Any
    example: Any

    def __repr__(self) -> str:  # stable across runs: the storage fingerprint hashes it
        return f"Item({self.index}, {self.example!r})"


def normalize_dataset(dataset: Any) -> list[Item]:
    """dicts / dspy.Example -> (item, item); ``(input, expected)`` pairs -> (input, pair); else (x,
    x)."""
    if dataset is None or isinstance(dataset, (str, bytes, Mapping)):
        raise DatasetError("dataset must be a list of examples (dicts, dspy.Example or (input, "
                           f"expected) pairs), got {type(dataset).__name__}")
    try:
        raw = list(dataset)
    except TypeError:
        raise DatasetError("dataset must be iterable (a list of examples), got "
                           f"{type(dataset).__name__}") from None
    if not raw:
        raise DatasetError("dataset is empty; give at least one example")
    return [Item(i, ex[0], ex) if isinstance(ex, tuple) and len(ex) == 2 else Item(i, ex, ex)
            for i, ex in enumerate(raw)]
