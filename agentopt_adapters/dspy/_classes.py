"""A user's class with some methods wrapped, under the same name and import path (so a program's
saved state and ``isinstance`` checks are unchanged); built once per (purpose, class)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["same_name_subclass"]

_BUILT: dict[tuple[str, type], type] = {}
_LOCK = threading.Lock()


def same_name_subclass(cls: type, marker: str,
                       members: Callable[[Any], dict[str, Any]]) -> type:
    """``cls`` itself if it already carries ``marker``, else its subclass with ``members(cls)``."""
    if cls.__dict__.get(marker):
        return cls
    with _LOCK:
        sub = _BUILT.get((marker, cls))
        if sub is None:
            ns = {marker: True, "__module__": cls.__module__, "__qualname__": cls.__qualname__,
                  "__doc__": cls.__doc__, **members(cls)}
            sub = _BUILT[(marker, cls)] = type(cls.__name__, (cls,), ns)
    return sub
