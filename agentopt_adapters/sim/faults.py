"""Which requests the simulated server fails, and how (429, 500, timeout, malformed reply).

Two modes:

- random (``fail_rate`` > 0): a request fails with probability ``fail_rate``, the kind drawn from
  ``faults``; the draw is a hash of (seed, request body, how often that body was seen), so a rerun
  sends the same requests the same faults, and the retry of a failed request draws afresh.
- scheduled (``schedule``): faults are fixed by the server's request number (1 = the first
  request it receives): ``"every:5"`` fails requests 5, 10, 15, ... with the kinds of ``faults``
  in turn, and ``"3:429,8:timeout"`` (or a mapping ``{3: "429", 8: "timeout"}``) fails exactly
  those requests. So
  of N requests, requests ``k*every`` fail, the ``k``-th with ``faults[(k-1) % len(faults)]``,
  whatever the requests' content or timing. A request refused as invalid (400/404) gets its error,
  not a fault.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping
from typing import Any

from ..errors import AgentOptError

__all__ = ["FAULTS", "FaultPlan", "parse_schedule"]

FAULTS = ("429", "500", "timeout", "malformed")


def parse_schedule(spec: str | Mapping[int, str] | None,
                   faults: tuple[str, ...]) -> tuple[int, dict[int, str]]:
    """``(every, {request number: kind})`` from ``"every:K"``, ``"n:kind,..."`` or a mapping."""
    if spec is None or spec == "":
        return 0, {}
    if isinstance(spec, Mapping):
        pairs: list[tuple[Any, Any]] = list(spec.items())
    else:
        text = str(spec).strip()
        m = re.fullmatch(r"every\s*[:=]\s*(\d+)", text)
        if m:
            every = int(m.group(1))
            if every < 1 or not faults:
                raise AgentOptError(f"fault schedule {text!r}: 'every:K' needs K >= 1 and at "
                                    "least one fault kind (--faults 429,500,timeout,malformed)")
            return every, {}
        pairs = [_scheduled_fault(part)
                 for part in filter(None, (p.strip() for p in text.split(",")))]
    out: dict[int, str] = {}
    for n, kind in pairs:
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise AgentOptError(f"fault schedule: request numbers start at 1, got {n!r}")
        if kind not in FAULTS:
            raise AgentOptError(f"fault schedule: unknown fault kind {kind!r}; choose from "
                                f"{', '.join(FAULTS)}")
        out[n] = kind
    return 0, out


def _scheduled_fault(part: str) -> tuple[int, str]:
    """``"N:kind"`` as ``(N, kind)``."""
    n, sep, kind = part.partition(":")
    if not sep or not n.strip().isdigit():
        raise AgentOptError(f"fault schedule part {part!r} is not 'N:kind'; write e.g. "
                            "--faults-schedule 3:429,8:timeout or --faults-schedule every:5")
    return int(n), kind.strip()


class FaultPlan:
    """The fault (or None) for each request the server answers."""

    def __init__(self, fail_rate: float, faults: tuple[str, ...], seed: int,
                 schedule: str | Mapping[int, str] | None = None) -> None:
        self.fail_rate, self.faults, self.seed = fail_rate, tuple(faults), seed
        self.every, self.at = parse_schedule(schedule, self.faults)
        if (self.every or self.at) and fail_rate > 0:
            raise AgentOptError("use either a fault schedule (--faults-schedule) or random faults "
                                "(--fail-rate), not both")

    @property
    def scheduled(self) -> bool:
        return bool(self.every or self.at)

    def fault_for(self, number: int, body_key: str, occurrence: int) -> str | None:
        """The fault of request ``number`` (1-based arrival), whose body hash is ``body_key`` and
        which is the ``occurrence``-th sending of that body."""
        if self.every:
            if number % self.every:
                return None
            return self.faults[(number // self.every - 1) % len(self.faults)]
        if self.at:
            return self.at.get(number)
        if self.fail_rate <= 0:
            return None
        h = hashlib.sha256(f"{self.seed}|{body_key}|{occurrence}".encode()).digest()
        rng = random.Random(int.from_bytes(h[:8], "big"))
        if rng.random() >= self.fail_rate:
            return None
        return rng.choice(list(self.faults))

    def expected(self, n_requests: int) -> dict[str, int]:
        """Scheduled faults among the first ``n_requests`` valid requests, by kind."""
        out: dict[str, int] = {}
        for number in range(1, n_requests + 1):
            kind = self.fault_for(number, "", 0) if self.scheduled else None
            if kind:
                out[kind] = out.get(kind, 0) + 1
        return out
