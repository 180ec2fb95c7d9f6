"""Static discovery: walk a compiled LangGraph graph and find the chat models each node uses.

Slot naming (documented in the README):
- a node that uses one model -> the node name (``plan``);
- nodes inside a subgraph (a compiled graph used as a node, ``create_react_agent`` /
  ``create_agent``, or a compiled graph that a node function invokes) -> dotted path
  (``research.agent``);
- a node that holds several distinct models -> ``plan``, ``plan#2``, ... in discovery order.

The walk follows node functions through globals, closures, defaults, bound methods, callable
class instances (attributes), ``functools.partial``, Runnable sequences / bindings / fallbacks,
tools of a ``ToolNode``, and nested compiled graphs. Models built inside a node at call time
cannot be seen statically; a node whose code references a chat-model class or factory becomes a
*dynamic* slot (model unknown until probed), and the dynamic probe (``SlotTable.merge_probe``)
fills in what actually ran.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool

from ..models import model_name

__all__ = ["Path", "SlotInfo", "SlotTable", "INHERITED_FIELDS", "configurable_default",
           "inherited_kwargs", "path_from_metadata"]

Path = tuple[str, ...]

_LIBRARY_PREFIXES = (
    "langchain", "langgraph", "langsmith", "pydantic", "litellm", "openai", "anthropic", "httpx",
    "typing", "functools", "asyncio", "builtins", "collections", "concurrent", "threading",
    "dspy", "numpy", "agentopt_adapters.langgraph", "agentopt_adapters.models",
)
# Constructor settings that a replacement model inherits from the model it replaces.
INHERITED_FIELDS = ("temperature", "max_tokens", "top_p")
_BUILDER_NAMES = {"init_chat_model", "chat_model", "_init_chat_model_helper"}
_MAX_DEPTH = 10
_MAX_ITEMS = 64
_RUNNABLE_ATTRS = (
    "bound", "runnable", "fallbacks", "steps", "first", "middle", "last", "func", "afunc",
    "mapper", "default", "alternatives", "steps__",
)


def _is_library(module: str | None) -> bool:
    return bool(module) and module.startswith(_LIBRARY_PREFIXES)  # type: ignore[union-attr]


def _is_pregel(obj: Any) -> bool:
    try:
        from langgraph.pregel import Pregel
    except ImportError:  # pragma: no cover
        return False
    return isinstance(obj, Pregel)


def _is_configurable_model(obj: Any) -> bool:
    kind = type(obj)
    return kind.__name__ == "_ConfigurableModel" and kind.__module__.startswith("langchain")


def configurable_default(obj: Any) -> str | None:
    """Default model string of an ``init_chat_model(..., configurable_fields=...)`` model."""
    cfg = getattr(obj, "_default_config", None) or {}
    model = cfg.get("model")
    if not model:
        return None
    provider = cfg.get("model_provider")
    if provider and provider != "litellm" and "/" not in model and ":" not in model:
        return f"{provider}/{model}"
    return str(model)


@dataclass
class SlotInfo:
    """One slot: where it lives (node path) and which model objects it covers."""

    name: str
    path: Path
    model_name: str | None
    where: list[str] = field(default_factory=list)
    models: list[Any] = field(default_factory=list)  # BaseChatModel instances found statically
    dynamic: bool = False  # the model is built at call time (factory, configurable, probe)
    kwargs: dict[str, Any] = field(default_factory=dict)  # generation settings of the default

    @property
    def ids(self) -> set[int]:
        return {id(m) for m in self.models}


@dataclass
class _Hit:
    path: Path
    kind: str  # "instance" | "configurable" | "builder"
    obj: Any
    trail: str


class _Walker:
    def __init__(self) -> None:
        self.hits: list[_Hit] = []
        self.node_paths: list[Path] = []
        self.tool_paths: set[Path] = set()
        # nodes with only an async function (the graph must be awaited)
        self.async_only: list[Path] = []
        # slot name -> model label, inside graphs made by aa.apply
        self.applied: dict[str, str] = {}
        self._graphs_seen: set[tuple[int, Path]] = set()

    # -- graphs -------------------------------------------------------------------------------
    def graph(self, graph: Any, prefix: Path) -> None:
        key = (id(graph), prefix)
        if key in self._graphs_seen:
            return
        self._graphs_seen.add(key)
        for slot, label in (getattr(graph, "agentopt_assignment", None) or {}).items():
            self.applied.setdefault(".".join((*prefix, slot)), label)
        for name, node in getattr(graph, "nodes", {}).items():
            if name.startswith("__"):
                continue
            path = prefix + (name,)
            self.node_paths.append(path)
            bound = getattr(node, "bound", node)
            if type(bound).__name__ == "ToolNode":
                self.tool_paths.add(path)
            if _is_async_only(bound):
                self.async_only.append(path)
            seen: set[int] = set()
            self.visit(bound, path, [], 0, seen)
        # conditional-edge functions run as part of their source node
        branches = getattr(getattr(graph, "builder", None), "branches", None) or {}
        for source, specs in branches.items():
            for bname, spec in dict(specs).items():
                seen = set()
                self.visit(getattr(spec, "path", None), prefix + (source,),
                           [f"conditional edge '{bname}'"], 0, seen)

    # -- objects ------------------------------------------------------------------------------
    def visit(self, obj: Any, path: Path, trail: list[str], depth: int, seen: set[int]) -> None:
        if obj is None or depth > _MAX_DEPTH or isinstance(obj, (str, bytes, int, float, bool)):
            return
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if self._model_or_graph(obj, path, trail):
            return
        if isinstance(obj, types.FunctionType):
            self._function(obj, path, trail, depth, seen)
        elif isinstance(obj, (types.BuiltinFunctionType, types.ModuleType)):
            return
        elif isinstance(obj, _FOLLOWED) or not _is_library_object(obj):
            self._each(_references(obj), path, trail, depth, seen)
        else:
            self._library_object(obj, path, trail, depth, seen)

    def _each(self, refs: Iterable[tuple[Any, str | None]], path: Path, trail: list[str],
              depth: int, seen: set[int]) -> None:
        """Visit each (object, step) one level deeper; a step of None adds nothing to the trail."""
        for value, step in refs:
            self.visit(value, path, trail + [step] if step is not None else trail, depth + 1, seen)

    def _model_or_graph(self, obj: Any, path: Path, trail: list[str]) -> bool:
        """Record ``obj`` if it is a model (or a model class, or a nested graph);
        False if not one."""
        if isinstance(obj, BaseChatModel):
            self.hits.append(_Hit(path, "instance", obj, " -> ".join(trail) or type(obj).__name__))
        elif _is_configurable_model(obj):
            step = "init_chat_model(configurable_fields=...)"
            self.hits.append(_Hit(path, "configurable", obj, " -> ".join([*trail, step])))
        elif _is_pregel(obj):
            # a compiled graph invoked by this node (or used as the node): its nodes run under
            # this node's checkpoint namespace, so they get dotted slot names.
            self.graph(obj, path)
        elif isinstance(obj, type):
            if issubclass(obj, BaseChatModel):
                step = f"builds {obj.__name__}(...) at call time"
                self.hits.append(_Hit(path, "builder", obj, " -> ".join([*trail, step])))
        else:
            return False
        return True

    def _library_object(self, obj: Any, path: Path, trail: list[str], depth: int,
                        seen: set[int]) -> None:
        label = type(obj).__name__
        if label == "ToolNode":  # tools run (and call their models) inside the ToolNode
            for name, tool in dict(getattr(obj, "tools_by_name", {}) or {}).items():
                refs = [(getattr(tool, attr, None), f"tool '{name}'")
                        for attr in ("func", "coroutine")]
                self._each(refs, path, trail, depth, seen)
            return
        if isinstance(obj, BaseTool):
            return  # a tool held by a model node (for bind_tools) runs in the ToolNode, not here
        for attr in _RUNNABLE_ATTRS:
            try:
                value = getattr(obj, attr, None) if attr in _safe_attrs(obj) else None
            except Exception:  # noqa: BLE001 - properties of foreign objects may raise
                value = None
            if value is None:
                continue
            step = f"{label}.{attr}" if attr not in ("func", "afunc") else None
            self._each([(value, step)], path, trail, depth, seen)

    def _function(self, fn: types.FunctionType, path: Path, trail: list[str], depth: int,
                  seen: set[int]) -> None:
        label = f"{fn.__qualname__}()"
        self._each(_captured(fn, label), path, trail, depth, seen)
        if _is_library(fn.__module__):
            return
        names = list(dict.fromkeys(_code_names(fn.__code__)))
        glb = fn.__globals__
        for name in names:
            if name not in glb:
                continue
            value = glb[name]
            if _is_builder(value):
                step = f"{label} calls {name}(...) at call time"
                self.hits.append(_Hit(path, "builder", value, " -> ".join([*trail, step])))
                continue
            self._each(_global_refs(name, value, names, label), path, trail, depth, seen)


_CONTAINERS = (dict, list, tuple, set, frozenset)
_FOLLOWED = (functools.partial, types.MethodType, *_CONTAINERS)  # what _references follows


def _is_library_object(obj: Any) -> bool:
    return isinstance(obj, Runnable) or _is_library(type(obj).__module__)


def _references(obj: Any) -> Iterable[tuple[Any, str | None]]:
    """What a visit follows from ``obj`` (not a model, graph or function), with its trail step."""
    if isinstance(obj, functools.partial):
        yield obj.func, "partial"
        yield from ((arg, f"partial arg {i}") for i, arg in enumerate(obj.args))
        yield from ((arg, f"partial kwarg '{key}'") for key, arg in obj.keywords.items())
    elif isinstance(obj, types.MethodType):
        yield obj.__self__, f"{type(obj.__self__).__name__} instance"
        yield obj.__func__, None
    elif isinstance(obj, dict):
        yield from ((value, f"[{key!r}]") for key, value in list(obj.items())[:_MAX_ITEMS])
    elif isinstance(obj, _CONTAINERS):
        yield from ((value, f"[{i}]") for i, value in enumerate(list(obj)[:_MAX_ITEMS]))
    else:
        yield from _user_attributes(obj)


def _user_attributes(obj: Any) -> Iterable[tuple[Any, str]]:
    """A user object (callable class instance, config holder, ...): its attributes, the models and
    runnables its class holds, and its class's ``__call__``."""
    label = type(obj).__name__
    try:
        attrs = vars(obj)
    except TypeError:
        attrs = {}
    for key, value in list(attrs.items())[:_MAX_ITEMS]:
        yield value, f"attribute '{key}' of {label}"
    for key, value in vars(type(obj)).items():
        if key.startswith("__") and key != "__call__":
            continue
        if isinstance(value, (BaseChatModel, Runnable)) or _is_configurable_model(value):
            yield value, f"class attribute '{key}' of {label}"
    call = getattr(type(obj), "__call__", None)  # noqa: B004 - the method itself, to follow it
    if isinstance(call, types.FunctionType):
        yield call, f"{label}.__call__"


