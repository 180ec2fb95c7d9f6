"""Per-call routing: every chat-model call picks its model from the active assignments.

``BaseChatModel.invoke / ainvoke / stream / astream`` are wrapped once per process. Outside a
binding the wrappers pass straight through. Inside one (``Route`` objects held by a context
variable, or carried by a handler in the run's callbacks), each call resolves its slot from the
LangGraph node path in the run metadata plus the identity of the model object, then runs on the
assigned model with the same input, config and call kwargs (tools bound by ``bind_tools``,
``tool_choice``, ``response_format``, temperature, ...). A slot no route assigns runs on the
user's own model object, untouched. Nothing of the user's graph, models or module globals is
changed, so any number of bindings can run at once in threads and asyncio tasks.

A slot with inference-time scaling (``ModelSpec.scaling``: samples + select) makes each of its
calls ``samples`` calls side by side and returns the one selected (``sampling.Step``): the vote key
of a reply is its tool calls (name + arguments) when it has any, else its text, compared as a
parsed object when it is JSON (structured output); the judge reads the conversation and each reply.
``stream`` / ``astream`` of such a slot yield the selected reply as one chunk once the samples are
in.

Routes nest: a graph made by ``aa.apply`` running as a node of a parent graph, itself bound by
``aa.bind``. Each active route locates the call in its own slot table (dropping the parent's
namespace levels where needed) and tags the call with its own slot name, so every recorder
attributes the call in its own terms. The outermost route that assigns the slot decides the model.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import BaseCallbackManager
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage, ToolCallChunk, get_buffer_string
from langchain_core.runnables.config import RunnableConfig, var_child_runnable_config
from langchain_core.utils.function_calling import convert_to_openai_tool

from ..models import chat_model, model_name
from ..sampling import Step, sample_seed, sample_temperature
from ..scaling import Scaling, normalize
from .discovery import Path, SlotInfo, SlotTable, inherited_kwargs, path_from_metadata

ROUTED = "agentopt_routed"
SLOT = "agentopt_slot"    # slot name in the route that chose the model (readable in traces)
SLOTS = "agentopt_slots"  # {route key: slot name} for every active route that knows the call

_ACTIVE: ContextVar[tuple[Route, ...]] = ContextVar("agentopt_langgraph_routes", default=())
_CACHE_LIMIT = 256


@dataclass(frozen=True)
class ModelSpec:
    """What a slot runs on: a model string (built with the factory) or a ready chat model."""

    model: Any
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    scaling: Scaling = field(default_factory=Scaling)

    @property
    def label(self) -> str:
        name = self.model if isinstance(self.model, str) else (model_name(self.model)
                                                               or type(self.model).__name__)
        return name + self.scaling.label()


class Route:
    """One assignment over one graph's slot table; shared by all runs of a binding."""

    def __init__(self, table: SlotTable, assignment: Mapping[str, ModelSpec], *,
                 observe: bool = False) -> None:
        self.table = table
        self.assignment = dict(assignment)
        self.key = uuid.uuid4().hex[:12]
        self._built: dict[tuple[str, str], BaseChatModel] = {}
        self._targets: dict[tuple[str, int], tuple[Any, BaseChatModel]] = {}
        self._rebound: dict[tuple[int, int, int], tuple[Any, Any, dict[str, Any] | None]] = {}
        self._lock = threading.Lock()
        self.observed: list[tuple[Path, Any, str | None]] | None = [] if observe else None

    def observe(self, path: Path, model: BaseChatModel) -> None:
        if self.observed is not None:
            with self._lock:
                self.observed.append((path, model, model_name(model)))

    def target(self, slot: SlotInfo, original: BaseChatModel) -> BaseChatModel | None:
        """The model this route runs ``slot``'s call on (None: the slot is not assigned here).
        Built once per (slot, original model object) for the life of the binding."""
        spec = self.assignment.get(slot.name)
        if spec is None:
            return None
        if isinstance(spec.model, BaseChatModel):
            return spec.model
        key = (slot.name, id(original))
        hit = self._targets.get(key)
        if hit is not None and hit[0] is original:
            return hit[1]
        built = self.build(spec, original, slot.name)
        with self._lock:
            self._targets[key] = (original, built)  # the original is kept so its id stays unique
        return built

    def adapt(self, src: BaseChatModel, target: BaseChatModel,
              kwargs: dict[str, Any]) -> dict[str, Any]:
        """``kwargs`` for ``target``: tools bound on ``src`` re-bound in the target's own format
        when the class changes (once per tools list and target for the life of the binding)."""
        tools = kwargs.get("tools")
        if tools is None or type(src) is type(target):
            return kwargs
        choice = kwargs.get("tool_choice")
        key = (id(target), id(tools), id(choice))
        hit = self._rebound.get(key)
        if hit is None or hit[0] is not tools or hit[1] is not choice:
            hit = (tools, choice, _rebind_tools(target, tools, choice))
            with self._lock:
                if len(self._rebound) >= _CACHE_LIMIT:
                    # tools built per call (e.g. create_agent): no reuse
                    self._rebound.clear()
                self._rebound[key] = hit
        rest = {k: v for k, v in kwargs.items() if k not in ("tools", "tool_choice")}
        return {**hit[2], **rest} if hit[2] is not None else kwargs

    def build(self, spec: ModelSpec, original: Any = None,
              slot: str | None = None) -> BaseChatModel:
        """The candidate model for ``spec``, inheriting the original's generation settings
        (temperature, max_tokens, top_p) unless ``spec.kwargs`` sets them; cached per model +
        kwargs."""
        if isinstance(spec.model, BaseChatModel):
            return spec.model
        kwargs = {**(inherited_kwargs(original) if original is not None else {}),
                  **dict(spec.kwargs)}
        key = (str(spec.model), json.dumps(kwargs, sort_keys=True, default=repr))
        with self._lock:
            found = self._built.get(key)
            if found is None:
                found = chat_model(spec.model, slot=slot, **kwargs)
                self._built[key] = found
        return found


