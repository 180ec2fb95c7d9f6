"""DSPy adapter: slots are a program's ``named_predictors()``; each is rebound with its own LM.

```python
slots = aa.discover(program)        # [Slot("plan.predict"), Slot("agent.react"), ...]
with aa.bind(program, {"plan.predict": "sim/small", "agent.react": "sim/large"}) as run:
    out, usage = run(example)       # dspy.Example (its inputs) or a dict of input fields
cfg = aa.export_config(program, {"plan.predict": "sim/small"})
tuned = aa.apply(program, cfg)      # a fresh copy whose predictors use the assigned LMs
```

How it works (verified against DSPy 3.4.1, see docs/notes):

* **Binding.** One deep copy of the program per assignment. Every predictor's LM in the copy is an
  uncached copy (``cache=False``: a cache hit reports zero cost and ~0 latency); each assigned slot
  gets its own freshly built, uncached LM instance. The user's program and LMs are never mutated.
  A slot that is not assigned keeps its own LM (uncached copy) or, without one, the LM configured
  with ``dspy.configure``/``dspy.context`` at run time (also used uncached).
* **Recording.** Every run installs, through ``dspy.context`` (per thread / task, so concurrent
  runs never see each other), a callback that sees every LM call of the run, attributes it to the
  innermost ``dspy.Predict`` in ``settings.caller_modules`` and times it, and a history sink that
  receives the call's history entry (DSPy writes each entry to every ``caller_modules`` owner),
  keyed by the callback call id -- so tokens and cost come from the entry of exactly that call.
  Cost is DSPy's/litellm's when it has one, else ``pricing.cost_usd``. Latency is the call's wall
  time (for ``sim/`` models the simulated latency they report, as their wall clock is scaled
  down). A call no slot explains (a module inside a ReAct tool, a predictor in a nested list,
  ``lm(...)`` in ``forward``) is kept as ``CallUsage(slot=None)`` and warned about once per runner.
* **Failures.** When DSPy cannot parse the model's reply (``AdapterParseError``, after its
  JSONAdapter retry), the run returns ``(FailedRun(kind="parse_error", ...), usage)``: the example
  counts as failed, the calls it paid for are in ``usage``. Any other exception propagates
  unchanged, with the run's usage attached as ``exc.agentopt_usage``.
"""

from __future__ import annotations

import asyncio
import copy
import difflib
import inspect
import json
import threading
import warnings
from contextlib import AbstractContextManager
from typing import Any, Mapping

import dspy
from dspy.utils.exceptions import AdapterParseError

from ..assignment_file import check_slot_names, make_config
from ..errors import AgentOptError, ConfigError, DiscoveryError, ModelError, SlotError
from ..models import dspy_lm as _factory_lm
from ..protocol import Adapter, Runner, register_adapter
from ..redaction import strip_secrets
from ..usage import FailedRun, Slot, Usage
from .recording import RunRecorder, model_label, signature_text

__all__ = [
    "DSPyAdapter",
    "DSPyRunner",
    "UnseenPredictorWarning",
    "UnattributedCallWarning",
    "unseen_predictors",
    "export_config",
]

FRAMEWORK = "dspy"
STATE_KEY = "dspy_state"


class UnseenPredictorWarning(UserWarning):
    """A predictor that ``named_predictors()`` does not reach, so it cannot be a slot."""


class UnattributedCallWarning(UserWarning):
    """An LM call at run time that no slot explains (recorded with ``slot=None``)."""


# --------------------------------------------------------------------------- models


def _normalize_spec(slot: str, value: Any) -> tuple[str, dict[str, Any], dspy.BaseLM | None]:
    """(model string, kwargs, LM object or None) for one assignment value."""
    if isinstance(value, dspy.BaseLM):
        kwargs = {k: v for k, v in (getattr(value, "kwargs", {}) or {}).items() if v is not None}
        return model_label(value), kwargs, value
    if isinstance(value, str) and value:
        return value, {}, None
    if isinstance(value, Mapping) and isinstance(value.get("model"), str) and value["model"]:
        kwargs = value.get("kwargs") or {}
        if not isinstance(kwargs, Mapping):
            raise ModelError(f"slot {slot!r}: 'kwargs' must be a dict, got {type(kwargs).__name__}")
        return value["model"], dict(kwargs), None
    raise ModelError(
        f"slot {slot!r}: expected a model string such as 'openai/gpt-4o-mini', a dict "
        f"{{'model': ..., 'kwargs': {{...}}}} or a dspy.LM, got {value!r}"
    )


