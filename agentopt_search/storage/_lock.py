"""A named mutex over every worker of one database,
released by the database / OS if a worker dies."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

__all__ = ["DbLock"]


class DbLock:
    """A named mutex over all workers of a database, released by the database / OS if a worker
    dies.

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

    def __enter__(self) -> DbLock:
        import sqlalchemy

        self._local.acquire()
        try:
            if self.dialect == "postgresql":
                self._conn = self.engine.connect()
                self._conn.execute(sqlalchemy.text("SELECT pg_advisory_xact_lock(:k)"),
                                   {"k": self.key})
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
                    self._conn.execute(sqlalchemy.text("SELECT RELEASE_LOCK(:n)"),
                                       {"n": self.name})
                self._conn.commit()  # ends the transaction: the advisory lock goes with it
                self._conn.close()
            if self._file is not None:
                self._file.close()  # closing the descriptor drops the flock
        finally:
            self._conn = self._file = None
            self._local.release()
