"""LangGraph adapter: slots of a compiled graph, per-call model routing, usage, export / apply.

```python
import agentopt_adapters as aa
slots = aa.discover(graph)                       # static view
slots = aa.discover(graph, probe_input=example)  # + dynamic probe (runs the graph once)
with aa.bind(graph, {"plan": "sim/small", "solve": "sim/large"}) as run:
    out, usage = run(example)                    # or await run.acall(example), run.stream(...)
with aa.bind(graph, {}, context=Ctx(), config={"tags": ["eval"]}, tracing=False) as run:
    out, usage = run(example, config={"metadata": {"example": 3}})   # {}: the app as it is
cfg = aa.export_config(graph, {"plan": "sim/small"})
tuned = aa.apply(graph, cfg)                     # a copy of the graph that uses those models
with aa.bind(graph, {"solve": {"model": "sim/small", "samples": 8, "select": "vote"}}) as run:
    out, usage = run(example)                    # each call of solve: 8 samples, one kept (vote)
```

Slot names: the node name (``plan``); nodes of subgraphs / prebuilt agents get a dotted path
(``research.agent``); a second distinct model held by one node is ``plan#2``. Slots not in an
assignment call the app's own model objects untouched (endpoint, client, key, headers).
"""

from __future__ import annotations

import contextlib
import contextvars
import warnings
import weakref
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.runnables.config import RunnableConfig

from ..assignment_file import make_config
from ..errors import ConfigError, DiscoveryError, SlotError
from ..models import check_model_string, model_name
from ..protocol import Adapter, no_options, register_adapter
from ..scaling import parse_scaling, parse_shorthand
from ..usage import Slot
from .discovery import Path, SlotTable, inherited_kwargs
from .routing import ModelSpec, Route, install, push_route, warn_unroutable
from .runner import LangGraphRunner, merge_config

__all__ = ["FRAMEWORK", "LangGraphAdapter", "slot_table"]

FRAMEWORK = "langgraph"

# Probe observations per graph object, so that bind/export/apply know slots found only by probing.
_PROBES: weakref.WeakKeyDictionary[Any, list[tuple[Path, Any, str | None]]] = \
    weakref.WeakKeyDictionary()


def _is_graph(app: Any) -> bool:
    try:
        from langgraph.pregel import Pregel
    except ImportError:  # pragma: no cover - langgraph not installed
        return False
    return isinstance(app, Pregel)


def slot_table(graph: Any) -> SlotTable:
    """Static slots of ``graph`` merged with what earlier probes of the same object saw."""
    table = SlotTable.from_graph(graph)
    try:
        observed = _PROBES.get(graph)
    except TypeError:
        observed = None
    if observed:
        table.merge_probe(observed)
    return table


def _accepted_names(table: SlotTable) -> set[str]:
    """Discovered slots plus model-less nodes (a model built at call time deep in helpers)."""
    names = set(table.names())
    for path in table.node_paths:
        if path in table.by_path or path in table.tool_paths:
            continue
        if any(len(p) > len(path) and p[: len(path)] == path for p in table.node_paths):
            continue  # a subgraph container: its inner nodes are the slots
        names.add(".".join(path))
    return names


def _to_spec(name: str, value: Any) -> ModelSpec:
    if isinstance(value, ModelSpec):
        return value
    if isinstance(value, str):
        value = parse_shorthand(value)  # "sim/small*8:vote" -> {"model", "samples", "select"}
    if isinstance(value, str) and value:
        return ModelSpec(value, {})
    if isinstance(value, BaseChatModel):
        return ModelSpec(value, {})
    if isinstance(value, Mapping) and isinstance(value.get("model"), (str, BaseChatModel)):
        kwargs = value.get("kwargs") or {}
        if not isinstance(kwargs, Mapping):
            raise ConfigError(f"slot {name!r}: 'kwargs' must be a dict, got {kwargs!r}")
        return ModelSpec(value["model"], dict(kwargs), parse_scaling(value, f"slot {name!r}"))
    raise ConfigError(
        f"slot {name!r}: assign a model string such as 'sim/small' or 'openai/gpt-4o-mini', a "
        f"chat model object, or {{'model': ..., 'kwargs': {{...}}, 'samples': 8, 'select': "
        f"'vote'}}; got {value!r}"
    )


