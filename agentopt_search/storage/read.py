"""``read_run``: everything a stored run holds, for ``agentopt show`` and loading results later."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._reader import CellReader
from .base import StoredRun
from .optuna_store import OptunaStore, resolve_url

__all__ = ["read_run", "list_runs"]


def list_runs(storage: str) -> list[str]:
    """Names of the agentopt studies in ``storage`` (an Optuna URL or a ``.db`` path)."""
    return _agentopt_studies(_url(storage))


def read_run(storage: str | OptunaStore, study_name: str | None = None) -> StoredRun:
    """The run stored in ``storage`` (an Optuna URL, a ``.db`` path, or an open ``OptunaStore``):
    its latest space and anchors, every cell with its usage, and the caller's metadata.

    ``study_name`` None: the study ``agentopt`` if present, else the only agentopt study.
    ValueError with the study names when it is missing or ambiguous; no model is called.
    """
    if isinstance(storage, OptunaStore):
        return _read(storage)
    store = _open(storage, study_name)
    try:
        return _read(store)
    finally:
        store.close()


def _url(storage: str) -> str:
    if "://" not in storage:  # a path to a SQLite file
        storage = f"sqlite:///{storage}"
    if storage.startswith("sqlite:///") and not Path(storage[len("sqlite:///"):]).exists():
        raise ValueError(f"no such run database {storage[len('sqlite:///'):]!r}")
    return resolve_url(storage)


def _open(storage: str, study_name: str | None) -> OptunaStore:
    if not isinstance(storage, str):
        raise ValueError("storage must be an Optuna URL ('sqlite:///run.db') or a .db path, got "
                         f"{storage!r}")
    url = _url(storage)
    if study_name is None:
        names = _agentopt_studies(url)
        if "agentopt" not in names and len(names) != 1:
            raise ValueError(f"{url} holds {len(names)} agentopt runs {names}; name one with "
                             "study_name="
                             if names else f"{url} holds no agentopt run")
        study_name = "agentopt" if "agentopt" in names else names[0]
    try:
        return OptunaStore(url, study_name, create=False)
    except LookupError as exc:
        raise ValueError(str(exc)) from None


def _agentopt_studies(url: str) -> list[str]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        summaries = optuna.get_all_study_summaries(storage=url)
    except Exception as exc:  # noqa: BLE001 - any failure to open the storage: one ValueError naming it
        raise ValueError(f"cannot read storage {url!r}: {type(exc).__name__}: {exc}") from None
    return [s.study_name for s in summaries if isinstance(s.user_attrs.get("agentopt"), dict)]


def _read(store: OptunaStore) -> StoredRun:
    ident = store.identity()
    where = f"study {store.study_name!r} in {store.url}"
    if not isinstance(ident, dict):
        raise ValueError(f"{where} was not written by agentopt (no 'agentopt' record); pass the "
                         "study name of a run")
    space = {k: list(v) for k, v in (ident.get("space") or {}).items()}
    slots = tuple(ident.get("slots") or space)
    reader = CellReader(store.study_id, slots,
                        legacy=ident.get("format", 1) < 2 or bool(ident.get("legacy_cells")))
    with store._engine.connect() as conn:
        cells = reader.read(conn)
    meta: dict[str, Any] = dict(store.metadata)
    return StoredRun(url=store.url, study_name=store.study_name, slots=space,
                     anchors={k: dict(v) for k, v in (ident.get("anchors") or {}).items()},
                     n_examples=int(ident.get("n_examples", 0)),
                     fingerprint=str(ident.get("fingerprint", "")), cells=cells, metadata=meta)
