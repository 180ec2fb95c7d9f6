"""Model-provider plugins: litellm providers that packages register under the entry-point group
``agentopt_adapters.providers`` (a zero-argument function that registers the provider and its
prices with litellm; the simulated zoo is one). They are registered the moment litellm is imported
— by us, by DSPy or by the user — so ``dspy.LM("sim/small")`` works after ``import
agentopt_adapters`` without importing litellm (slow) before it is needed.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Sequence
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

__all__ = ["GROUP", "register_providers", "install"]

GROUP = "agentopt_adapters.providers"
_LOCK = threading.Lock()
_DONE = False


def register_providers() -> None:
    """Call every provider plugin's registration function once (errors name the plugin)."""
    global _DONE
    with _LOCK:
        if _DONE:
            return
        _DONE = True
        for ep in entry_points(group=GROUP):
            try:
                ep.load()()
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the library
                import warnings

                warnings.warn(f"model provider plugin {ep.name!r} ({ep.value}) failed to "
                              f"register: {type(exc).__name__}: {exc}", RuntimeWarning,
                              stacklevel=2)


class _AfterLitellm(importlib.abc.MetaPathFinder):
    """Finds ``litellm`` with the other finders, then registers the plugins once it has loaded."""

    def find_spec(self, name: str, path: Sequence[str] | None = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if name != "litellm":
            return None
        # stays in sys.meta_path until litellm is executed: a find_spec probe (DSPy's lazy
        # ``require("litellm")``) must not use it up before the real import
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_then_register(module: ModuleType) -> Any:
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            exec_module(module)
            register_providers()

        loader.exec_module = exec_then_register  # type: ignore[method-assign]
        return spec


def install() -> None:
    """Register the plugins now if litellm is loaded, else as soon as it is."""
    if "litellm" in sys.modules:
        register_providers()
    elif not any(isinstance(f, _AfterLitellm) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterLitellm())