def _route(graph: Any, assignment: Mapping[str, Any], *, what: str = "assignment") -> Route:
    if not isinstance(assignment, Mapping):
        raise SlotError(f"{what} must be a dict slot name -> model, got "
                        f"{type(assignment).__name__}")
    table = slot_table(graph)
    accepted = _accepted_names(table)
    unknown = sorted(set(assignment) - accepted)
    if unknown:
        raise SlotError(
            f"{what} names unknown slot(s) {unknown}; the graph's slots are {table.names()} "
            "(see aa.discover(graph); pass probe_input=... to find models built inside nodes)"
        )
    specs = {name: _to_spec(name, value) for name, value in assignment.items()}
    for name, spec in specs.items():
        if isinstance(spec.model, str):
            check_model_string(spec.model, name)
    for name in specs:  # a model-less node named in the assignment becomes a dynamic slot
        if name not in table.slots:
            path = tuple(name.split("."))
            table.merge_probe([(path, None, None)])
    install()
    warn_unroutable(table)
    return Route(table, specs)


class _RouteCarrier(BaseCallbackHandler):
    """No-op handler that carries a route through a run's callbacks (used by ``apply``)."""

    raise_error = False
    run_inline = True

    def __init__(self, route: Route) -> None:
        super().__init__()
        self.agentopt_route = route


def _tuned_graph(graph: Any, route: Route) -> Any:
    base = type(graph)

    def stream(self: Any, input: Any, config: RunnableConfig | None = None,
               **kwargs: Any) -> Iterator[Any]:
        ctx = contextvars.copy_context()
        ctx.run(push_route, route)
        it = ctx.run(base.stream, self, input,
                     merge_config(config, {"callbacks": [_RouteCarrier(route)]}), **kwargs)
        while True:
            try:
                chunk = ctx.run(next, it)
            except StopIteration:
                return
            yield chunk

    def astream(self: Any, input: Any, config: RunnableConfig | None = None,
                **kwargs: Any) -> AsyncIterator[Any]:
        return base.astream(self, input,
                            merge_config(config, {"callbacks": [_RouteCarrier(route)]}), **kwargs)

    tuned_cls = type(f"Tuned{base.__name__}", (base,), {
        "stream": stream, "astream": astream, "__module__": base.__module__,
        "agentopt_assignment": {n: s.label for n, s in route.assignment.items()},
        "__doc__": f"{base.__name__} whose chat-model calls use an agentopt assignment.",
    })
    attrs = {k: v for k, v in graph.__dict__.items() if k != "__orig_class__"}
    return tuned_cls(**attrs)


