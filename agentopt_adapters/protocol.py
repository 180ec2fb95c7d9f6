"""The adapter protocol: one small object per framework, found by ``handles(app)``.

An adapter turns a user's app into slots (``discover``), runs it with one model per slot
(``bind`` -> a Runner), and writes / applies the winning assignment (``export_config`` /
``apply``). ``adapter_for`` imports only the framework adapter the app's own classes come from (a
LangGraph user never loads DSPy), then asks the plain-callable adapter last.
"""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, ClassVar, TypeVar

from .errors import AgentOptError
from .usage import Slot, Usage

__all__ = ["Adapter", "Runner", "register_adapter", "adapter_for", "framework_roots",
           "run_blocking", "no_options"]

T = TypeVar("T")
_LOOP: asyncio.AbstractEventLoop | None = None
_LOOP_LOCK = threading.Lock()


def run_blocking(awaitable: Awaitable[T]) -> T:
    """Run ``awaitable`` to completion from sync code, on a private event loop in a daemon thread.

    Works whether or not the calling thread runs an event loop; the caller's context variables
    are copied into the task. One loop serves the whole process, so async clients cached by
    model objects stay on one loop."""
    global _LOOP
    with _LOOP_LOCK:
        if _LOOP is None or _LOOP.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="agentopt-private-loop",
                             daemon=True).start()
            _LOOP = loop
        loop = _LOOP
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        raise AgentOptError("run(x) was called from code running on agentopt's private event "
                            "loop; use `await run.acall(x)` there")

    async def main() -> T:
        return await awaitable

    return asyncio.run_coroutine_threadsafe(main(), loop).result()


class Runner:
    """Runs the app under one assignment. ``run(x)`` and ``await run.acall(x)`` -> (output, Usage).

    ``prefers_async`` is True when the app has async-only parts: await ``acall`` (``run(x)``
    still works, running ``acall`` on a private event loop). Keyword options (e.g. LangGraph's
    ``config=`` / ``context=``) go through to the adapter's call.
    """

    prefers_async: bool = False

    def __init__(
        self,
        call: Callable[..., tuple[Any, Usage]] | None,
        acall: Callable[..., Awaitable[tuple[Any, Usage]]] | None = None,
        *,
        prefers_async: bool = False,
    ) -> None:
        if call is None and acall is None:
            raise TypeError("Runner needs a sync call, an async acall, or both")
        self._call = call
        self._acall = acall
        self.prefers_async = prefers_async or call is None

    def __call__(self, example_input: Any, **options: Any) -> tuple[Any, Usage]:
        if self._call is None:
            assert self._acall is not None
            return run_blocking(self._acall(example_input, **options))
        return self._call(example_input, **options)

    async def acall(self, example_input: Any, **options: Any) -> tuple[Any, Usage]:
        if self._acall is not None:
            return await self._acall(example_input, **options)
        assert self._call is not None
        return await asyncio.to_thread(self._call, example_input, **options)


class Adapter(ABC):
    """One framework. Subclasses set ``framework`` and are registered with ``register_adapter``."""

    framework: ClassVar[str]
    # asked only after every specific adapter (e.g. plain callables)
    fallback: ClassVar[bool] = False
    #: ``bind`` draws samples for a slot given ``{"model", "samples", "select", ...}``
    #: (``scaling``).
    scales: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def handles(cls, app: Any) -> bool:
        """True when this adapter understands ``app``."""

    @abstractmethod
    def discover(self, app: Any, **options: Any) -> list[Slot]:
        """Every model slot of ``app``."""

    @abstractmethod
    def bind(self, app: Any, assignment: Mapping[str, Any],
             **options: Any) -> AbstractContextManager[Runner]:
        """Context manager yielding a Runner that uses ``assignment`` (slot -> model); slots not in
        ``assignment`` keep the app's own models. ``options`` are framework-specific run
        settings."""

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


#: Built-in adapters by the top-level package an app's classes come from.
_BUILTIN = {"langgraph": "agentopt_adapters.langgraph", "dspy": "agentopt_adapters.dspy"}


def framework_roots(app: Any) -> set[str]:
    """Top-level packages of the classes ``app`` is an instance of (``{"dspy", "myapp", ...}``)."""
    return {(getattr(c, "__module__", None) or "").partition(".")[0] for c in type(app).__mro__}


def _load_builtin(app: Any) -> None:
    import importlib

    for root in sorted(framework_roots(app) & _BUILTIN.keys()):
        importlib.import_module(_BUILTIN[root])
    importlib.import_module("agentopt_adapters.callable")


def no_options(options: Mapping[str, Any], what: str, takes: str) -> None:
    """A TypeError naming run settings an adapter does not take (a typo, another framework's)."""
    if options:
        raise TypeError(f"{what} got unexpected option(s) {sorted(options)}; it takes {takes}")


def adapter_for(app: Any) -> Adapter:
    """The adapter that handles ``app``; a clear error when none does."""
    _load_builtin(app)
    for cls in sorted(_ADAPTERS, key=lambda c: c.fallback):  # whatever order they were imported in
        if cls.handles(app):
            return cls()
    raise AgentOptError(
        f"no adapter handles an app of type {type(app).__name__}; pass a compiled LangGraph "
        "graph, a dspy.Module, or a plain callable app(models: dict[str, str], example)"
    )