# -- active routes ------------------------------------------------------------------------------
def push_route(route: Route) -> Any:
    """Make ``route`` active in the current context (innermost);
    returns a token for ``pop_route``."""
    return _ACTIVE.set((*_ACTIVE.get(), route))


def pop_route(token: Any) -> None:
    # ValueError: a stream abandoned mid-way and closed later from another context (garbage
    # collection): the context the route was pushed in is gone with it, nothing to undo
    with contextlib.suppress(ValueError):
        _ACTIVE.reset(token)


def _config_value(config: RunnableConfig | None, key: str) -> Any:
    """``ensure_config(config)[key]`` without building the whole config
    (the call's own value wins)."""
    if config is not None:
        value = config.get(key)
        if value is not None:
            return value
    parent = var_child_runnable_config.get()
    return parent.get(key) if parent else None


def _carried(callbacks: Any) -> list[Route]:
    """Routes carried by handlers in a run's callbacks (inherited handlers first:
    outer runs first)."""
    if isinstance(callbacks, BaseCallbackManager):
        handlers = list(callbacks.inheritable_handlers) + list(callbacks.handlers)
    elif isinstance(callbacks, list):
        handlers = callbacks
    else:
        return []
    out: list[Route] = []
    for handler in handlers:
        route = getattr(handler, "agentopt_route", None)
        if isinstance(route, Route) and route not in out:
            out.append(route)
    return out


def active_routes(config: RunnableConfig | None = None) -> tuple[Route, ...]:
    """Routes that apply to a call made with ``config`` now, outermost first."""
    routes = _ACTIVE.get()
    carried = _carried(_config_value(config, "callbacks"))
    extra = tuple(r for r in carried if r not in routes)
    return routes + extra if extra else routes


# -- one call -------------------------------------------------------------------------------------
@dataclass
class _Plan:
    target: BaseChatModel
    config: RunnableConfig
    kwargs: dict[str, Any]
    fill_parsed: bool = False
    scaled: _Scaled | None = None


def _plan(model: BaseChatModel, config: RunnableConfig | None,
          kwargs: dict[str, Any]) -> _Plan | None:
    """Where this call goes (None: not inside a binding, or already routed)."""
    metadata = _config_value(config, "metadata") or {}
    if metadata.get(ROUTED):
        return None
    routes = active_routes(config)
    if not routes:
        return None
    chosen, names = _choose(routes, path_from_metadata(metadata), model)
    label = chosen[1].name if chosen is not None else next(iter(names.values()), None)
    cfg: Any = {**(config or {}),
                "metadata": {**metadata, ROUTED: True, SLOT: label, SLOTS: names}}
    if chosen is None:
        return _Plan(model, cfg, kwargs)
    route, slot = chosen
    spec = route.assignment[slot.name]
    scaled = _Scaled(route, slot.name, spec.scaling) if spec.scaling.active else None
    target = route.target(slot, model) or model
    if target is model:
        return _Plan(model, cfg, kwargs, scaled=scaled)
    return _Plan(target, cfg, route.adapt(model, target, kwargs),
                 _needs_parsed(model, target, kwargs), scaled)