@register_adapter
class LangGraphAdapter(Adapter):
    framework = FRAMEWORK
    scales = True

    @classmethod
    def handles(cls, app: Any) -> bool:
        return _is_graph(app)

    # -- discover -----------------------------------------------------------------------------
    def discover(self, app: Any, probe_input: Any = None,
                 probe_config: RunnableConfig | None = None, probe_context: Any = None,
                 **options: Any) -> list[Slot]:
        """Static slots; with ``probe_input`` also run the graph once (awaited when it has async
        nodes; ``probe_config`` / ``probe_context`` passed on) and merge the calls it made."""
        if options:
            raise TypeError(f"discover() got unexpected option(s) {sorted(options)}; LangGraph "
                            "takes probe_input=, probe_config=, probe_context=")
        if probe_input is not None:
            self.probe(app, probe_input, probe_config, context=probe_context)
        table = slot_table(app)
        if not table.slots:
            nodes = [".".join(p) for p in table.node_paths]
            hint = ("the probe run made no chat-model call" if probe_input is not None else
                    "if a node builds its model inside helper code, pass probe_input=<one "
                    "example> to run it once")
            raise DiscoveryError(
                f"no chat model found in graph {getattr(app, 'name', type(app).__name__)!r} "
                f"(nodes {nodes}); {hint}. Nodes must call a langchain BaseChatModel (e.g. "
                "ChatLiteLLM, ChatOpenAI, init_chat_model)"
            )
        return [Slot(name=s.name, framework=FRAMEWORK, default_model=s.model_name,
                     where="; ".join(s.where))
                for s in table.slots.values()]

    def probe(self, app: Any, example: Any, config: RunnableConfig | None = None, *,
              context: Any = None) -> list[tuple[Path, Any, str | None]]:
        """Run ``app`` once on ``example`` with its own models;
        remember which node called which model."""
        install()
        route = Route(SlotTable.from_graph(app), {}, observe=True)
        try:
            LangGraphRunner(app, route, config=config, context=context)(example)
        except Exception as exc:  # noqa: BLE001 - the app's own failure: what ran before it still shows which node calls which model
            warnings.warn(f"the probe run of {getattr(app, 'name', type(app).__name__)!r} failed "
                          f"after {len(route.observed or [])} model call(s) "
                          f"({type(exc).__name__}: {str(exc)[:200]}); slots are the static ones "
                          "plus the calls made before it failed",
                          RuntimeWarning, stacklevel=3)
        observed = list(route.observed or [])
        with contextlib.suppress(TypeError):  # unhashable / not weak-referenceable graph: not kept
            _PROBES[app] = observed
        return observed

    # -- bind ---------------------------------------------------------------------------------
    @contextmanager
    def _bind(self, runner: LangGraphRunner) -> Iterator[LangGraphRunner]:
        yield runner

    def bind(self, app: Any, assignment: Mapping[str, Any], *,
             config: RunnableConfig | None = None, context: Any = None,
             tracing: bool | None = None,
             **options: Any) -> AbstractContextManager[LangGraphRunner]:
        """``with bind(graph, {slot: model}) as run``. Slots not in ``assignment`` run on the
        graph's own model objects, untouched (``{}`` runs the app as it is). ``config`` /
        ``context``: given to every run; ``tracing=False``: LangChain/LangSmith tracing off for
        these runs."""
        no_options(options, "bind()", "config=, context=, tracing=")
        route = _route(app, assignment)
        return self._bind(LangGraphRunner(app, route, config=config, context=context,
                                          tracing=tracing))

    # -- export / apply -----------------------------------------------------------------------
    def export_config(self, app: Any, assignment: Mapping[str, Any]) -> dict[str, Any]:
        route = _route(app, assignment)
        slots: dict[str, Any] = {}
        for name, spec in route.assignment.items():
            slot = route.table.slots.get(name)
            original = slot.models[0] if slot is not None and slot.models else None
            if isinstance(spec.model, BaseChatModel):
                model, kwargs = model_name(spec.model), inherited_kwargs(spec.model)
            else:
                model = spec.model
                kwargs = {**(inherited_kwargs(original) if original is not None
                             else dict(slot.kwargs) if slot else {}),
                          **dict(spec.kwargs)}
            if not model:
                raise ConfigError(f"slot {name!r}: cannot tell the model string of "
                                  f"{spec.model!r}; assign a model string")
            slots[name] = {"model": model, "kwargs": kwargs, **spec.scaling.settings()}
        return make_config(FRAMEWORK, slots)

    def apply(self, app: Any, cfg: Mapping[str, Any]) -> Any:
        if cfg.get("framework") not in (None, FRAMEWORK):
            raise ConfigError(f"config was exported for framework {cfg.get('framework')!r}, not "
                              f"{FRAMEWORK!r}; apply it to the app it was exported from")
        assignment = {name: {**spec, "kwargs": dict(spec.get("kwargs") or {})}
                      for name, spec in cfg["slots"].items()}
        route = _route(app, assignment, what="config")
        for name, spec in route.assignment.items():
            # fail now (unknown model / provider), not at the first call
            route.build(spec, slot=name)
            if spec.scaling.judge:
                route.build(ModelSpec(spec.scaling.judge), slot=name)
        return _tuned_graph(app, route)
