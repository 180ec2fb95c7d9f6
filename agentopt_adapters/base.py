"""The adapter interface: one small object per framework, found by ``handles(app)``.

An adapter turns a user's app into slots (``discover``), runs it with one model per slot
(``bind`` -> a Runner), and writes / applies the winning assignment (``export_config`` / ``apply``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from typing import Any, Awaitable, Callable, ClassVar, Mapping

from .errors import AgentOptError
from .types import Slot, Usage

__all__ = ["Adapter", "Runner", "register_adapter", "adapter_for"]


class Runner:
    """Runs the app under one assignment. ``run(x)`` and ``await run.acall(x)`` -> (output, Usage)."""

    def __init__(
        self,
        call: Callable[[Any], tuple[Any, Usage]],
        acall: Callable[[Any], Awaitable[tuple[Any, Usage]]] | None = None,
    ) -> None:
        self._call = call
        self._acall = acall

    def __call__(self, example_input: Any) -> tuple[Any, Usage]:
        return self._call(example_input)

    async def acall(self, example_input: Any) -> tuple[Any, Usage]:
        if self._acall is not None:
            return await self._acall(example_input)
        import asyncio

        return await asyncio.to_thread(self._call, example_input)


class Adapter(ABC):
    """One framework. Subclasses set ``framework`` and are registered with ``register_adapter``."""

    framework: ClassVar[str]
    fallback: ClassVar[bool] = False  # asked only after every specific adapter (e.g. plain callables)

    @classmethod
    @abstractmethod
    def handles(cls, app: Any) -> bool:
        """True when this adapter understands ``app``."""

    @abstractmethod
    def discover(self, app: Any, **options: Any) -> list[Slot]:
        """Every model slot of ``app``."""

    @abstractmethod
    def bind(self, app: Any, assignment: Mapping[str, Any]) -> AbstractContextManager[Runner]:
        """Context manager yielding a Runner that uses ``assignment`` (slot -> model)."""

    @abstractmethod
    def export_config(self, app: Any, assignment: Mapping[str, Any]) -> dict[str, Any]:
        """The ``agentopt.assignment/v1`` document for ``assignment``."""

    @abstractmethod
    def apply(self, app: Any, cfg: Mapping[str, Any]) -> Any:
        """An app that uses the config's models from now on (the user's object is not mutated)."""


_ADAPTERS: list[type[Adapter]] = []


def register_adapter(cls: type[Adapter]) -> type[Adapter]:
    """Class decorator: make an adapter available to ``adapter_for``."""
    if cls not in _ADAPTERS:
        _ADAPTERS.append(cls)
    return cls


def _load_builtin() -> None:
    # Imported lazily so `import agentopt_adapters` stays light; each module registers itself.
    import importlib

    for mod in ("langgraph_adapter", "dspy_adapter", "callable_adapter"):
        try:
            importlib.import_module(f"agentopt_adapters.{mod}")
        except ModuleNotFoundError as exc:  # adapter module not written yet / framework missing
            if exc.name and not exc.name.startswith("agentopt_adapters"):
                raise


def adapter_for(app: Any) -> Adapter:
    """The adapter that handles ``app``; a clear error when none does."""
    _load_builtin()
    for cls in sorted(_ADAPTERS, key=lambda c: c.fallback):  # whatever order they were imported in
        if cls.handles(app):
            return cls()
    raise AgentOptError(
        f"no adapter handles an app of type {type(app).__name__}; pass a compiled LangGraph graph, "
        "a dspy.Module, or a plain callable app(models: dict[str, str], example)"
    )
