"""Per-call routing: every chat-model call picks its model from the active assignment.

``BaseChatModel.invoke / ainvoke / stream / astream`` are wrapped once per process. Outside a
binding the wrappers pass straight through. Inside one (a ``Route`` held by a context variable,
or by the recorder in the run's callbacks), each call resolves its slot from the LangGraph node
path in the run metadata plus the identity of the model object, then runs on the assigned model
with the same input, config and call kwargs (tools bound by ``bind_tools``, ``tool_choice``,
``response_format``, temperature, ...). Nothing of the user's graph, models or module globals is
changed, so any number of bindings can run at once in threads and asyncio tasks.
"""

from __future__ import annotations

import json
import threading
import warnings
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Iterator, Mapping

from langchain_core.callbacks import BaseCallbackManager
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.runnables.config import RunnableConfig, ensure_config
from langchain_core.utils.function_calling import convert_to_openai_tool

from ..models import chat_model, model_name
from .discovery import Path, SlotInfo, SlotTable, inherited_kwargs, path_from_metadata

ROUTED = "agentopt_routed"
SLOT = "agentopt_slot"

_ACTIVE: ContextVar["Route | None"] = ContextVar("agentopt_langgraph_route", default=None)


@dataclass(frozen=True)
class ModelSpec:
    """What a slot runs on: a model string (built with the factory) or a ready chat model."""

    model: Any
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.model if isinstance(self.model, str) else (model_name(self.model) or type(self.model).__name__)


class Route:
    """One assignment over one graph's slot table; shared by all runs of a binding."""

    def __init__(self, table: SlotTable, assignment: Mapping[str, ModelSpec], *, observe: bool = False) -> None:
        self.table = table
        self.assignment = dict(assignment)
        self._cache: dict[tuple[str, str], BaseChatModel] = {}
        self._lock = threading.Lock()
        self.observed: list[tuple[Path, Any, str | None]] | None = [] if observe else None

    def decide(self, model: BaseChatModel, config: RunnableConfig | None) -> tuple[BaseChatModel, RunnableConfig]:
        cfg = ensure_config(config)
        metadata = dict(cfg.get("metadata") or {})
        path = path_from_metadata(metadata)
        if self.observed is not None:
            with self._lock:
                self.observed.append((path, model, model_name(model)))
        slot = self.table.resolve(path, model)
        spec = self.assignment.get(slot.name) if slot is not None else None
        target = model if spec is None else self.build(spec, model, slot.name)  # type: ignore[union-attr]
        metadata[ROUTED] = True
        metadata[SLOT] = slot.name if slot is not None else None
        return target, {**cfg, "metadata": metadata}

    def build(self, spec: ModelSpec, original: Any = None, slot: str | None = None) -> BaseChatModel:
        """The candidate model for ``spec`` (cached per model string + kwargs within the binding)."""
        if isinstance(spec.model, BaseChatModel):
            return spec.model
        kwargs = {**(inherited_kwargs(original) if original is not None else {}), **dict(spec.kwargs)}
        key = (str(spec.model), json.dumps(kwargs, sort_keys=True, default=repr))
        with self._lock:
            found = self._cache.get(key)
            if found is None:
                found = chat_model(spec.model, slot=slot, **kwargs)
                self._cache[key] = found
        return found


def active_route() -> Route | None:
    return _ACTIVE.get()


def set_route(route: Route | None) -> Any:
    return _ACTIVE.set(route)


def reset_route(token: Any) -> None:
    _ACTIVE.reset(token)


def _route_from_callbacks(config: RunnableConfig | None) -> Route | None:
    callbacks = ensure_config(config).get("callbacks")
    if isinstance(callbacks, BaseCallbackManager):
        handlers = list(callbacks.handlers) + list(callbacks.inheritable_handlers)
    elif isinstance(callbacks, list):
        handlers = callbacks
    else:
        return None
    for handler in handlers:
        route = getattr(handler, "agentopt_route", None)
        if isinstance(route, Route):
            return route
    return None