def _uncached_lm(slot: str, value: Any) -> dspy.BaseLM:
    """A new LM instance for one slot with DSPy's response cache off."""
    model, kwargs, lm = _normalize_spec(slot, value)
    if lm is not None:
        return lm.copy(cache=False)
    kwargs.pop("cache", None)
    return _factory_lm(model, cache=False, **kwargs)


# --------------------------------------------------------------------------- discovery helpers


def _check_program(app: Any) -> dspy.Module:
    if not isinstance(app, dspy.Module):
        raise AgentOptError(f"the DSPy adapter needs a dspy.Module instance, got {type(app).__name__}")
    return app


def _predictors(program: dspy.Module) -> dict[str, dspy.Predict]:
    preds = dict(program.named_predictors())
    if not preds:
        raise DiscoveryError(
            f"{type(program).__name__} has no predictors reachable by named_predictors(); assign "
            "dspy.Predict / ChainOfThought / ReAct modules as attributes in __init__ (self.step = ...)"
        )
    return preds


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
        for name in code.co_names:
            value = glb.get(name)
            if isinstance(value, dspy.Module):
                found.append(value)
    return found


def unseen_predictors(program: dspy.Module) -> list[tuple[str, str]]:
    """Predictors that are not slots, as ``(path, why)``: nested lists, compiled sub-modules, tools."""
    seen = {id(p) for _, p in program.named_predictors()}
    out: list[tuple[str, str]] = []
    reported: set[int] = set()
    compiled = [
        name for name, mod in program.named_sub_modules()
        if mod is not program and getattr(mod, "_compiled", False)
    ]
    for name, pred in program.named_sub_modules(type_=dspy.Predict):
        if id(pred) in seen or id(pred) in reported:
            continue
        reported.add(id(pred))
        inside = next((c for c in compiled if name.startswith(c + ".")), None)
        why = (
            f"inside the compiled sub-module {inside!r} (_compiled=True), which named_predictors() skips"
            if inside else "inside a nested list/dict, which named_predictors() does not descend into"
        )
        out.append((name, why))
    for rname, react in program.named_sub_modules(type_=dspy.ReAct):
        for tname, tool in (getattr(react, "tools", None) or {}).items():
            for mod in _modules_in_callable(getattr(tool, "func", tool)):
                for pname, pred in mod.named_sub_modules(type_=dspy.Predict):
                    if id(pred) in seen or id(pred) in reported:
                        continue
                    reported.add(id(pred))
                    where = pname.removeprefix("self").lstrip(".")
                    label = f"{type(mod).__name__}{'.' + where if where else ''}"
                    out.append((f"{rname}.tools[{tname!r}] -> {label}",
                                f"used inside the tool {tname!r} of ReAct {rname!r}; tools are not searched"))
    return out


def _warn_unseen(program: dspy.Module) -> None:
    for path, why in unseen_predictors(program):
        warnings.warn(
            f"DSPy predictor {path} is not a slot: {why}. Its LM calls run on its own/configured LM and "
            "are recorded with slot=None. Make it a direct attribute of a module (self.x = dspy.Predict(...)) "
            "to optimize it.",
            UnseenPredictorWarning,
            stacklevel=4,
        )


def _lm_of(pred: dspy.Predict) -> Any:
    return pred.lm if pred.lm is not None else dspy.settings.lm


def _suggest(name: str, known: Any) -> str:
    known = list(known)
    related = [k for k in known if k.startswith(name) or name.startswith(k)]  # "final.predict" vs "final"
    close = sorted(related, key=lambda k: -len(k))[:1] or difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_names(given: Any, known: Mapping[str, Any], *, what: str) -> None:
    unknown = sorted(set(given) - set(known))
    if unknown:
        hints = "".join(f"; {u!r}{_suggest(u, known)}" for u in unknown if _suggest(u, known))
        raise SlotError(
            f"{what} names unknown DSPy slot(s) {unknown}; the program's slots (named_predictors()) "
            f"are {sorted(known)}{hints}"
        )
    check_slot_names(given, known, what=what)


