"""Search strategies, one per file. Every module here is loaded; each Strategy subclass with a
``name`` registers itself (see ``base.py``)."""

from __future__ import annotations

import importlib
import pkgutil

from .base import Strategy, get_strategy, registry

__all__ = ["Strategy", "get_strategy", "registry"]

_loaded = False


def _load_all() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith("_") and info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")
