"""agentopt_adapters: find the model slots of a LangGraph graph, DSPy program or plain callable,
run it with other models per slot, record usage, and search for the best combination."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from . import providers
from .assignment_file import load_config
from .errors import AgentOptError, ConfigError, DiscoveryError, ModelError, SlotError
from .protocol import Adapter, Runner, adapter_for, register_adapter
from .settings import Settings, settings
from .usage import CallUsage, Slot, Usage

__all__ = [
    "discover", "bind", "export_config", "apply", "optimize", "load_result", "set_prices",
    "settings", "Settings", "Adapter", "Runner", "register_adapter", "adapter_for",
    "Slot", "CallUsage", "Usage",
    "AgentOptError", "ConfigError", "DiscoveryError", "ModelError", "SlotError",
]

providers.install()  # model-provider plugins (e.g. sim/<name>) usable as soon as litellm loads


def discover(app: Any, **options: Any) -> list[Slot]:
    """Every model slot of ``app`` (LangGraph graph, DSPy program, or plain callable)."""
    return adapter_for(app).discover(app, **options)


def bind(app: Any, assignment: Mapping[str, Any],
         **options: Any) -> AbstractContextManager[Runner]:
    """``with bind(app, {slot: model}) as run: out, usage = run(x)``; ``options`` are the
    framework's run settings (LangGraph: ``config=``, ``context=``, ``tracing=``)."""
    return adapter_for(app).bind(app, assignment, **options)


def export_config(app: Any, assignment: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON-serialisable ``agentopt.assignment/v1`` document for ``assignment``."""
    return adapter_for(app).export_config(app, assignment)


def apply(app: Any, cfg_or_path: Any) -> Any:
    """An app that uses the assigned models from now on (``cfg_or_path``: dict or JSON file)."""
    return adapter_for(app).apply(app, load_config(cfg_or_path))


def optimize(*args: Any, **kwargs: Any) -> Any:
    """Search the best model combination for ``app``;
    see ``agentopt_adapters.optimization.optimize``."""
    from .optimization import optimize as _optimize

    return _optimize(*args, **kwargs)


def set_prices(prices: Mapping[str, tuple[float, float]]) -> None:
    """Override / add prices: ``{"my/model": (usd_in_per_mtok, usd_out_per_mtok)}``
    (see ``models.pricing``)."""
    from .models.pricing import set_prices as _set

    _set(prices)


def load_result(storage: str, study_name: str | None = None, prices: Any = None) -> Any:
    """A stored optimize run as its ``OptimizeResult``, re-priced with ``prices`` if given (no
    model call); see ``agentopt_adapters.optimization.load_result``."""
    from .optimization import load_result as _load

    return _load(storage, study_name, prices)