def _captured(fn: types.FunctionType, label: str) -> Iterable[tuple[Any, str]]:
    """What ``fn`` carries with it: closure cells and default arguments."""
    for name, cell in zip(fn.__code__.co_freevars, fn.__closure__ or ()):
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        yield value, f"closure '{name}' of {label}"
    yield from ((value, f"default arg {i} of {label}")
                for i, value in enumerate(fn.__defaults__ or ()))
    yield from ((value, f"default '{key}' of {label}")
                for key, value in (fn.__kwdefaults__ or {}).items())


def _is_builder(value: Any) -> bool:
    """A model factory (``init_chat_model`` and the like): the model is built at call time."""
    return callable(value) and getattr(value, "__name__", None) in _BUILDER_NAMES \
        and not isinstance(value, type)


def _global_refs(name: str, value: Any, names: list[str], label: str) -> Iterable[tuple[Any, str]]:
    """A global a function uses; for a (user) module, the attributes named in the function's code
    (``cfg.llm`` where ``cfg`` is a module)."""
    if not isinstance(value, types.ModuleType):
        yield value, f"global '{name}' of {label}"
        return
    if _is_library(value.__name__):
        return
    for attr in names:
        sub = getattr(value, attr, None)
        if sub is not None and not isinstance(sub, types.ModuleType):
            yield sub, f"global '{name}.{attr}' of {label}"


