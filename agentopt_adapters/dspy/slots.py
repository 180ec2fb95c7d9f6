"""What a DSPy program shows without running it: predictor slots, LMs held as module attributes,
which of those ``forward`` calls directly, where ``forward`` chooses a model at run time, and the
predictors ``named_predictors()`` cannot reach.

Slot names: a predictor's ``named_predictors()`` name (``planner.plan.predict``, ``self`` for a
bare Predict); an LM attribute's attribute path (``untrusted_model``, ``sub.engine``, ``lms[0]``).
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from collections.abc import Iterator
from typing import Any, NamedTuple

import dspy

from ..errors import DiscoveryError

__all__ = ["SlotNames", "slot_names", "predictors", "lm_attributes", "refine_feedback",
           "direct_lm_calls", "runtime_lm_modules", "unseen_predictors"]


class SlotNames(NamedTuple):
    """Every name bind / export / apply accept, by kind."""

    predictors: dict[str, dspy.Predict]
    lms: dict[str, dspy.BaseLM]          # LM attributes (slots when forward calls them directly)
    # "<refine>.feedback": the Predict a Refine makes for its advice
    feedback: dict[str, dspy.Refine]

    @property
    def all(self) -> list[str]:
        return [*self.predictors, *self.lms, *self.feedback]


def slot_names(program: dspy.Module) -> SlotNames:
    lms = lm_attributes(program)
    return SlotNames(predictors(program, required=not lms), lms, refine_feedback(program))


def predictors(program: dspy.Module, *, required: bool = True) -> dict[str, dspy.Predict]:
    """``named_predictors()`` as a dict; ``required``: a clear error when there is none."""
    preds = dict(program.named_predictors())
    if not preds and required:
        raise DiscoveryError(
            f"{type(program).__name__} has no predictors reachable by named_predictors() and "
            "calls no LM attribute directly; assign dspy.Predict / ChainOfThought / ReAct modules "
            "(or a dspy.LM) as attributes in __init__ (self.step = ...)"
        )
    return preds


def _modules(program: dspy.Module) -> Iterator[tuple[str, dspy.Module]]:
    """(path, module) for the program and every sub-module, paths as magicattr reads them
    ('' = root)."""
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [("", program)]
    while stack:
        path, mod = stack.pop(0)
        if id(mod) in seen:
            continue
        seen.add(id(mod))
        yield path, mod
        for name, value in vars(mod).items():
            base = f"{path}.{name}" if path else name
            if isinstance(value, dspy.Module):
                stack.append((base, value))
            elif isinstance(value, (list, tuple)):
                stack.extend((f"{base}[{i}]", v) for i, v in enumerate(value)
                             if isinstance(v, dspy.Module))
            elif isinstance(value, dict):
                stack.extend((f"{base}[{k!r}]", v) for k, v in value.items()
                             if isinstance(v, dspy.Module))


def lm_attributes(program: dspy.Module) -> dict[str, dspy.BaseLM]:
    """LMs held as module attributes (not a predictor's own ``.lm``), by attribute path."""
    out: dict[str, dspy.BaseLM] = {}
    for path, mod in _modules(program):
        for name, value in vars(mod).items():
            if isinstance(mod, dspy.Predict) and name == "lm":
                continue
            base = f"{path}.{name}" if path else name
            if isinstance(value, dspy.BaseLM):
                out[base] = value
            elif isinstance(value, (list, tuple)):
                out.update((f"{base}[{i}]", v) for i, v in enumerate(value)
                           if isinstance(v, dspy.BaseLM))
            elif isinstance(value, dict):
                out.update((f"{base}[{k!r}]", v) for k, v in value.items()
                           if isinstance(v, dspy.BaseLM))
    return out


def refine_feedback(program: dspy.Module) -> dict[str, dspy.Refine]:
    """The feedback slot of each ``dspy.Refine``: ``"<path>.feedback"``
    (``"feedback"`` for the program itself)."""
    return {f"{path}.feedback" if path else "feedback": mod for path, mod in _modules(program)
            if isinstance(mod, dspy.Refine)}


@functools.lru_cache(maxsize=256)
def _class_facts(cls: type) -> tuple[frozenset[str], bool]:
    """(``self.X`` attributes the class's own code calls,
    whether it passes ``lm=`` to any call)."""
    called: set[str] = set()
    passes_lm = False
    for klass in cls.__mro__:
        if klass.__module__.partition(".")[0] in ("dspy", "builtins"):
            continue
        for node in _calls(klass):
            passes_lm = passes_lm or any(k.arg == "lm" for k in node.keywords)
            attr = _self_attribute(node.func)
            if attr is not None:
                called.add(attr)
    return frozenset(called), passes_lm


def _calls(klass: type) -> list[ast.Call]:
    """The calls in ``klass``'s own methods (source not available: none)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
    except (OSError, TypeError, SyntaxError):
        return []
    methods = [f for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
               # dspy.configure(lm=...) in __init__ is no run-time choice
               and f.name != "__init__"]
    return [n for f in methods for n in ast.walk(f) if isinstance(n, ast.Call)]


def _self_attribute(func: ast.expr) -> str | None:
    """``X`` when the called expression is ``self.X`` or ``self.X.acall`` / ``.forward`` / ..."""
    if isinstance(func, ast.Attribute) and func.attr in ("acall", "forward", "aforward",
                                                         "__call__"):
        func = func.value  # self.X.acall(...)
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
        return None
    return func.attr if func.value.id == "self" else None
    return None


def direct_lm_calls(program: dspy.Module) -> set[str]:
    """Paths of LM attributes the owning module's code calls directly
    (``self.lm_attr(prompt)``)."""
    lms = lm_attributes(program)
    out: set[str] = set()
    for path, mod in _modules(program):
        called, _ = _class_facts(_class(mod))
        for name in called:
            base = f"{path}.{name}" if path else name
            if base in lms:
                out.add(base)
    return out


def runtime_lm_modules(program: dspy.Module) -> list[str]:
    """Paths of modules whose code passes ``lm=`` (``dspy.context(lm=self.engine)``, ``pred(...,
    lm=x)``): the model their predictors use is only known by running them."""
    return [path for path, mod in _modules(program) if _class_facts(_class(mod))[1]]


def _class(obj: object) -> type:
    return type(obj)


def _modules_in_callable(func: Any) -> list[dspy.Module]:
    """dspy.Modules a tool function can reach: itself, its bound object, closure cells, globals."""
    found: list[Any] = []
    if isinstance(func, dspy.Module):
        found.append(func)
    owner = getattr(func, "__self__", None)
    if isinstance(owner, dspy.Module):
        found.append(owner)
    target = getattr(func, "__func__", func)
    for cell in getattr(target, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # empty cell
            continue
        if isinstance(value, dspy.Module):
            found.append(value)
    code = getattr(target, "__code__", None)
    glb = getattr(target, "__globals__", None)
    if code is not None and isinstance(glb, dict):
        found.extend(v for v in (glb.get(n) for n in code.co_names) if isinstance(v, dspy.Module))
    return found


def unseen_predictors(program: dspy.Module) -> list[tuple[str, str]]:
    """Predictors that are not slots, as ``(path, why)``: nested lists, compiled sub-modules,
    tools.

    Each predictor is reported once, where it is first found.
    """
    known = {id(p) for _, p in program.named_predictors()}  # slots, then the ones reported
    out: list[tuple[str, str]] = []
    for found in (_nested_predictors, _reward_predictors, _tool_predictors):
        for path, why, pred in found(program):
            if id(pred) not in known:
                known.add(id(pred))
                out.append((path, why))
    return out


_Found = Iterator[tuple[str, str, Any]]  # (path, why it is not a slot, the predictor)


def _nested_predictors(program: dspy.Module) -> _Found:
    compiled = [name for name, mod in program.named_sub_modules()
                if mod is not program and getattr(mod, "_compiled", False)]
    for name, pred in program.named_sub_modules(type_=dspy.Predict):
        inside = next((c for c in compiled if name.startswith(c + ".")), None)
        why = (f"inside the compiled sub-module {inside!r} (_compiled=True), which "
               "named_predictors() skips" if inside else
               "inside a nested list/dict, which named_predictors() does not descend into")
        yield name, why, pred


def _reward_predictors(program: dspy.Module) -> _Found:
    for wname, wrapper in program.named_sub_modules(type_=(dspy.BestOfN, dspy.Refine)):
        reward = getattr(wrapper, "reward_fn", None)
        cells = [c.cell_contents for c in getattr(reward, "__closure__", None) or ()
                 if c.cell_contents is not None]
        why = (f"used inside the reward function of {type(wrapper).__name__} {wname!r}; "
               "reward functions are not searched")
        for func in [reward, *[c for c in cells if callable(c)]]:
            for mod, _, pred in _predictors_in(func):
                yield f"{wname}.reward_fn -> {type(mod).__name__}", why, pred


def _tool_predictors(program: dspy.Module) -> _Found:
    for rname, react in program.named_sub_modules(type_=dspy.ReAct):
        for tname, tool in (getattr(react, "tools", None) or {}).items():
            why = f"used inside the tool {tname!r} of ReAct {rname!r}; tools are not searched"
            for mod, pname, pred in _predictors_in(getattr(tool, "func", tool)):
                where = pname.removeprefix("self").lstrip(".")
                label = f"{type(mod).__name__}{'.' + where if where else ''}"
                yield f"{rname}.tools[{tname!r}] -> {label}", why, pred


def _predictors_in(func: Any) -> Iterator[tuple[dspy.Module, str, dspy.Predict]]:
    """(module, path in it, predictor) for every predictor of the modules ``func`` can reach."""
    for mod in _modules_in_callable(func):
        for pname, pred in mod.named_sub_modules(type_=dspy.Predict):
            yield mod, pname, pred
