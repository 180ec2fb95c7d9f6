"""agentopt_adapters: find the model slots of a LangGraph graph, DSPy program or plain callable,
run it with other models per slot, record usage, and search for the best combination."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch prices at import

from contextlib import AbstractContextManager
from typing import Any, Mapping

from .base import Adapter, Runner, adapter_for, register_adapter
from .config import load_config
from .errors import AgentOptError, ConfigError, DiscoveryError, ModelError, SlotError
from .types import CallUsage, Slot, Usage

__all__ = [
    "discover", "bind", "export_config", "apply", "optimize",
    "Adapter", "Runner", "register_adapter", "adapter_for",
    "Slot", "CallUsage", "Usage",
    "AgentOptError", "ConfigError", "DiscoveryError", "ModelError", "SlotError",
]


def discover(app: Any, **options: Any) -> list[Slot]:
    """Every model slot of ``app`` (LangGraph graph, DSPy program, or plain callable)."""
    return adapter_for(app).discover(app, **options)


def bind(app: Any, assignment: Mapping[str, Any]) -> AbstractContextManager[Runner]:
    """``with bind(app, {slot: model}) as run: out, usage = run(x)``."""
    return adapter_for(app).bind(app, assignment)


def export_config(app: Any, assignment: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-serialisable ``agentopt.assignment/v1`` document for ``assignment``."""
    return adapter_for(app).export_config(app, assignment)


def apply(app: Any, cfg_or_path: Any) -> Any:
    """An app that uses the assigned models from now on (``cfg_or_path``: dict or JSON file)."""
    return adapter_for(app).apply(app, load_config(cfg_or_path))


def optimize(*args: Any, **kwargs: Any) -> Any:
    """Search the best model combination for ``app``; see ``agentopt_adapters.optimizer.optimize``."""
    from .optimizer import optimize as _optimize  # module not named optimize: it would shadow this function

    return _optimize(*args, **kwargs)