def _is_async_only(runnable: Any) -> bool:
    """A LangGraph node built from an ``async def`` (no sync function to call)."""
    if type(runnable).__name__ != "RunnableCallable":
        return False
    return getattr(runnable, "func", None) is None and getattr(runnable, "afunc", None) is not None


def _safe_attrs(obj: Any) -> set[str]:
    present = set(getattr(obj, "__dict__", {}) or {})
    for klass in type(obj).__mro__:
        present.update(vars(klass))
    return present


def _code_names(code: types.CodeType) -> Iterable[str]:
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_names(const)


class SlotTable:
    """All slots of one graph plus the lookup used per call by the router and the recorder."""

    def __init__(self, slots: list[SlotInfo], node_paths: list[Path], tool_paths: set[Path],
                 async_only: Iterable[Path] = ()) -> None:
        self.slots: dict[str, SlotInfo] = {s.name: s for s in slots}
        self.node_paths = list(dict.fromkeys(node_paths))
        self.tool_paths = set(tool_paths)
        self.async_only = list(dict.fromkeys(async_only))  # nodes that only have an async function
        self._index()

    def _index(self) -> None:
        self.by_path: dict[Path, list[SlotInfo]] = {}
        self.by_id: dict[int, list[SlotInfo]] = {}
        for slot in self.slots.values():
            self.by_path.setdefault(slot.path, []).append(slot)
            for mid in slot.ids:
                self.by_id.setdefault(mid, []).append(slot)
        self._found: dict[Path, tuple[list[SlotInfo], int]] = {}

    # -- building -----------------------------------------------------------------------------
    @classmethod
    def from_graph(cls, graph: Any) -> SlotTable:
        walker = _Walker()
        walker.graph(graph, ())
        slots: list[SlotInfo] = []
        per_path: dict[Path, list[SlotInfo]] = {}
        seen_configurable: set[tuple[Path, int]] = set()
        for hit in walker.hits:
            existing = per_path.setdefault(hit.path, [])
            if hit.kind == "instance":
                match = next((s for s in existing if id(hit.obj) in s.ids), None)
                if match is not None:
                    continue
                info = SlotInfo("", hit.path, model_name(hit.obj), [f"static: {hit.trail}"],
                                [hit.obj], kwargs=inherited_kwargs(hit.obj))
            elif hit.kind == "configurable":
                if (hit.path, id(hit.obj)) in seen_configurable:
                    continue
                seen_configurable.add((hit.path, id(hit.obj)))
                info = SlotInfo("", hit.path, configurable_default(hit.obj),
                                [f"static: {hit.trail}"], dynamic=True)
            else:  # builder: one dynamic slot per node is enough until the probe says otherwise
                if any(s.dynamic for s in existing):
                    continue
                info = SlotInfo("", hit.path, None, [f"static: {hit.trail}"], dynamic=True)
            existing.append(info)
            slots.append(info)
        for path, infos in per_path.items():
            base = ".".join(path)
            for i, info in enumerate(infos):
                info.name = base if i == 0 else f"{base}#{i + 1}"
                label = walker.applied.get(info.name)
                if label is not None:  # inside a graph made by aa.apply: that config's model runs
                    info.model_name = label
                    info.where.append("applied config (aa.apply)")
        return cls(slots, walker.node_paths, walker.tool_paths, walker.async_only)

    def merge_probe(self, observed: list[tuple[Path, Any, str | None]]) -> None:
        """Merge the dynamic view: (node path, model object or None, model string) per call."""
        for path, obj, name in observed:
            if not path:
                continue
            slot = self.resolve(path, obj, name, strict=True)
            if slot is not None:
                if not any(w.startswith("probe") for w in slot.where):
                    slot.where.append(f"probe: langgraph node path {'/'.join(path)} called {name}")
                if slot.model_name is None:
                    slot.model_name = name
                continue
            existing = self.by_path.get(path, [])
            base = ".".join(path)
            new_name = base if not existing else f"{base}#{len(existing) + 1}"
            while new_name in self.slots:
                new_name += "'"
            info = SlotInfo(new_name, path, name,
                            [f"probe: langgraph node path {'/'.join(path)} called {name} (model "
                             "built at call time)"],
                            dynamic=True, kwargs=inherited_kwargs(obj) if obj is not None else {})
            self.slots[new_name] = info
            self._index()

    # -- lookup -------------------------------------------------------------------------------
    def _candidates(self, path: Path) -> tuple[list[SlotInfo], int]:
        """Slots at node ``path`` and how many outer levels were dropped to find them
        (memoised)."""
        found = self._found.get(path)
        if found is None:
            found = self._search(path)
            self._found[path] = found
        return found

    def _search(self, path: Path) -> tuple[list[SlotInfo], int]:
        cands = self.by_path.get(path)
        if cands:
            return cands, 0
        for k in range(1, len(path)):
            # this graph ran as a subgraph of another: drop the outer levels
            cands = self.by_path.get(path[k:])
            if cands:
                return cands, k
        if path:
            # namespace restarted (subgraph invoked with its own thread_id): a unique longer path
            tail = [p for p in self.by_path if len(p) > len(path) and p[-len(path):] == path]
            if len(tail) == 1:
                return self.by_path[tail[0]], 0
        return [], len(path) + 1

    def locate(self, path: Path, obj: Any = None, name: str | None = None, *,
               strict: bool = False) -> tuple[SlotInfo | None, int]:
        """The slot of a call made by ``obj`` (model ``name``) while node ``path`` runs, and how
        many outer namespace levels (a parent graph running this one as a subgraph) were
        dropped."""
        cands, dropped = self._candidates(path)
        if not cands:
            if obj is not None and not strict:
                owners = self.by_id.get(id(obj), [])
                if len(owners) == 1:  # call outside any node (e.g. user thread) by a 1-slot model
                    return owners[0], dropped
            return None, dropped
        return self._pick(cands, obj, name, strict), dropped

    def resolve(self, path: Path, obj: Any = None, name: str | None = None, *,
                strict: bool = False) -> SlotInfo | None:
        """The slot of a call made by ``obj`` (model ``name``) while node ``path`` runs."""
        return self.locate(path, obj, name, strict=strict)[0]

    @staticmethod
    def _pick(cands: list[SlotInfo], obj: Any, name: str | None, strict: bool) -> SlotInfo | None:
        if len(cands) == 1 and not strict:
            return cands[0]
        if obj is not None:
            owner = next((s for s in cands if any(m is obj for m in s.models)), None)
            if owner is not None:
                return owner
            if name is None:
                name = model_name(obj)
        return _by_model_name(cands, name, strict)

    def names(self) -> list[str]:
        return list(self.slots)