def _choose(routes: Any, path: Any, model: BaseChatModel) -> tuple[tuple[Route, SlotInfo] | None,
                                                                   dict[str, str]]:
    """The innermost route that assigns this call's slot (fewest path segments dropped first), and
    the slot's name in every route that knows it."""
    names: dict[str, str] = {}
    chosen: tuple[int, int, Route, SlotInfo] | None = None
    for i, route in enumerate(routes):
        route.observe(path, model)
        slot, dropped = route.table.locate(path, model)
        if slot is None:
            continue
        names[route.key] = slot.name
        if slot.name in route.assignment and (chosen is None or (dropped, i) < chosen[:2]):
            chosen = (dropped, i, route, slot)
    return (chosen[2], chosen[3]) if chosen is not None else None, names


# -- scaled calls (samples + select)
# ---------------------------------------------------------------
def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return content if isinstance(content, str) else str(content)


def _vote_key(message: Any) -> Any:
    """Tool calls (name + arguments, in any order), else the text (JSON compared as an object)."""
    calls = [{"name": c.get("name"), "args": c.get("args")}
             for c in getattr(message, "tool_calls", None) or []]
    calls += [{"name": c.get("name"), "raw": c.get("args")}
              for c in getattr(message, "invalid_tool_calls", None) or []]
    if calls:
        return normalize(sorted(calls, key=lambda c: json.dumps(c, sort_keys=True, default=str)))
    return normalize(_text(getattr(message, "content", message)))


def _judge_text(message: Any) -> str:
    calls = getattr(message, "tool_calls", None) or []
    said = [f"calls tool {c.get('name')} with "
            f"{json.dumps(c.get('args'), sort_keys=True, default=str)}" for c in calls]
    return "\n".join([_text(getattr(message, "content", message)), *said]).strip()


@dataclass(frozen=True)
class _Scaled:
    """The scaling of the slot a call is routed to, and where its judge model comes from."""

    route: Route
    slot: str
    scaling: Scaling

    def step(self) -> Step:
        return Step(self.scaling, self.slot, _vote_key, _judge_text)

    def judge_model(self) -> BaseChatModel:
        return self.route.build(ModelSpec(self.scaling.judge), slot=self.slot)


def _sample_call(plan: _Plan, i: int, stop: list[str] | None
                 ) -> tuple[RunnableConfig, dict[str, Any]]:
    """Config and kwargs of sample ``i``: its own run,
    a seed of its own where the model takes one."""
    cfg: Any = {k: v for k, v in plan.config.items() if not (k == "run_id" and i)}
    cfg["metadata"] = {**cfg["metadata"], "agentopt_sample": i}
    kwargs = dict(plan.kwargs)
    seed = sample_seed(i, model_name(plan.target), kwargs.get("seed"))
    temperature = sample_temperature(kwargs.get("temperature",
                                                getattr(plan.target, "temperature", None)))
    kwargs.update({k: v for k, v in (("seed", seed), ("temperature", temperature))
                   if v is not None})
    return cfg, {"stop": stop, **kwargs}


def _task_text(model: BaseChatModel, input: Any) -> str:
    try:
        return get_buffer_string(model._convert_input(input).to_messages())
    except Exception:  # noqa: BLE001 - shown to the judge only
        return str(input)


def _scaled_invoke(plan: _Plan, model: BaseChatModel, input: Any, stop: list[str] | None) -> Any:
    assert plan.scaled is not None
    scaled = plan.scaled

    def draw(i: int) -> Any:
        cfg, kwargs = _sample_call(plan, i, stop)
        return plan.target.invoke(input, cfg, **kwargs)

    def judge(prompt: str) -> str:
        return _text(scaled.judge_model().invoke(prompt, plan.config).content)

    return scaled.step().run(draw, lambda: _task_text(model, input), judge)


