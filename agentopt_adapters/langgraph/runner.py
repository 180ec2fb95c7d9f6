"""Running a graph under one assignment: ``LangGraphRunner`` (``run(x)``, ``await run.acall(x)``,
``run.stream``, ``run.astream``), the run config it builds, and the scope a run executes in.

A run's config is the binding's config with the run's own merged over it (tags and callbacks added
up, metadata and configurable merged), plus the recorder that attributes each call to a slot. The
run's scope makes the binding's route the innermost active one and, with ``tracing=False``, turns
LangChain/LangSmith tracing off through langsmith's tracing context (no environment writes).
"""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler, BaseCallbackManager
from langchain_core.runnables.config import RunnableConfig

from ..protocol import Runner, run_blocking
from ..usage import Usage
from .recording import SlotRecorder
from .routing import Route, pop_route, push_route

__all__ = ["LangGraphRunner", "RunStream", "AsyncRunStream", "merge_config"]


def merge_config(base: Mapping[str, Any] | None,
                 extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """``extra`` over ``base``: tags and callbacks added up, metadata and configurable merged
    (``extra`` wins a key), any other key from ``extra``."""
    out: dict[str, Any] = dict(base or {})
    for key, value in (extra or {}).items():
        old = out.get(key)
        if value is None or old is None:
            out[key] = old if value is None else value
        elif key == "tags":
            out[key] = list(dict.fromkeys([*old, *value]))
        elif key in ("metadata", "configurable"):
            out[key] = {**old, **value}
        elif key == "callbacks":
            out[key] = _with_handlers(old, value)
        else:
            out[key] = value
    return out


def _with_handlers(callbacks: Any, added: Any) -> Any:
    """Callbacks (a list or a manager) plus ``added`` handlers, inherited by every child run."""
    handlers = list(added.handlers) if isinstance(added, BaseCallbackManager) else list(added)
    if callbacks is None:
        return handlers
    if isinstance(callbacks, BaseCallbackManager):
        manager = callbacks.copy()
        for handler in handlers:
            manager.add_handler(handler, inherit=True)
        return manager
    return [*callbacks, *handlers]


def _run_config(graph: Any, config: Mapping[str, Any] | None,
                handler: BaseCallbackHandler) -> RunnableConfig:
    cfg = dict(config or {})
    cfg["callbacks"] = _with_handlers(cfg.get("callbacks"), [handler])
    if getattr(graph, "checkpointer", None) and not (cfg.get("configurable")
                                                     or {}).get("thread_id"):
        cfg["configurable"] = {**(cfg.get("configurable") or {}),
                               "thread_id": f"agentopt-{uuid.uuid4().hex}"}
    return cfg  # type: ignore[return-value]


@contextmanager
def _scope(route: Route, tracing: bool | None) -> Iterator[None]:
    """The route active (innermost) for the run;
    LangChain/LangSmith tracing off when ``tracing`` is False."""
    token = push_route(route)
    try:
        if tracing is False:
            from langsmith.run_helpers import tracing_context

            with tracing_context(enabled=False):
                yield
        else:
            yield
    finally:
        pop_route(token)


def _failed(graph: Any, invoke_kwargs: Mapping[str, Any], exc: BaseException,
            recorder: SlotRecorder) -> None:
    """A run raised: the calls it paid for ride on the exception (``exc.agentopt_usage``), and a
    missing runtime context is named."""
    with contextlib.suppress(AttributeError):  # an exception type that refuses new attributes
        exc.agentopt_usage = recorder.usage()  # type: ignore[attr-defined]
    _hint_missing_context(graph, invoke_kwargs.get("context"), exc)


def _hint_missing_context(graph: Any, context: Any, exc: BaseException) -> None:
    schema = getattr(graph, "context_schema", None)
    if context is None and schema is not None and hasattr(exc, "add_note"):
        exc.add_note("agentopt: the graph declares "
                     f"context_schema={getattr(schema, '__name__', schema)!r} but no context was "
                     "passed; give it as aa.optimize(..., context=...) (CLI: --context JSON), "
                     "aa.bind(graph, ..., context=...) or run(x, context=...)")


class RunStream:
    """``run.stream(x, **kw)``: iterate the graph's stream; ``.usage`` afterwards."""

    def __init__(self, runner: LangGraphRunner, example: Any, config: Any, context: Any,
                 kwargs: dict[str, Any]) -> None:
        self._recorder = runner._recorder()
        cfg = _run_config(runner.graph, merge_config(runner.config, config), self._recorder)
        kw = runner._invoke_kwargs(context, kwargs)
        self._ctx = contextvars.copy_context()  # the route lives in this private context only
        self._scope = _scope(runner.route, runner.tracing)
        self._ctx.run(self._scope.__enter__)
        self._iter = self._ctx.run(runner.graph.stream, example, cfg, **kw)

    def __iter__(self) -> Iterator[Any]:
        while True:
            try:
                chunk = self._ctx.run(next, self._iter)
            except StopIteration:
                return
            yield chunk

    @property
    def usage(self) -> Usage:
        return self._recorder.usage()


class AsyncRunStream:
    """``run.astream(x, **kw)``: ``async for`` over the graph's astream; ``.usage`` afterwards.

    The route is active only while the graph's stream advances, so the consumer's context is
    never changed between chunks."""

    def __init__(self, runner: LangGraphRunner, example: Any, config: Any, context: Any,
                 kwargs: dict[str, Any]) -> None:
        self._recorder = runner._recorder()
        cfg = _run_config(runner.graph, merge_config(runner.config, config), self._recorder)
        self._runner = runner
        self._stream = runner.graph.astream(example, cfg, **runner._invoke_kwargs(context, kwargs))

    async def __aiter__(self) -> AsyncIterator[Any]:
        it = self._stream.__aiter__()
        while True:
            with _scope(self._runner.route, self._runner.tracing):
                try:
                    chunk = await it.__anext__()
                except StopAsyncIteration:
                    return
            yield chunk

    @property
    def usage(self) -> Usage:
        return self._recorder.usage()


class LangGraphRunner(Runner):
    """Runs a graph under one assignment: ``run(x)`` / ``await run.acall(x)`` -> (output, Usage).

    ``config`` (tags, metadata, callbacks, recursion_limit, configurable, ...) and ``context``
    (LangGraph runtime context) given to ``aa.bind`` apply to every run; those given per run are
    merged over them (tags and callbacks added, metadata merged). ``tracing=False`` switches
    LangChain/LangSmith tracing off for the runs. ``prefers_async`` is True when the graph has
    async-only nodes: await ``acall`` (``run(x)`` runs it on a private event loop).
    """

    def __init__(self, graph: Any, route: Route, *, config: Mapping[str, Any] | None = None,
                 context: Any = None, tracing: bool | None = None) -> None:
        self.graph = graph
        self.route = route
        self.config = dict(config or {})
        self.context = context
        self.tracing = tracing
        super().__init__(self._call_sync, self._call_async,
                         prefers_async=bool(route.table.async_only))

    def _recorder(self) -> SlotRecorder:
        return SlotRecorder(self.route.table, self.route)

    def _invoke_kwargs(self, context: Any,
                       kwargs: Mapping[str, Any] | None = None) -> dict[str, Any]:
        context = self.context if context is None else context
        return {**(kwargs or {}), **({"context": context} if context is not None else {})}

    def _call_sync(self, example: Any, config: Mapping[str, Any] | None = None, *,
                   context: Any = None, **kwargs: Any) -> tuple[Any, Usage]:
        if self.prefers_async:
            return run_blocking(self._call_async(example, config, context=context, **kwargs))
        recorder = self._recorder()
        cfg = _run_config(self.graph, merge_config(self.config, config), recorder)
        kw = self._invoke_kwargs(context, kwargs)
        try:
            with _scope(self.route, self.tracing):
                out = self.graph.invoke(example, cfg, **kw)
        except Exception as exc:
            _failed(self.graph, kw, exc, recorder)
            raise
        return out, recorder.usage()

    async def _call_async(self, example: Any, config: Mapping[str, Any] | None = None, *,
                          context: Any = None, **kwargs: Any) -> tuple[Any, Usage]:
        recorder = self._recorder()
        cfg = _run_config(self.graph, merge_config(self.config, config), recorder)
        kw = self._invoke_kwargs(context, kwargs)
        try:
            with _scope(self.route, self.tracing):
                out = await self.graph.ainvoke(example, cfg, **kw)
        except Exception as exc:
            _failed(self.graph, kw, exc, recorder)
            raise
        return out, recorder.usage()

    def __call__(self, example_input: Any, config: Mapping[str, Any] | None = None, *,
                 context: Any = None, **kwargs: Any) -> tuple[Any, Usage]:
        return self._call_sync(example_input, config, context=context, **kwargs)

    async def acall(self, example_input: Any, config: Mapping[str, Any] | None = None, *,
                    context: Any = None, **kwargs: Any) -> tuple[Any, Usage]:
        return await self._call_async(example_input, config, context=context, **kwargs)

    def stream(self, example_input: Any, config: Mapping[str, Any] | None = None, *,
               context: Any = None, **kwargs: Any) -> RunStream:
        return RunStream(self, example_input, config, context, kwargs)

    def astream(self, example_input: Any, config: Mapping[str, Any] | None = None, *,
                context: Any = None, **kwargs: Any) -> AsyncRunStream:
        return AsyncRunStream(self, example_input, config, context, kwargs)
