"""Settings read once from the environment (never written to it).

==============================  =======  ============================================
``AGENTOPT_RETRIES``            3        retries after a model call's first attempt (0 = none)
``AGENTOPT_RETRY_BACKOFF``      0.5      first wait in seconds (doubles each retry)
``AGENTOPT_RETRY_MAX_BACKOFF``  20       longest wait in seconds
``AGENTOPT_TIMEOUT``            60       per-request timeout in seconds (network models; none/off =
no timeout) ==============================  =======  ============================================

``settings()`` reads them on first use; ``settings.reload()`` reads them again (e.g. after a test
changed the environment).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ModelError

__all__ = ["Settings", "settings"]


@dataclass(frozen=True)
class Settings:
    """Run-wide defaults; per-model arguments (``retries=``) override them."""

    retries: int = 3
    retry_backoff_s: float = 0.5
    retry_max_backoff_s: float = 20.0
    timeout_s: float | None = 60.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        d = cls()
        return cls(
            retries=_number(env, "AGENTOPT_RETRIES", int, d.retries),
            retry_backoff_s=_number(env, "AGENTOPT_RETRY_BACKOFF", float, d.retry_backoff_s),
            retry_max_backoff_s=_number(env, "AGENTOPT_RETRY_MAX_BACKOFF", float,
                                        d.retry_max_backoff_s),
            timeout_s=_number(env, "AGENTOPT_TIMEOUT", float, d.timeout_s, off=True),
        )


def _number(env: Mapping[str, str], name: str, kind: type, default: Any, off: bool = False) -> Any:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    if off and raw.strip().lower() in ("none", "off", "0"):
        return None
    try:
        return kind(raw)
    except ValueError:
        raise ModelError(f"environment variable {name}={raw!r} is not a valid {kind.__name__}; "
                         f"e.g. {name}={default}") from None


class _Current:
    """``settings()`` -> the Settings read on first use;
    ``settings.reload()`` re-reads the environment."""

    def __init__(self) -> None:
        self._value: Settings | None = None
        self._lock = threading.Lock()

    def __call__(self) -> Settings:
        value = self._value
        if value is None:
            with self._lock:
                value = self._value = self._value or Settings.from_env()
        return value

    def reload(self) -> Settings:
        with self._lock:
            self._value = Settings.from_env()
        return self._value


settings = _Current()