async def _scaled_ainvoke(plan: _Plan, model: BaseChatModel, input: Any,
                          stop: list[str] | None) -> Any:
    assert plan.scaled is not None
    scaled = plan.scaled

    async def draw(i: int) -> Any:
        cfg, kwargs = _sample_call(plan, i, stop)
        return await plan.target.ainvoke(input, cfg, **kwargs)

    async def judge(prompt: str) -> str:
        return _text((await scaled.judge_model().ainvoke(prompt, plan.config)).content)

    return await scaled.step().arun(draw, lambda: _task_text(model, input), judge)


def _as_chunk(message: Any) -> Any:
    """The selected reply as one stream chunk."""
    if isinstance(message, AIMessageChunk) or not isinstance(message, BaseMessage):
        return message
    calls: list[ToolCallChunk] = [
        {"name": c["name"], "args": json.dumps(c["args"]), "id": c.get("id"), "index": i,
         "type": "tool_call_chunk"}  # the type AIMessageChunk would add
        for i, c in enumerate(getattr(message, "tool_calls", None) or [])]
    return AIMessageChunk(content=message.content,
                          additional_kwargs=dict(message.additional_kwargs),
                          response_metadata=dict(message.response_metadata), id=message.id,
                          tool_call_chunks=calls,
                          usage_metadata=getattr(message, "usage_metadata", None))


def _scaled_stream(plan: _Plan, model: BaseChatModel, input: Any,
                   stop: list[str] | None) -> Iterator[Any]:
    yield _as_chunk(_scaled_invoke(plan, model, input, stop))


async def _scaled_astream(plan: _Plan, model: BaseChatModel, input: Any,
                          stop: list[str] | None) -> AsyncIterator[Any]:
    yield _as_chunk(await _scaled_ainvoke(plan, model, input, stop))


_SCALED = {"invoke": _scaled_invoke, "ainvoke": _scaled_ainvoke, "stream": _scaled_stream,
           "astream": _scaled_astream}


def _rebind_tools(target: BaseChatModel, tools: Any, tool_choice: Any) -> dict[str, Any] | None:
    """The binding kwargs ``target.bind_tools`` makes for ``tools`` (None: it cannot bind them)."""
    choice = _openai_tool_choice(tool_choice)
    try:
        openai_tools = [convert_to_openai_tool(t) for t in tools]
        bound = target.bind_tools(openai_tools,
                                  **({"tool_choice": choice} if choice is not None else {}))
    except Exception:  # noqa: BLE001 - candidate has no bind_tools: pass the tools unchanged
        return None
    return dict(getattr(bound, "kwargs", {}) or {})


def _openai_tool_choice(choice: Any) -> Any:
    """A provider-specific forced tool choice in the form every ``bind_tools`` understands."""
    if isinstance(choice, dict):
        kind = choice.get("type")
        if kind == "tool" and isinstance(choice.get("name"), str):
            # Anthropic: {"type": "tool", "name": ...}
            return choice["name"]
        if kind in ("any", "auto", "none") and len(choice) == 1:
            return kind
    return choice


def _needs_parsed(src: BaseChatModel, target: BaseChatModel, kwargs: dict[str, Any]) -> bool:
    """True when the app's parser reads ``additional_kwargs["parsed"]``, which only the original's
    class fills: ChatOpenAI's ``with_structured_output`` (json_schema method) on a candidate of
    another class."""
    openai_mod = sys.modules.get("langchain_openai.chat_models.base")
    base = getattr(openai_mod, "BaseChatOpenAI", None)
    if base is None or not isinstance(src, base) or isinstance(target, base):
        return False
    fmt = kwargs.get("response_format")
    if isinstance(fmt, dict):
        return fmt.get("type") == "json_schema"
    return isinstance(fmt, type)


def _parsed(content: Any) -> Any:
    """The JSON object in a reply's text (a fenced ```json block allowed);
    None when there is none."""
    if isinstance(content, list):
        content = "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    if not isinstance(content, str):
        return None
    text = content.strip()
    if text.startswith("```"):
        text = text.strip("`").removeprefix("json").strip()
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _fill_parsed(message: Any) -> Any:
    if isinstance(message, BaseMessage) and "parsed" not in message.additional_kwargs:
        value = _parsed(message.content)
        if value is not None:
            message.additional_kwargs["parsed"] = value
    return message


