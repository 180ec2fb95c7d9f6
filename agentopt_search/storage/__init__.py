"""Where a search keeps its cells: the ``Store`` protocol, ``MemoryStore`` (default),
``OptunaStore`` (SQLite / PostgreSQL / ... by URL, resumable, shared by workers), ``read_run`` and
the claim loop.

``OptunaStore`` and ``read_run`` load SQLAlchemy and Optuna on first use, not at import.
"""

from __future__ import annotations

import importlib
from typing import Any

from .base import CellKey, RunSpec, Store, StoredCell, StoredRun, dataset_fingerprint
from .memory import MemoryStore

__all__ = ["Store", "StoredCell", "StoredRun", "RunSpec", "CellKey", "MemoryStore", "OptunaStore",
           "StorageError", "open_store", "read_run", "list_runs", "dataset_fingerprint",
           "resolve_url"]

_LAZY = {"OptunaStore": ".optuna_store", "StorageError": ".optuna_store",
         "resolve_url": ".optuna_store", "read_run": ".read", "list_runs": ".read"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(storage: Any, study_name: str | None = None) -> tuple[Store, bool]:
    """(store, owned): a store for ``storage`` (None, an Optuna URL, or a ``Store``); ``owned``
    when it was opened here and is closed by the caller at the end of the run."""
    if storage is None:
        return MemoryStore(), True
    if isinstance(storage, str):
        from .optuna_store import OptunaStore

        return OptunaStore(storage, study_name), True
    if isinstance(storage, Store):
        return storage, False
    raise ValueError("storage must be an Optuna storage URL such as 'sqlite:///run.db', a Store, "
                     f"or None, got {storage!r}")
