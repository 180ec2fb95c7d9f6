"""Shared test setup.

- litellm uses its bundled price map (no fetch at import; the tests are a program).
- Property tests are derandomized: hypothesis draws the same examples on every run (no example
  database, no deadline), so a run fails or passes the same way on any machine. Explore with fresh
  draws with ``HYPOTHESIS_PROFILE=explore pytest ...``.
- Every test stops what it started: a test (or a module's fixtures) that leaves a child process, a
  new non-daemon thread or an ``agentopt-*`` thread (the sim server, the storage heartbeat, the
  evaluation pool) running fails. Threads that are finishing get a short join first; nothing here
  waits for a fixed time.
"""

from __future__ import annotations

import glob
import os
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import settings

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

settings.register_profile("deterministic", derandomize=True, database=None, deadline=None,
                          print_blob=True)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))

JOIN_S = 10.0  # how long new threads get to finish (spent only while one is still alive)

# Process-wide threads, created once by the first call and reused by every later test (not a
# per-test leak): litellm's worker pools, and the library's one private event loop for running
# async-only apps from sync code (agentopt_adapters/protocol.py).
PROCESS_WIDE = ("litellm-logging", "litellm-beta-headers-config", "litellm-oidc-token-fetch",
                "agentopt-private-loop")

# threads and pids already reported by a test: not again by its module
_reported: set[object] = set()


def _watched(t: threading.Thread) -> bool:
    if t is threading.main_thread() or t.name.startswith(PROCESS_WIDE) or t in _reported:
        return False
    return not t.daemon or t.name.startswith("agentopt")


def _leftovers(before: set[threading.Thread]) -> list[threading.Thread]:
    """Watched threads started since ``before`` that are still alive after a bounded join."""
    new = [t for t in threading.enumerate() if t not in before and _watched(t)]
    deadline = time.monotonic() + JOIN_S
    for t in new:
        t.join(max(0.0, deadline - time.monotonic()))
    return [t for t in new if t.is_alive()]


def _children() -> set[int]:
    """Live (not zombie) child processes of this process (Linux /proc; empty elsewhere)."""
    me, found = os.getpid(), set()
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                state, ppid = f.read().rsplit(")", 1)[1].split()[:2]
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if int(ppid) == me and state != "Z":
            found.add(int(stat.split("/")[2]))
    return found


def _check(before: tuple[set[threading.Thread], set[int]], what: str) -> None:
    # a test waits for the processes it starts: no grace period
    procs = _children() - before[1] - _reported
    _reported.update(procs)
    if procs:
        pytest.fail(f"{what} left {len(procs)} child process(es) running (pids {sorted(procs)}); "
                    "terminate and wait for them before the test ends", pytrace=False)
    left = _leftovers(before[0])
    if not left:
        return
    _reported.update(left)
    names = sorted(f"{t.name} (daemon={t.daemon})" for t in left)
    pytest.fail(f"{what} left {len(left)} thread(s) running: {names}; stop them (close the server "
                "/ storage / pool, join the thread) before the test ends", pytrace=False)


@pytest.fixture(autouse=True, scope="module")
def _module_stops_what_it_started(request: pytest.FixtureRequest) -> Iterator[None]:
    """Module-scoped fixtures (a shared server) are stopped when the module ends."""
    before = set(threading.enumerate()), _children()
    yield
    _check(before, f"module {request.node.nodeid}")


@pytest.fixture(autouse=True)
def _test_stops_what_it_started(request: pytest.FixtureRequest) -> Iterator[None]:
    """The test and its function-scoped fixtures stop the processes,
    threads and servers they started."""
    before = set(threading.enumerate()), _children()
    yield
    _check(before, f"test {request.node.nodeid}")
