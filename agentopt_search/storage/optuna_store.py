"""Cells in an Optuna study (SQLite, PostgreSQL, ... by URL), shared by any number of workers.

Layout (Optuna's own tables, so ``optuna-dashboard URL`` opens a run):
- one trial per assignment (a combination of the space or an anchor); its params are the slot
  values (categorical over that run's candidates), its value the mean score, and numeric user
  attributes
  ``mean_score``, ``mean_cost_usd``, ``mean_latency_s``, ``n_examples``, ``n_errors`` (and
  ``combination``, ``anchor`` as text);
- each evaluated example is a trial *system* attribute ``cell:<example index>`` = ``[score, cost,
  latency, error(, usage rows(, 1 if shared))]`` (kept out of the dashboard's attribute table) and
  the intermediate value at step ``example index`` (its plots); the (trial, key) uniqueness of
  Optuna's schema means a cell is stored once whoever writes it;
- the study user attribute ``agentopt`` = slots, candidates, anchors, number and fingerprint of the
  examples; ``meta:<key>`` = the caller's ``metadata``.

Writing. ``save`` only appends to a buffer; a writer thread stores the buffer every ``flush_s``
(0.5 s, env ``AGENTOPT_FLUSH_S``) in one transaction. **A process killed with kill -9 loses at most
the cells of the last flush interval**; a run started again with the same arguments reads every
stored cell and pays for none of them again. ``finish`` writes what is left, marks this run's
trials COMPLETE and stops the threads (``search`` calls it in ``finally``; the store is a context
manager).

Workers. Several processes or machines may run the same search on one study. Before paying, a
worker *claims* cells: under a study-wide lock (PostgreSQL advisory lock, a lock file next to a
SQLite database) it reads the cells stored since its last read, drops the claims of workers whose
heartbeat is older than the grace period (on the same machine: whose process is gone), and writes
its claims (study system attribute
``agentopt:claims:<worker>``). Heartbeats (``agentopt:beat:<worker>``, the database's clock) come
from a separate thread every ``AGENTOPT_HEARTBEAT_S`` (5 s); the grace period is
``AGENTOPT_GRACE_S`` (20 s). A single process pays the same protocol at a cost proportional to what
changed: one small transaction per claim of 32+ cells, one per flush.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import MutableMapping, Sequence
from typing import Any

from . import _sql
from ._lock import DbLock
from ._reader import CellReader, Sums
from ._study import Metadata, open_study, resolve_url
from ._workers import alive_here, decode_claims, encode_claims, worker_name, workers
from .base import CellKey, RunSpec, StoredCell, Values, check_identity, encode_cell

__all__ = ["OptunaStore", "resolve_url", "StorageError"]

log = logging.getLogger("agentopt_search.storage")

_FLUSH_MAX = 2000  # cells: flush early when the buffer holds this many


class StorageError(RuntimeError):
    """The store could not write cells (they are listed as lost in the message)."""


def _env_seconds(name: str, default: float) -> float:
    try:
        return max(0.05, float(os.environ.get(name, default)))
    except ValueError:
        return default


class OptunaStore:
    """A study in Optuna storage as the search's store; see the module docstring for the layout."""

    shared = True

    def __init__(self, url: str, study_name: str | None = None, *legacy: Any,
                 create: bool = True) -> None:
        from ..space import SearchSpace

        self._legacy: Any = None
        if isinstance(study_name, SearchSpace):
            # legacy (url, space, n_examples, fingerprint, study_name)
            space, (n_examples, fingerprint, *rest) = study_name, legacy
            study_name = rest[0] if rest else None
            self._legacy = (space, RunSpec(dict(space.slots), n_examples, fingerprint))
        self.url = url
        self.study_name = study_name or "agentopt"
        self.flush_s = _env_seconds("AGENTOPT_FLUSH_S", 0.5)
        self.heartbeat_s = _env_seconds("AGENTOPT_HEARTBEAT_S", 5)
        self.grace_s = max(self.heartbeat_s + 1,
                           _env_seconds("AGENTOPT_GRACE_S", 4 * self.heartbeat_s))
        self.worker = worker_name()
        self._storage, self._lock_engine, self.study_id = open_study(url, self.study_name, create)
        self._engine = self._storage.engine
        self._lock = DbLock(self._lock_engine, f"agentopt:{self.study_name}")
        self._io = threading.RLock()  # one database conversation at a time (heartbeats aside)
        self._mem = threading.Lock()  # buffer and inbox
        self._buffer: list[StoredCell] = []
        self._inbox: list[StoredCell] = []
        self._reader: CellReader | None = None
        self._choices: dict[str, tuple[str, ...]] = {}
        self._anchor_of: dict[Values, str] = {}
        self._touched: set[int] = set()  # trials this run wrote to: COMPLETE at finish
        self._claims: set[CellKey] = set()
        self._claims_written = False
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.last_beat = time.monotonic()

    # -- metadata ------------------------------------------------------------------------------
    @property
    def metadata(self) -> MutableMapping[str, Any]:
        """The caller's facts (study user attributes ``meta:<key>``), read and written at once."""
        return Metadata(self)

    def identity(self) -> dict[str, Any] | None:
        """The stored run's slots, candidates, anchors and examples record
        (None before the first run)."""
        return self._storage.get_study_user_attrs(self.study_id).get("agentopt")

    # -- a run ---------------------------------------------------------------------------------
    def load(self, run: RunSpec | None = None) -> list[Any]:
        """Start a run: check the study fits ``run``, return every stored cell,
        start the threads."""
        if run is None:
            return self._legacy_load()
        with self._io, self._lock:
            where = f"study {self.study_name!r} in {self.url}"
            ident = check_identity(self.identity(), run, where)
            self._storage.set_study_user_attr(self.study_id, "agentopt", ident)
            self._choices = _choices(run)
            self._anchor_of = {tuple(a[s] for s in run.slots): name
                               for name, a in run.anchors.items()}
            self._reader = CellReader(self.study_id, tuple(run.slots),
                                      legacy=bool(ident.get("legacy_cells")))
            with self._engine.begin() as conn:
                cells = self._reader.read(conn)
                _sql.put_system_attr(conn, self.study_id, f"agentopt:beat:{self.worker}",
                                     _sql.db_now(conn))
        self.last_beat = time.monotonic()
        self._stop.clear()
        self._threads = [threading.Thread(target=self._write_loop, name="agentopt-store-writer",
                                          daemon=True),
                         threading.Thread(target=self._beat_loop, name="agentopt-store-heartbeat",
                                          daemon=True)]
        for t in self._threads:
            t.start()
        return cells

    def poll(self) -> list[StoredCell]:
        with self._mem:
            out, self._inbox = self._inbox, []
        return out

    def save(self, cell: StoredCell) -> None:
        with self._mem:
            self._buffer.append(cell)
            if len(self._buffer) >= _FLUSH_MAX:
                self._wake.set()

    def claim(self, wanted: Sequence[CellKey], limit: int) -> tuple[list[StoredCell],
                                                                    list[CellKey]]:
        reader = self._need_run()
        with self._io, self._lock, self._engine.begin() as conn:
            now = _sql.db_now(conn)
            taken = self._live_claims(conn, now)
            self._ingest(conn)
            mine: list[CellKey] = []
            for key in dict.fromkeys(wanted):
                if len(mine) >= limit:
                    break
                if key not in reader.known and key not in taken:
                    mine.append(key)
            claims = {k for k in self._claims if k not in reader.known} | set(mine)
            if claims != self._claims or not self._claims_written:
                _sql.put_system_attr(conn, self.study_id, f"agentopt:claims:{self.worker}",
                                     encode_claims(claims))
                self._claims, self._claims_written = claims, True
            _sql.put_system_attr(conn, self.study_id, f"agentopt:beat:{self.worker}", now)
        self.last_beat = time.monotonic()
        return self.poll(), mine

    def finish(self) -> None:
        """Write what is buffered (retrying), mark this run's trials COMPLETE, release claims,
        stop threads."""
        if not self._threads:
            return
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join()
        self._threads = []
        for attempt in range(4):
            try:
                self.flush()
                break
            except Exception as exc:
                if attempt == 3:
                    raise StorageError(f"could not store {len(self._buffer)} cell(s) in "
                                       f"{self.url}: {type(exc).__name__}: {exc}") from exc
                time.sleep(0.2 * 2 ** attempt)
        self._complete()

    def close(self) -> None:
        """``finish`` and release the database connections."""
        try:
            self.finish()
        finally:
            self._engine.dispose()
            self._lock_engine.dispose()

    def __enter__(self) -> OptunaStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------
    def flush(self) -> None:
        """Store the buffer in one transaction (and read what others stored);
        on failure keep it."""
        reader = self._need_run()
        with self._mem:
            batch, self._buffer = self._buffer, []
        try:
            with self._io:
                if not batch:
                    with self._engine.connect() as conn:
                        self._ingest(conn)
                    return
                with self._lock, self._engine.begin() as conn:
                    self._ingest(conn)
                    new, created, touched = self._write(conn, reader, batch)
                # committed: from now on these are known
                reader.trial_of.update(created)
                reader.values_of.update({tid: v for v, tid in created.items()})
                for (values, _), cell in new.items():
                    reader.add(values, cell)
                self._touched |= touched
        except BaseException:
            with self._mem:
                self._buffer[:0] = batch
            raise

    def _write(self, conn: Any, reader: CellReader, batch: list[StoredCell]
               ) -> tuple[dict[CellKey, StoredCell], dict[Values, int], set[int]]:
        """Insert the batch's new cells (creating trials as needed) and refresh their trials'
        summaries; returns (cells written, trials created, trials touched) for the caller to apply
        once committed."""
        new: dict[CellKey, StoredCell] = {}
        for cell in batch:
            key = cell.key(reader.slots)
            if key not in reader.known:
                new.setdefault(key, cell)
        created: dict[Values, int] = {}
        missing = list(dict.fromkeys(v for v, _ in new if v not in reader.trial_of))
        number = _sql.count_trials(conn, self.study_id) if missing else 0
        for values in missing:
            attrs = {"combination": _label(reader.slots, values)}
            if values in self._anchor_of:
                attrs["anchor"] = self._anchor_of[values]
            created[values] = _sql.create_trial(conn, self.study_id, number + len(created),
                                                dict(zip(reader.slots, values)),
                                                self._choices_for(values), attrs)
        trial_of = {**reader.trial_of, **created}
        _sql.insert_cells(conn,
                          [(trial_of[v], ex, _json(encode_cell(c.outcome, c.shared)),
                            c.outcome.score)
                                 for (v, ex), c in new.items()])
        sums: dict[int, Sums] = {}
        for (values, _), cell in new.items():
            tid = trial_of[values]
            if tid not in sums:
                sums[tid] = reader.sums[values].copy() if values in reader.sums else Sums()
            sums[tid].add(cell)
        _sql.write_summaries(conn, {tid: s.summary() for tid, s in sums.items()})
        _sql.set_states(conn, set(sums) - self._touched - set(created.values()), complete=False)
        return new, created, set(sums)

    def _complete(self) -> None:
        """Final summaries and COMPLETE for this run's trials
        (for every trial when no other worker lives)."""
        reader = self._need_run()
        with self._io, self._lock, self._engine.begin() as conn:
            self._ingest(conn)
            now = _sql.db_now(conn)
            beats = _sql.read_system_attrs(conn, self.study_id, "agentopt:")
            alone = all(w == self.worker or self._stale(b, now, w)
                        for w, b in workers(beats)[0].items())
            ids = set(self._touched)
            if alone:
                ids |= {tid for tid, state in _sql.read_agentopt_trials(conn, self.study_id)
                        if state == "RUNNING"}
            done = {tid: reader.sums[v].summary() for tid in ids
                    if (v := reader.values_of.get(tid)) is not None and v in reader.sums}
            _sql.write_summaries(conn, done)
            _sql.set_states(conn, done, complete=True)
            _sql.delete_system_attrs(conn, self.study_id, [f"agentopt:beat:{self.worker}",
                                                           f"agentopt:claims:{self.worker}"])
        self._touched.clear()
        self._claims, self._claims_written = set(), False

    # -- reading -------------------------------------------------------------------------------
    def _ingest(self, conn: Any) -> None:
        cells = self._need_run().read(conn)
        if cells:
            with self._mem:
                self._inbox.extend(cells)

    def _live_claims(self, conn: Any, now: float) -> set[CellKey]:
        """Cells other live workers hold; drops the claims (and beats) of workers gone stale."""
        beats, claims = workers(_sql.read_system_attrs(conn, self.study_id, "agentopt:"))
        stale = {w for w in set(beats) | set(claims)
                 if w != self.worker and self._stale(beats.get(w), now, w)}
        if stale:
            log.warning("worker(s) %s stopped beating; the cells they claimed are free again",
                        sorted(stale))
            _sql.delete_system_attrs(conn, self.study_id, [f"agentopt:{kind}:{w}" for w in stale
                                                           for kind in ("beat", "claims")])
        if self._claims_written and self.worker not in claims:
            log.warning("another worker judged this one stale (late heartbeat); its claims are "
                        "void, claiming afresh")
            self._claims, self._claims_written = set(), False
        live = [value for w, value in claims.items() if w != self.worker and w not in stale]
        return {key for value in live for key in decode_claims(value)}

    def _stale(self, beat: float | None, now: float, worker: str) -> bool:
        """Gone: on this machine, its process is gone (a live one is trusted for 5 grace periods,
        in case its pid was reused); elsewhere, its heartbeat is older than the grace period."""
        here = alive_here(worker)
        if here is not None and not here:
            return True
        return beat is None or now - beat > (5 * self.grace_s if here else self.grace_s)

    def _need_run(self) -> CellReader:
        if self._reader is None:
            raise RuntimeError("OptunaStore.load(run) must be called before this")
        return self._reader

    def _choices_for(self, values: Values) -> dict[str, tuple[str, ...]]:
        slots = self._need_run().slots
        return {s: self._choices[s] if v in self._choices[s] else (*self._choices[s], v)
                for s, v in zip(slots, values)}

    # -- threads -------------------------------------------------------------------------------
    def _write_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_s)
            self._wake.clear()
            if self._stop.is_set():
                return  # finish() writes the rest
            try:
                self.flush()
            except Exception as exc:  # noqa: BLE001 - a transient database error: the next flush retries
                log.warning("storing cells failed (will retry): %s: %s", type(exc).__name__, exc)

    def _beat_loop(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                with self._engine.begin() as conn:
                    _sql.put_system_attr(conn, self.study_id, f"agentopt:beat:{self.worker}",
                                         _sql.db_now(conn))
                self.last_beat = time.monotonic()
            except Exception as exc:  # noqa: BLE001 - the next beat retries
                log.warning("heartbeat failed: %s: %s", type(exc).__name__, exc)

    # -- legacy --------------------------------------------------------------------------------
    def _legacy_load(self) -> list[tuple[int, int, float, float | None, float, str | None]]:
        """The old ``OptunaStore(url, space, n, fingerprint, study).load()``: (combination,
        example, score, cost, latency, error) of the space's stored cells. Kept for callers not yet
        moved to ``read_run``; delete with them."""
        if self._legacy is None:
            raise TypeError("load() needs the run: load(RunSpec(...))")
        space, run = self._legacy
        reader = CellReader(self.study_id, tuple(run.slots), legacy=True)
        with self._engine.connect() as conn:
            cells = reader.read(conn)
        out = []
        for c in cells:
            try:
                combo = space.index(c.assignment)
            except ValueError:
                continue
            o = c.outcome
            out.append((combo, c.example, o.score, o.cost_usd, o.latency_s, o.error))
        return out


def _choices(run: RunSpec) -> dict[str, tuple[str, ...]]:
    """Per slot: the candidates, then anchor values that are not candidates
    (one categorical each)."""
    out = {s: tuple(c) for s, c in run.slots.items()}
    for assignment in run.anchors.values():
        for s, v in assignment.items():
            if v not in out[s]:
                out[s] = (*out[s], v)
    return out


def _label(slots: tuple[str, ...], values: Values) -> str:
    return "|".join(f"{s}={v}" for s, v in zip(slots, values))


def _json(value: Any) -> str:
    import json

    return json.dumps(value, allow_nan=False)


