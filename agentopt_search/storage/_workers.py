"""Workers of a shared study: names, liveness, and their claims as stored
(study system attributes)."""

from __future__ import annotations

import functools
import os
import socket
from typing import Any

from .base import CellKey, Values

__all__ = ["worker_name", "alive_here", "workers", "encode_claims", "decode_claims"]


def worker_name() -> str:
    """``host:boot:pid:token``: unique, and tells a worker of this machine from one elsewhere."""
    import secrets

    return f"{_machine()}:{os.getpid()}:{secrets.token_hex(3)}"


@functools.lru_cache(maxsize=1)
def _machine() -> str:
    """This machine (host name and boot):
    a worker named with it is known dead when its pid is gone."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()[:8]
    except OSError:
        boot = "-"
    return f"{socket.gethostname()}:{boot}"


def alive_here(worker: str) -> bool | None:
    """Whether a worker of this machine (same boot) still runs; None for workers elsewhere."""
    machine, _, pid = worker.rpartition(":")[0].rpartition(":")
    if machine != _machine() or _machine().endswith(":-"):
        return None
    if not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:  # not ours to signal: it exists
        return True
    return True


def workers(attrs: dict[str, Any]) -> tuple[dict[str, float], dict[str, Any]]:
    """(worker -> last beat, worker -> claims)
    from the study's ``agentopt:*`` system attributes."""
    beats, claims = {}, {}
    for key, value in attrs.items():
        kind, _, worker = key[len("agentopt:"):].partition(":")
        if kind == "beat":
            beats[worker] = float(value)
        elif kind == "claims":
            claims[worker] = value
    return beats, claims


def encode_claims(claims: set[CellKey]) -> list[list[Any]]:
    grouped: dict[Values, list[int]] = {}
    for values, ex in claims:
        grouped.setdefault(values, []).append(ex)
    return [[list(v), sorted(exs)] for v, exs in grouped.items()]


def decode_claims(value: Any) -> list[CellKey]:
    try:
        return [(tuple(str(x) for x in values), int(ex)) for values, exs in value for ex in exs]
    except (TypeError, ValueError):
        return []