def _parsed_chunk(text: list[str]) -> AIMessageChunk | None:
    value = _parsed("".join(text))
    return None if value is None else AIMessageChunk(content="",
                                                     additional_kwargs={"parsed": value})


def _stream_with_parsed(chunks: Iterator[Any]) -> Iterator[Any]:
    text: list[str] = []
    for chunk in chunks:
        text.append(chunk.content if isinstance(getattr(chunk, "content", None), str) else "")
        yield chunk
    last = _parsed_chunk(text)
    if last is not None:
        yield last


async def _astream_with_parsed(chunks: AsyncIterator[Any]) -> AsyncIterator[Any]:
    text: list[str] = []
    async for chunk in chunks:
        text.append(chunk.content if isinstance(getattr(chunk, "content", None), str) else "")
        yield chunk
    last = _parsed_chunk(text)
    if last is not None:
        yield last


# -- the wrappers
# -----------------------------------------------------------------------------------
_ORIG: dict[str, Any] = {}
_INSTALL_LOCK = threading.Lock()


def _call(method: str, self: BaseChatModel, input: Any, config: RunnableConfig | None,
          stop: list[str] | None, kwargs: dict[str, Any]) -> tuple[Any, bool]:
    """Call ``method`` on the model this call is routed to (the original when not bound); the
    route is decided now, while the node's context is current. Returns (result, fill_parsed)."""
    plan = _plan(self, config, kwargs)
    if plan is None:
        return _ORIG[method](self, input, config, stop=stop, **kwargs), False
    if plan.scaled is not None:
        return _SCALED[method](plan, self, input, stop), plan.fill_parsed
    if plan.target is self:
        return _ORIG[method](self, input, plan.config, stop=stop, **plan.kwargs), False
    return getattr(plan.target, method)(input, plan.config, stop=stop,
                                        **plan.kwargs), plan.fill_parsed


def _invoke(self: BaseChatModel, input: Any, config: RunnableConfig | None = None, *,
            stop: list[str] | None = None, **kwargs: Any) -> Any:
    out, fill = _call("invoke", self, input, config, stop, kwargs)
    return _fill_parsed(out) if fill else out


async def _ainvoke(self: BaseChatModel, input: Any, config: RunnableConfig | None = None, *,
                   stop: list[str] | None = None, **kwargs: Any) -> Any:
    out, fill = _call("ainvoke", self, input, config, stop, kwargs)
    out = await out
    return _fill_parsed(out) if fill else out


def _stream(self: BaseChatModel, input: Any, config: RunnableConfig | None = None, *,
            stop: list[str] | None = None, **kwargs: Any) -> Iterator[Any]:
    out, fill = _call("stream", self, input, config, stop, kwargs)
    return _stream_with_parsed(out) if fill else out


def _astream(self: BaseChatModel, input: Any, config: RunnableConfig | None = None, *,
             stop: list[str] | None = None, **kwargs: Any) -> AsyncIterator[Any]:
    out, fill = _call("astream", self, input, config, stop, kwargs)
    return _astream_with_parsed(out) if fill else out


def install() -> None:
    """Wrap ``BaseChatModel`` entry points once per process (pass-through outside bindings)."""
    with _INSTALL_LOCK:
        if _ORIG:
            return
        for name, wrapper in (("invoke", _invoke), ("ainvoke", _ainvoke), ("stream", _stream),
                              ("astream", _astream)):
            original = getattr(BaseChatModel, name)
            _ORIG[name] = original
            wrapper.__doc__ = original.__doc__
            wrapper.__wrapped__ = original  # type: ignore[union-attr]
            setattr(BaseChatModel, name, wrapper)


def warn_unroutable(table: SlotTable) -> None:
    """Warn about discovered models whose class overrides an entry point without the wrapper."""
    for slot in table.slots.values():
        for m in slot.models:
            for name in ("invoke", "ainvoke"):
                if getattr(type(m), name) is not getattr(BaseChatModel, name):
                    warnings.warn(
                        f"slot {slot.name!r}: {type(m).__name__}.{name} overrides "
                        f"BaseChatModel.{name}; calls that do not go through super().{name} keep "
                        "their original model (they are still recorded)", RuntimeWarning,
                        stacklevel=3)
                    break


__all__ = ["ModelSpec", "Route", "install", "active_routes", "push_route", "pop_route", "SlotInfo",
           "ROUTED", "SLOT", "SLOTS"]
