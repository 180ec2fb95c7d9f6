"""Start a throw-away PostgreSQL server for a test (initdb into a temp dir,
pg_ctl on a free port)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or \
        [p for p in [shutil.which("initdb")] if p]
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(prefix: list[str], bindir: Path, data: str, sock: str, logf: str,
           attempts: int = 5) -> int:
    """Start the server on a free port; the port probed here can be taken before PostgreSQL binds
    it (other processes on a busy machine), so a bind failure is retried on another port."""
    for attempt in range(attempts):
        port = _free_port()
        opts = (f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c max_connections=200")
        res = subprocess.run(prefix
                             + [str(bindir / "pg_ctl"), "-D", data, "-l", logf, "-o", opts, "-w",
                                "-t", "60",
                                       "start"], capture_output=True, text=True)
        if res.returncode == 0:
            return port
        log = Path(logf).read_text(errors="replace") if os.path.exists(logf) else ""
        port_taken = "could not bind" in log or "already in use" in log
        if not port_taken or attempt == attempts - 1:
            raise RuntimeError(f"pg_ctl start failed: {res.stdout}{res.stderr}\n{log[-2000:]}")
    raise AssertionError("unreachable")


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Yield the URL of a fresh PostgreSQL server; skip the test if the binaries are absent."""
    bindir = _bin_dir()
    if bindir is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found; apt-get install postgresql")
    pytest.importorskip("psycopg2", reason="psycopg2-binary is needed to talk to PostgreSQL")
    prefix: list[str] = []
    root = tempfile.mkdtemp(prefix="agentopt-pg-")
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as the postgres user
        import pwd

        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
        os.chown(root, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data, sock, logf = f"{root}/data", f"{root}/sock", f"{root}/server.log"
    try:
        subprocess.run(prefix + ["mkdir", "-p", sock], check=True)
        subprocess.run(prefix
                       + [str(bindir / "initdb"), "-D", data, "-A", "trust", "-U", "postgres",
                          "-E", "UTF8",
                                 "--no-sync"], check=True, capture_output=True)
        port = _start(prefix, bindir, data, sock, logf)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(prefix
                       + [str(bindir / "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