def _by_model_name(cands: list[SlotInfo], name: str | None, strict: bool) -> SlotInfo | None:
    """The one dynamic slot (if it may run ``name``), else the one slot whose model is ``name``."""
    dynamic = [s for s in cands if s.dynamic]
    if len(dynamic) == 1 and (not strict or dynamic[0].model_name in (None, name)):
        return dynamic[0]
    named = [s for s in (dynamic or cands) if s.model_name == name]
    if len(named) == 1:
        return named[0]
    if strict and len(cands) == 1 and cands[0].model_name == name:
        return cands[0]
    return None


_NS_PATHS: dict[str, Path] = {}


def path_from_metadata(metadata: dict[str, Any] | None) -> Path:
    """Node path from LangGraph's run metadata (``research:<id>|agent:<id>`` -> research,
    agent)."""
    if not metadata:
        return ()
    ns = metadata.get("langgraph_checkpoint_ns") or ""
    if ns:
        path = _NS_PATHS.get(ns)
        if path is None:
            # purely numeric segments are batch / concurrent-task indexes, not node levels
            path = tuple(part.split(":", 1)[0] for part in str(ns).split("|")
                         if part and not part.isdigit())
            if len(_NS_PATHS) >= 4096:  # one entry per running task; old tasks are not asked again
                _NS_PATHS.clear()
            _NS_PATHS[ns] = path
        return path
    node = metadata.get("langgraph_node")
    return (str(node),) if node else ()


def inherited_kwargs(model: Any) -> dict[str, Any]:
    """Generation settings (temperature, max_tokens, top_p) set on ``model``'s constructor."""
    out: dict[str, Any] = {}
    fields_set = getattr(model, "model_fields_set", None)
    for name in INHERITED_FIELDS:
        value = getattr(model, name, None)
        if value is None:
            continue
        if fields_set is not None and name not in fields_set:
            continue
        if isinstance(value, (int, float, str, bool)):
            out[name] = value
    return out