def _adapt_kwargs(src: BaseChatModel, target: BaseChatModel, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Re-bind tools in the candidate's own format when the model class changes."""
    if "tools" not in kwargs or type(src) is type(target):
        return kwargs
    rest = dict(kwargs)
    tools = rest.pop("tools")
    tool_choice = rest.pop("tool_choice", None)
    try:
        openai_tools = [convert_to_openai_tool(t) for t in tools]
        bound = target.bind_tools(openai_tools, **({"tool_choice": tool_choice} if tool_choice is not None else {}))
        return {**dict(getattr(bound, "kwargs", {}) or {}), **rest}
    except Exception:  # noqa: BLE001 - candidate has no bind_tools: pass the tools unchanged
        return kwargs


def _plan(model: BaseChatModel, config: RunnableConfig | None, kwargs: dict[str, Any]):
    if config is not None and (config.get("metadata") or {}).get(ROUTED):
        return None
    route = _ACTIVE.get() or _route_from_callbacks(config)
    if route is None:
        return None
    target, cfg = route.decide(model, config)
    if target is not model:
        kwargs = _adapt_kwargs(model, target, kwargs)
    return target, cfg, kwargs


_ORIG: dict[str, Any] = {}
_INSTALL_LOCK = threading.Lock()


def _dispatch(method: str, self: BaseChatModel, input: Any, config: RunnableConfig | None,
              stop: list[str] | None, kwargs: dict[str, Any]) -> Any:
    """Call ``method`` on the model this call is routed to (the original when not bound).
    The route is decided now, while the node's context is current; async methods return the
    awaitable / async iterator for the caller."""
    plan = _plan(self, config, kwargs)
    if plan is None:
        return _ORIG[method](self, input, config, stop=stop, **kwargs)
    target, cfg, kw = plan
    if target is self:
        return _ORIG[method](self, input, cfg, stop=stop, **kw)
    return getattr(target, method)(input, cfg, stop=stop, **kw)


def _invoke(self: BaseChatModel, input: Any, config: RunnableConfig | None = None, *, stop: list[str] | None = None, **kwargs: Any) -> Any:
    return _dispatch("invoke", self, input, config, stop, kwargs)


async def _ainvoke(self: BaseChatModel, input: Any, config: RunnableConfig | None = None, *, stop: list[str] | None = None, **kwargs: Any) -> Any:
    return await _dispatch("ainvoke", self, input, config, stop, kwargs)


def _stream(self: BaseChatModel, input: Any, config: RunnableConfig | None = None, *, stop: list[str] | None = None, **kwargs: Any) -> Iterator[Any]:
    return _dispatch("stream", self, input, config, stop, kwargs)


def _astream(self: BaseChatModel, input: Any, config: RunnableConfig | None = None, *, stop: list[str] | None = None, **kwargs: Any) -> AsyncIterator[Any]:
    return _dispatch("astream", self, input, config, stop, kwargs)


def install() -> None:
    """Wrap ``BaseChatModel`` entry points once per process (pass-through outside bindings)."""
    with _INSTALL_LOCK:
        if _ORIG:
            return
        for name, wrapper in (("invoke", _invoke), ("ainvoke", _ainvoke), ("stream", _stream), ("astream", _astream)):
            original = getattr(BaseChatModel, name)
            _ORIG[name] = original
            wrapper.__doc__ = original.__doc__
            wrapper.__wrapped__ = original  # type: ignore[attr-defined]
            setattr(BaseChatModel, name, wrapper)


def warn_unroutable(table: SlotTable) -> None:
    """Warn about discovered models whose class overrides an entry point without the wrapper."""
    for slot in table.slots.values():
        for m in slot.models:
            for name in ("invoke", "ainvoke"):
                if getattr(type(m), name) is not getattr(BaseChatModel, name):
                    warnings.warn(
                        f"slot {slot.name!r}: {type(m).__name__}.{name} overrides BaseChatModel.{name}; "
                        f"calls that do not go through super().{name} keep their original model "
                        "(they are still recorded)", RuntimeWarning, stacklevel=3)
                    break


__all__ = ["ModelSpec", "Route", "install", "active_route", "set_route", "reset_route", "SlotInfo"]
