"""Opening an agentopt study in Optuna storage, and the caller's metadata kept in it."""

from __future__ import annotations

import json
from collections.abc import Iterator, MutableMapping
from typing import Any

from ._lock import DbLock

__all__ = ["open_study", "Metadata", "resolve_url"]


def resolve_url(url: str) -> str:
    """``postgresql://`` -> ``postgresql+psycopg2://`` when only psycopg2 is installed (SQLAlchemy
    2.1 defaults to psycopg 3); other URLs pass through."""
    import importlib.util

    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None \
            and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def open_study(url: str, study_name: str, create: bool) -> tuple[Any, Any, int]:
    import optuna
    import sqlalchemy

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        lock_engine = sqlalchemy.create_engine(resolve_url(url))  # for the workers' lock only
        with DbLock(lock_engine, "agentopt:init"):  # workers starting together on a fresh database
            storage = optuna.storages.RDBStorage(resolve_url(url))
            try:
                study_id = storage.get_study_id_from_name(study_name)
            except KeyError:
                if not create:
                    names = [s.study_name for s in storage.get_all_studies()]
                    raise LookupError(f"{url} has no study {study_name!r}; "
                                      f"studies: {names}") from None
                study_id = storage.create_new_study([optuna.study.StudyDirection.MAXIMIZE],
                                                    study_name)
    except LookupError:
        raise
    except Exception as exc:  # noqa: BLE001 - bad URL, missing driver, server down
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ValueError(f"cannot open storage {url!r}: {type(exc).__name__}: {first}. "
                         "Use e.g. 'sqlite:///run.db' or "
                         "'postgresql://user:pass@host/db'") from None
    return storage, lock_engine, study_id


class Metadata(MutableMapping[str, Any]):
    """Study user attributes ``meta:<key>`` as a mapping
    (every access reads or writes the database)."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def _all(self) -> dict[str, Any]:
        attrs = self._store._storage.get_study_user_attrs(self._store.study_id)
        return {k[5:]: v for k, v in attrs.items() if k.startswith("meta:")}

    def __getitem__(self, key: str) -> Any:
        return self._all()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise ValueError(f"metadata {key!r} must be JSON-serialisable, got "
                             f"{type(value).__name__}") from None
        self._store._storage.set_study_user_attr(self._store.study_id, f"meta:{key}", value)

    def __delitem__(self, key: str) -> None:
        from optuna.storages._rdb import models

        if key not in self._all():
            raise KeyError(key)
        t = models.StudyUserAttributeModel.__table__
        with self._store._engine.begin() as conn:
            conn.execute(t.delete().where(t.c.study_id == self._store.study_id,
                                          t.c.key == f"meta:{key}"))

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())
