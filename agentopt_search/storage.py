"""Persistence of observations in an Optuna study (SQLite, PostgreSQL, ... by URL).

A study holds one search. Each trial is a combination: its ``params`` are the slot -> model choice
(categorical distributions over the candidates, so optuna-dashboard shows them), each evaluated
example is stored as a user attribute ``cell:<example index>`` = ``[score, cost, latency, error]``
and as the intermediate value at step ``example index``. A finished run sets the trial's value to
the combination's mean score. Resuming reads every cell of every trial (any state), so nothing
that was paid for is paid again; a combination evaluated again after its trial was completed gets
a new trial.

Many workers (processes or machines) can share one study. Before paying for cells a worker
*claims* them: under a study-wide lock (a PostgreSQL advisory lock, a lock file next to a SQLite
database) it fails the trials of dead workers (``optuna.storages.fail_stale_trials``: their
heartbeat is older than the grace period), reads every stored cell and every live claim, and
writes its claim (user attribute ``claim`` = example indices) on its own RUNNING trial of that
combination. Only RUNNING trials hold claims, so the cells a dead or finished worker claimed but
did not store are free again; each worker's trials carry a heartbeat (``RDBStorage(url,
heartbeat_interval, grace_period)``; env ``AGENTOPT_HEARTBEAT_S`` / ``AGENTOPT_GRACE_S``, default
5 s / 20 s) and its name in the user attribute ``worker``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import socket
import threading
import warnings
from typing import Any, Sequence

from .space import SearchSpace

__all__ = ["CellRecord", "MemoryStore", "OptunaStore", "open_store", "dataset_fingerprint", "resolve_url"]

CellRecord = tuple[int, int, float, float | None, float, str | None]  # combo, example, score, cost, latency, error
Claim = tuple[int, int]  # (combination, example index)

log = logging.getLogger("agentopt_search.storage")


def resolve_url(url: str) -> str:
    """``postgresql://`` -> ``postgresql+psycopg2://`` when only psycopg2 is installed (SQLAlchemy 2.1
    defaults to psycopg 3); other URLs pass through."""
    import importlib.util

    if url.startswith("postgresql://") and importlib.util.find_spec("psycopg") is None \
            and importlib.util.find_spec("psycopg2") is not None:
        return "postgresql+psycopg2://" + url[len("postgresql://"):]
    return url


def dataset_fingerprint(examples: Sequence[Any]) -> str:
    """A short hash of the examples' text, to refuse resuming a run on different data."""
    h = hashlib.sha256()
    for ex in examples:
        h.update(repr(ex).encode("utf-8", "replace"))
        h.update(b"\x00")
    return h.hexdigest()[:16]


class MemoryStore:
    """Default: observations live in the search state only (one process, nothing shared)."""

    url = None
    shared = False

    def load(self) -> list[CellRecord]:
        return []

    def save(self, combo: int, example: int, score: float, cost: float | None, latency: float, error: str | None) -> None:
        pass

    def finish(self, means: dict[int, float]) -> None:
        pass


def _env_seconds(name: str, default: int) -> int:
    try:
        return max(1, int(float(os.environ.get(name, default))))
    except ValueError:
        return default