def _copy_program(program: dspy.Module, lm_copy: Any) -> dspy.Module:
    """Deep copy ``program``; every LM reachable from it is replaced by ``lm_copy(lm)``.

    Pre-seeding deepcopy's memo keeps the user's LMs (and their long histories) out of the copy.
    """
    memo: dict[int, Any] = {}
    for _, lm in program.named_sub_modules(type_=dspy.BaseLM):
        memo.setdefault(id(lm), lm_copy(lm))
    try:
        return copy.deepcopy(program, memo)
    except Exception:  # noqa: BLE001 - same fallback as dspy.Module.deepcopy
        new = program.deepcopy()
        for _, pred in new.named_sub_modules(type_=dspy.Predict):
            if pred.lm is not None:
                pred.lm = lm_copy(pred.lm)
        return new


# --------------------------------------------------------------------------- runner


def _input_kwargs(program: dspy.Module, example: Any) -> dict[str, Any]:
    """Keyword arguments for ``program(**kwargs)`` from a dspy.Example, a dict or a single value."""
    if isinstance(example, dspy.Example):
        try:
            data = dict(example.inputs())
        except ValueError:  # no .with_inputs(...): use every field the program accepts
            data = dict(example.toDict())
    elif isinstance(example, Mapping):
        data = dict(example)
    else:
        data = None

    forward = getattr(type(program), "forward", None)  # via the class: dspy warns on program.forward
    params: list[inspect.Parameter] = []
    var_kw = True
    if forward is not None:
        try:
            sig = inspect.signature(forward)
            params = [p for p in list(sig.parameters.values())[1:]  # drop self
                      if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
            var_kw = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
        except (TypeError, ValueError):
            pass
    accepted = [p.name for p in params]
    if var_kw and isinstance(program, dspy.Predict):  # Predict / ChainOfThought.predict
        accepted, var_kw = list(program.signature.input_fields), False
    elif var_kw and hasattr(program, "signature") and not params:  # ChainOfThought, ReAct, ...
        accepted, var_kw = list(program.signature.input_fields), False

    if data is None:
        if len(accepted) == 1:
            return {accepted[0]: example}
        raise AgentOptError(
            f"cannot call {type(program).__name__} with a {type(example).__name__}; pass a dspy.Example "
            f"(.with_inputs(...)) or a dict of its input fields {accepted or '(keyword arguments)'}"
        )
    if var_kw:
        return data
    kwargs = {k: v for k, v in data.items() if k in accepted}
    required = [p.name for p in params if p.default is inspect.Parameter.empty] if params else accepted
    missing = [k for k in required if k not in kwargs]
    if missing:
        raise AgentOptError(
            f"example has no input field(s) {missing} needed by {type(program).__name__}; it has "
            f"{sorted(data)}. Use dspy.Example(...).with_inputs({', '.join(map(repr, required))}) or a dict "
            "with those keys"
        )
    return kwargs


class DSPyRunner(Runner):
    """Runs one bound copy of the program. ``run(x)`` / ``await run.acall(x)`` -> (output, Usage).

    ``output`` is the program's ``dspy.Prediction``, or a ``FailedRun`` when DSPy could not parse a
    model reply. Safe to call from many threads and tasks at once.
    """

    def __init__(self, program: dspy.Module, slots: Mapping[str, dspy.Predict],
                 lms: Mapping[str, dspy.BaseLM], assignment: Mapping[str, str]) -> None:
        super().__init__(self._run, self._arun)
        self.program = program
        self.lms = dict(lms)                # slot -> the LM instance bound to it
        self.assignment = dict(assignment)  # slot -> model string (assigned slots only)
        self._slot_by_pred = {id(p): name for name, p in slots.items()}
        self._warned: set[str] = set()
        self._warn_lock = threading.Lock()

    def _overrides(self, recorder: RunRecorder) -> dict[str, Any]:
        settings = dspy.settings
        over: dict[str, Any] = {
            "callbacks": [*(settings.callbacks or []), recorder],
            "caller_modules": [recorder.sink, *(settings.caller_modules or [])],
            "disable_history": False,  # the history entry carries each call's usage and cost
        }
        if not settings.max_history_size:
            over["max_history_size"] = 1
        lm = settings.lm
        if isinstance(lm, dspy.BaseLM) and getattr(lm, "cache", False):
            over["lm"] = lm.copy(cache=False)  # unassigned slots: configured LM, but never cached
        return over

    def _finish(self, recorder: RunRecorder) -> Usage:
        usage = recorder.usage()
        for chain, model in recorder.unexplained:
            key = f"{chain}|{model}"
            with self._warn_lock:
                if key in self._warned:
                    continue
                self._warned.add(key)
            warnings.warn(
                f"LM call to {model} is not explained by any DSPy slot: {chain}. It is recorded with "
                "slot=None (usage.unattributed); make that predictor a direct module attribute to optimize it.",
                UnattributedCallWarning,
                stacklevel=3,
            )
        return usage

    def _failed(self, exc: AdapterParseError, recorder: RunRecorder) -> FailedRun:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return FailedRun(error=f"{type(exc).__name__}: {first}"[:500], kind="parse_error",
                         slot=recorder.last_slot())

    def _run(self, example: Any) -> tuple[Any, Usage]:
        kwargs = _input_kwargs(self.program, example)
        recorder = RunRecorder(self._slot_by_pred)
        with dspy.context(**self._overrides(recorder)):
            try:
                out: Any = self.program(**kwargs)
            except BaseException as exc:
                out = self._on_error(exc, recorder)
        return out, self._finish(recorder)

    async def _arun(self, example: Any) -> tuple[Any, Usage]:
        if not callable(getattr(type(self.program), "aforward", None)):
            return await asyncio.to_thread(self._run, example)  # module without aforward: sync in a thread
        kwargs = _input_kwargs(self.program, example)
        recorder = RunRecorder(self._slot_by_pred)
        with dspy.context(**self._overrides(recorder)):
            try:
                out: Any = await self.program.acall(**kwargs)
            except BaseException as exc:
                out = self._on_error(exc, recorder)
        return out, self._finish(recorder)

    def _on_error(self, exc: BaseException, recorder: Any) -> Any:
        """A parse failure becomes a FailedRun output; anything else re-raises with its usage."""
        if isinstance(exc, AdapterParseError):
            return self._failed(exc, recorder)
        _attach_usage(exc, self._finish(recorder))
        raise exc


def _attach_usage(exc: BaseException, usage: Usage) -> None:
    try:
        exc.agentopt_usage = usage  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - some exception types refuse attributes
        pass


class _Binding(AbstractContextManager):
    def __init__(self, runner: DSPyRunner) -> None:
        self.runner = runner

    def __enter__(self) -> DSPyRunner:
        return self.runner

    def __exit__(self, *exc: Any) -> None:
        for lm in self.runner.lms.values():
            close = getattr(lm, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:  # noqa: BLE001 - releasing pools is best effort
                    pass
        return None


# --------------------------------------------------------------------------- the adapter


@register_adapter
class DSPyAdapter(Adapter):
    """Slots = ``named_predictors()`` names of a ``dspy.Module``."""

    framework = FRAMEWORK

    @classmethod
    def handles(cls, app: Any) -> bool:
        return isinstance(app, dspy.Module)

    def discover(self, app: Any, *, warn: bool = True, **options: Any) -> list[Slot]:
        program = _check_program(app)
        preds = _predictors(program)
        if warn:
            _warn_unseen(program)
        slots = []
        for name, pred in preds.items():
            lm = _lm_of(pred)
            own = "own lm" if pred.lm is not None else ("configured lm" if lm is not None else "no lm yet")
            slots.append(Slot(
                name=name,
                framework=FRAMEWORK,
                default_model=model_label(lm) if lm is not None else None,
                where=f"named_predictors(): {type(pred).__name__} '{signature_text(pred)}' ({own})",
            ))
        return slots

    def bind(self, app: Any, assignment: Mapping[str, Any]) -> AbstractContextManager[DSPyRunner]:
        program = _check_program(app)
        preds = _predictors(program)
        if not isinstance(assignment, Mapping):
            raise SlotError(f"assignment must be a dict {{slot: model}}, got {type(assignment).__name__}")
        _check_names(assignment, preds, what="assignment")
        lms = {name: _uncached_lm(name, value) for name, value in assignment.items()}
        for name, pred in preds.items():
            if name not in lms and _lm_of(pred) is None:
                raise SlotError(
                    f"slot {name!r} has no model: assign one (bind(program, {{{name!r}: 'provider/model'}})) "
                    "or configure a default with dspy.configure(lm=dspy.LM(...))"
                )
        bound = _copy_program(program, lambda lm: lm.copy(cache=False))
        bound_preds = dict(bound.named_predictors())
        for name, lm in lms.items():
            bound_preds[name].lm = lm
        models = {name: _normalize_spec(name, value)[0] for name, value in assignment.items()}
        return _Binding(DSPyRunner(bound, bound_preds, lms, models))

    def export_config(self, app: Any, assignment: Mapping[str, Any], *, include_state: bool = False,
                      **options: Any) -> dict[str, Any]:
        """``{"format": "agentopt.assignment/v1", "framework": "dspy", "slots": {slot: {model, kwargs}}}``.

        ``include_state=True`` adds ``"dspy_state"``: the ``program.save()`` state (demos,
        signatures) with plain ``dspy.LM`` objects for the assigned slots, never secrets.
        """
        program = _check_program(app)
        preds = _predictors(program)
        _check_names(assignment, preds, what="assignment")
        slots: dict[str, Any] = {}
        for name, value in assignment.items():
            model, kwargs, _ = _normalize_spec(name, value)
            kwargs.pop("cache", None)
            slots[name] = {"model": model, "kwargs": strip_secrets(kwargs)}
        extra: dict[str, Any] = {}
        if include_state:
            extra[STATE_KEY] = _program_state(program, slots)
        return make_config(FRAMEWORK, slots, extra=extra)

    def apply(self, app: Any, cfg: Mapping[str, Any], **options: Any) -> dspy.Module:
        """A deep copy of ``app`` whose assigned predictors use the config's models."""
        program = _check_program(app)
        framework = cfg.get("framework", FRAMEWORK)
        if framework != FRAMEWORK:
            raise ConfigError(
                f"config was exported for framework {framework!r}, not 'dspy'; apply it to the app it was "
                "made for, or export a new one from this DSPy program"
            )
        preds = _predictors(program)
        _check_names(cfg["slots"], preds, what="config")
        new = _copy_program(program, lambda lm: lm.copy())
        state = cfg.get(STATE_KEY)
        if state is not None:
            if not isinstance(state, Mapping):
                raise ConfigError(f"config {STATE_KEY!r} must be the program.save() state object")
            try:
                new.load_state(dict(state))
            except (KeyError, ValueError, TypeError) as exc:
                raise ConfigError(
                    f"config {STATE_KEY!r} does not fit {type(program).__name__} ({type(exc).__name__}: {exc}); "
                    "apply it to an instance of the program it was exported from, or export without state"
                ) from None
        new_preds = dict(new.named_predictors())
        for name, spec in cfg["slots"].items():
            kwargs = dict(spec.get("kwargs") or {})
            kwargs.setdefault("cache", True)  # a production program: DSPy's default caching
            new_preds[name].lm = _factory_lm(spec["model"], **kwargs)
        return new


def _program_state(program: dspy.Module, slots: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """``program.dump_state()`` with a plain ``dspy.LM`` per assigned slot, JSON-checked, no secrets."""
    new = _copy_program(program, lambda lm: lm.copy())
    new_preds = dict(new.named_predictors())
    for name, spec in slots.items():
        new_preds[name].lm = dspy.LM(spec["model"], **spec["kwargs"])
    state = new.dump_state()
    for pred_state in state.values():
        if isinstance(pred_state, dict) and isinstance(pred_state.get("lm"), dict):
            pred_state["lm"] = {k: v for k, v in strip_secrets(pred_state["lm"]).items()
                                if k not in ("api_base", "base_url")}
    try:
        return json.loads(json.dumps(state))
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"the program's state is not JSON-serializable ({exc}); export without include_state"
        ) from None


def export_config(program: dspy.Module, assignment: Mapping[str, Any], *,
                  include_state: bool = False) -> dict[str, Any]:
    """Module-level ``DSPyAdapter().export_config`` (with the ``include_state`` option)."""
    return DSPyAdapter().export_config(program, assignment, include_state=include_state)
