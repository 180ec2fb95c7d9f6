"""Simulated models: a zoo of 8 deterministic models, usable in-process (litellm provider
``sim/<name>``) or over HTTP (``agentopt sim-server``), both backed by one engine."""

from __future__ import annotations

import os
import threading

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from .engine import SimResult, simulate  # noqa: E402
from .zoo import PROVIDER, ZOO, SimModelSpec, get_spec  # noqa: E402

__all__ = ["register", "ZOO", "SimModelSpec", "SimResult", "simulate", "get_spec", "PROVIDER", "model_names"]

_LOCK = threading.Lock()
_DONE = False


def register() -> None:
    """Register the litellm custom provider ``sim`` and the zoo's prices (idempotent)."""
    global _DONE
    import litellm  # noqa: F401  (first: importing it runs the provider-plugin hook, which calls us)

    with _LOCK:
        if _DONE:
            return
        from .provider import install

        install()
        _DONE = True


def model_names() -> list[str]:
    """``["sim/nano", ..., "sim/maverick"]``, cheapest first."""
    return list(ZOO)