class OptunaStore:
    """Observations in an Optuna study; works with any Optuna storage URL, shared by many workers."""

    shared = True

    def __init__(self, url: str, space: SearchSpace, n_examples: int, fingerprint: str, study_name: str | None = None) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.url = url
        self.space = space
        self.study_name = study_name or "agentopt"
        self._optuna = optuna
        self.heartbeat_s = _env_seconds("AGENTOPT_HEARTBEAT_S", 5)
        self.grace_s = max(self.heartbeat_s + 1, _env_seconds("AGENTOPT_GRACE_S", 4 * self.heartbeat_s))
        meta = {"space": {k: list(v) for k, v in space.slots.items()}, "n_examples": n_examples,
                "fingerprint": fingerprint}
        try:
            import sqlalchemy

            engine = sqlalchemy.create_engine(resolve_url(url))  # for the workers' lock only
            with _DbLock(engine, "agentopt:init"):  # workers starting together on a fresh database
                with warnings.catch_warnings():  # heartbeat is marked experimental
                    warnings.simplefilter("ignore")
                    self.storage = optuna.storages.RDBStorage(
                        resolve_url(url), heartbeat_interval=self.heartbeat_s, grace_period=self.grace_s,
                        **_stale_callback(optuna))
                self.study = optuna.create_study(storage=self.storage, study_name=self.study_name,
                                                 direction="maximize", load_if_exists=True)
                old = self.study.user_attrs.get("agentopt")
                if old is None:
                    self.study.set_user_attr("agentopt", meta)
        except Exception as exc:  # bad URL, missing driver, server down
            first = (str(exc).strip().splitlines() or [""])[0]
            raise ValueError(f"cannot open storage {url!r}: {type(exc).__name__}: {first}. "
                             "Use e.g. 'sqlite:///run.db' or 'postgresql://user:pass@host/db'") from None
        if old is not None and not isinstance(old, dict):
            raise ValueError(f"study {self.study_name!r} in {url} was not written by agentopt; pass another study name")
        for key, what in (("space", "slots/candidates"), ("n_examples", "number of examples"),
                          ("fingerprint", "dataset")):
            if old is not None and old.get(key) != meta[key]:
                raise ValueError(
                    f"study {self.study_name!r} in {url} was run with a different {what}; "
                    "resume with the same inputs or pass another study name"
                )
        self.distributions = {
            slot: optuna.distributions.CategoricalDistribution(list(cands)) for slot, cands in space.slots.items()
        }
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self._open: dict[int, int] = {}  # combo -> trial id open (RUNNING) in this process
        self._claimed: dict[int, set[int]] = {}  # combo -> examples claimed on that trial
        self._guard = threading.Lock()  # _open between the loop and the heartbeat thread
        self._lock = _DbLock(engine, f"agentopt:{self.study_name}")
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, name="agentopt-heartbeat", daemon=True)
        self._beat.start()

    # -- reading -----------------------------------------------------------------------------
    def _trials(self) -> list[Any]:
        return self.storage.get_all_trials(self.study._study_id, deepcopy=False)

    def _cells(self, trials: list[Any]) -> list[CellRecord]:
        out: list[CellRecord] = []
        for t in trials:
            try:
                combo = self.space.index({k: t.params[k] for k in self.space.names})
            except (KeyError, ValueError):
                continue
            for key, value in t.user_attrs.items():
                if key.startswith("cell:"):
                    try:
                        s, c, l, e = value
                        out.append((combo, int(key[5:]), float(s), None if c is None else float(c), float(l),
                                    None if e is None else str(e)))
                    except (TypeError, ValueError):  # not a cell this module wrote: never trust it
                        log.warning("ignoring malformed %s=%r in trial %s", key, value, t.number)
        return out

    def load(self) -> list[CellRecord]:
        """Every stored cell of every trial (any state, any worker)."""
        return self._cells(self._trials())

    def claim(self, wanted: Sequence[Claim], limit: int) -> tuple[list[CellRecord], list[Claim]]:
        """Claim up to ``limit`` of ``wanted`` that no one stored or holds; returns (stored cells, my claims).

        My claims include cells of ``wanted`` I claimed earlier and have not stored yet.
        """
        with self._lock:
            self._fail_stale()
            trials = self._trials()
            cells = self._cells(trials)
            stored = {(c, e) for c, e, *_ in cells}
            running = {t._trial_id for t in trials if t.state == self._optuna.trial.TrialState.RUNNING}
            with self._guard:
                for combo, tid in list(self._open.items()):
                    if tid not in running:  # failed as stale by another worker (our beat was late): claims void
                        del self._open[combo]
                        self._claimed.pop(combo, None)
                mine_ids = set(self._open.values())
            taken: set[Claim] = set()
            for t in trials:
                if t.state == self._optuna.trial.TrialState.RUNNING and t._trial_id not in mine_ids \
                        and t.user_attrs.get("claim"):
                    try:
                        combo = self.space.index({k: t.params[k] for k in self.space.names})
                    except (KeyError, ValueError):
                        continue
                    taken.update((combo, int(e)) for e in t.user_attrs["claim"])
            mine: list[Claim] = []
            new: dict[int, list[int]] = {}
            for cell in dict.fromkeys(wanted):
                if len(mine) >= limit:
                    break
                combo, ex = cell
                if cell in stored or cell in taken:
                    continue
                mine.append(cell)
                if ex not in self._claimed.get(combo, ()):
                    new.setdefault(combo, []).append(ex)
            for combo, exs in new.items():
                tid = self._trial(combo)
                self._claimed.setdefault(combo, set()).update(exs)
                self.storage.set_trial_user_attr(tid, "claim", sorted(self._claimed[combo]))
        return cells, mine

    def _fail_stale(self) -> None:
        """FAIL the RUNNING trials of workers whose heartbeat stopped (their claims become free)."""
        with warnings.catch_warnings():  # experimental API
            warnings.simplefilter("ignore")
            self._optuna.storages.fail_stale_trials(self.study)

    # -- writing -----------------------------------------------------------------------------
    def _trial(self, combo: int) -> int:
        tid = self._open.get(combo)
        if tid is None:
            frozen = self._optuna.trial.create_trial(
                state=self._optuna.trial.TrialState.RUNNING,
                params=self.space.assignment(combo),
                distributions=self.distributions,
            )
            tid = self.storage.create_new_trial(self.study._study_id, template_trial=frozen)
            self.storage.record_heartbeat(tid)  # before it holds a claim: a silent trial is never stale
            self.storage.set_trial_user_attr(tid, "combination", self.space.key(combo))
            self.storage.set_trial_user_attr(tid, "worker", self.worker)
            with self._guard:
                self._open[combo] = tid
            self._claimed[combo] = set()
        return tid

    def save(self, combo: int, example: int, score: float, cost: float | None, latency: float, error: str | None) -> None:
        cost_v = None if cost is None or (isinstance(cost, float) and math.isnan(cost)) else float(cost)
        for attempt in (0, 1):
            tid = self._trial(combo)
            try:
                self.storage.set_trial_user_attr(tid, f"cell:{example}", [float(score), cost_v, float(latency), error])
                self.storage.set_trial_intermediate_value(tid, example, float(score))
                return
            except self._optuna.exceptions.UpdateFinishedTrialError:
                # another worker failed this trial (our heartbeat was late): keep the cell in a new trial
                log.warning("trial %s of %s was finished by another worker; storing the cell in a new trial",
                            tid, self.space.key(combo))
                with self._guard:
                    self._open.pop(combo, None)
                if attempt:
                    raise

    def finish(self, means: dict[int, float]) -> None:
        """Complete this process's trials with the combination's mean score as value (releases claims)."""
        self._stop.set()
        with self._guard:
            items = list(self._open.items())
            self._open.clear()
        self._claimed.clear()
        for combo, tid in items:
            value = means.get(combo)
            state = self._optuna.trial.TrialState.COMPLETE if value is not None and not math.isnan(value) \
                else self._optuna.trial.TrialState.FAIL
            try:
                self.storage.set_trial_state_values(tid, state=state, values=[value] if state.name == "COMPLETE" else None)
            except self._optuna.exceptions.UpdateFinishedTrialError:
                pass  # failed as stale by another worker; its cells are kept all the same
        self._beat.join(timeout=5)
        self._fail_stale()  # tidy up after dead workers even when no claim needed their cells
        self._lock.engine.dispose()
        self.storage.engine.dispose()  # no pooled connections left open on the server

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            with self._guard:
                ids = list(self._open.values())
            for tid in ids:
                try:
                    self.storage.record_heartbeat(tid)
                except Exception as exc:  # a transient DB error: the next beat retries
                    log.warning("heartbeat of trial %s failed: %s", tid, exc)


def _stale_callback(optuna: Any) -> dict[str, Any]:
    """The keyword for Optuna's stale-trial callback (renamed in Optuna 4.9)."""
    import inspect

    def on_stale(study: Any, trial: Any) -> None:
        log.warning("worker %s stopped beating; its trial %s (%s) failed and its claimed cells are free again",
                    trial.user_attrs.get("worker", "?"), trial.number, trial.user_attrs.get("combination", "?"))

    params = inspect.signature(optuna.storages.RDBStorage.__init__).parameters
    key = "heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback" in params else "failed_trial_callback"
    return {key: on_stale}


class _DbLock:
    """A named mutex over all workers of a database, released by the database / OS if a worker dies.

    PostgreSQL: a transaction-scoped advisory lock; MySQL: GET_LOCK; SQLite: ``flock`` on
    ``<database>.agentopt-lock``; anything else: this process only.
    """

    def __init__(self, engine: Any, name: str) -> None:
        self.engine = engine
        self.dialect = self.engine.dialect.name
        self.key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        self.name = name[:64]
        self._local = threading.Lock()
        self._conn: Any = None
        self._file: Any = None
        db = self.engine.url.database if self.dialect == "sqlite" else None
        self.path = f"{db}.agentopt-lock" if db and db != ":memory:" else None

    def __enter__(self) -> "_DbLock":
        import sqlalchemy

        self._local.acquire()
        try:
            if self.dialect == "postgresql":
                self._conn = self.engine.connect()
                self._conn.execute(sqlalchemy.text("SELECT pg_advisory_xact_lock(:k)"), {"k": self.key})
            elif self.dialect == "mysql":
                self._conn = self.engine.connect()
                self._conn.execute(sqlalchemy.text("SELECT GET_LOCK(:n, -1)"), {"n": self.name})
            elif self.path:
                try:
                    import fcntl
                except ImportError:  # Windows: one process per SQLite file
                    return self
                self._file = open(self.path, "a")
                fcntl.flock(self._file.fileno(), fcntl.LOCK_EX)
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self._release()

    def _release(self) -> None:
        import sqlalchemy

        try:
            if self._conn is not None:
                if self.dialect == "mysql":
                    self._conn.execute(sqlalchemy.text("SELECT RELEASE_LOCK(:n)"), {"n": self.name})
                self._conn.commit()  # ends the transaction: the advisory lock goes with it
                self._conn.close()
            if self._file is not None:
                self._file.close()  # closing the descriptor drops the flock
        finally:
            self._conn = self._file = None
            self._local.release()


def open_store(storage: Any, space: SearchSpace, examples: Sequence[Any], study_name: str | None) -> MemoryStore | OptunaStore:
    if storage is None:
        return MemoryStore()
    if isinstance(storage, str):
        return OptunaStore(storage, space, len(examples), dataset_fingerprint(examples), study_name)
    raise ValueError(f"storage must be an Optuna storage URL such as 'sqlite:///run.db' or None, got {storage!r}")
