"""DSPy adapter: slots are a program's predictors (``named_predictors()`` names) and the LMs its
modules call directly (attribute paths); each is rebound with its own LM.

```python
slots = aa.discover(program)                       # static: predictors + LM attributes called
slots = aa.discover(program, probe_input=example)  # runs once: the model each slot really used
with aa.bind(program, {"plan.predict": "sim/small", "agent.react": "sim/large"}) as run:
    out, usage = run(example)       # dspy.Example (its inputs) or a dict of input fields
cfg = aa.export_config(program, {"plan.predict": "sim/small"})  # + the compiled state (demos)
tuned = aa.apply(MyProgram(), cfg)  # a fresh copy whose slots use the assigned LMs, state restored
with aa.bind(program, {"answer": {"model": "sim/small", "samples": 8, "select": "vote"}}) as run:
    out, usage = run(example)       # each predictor call: 8 predictions, the most frequent kept
```

* **Binding** (``binding.py``): one deep copy of the program per assignment. Every LM the program
  can reach is used as the user's own object with only DSPy's cache off (class, endpoint, key,
  headers, client kept): ``bind(program, {})`` *is* the program as the user runs it. Assigned slots
  get their own LM; the user's program and LMs are never mutated.
* **Recording** (``recording.py``): every LM call of a run is attributed to its slot from DSPy's
  own history entry (no DSPy callback: those cost as much as DSPy on a fast model). A call no slot
  explains (a module inside a ReAct tool, a predictor in a nested list) is kept as
  ``CallUsage(slot=None)`` and warned about once per runner.
* **Failures.** When DSPy cannot parse the model's reply (``AdapterParseError``, after its
  JSONAdapter retry), the run returns ``(FailedRun(kind="parse_error", ...), usage)``. Any other
  exception propagates unchanged, with the run's usage attached as ``exc.agentopt_usage``.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import warnings
from collections import Counter
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

import dspy

from ..assignment_file import check_slot_names, make_config
from ..errors import AgentOptError, ConfigError, DiscoveryError, ModelError, SlotError
from ..models import dspy_lm as _factory_lm
from ..protocol import Adapter, no_options, register_adapter
from ..redaction import strip_secrets
from ..scaling import Scaling, parse_scaling, parse_shorthand
from ..usage import Slot, is_failed
from .binding import bound_copy
from .recording import model_label, owned_lm, signature_text
from .runner import DSPyRunner, UnattributedCallWarning, example_from_row
from .scaled import scale_predictor
from .slots import SlotNames, direct_lm_calls, runtime_lm_modules, slot_names, unseen_predictors

__all__ = ["DSPyAdapter", "DSPyRunner", "UnseenPredictorWarning", "UnattributedCallWarning",
           "DemosLostWarning", "unseen_predictors", "export_config", "example_from_row"]

FRAMEWORK = "dspy"
STATE_KEY = "dspy_state"
BUILT_ATTR = "_agentopt_built"


class UnseenPredictorWarning(UserWarning):
    """A predictor that ``named_predictors()`` does not reach, so it cannot be a slot."""


class DemosLostWarning(UserWarning):
    """``apply`` left the program with fewer few-shot demos than the config carries."""


# --------------------------------------------------------------------------- models


def _expanded(assignment: Mapping[str, Any]) -> dict[str, Any]:
    """The assignment with shorthand strings (``"sim/small*8:vote"``) as candidate dicts."""
    return {k: parse_shorthand(v) if isinstance(v, str) else v for k, v in assignment.items()}


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
            raise ModelError(f"slot {slot!r}: 'kwargs' must be a dict, got "
                             f"{type(kwargs).__name__}")
        return value["model"], dict(kwargs), None
    raise ModelError(
        f"slot {slot!r}: expected a model string such as 'openai/gpt-4o-mini', a dict "
        f"{{'model': ..., 'kwargs': {{...}}}} or a dspy.LM, got {value!r}"
    )


def _scaling_of(slot: str, value: Any, names: SlotNames) -> Scaling:
    """The inference-time scaling asked for a slot (samples + select);
    only a predictor can have it."""
    scaling = parse_scaling(value, f"slot {slot!r}") if isinstance(value, Mapping) else Scaling()
    if scaling.active and slot not in names.predictors:
        raise ModelError(f"slot {slot!r}: samples apply to a predictor's call (a dspy.Predict "
                         f"slot); {slot!r} is an LM called directly or Refine's advice predictor, "
                         "give it a plain model")
    return scaling


def _scale(bound: dspy.Module, scalings: Mapping[str, Scaling], judge_lm: Any) -> list[Any]:
    """Scaled predictors of ``bound`` draw their samples; returns the judge LMs made
    (``judge_lm(slot, model)``)."""
    preds = dict(bound.named_predictors())
    judges = []
    for name, scaling in scalings.items():
        if scaling.active:
            judge = judge_lm(name, scaling.judge) if scaling.judge else None
            judges += [judge] if judge is not None else []
            scale_predictor(preds[name], name, scaling, judge)
    return judges


def _assigned_lm(slot: str, value: Any) -> dspy.BaseLM:
    """A new, uncached LM instance owned by the binding for one assigned slot (``BUILT_ATTR`` set
    when the binding built it from a model string: only those are closed with the binding, as
    copies of a user's LM share its connection pools)."""
    model, kwargs, lm = _normalize_spec(slot, value)
    if lm is not None:
        return owned_lm(lm)
    kwargs.pop("cache", None)
    built = owned_lm(_factory_lm(model, slot=slot, cache=False, **kwargs))
    built.__dict__[BUILT_ATTR] = True
    return built


# --------------------------------------------------------------------------- names


def _check_program(app: Any) -> dspy.Module:
    if not isinstance(app, dspy.Module):
        raise AgentOptError("the DSPy adapter needs a dspy.Module instance, got "
                            f"{type(app).__name__}")
    return app


def _suggest(name: str, known: Any) -> str:
    known = list(known)
    # "final.predict" vs "final"
    related = [k for k in known if k.startswith(name) or name.startswith(k)]
    close = sorted(related, key=lambda k: -len(k))[:1] or \
        difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_names(given: Any, known: Any, *, what: str) -> None:
    known = list(known)
    unknown = sorted(set(given) - set(known))
    if unknown:
        hints = "".join(f"; {u!r}{_suggest(u, known)}" for u in unknown if _suggest(u, known))
        raise SlotError(
            f"{what} names unknown DSPy slot(s) {unknown}; the program's slots "
            f"(named_predictors() and LM attributes) are {sorted(known)}{hints}"
        )
    check_slot_names(given, known, what=what)


# --------------------------------------------------------------------------- discovery


def _static_slots(program: dspy.Module) -> list[Slot]:
    names = slot_names(program)
    runtime = runtime_lm_modules(program)
    slots = [_predictor_slot(name, pred, runtime) for name, pred in names.predictors.items()]
    for path in sorted(direct_lm_calls(program)):
        lm = names.lms[path]
        slots.append(Slot(name=path, framework=FRAMEWORK, default_model=model_label(lm),
                          where=f"LM attribute called directly in forward: {type(lm).__name__}"))
    for name in names.feedback:
        slots.append(Slot(name=name, framework=FRAMEWORK, default_model=_label(dspy.settings.lm),
                          where="dspy.Refine's advice predictor (OfferFeedback), called when an "
                                "attempt scores below the threshold (configured lm)"))
    return slots


def _predictor_slot(name: str, pred: dspy.Predict, runtime: list[str]) -> Slot:
    """The slot of predictor ``name``; ``runtime``:
    paths of modules that choose the LM at run time."""
    lm = pred.lm if pred.lm is not None else dspy.settings.lm
    chosen = [m for m in runtime if not m or name.startswith(m + ".")]
    if chosen and pred.lm is None:
        where = ("model chosen at run time (lm= in the forward of "
                 f"{', '.join(repr(m or 'the program') for m in chosen)}): known after probing "
                 "(discover(program, probe_input=x))")
        lm = None
    elif pred.lm is not None:
        where = "own lm"
    else:
        where = "configured lm" if lm is not None else "no lm yet"
    return Slot(name=name, framework=FRAMEWORK, default_model=_label(lm),
                where=f"named_predictors(): {type(pred).__name__} '{signature_text(pred)}' "
                      f"({where})")


def _label(lm: Any) -> str | None:
    return model_label(lm) if lm is not None else None


def _probe_slots(adapter: DSPyAdapter, program: dspy.Module, static: list[Slot],
                 probe_input: Any) -> list[Slot]:
    """Run the program once as it is; each slot reports the model(s) it really called."""
    lms = slot_names(program).lms
    with adapter.bind(program, {}) as run:
        try:
            out, usage = run(probe_input)
        except Exception as exc:  # reported with the program's own error
            raise DiscoveryError(f"the probe run of {type(program).__name__} failed: "
                                 f"{type(exc).__name__}: {exc}; fix the program or the probe "
                                 "input, or discover without probe_input") from exc
    used = {slot: Counter(c.model for c in calls) for slot, calls in usage.by_slot().items()
            if slot is not None}
    known = {s.name for s in static}
    slots = list(static) + [Slot(name=p, framework=FRAMEWORK, default_model=model_label(lms[p]),
                                 where="LM attribute called directly in forward: "
                                       f"{type(lms[p]).__name__}")
                            for p in lms if p in used and p not in known]
    failed = f"; the probe run failed to parse ({out.error})" if is_failed(out) else ""
    result = []
    for slot in slots:
        models = used.get(slot.name)
        model: str | None
        if models:
            model = models.most_common(1)[0][0]
            seen = ", ".join(f"{m} x{n}" for m, n in models.most_common())
            where = f"probe: called {seen}; {slot.where}"
        else:
            model = slot.default_model
            where = f"probe: not called for this input{failed}; {slot.where}"
        result.append(Slot(name=slot.name, framework=FRAMEWORK, default_model=model, where=where))
    return result


# --------------------------------------------------------------------------- the adapter


class _Binding(AbstractContextManager):
    def __init__(self, runner: DSPyRunner, judges: list[Any]) -> None:
        self.runner = runner
        self.judges = judges

    def __enter__(self) -> DSPyRunner:
        return self.runner

    def __exit__(self, *exc: Any) -> None:
        for lm in [*self.runner.lms.values(), *self.judges]:
            close = getattr(lm, "close", None) if lm.__dict__.get(BUILT_ATTR) else None
            if callable(close):
                with contextlib.suppress(Exception):  # releasing pools is best effort
                    close()
        return None


@register_adapter
class DSPyAdapter(Adapter):
    """Slots = ``named_predictors()`` names of a ``dspy.Module``
    and the LM attributes it calls directly."""

    framework = FRAMEWORK
    scales = True
    example_from_row = staticmethod(example_from_row)

    @classmethod
    def handles(cls, app: Any) -> bool:
        return isinstance(app, dspy.Module)

    def discover(self, app: Any, *, warn: bool = True, probe_input: Any = None,
                 **options: Any) -> list[Slot]:
        """Every slot. Without ``probe_input`` what the code shows (a model chosen in ``forward``
        is reported as unknown); with it, the program runs once and each slot reports the model it
        used."""
        program = _check_program(app)
        if warn:
            for path, why in unseen_predictors(program):
                warnings.warn(
                    f"DSPy predictor {path} is not a slot: {why}. Its LM calls run on its "
                    "own/configured LM and are recorded with slot=None. Make it a direct "
                    "attribute of a module (self.x = dspy.Predict(...)) to optimize it.",
                    UnseenPredictorWarning, stacklevel=3)
        slots = _static_slots(program)
        if probe_input is not None:
            slots = _probe_slots(self, program, slots, probe_input)
        return slots

    def bind(self, app: Any, assignment: Mapping[str, Any],
             **options: Any) -> AbstractContextManager[DSPyRunner]:
        no_options(options, "bind()", "no options for a DSPy program")
        program = _check_program(app)
        names = slot_names(program)
        if not isinstance(assignment, Mapping):
            raise SlotError(f"assignment must be a dict {{slot: model}}, got "
                            f"{type(assignment).__name__}")
        _check_names(assignment, names.all, what="assignment")
        assignment = _expanded(assignment)
        scalings = {name: _scaling_of(name, value, names) for name, value in assignment.items()}
        lms = {name: _assigned_lm(name, value) for name, value in assignment.items()}
        _check_models_known(program, names, lms)
        bound = bound_copy(program, lms, names)
        judges = _scale(bound, scalings, _assigned_lm)
        models = {name: _normalize_spec(name, value)[0] for name, value in assignment.items()}
        return _Binding(DSPyRunner(bound, names.all, lms, models,
                                   {n: s.judge for n, s in scalings.items() if s.judge}), judges)

    def export_config(self, app: Any, assignment: Mapping[str, Any], *,
                      include_state: bool | None = None, **options: Any) -> dict[str, Any]:
        """``{"format": "agentopt.assignment/v1", "framework": "dspy", "slots": {slot: {model,
        kwargs}}, "dspy_state": ...}``. The program's compiled state (demos, instructions:
        ``program.dump_state()``, never secrets) is included by default; ``include_state=False``
        leaves it out. By default a state that is not JSON-serializable is left out with a warning
        (``include_state=True``: an error)."""
        program = _check_program(app)
        names = slot_names(program)
        _check_names(assignment, names.all, what="assignment")
        assignment = _expanded(assignment)
        slots: dict[str, Any] = {}
        for name, value in assignment.items():
            model, kwargs, _ = _normalize_spec(name, value)
            kwargs.pop("cache", None)
            slots[name] = {"model": model, "kwargs": strip_secrets(kwargs),
                           **_scaling_of(name, value, names).settings()}
        extra: dict[str, Any] = {}
        if include_state is not False:
            state = _program_state(program,
                                   {k: v for k, v in slots.items() if k in names.predictors},
                                   strict=bool(include_state))
            if state is not None:
                extra[STATE_KEY] = state
        return make_config(FRAMEWORK, slots, extra=extra)

    def apply(self, app: Any, cfg: Mapping[str, Any], **options: Any) -> dspy.Module:
        """A deep copy of ``app`` with the config's compiled state and models;
        other slots keep their LMs."""
        program = _check_program(app)
        framework = cfg.get("framework", FRAMEWORK)
        if framework != FRAMEWORK:
            raise ConfigError(
                f"config was exported for framework {framework!r}, not 'dspy'; apply it to the "
                "app it was made for, or export a new one from this DSPy program"
            )
        names = slot_names(program)
        _check_names(cfg["slots"], names.all, what="config")
        lms = {}
        for name, spec in cfg["slots"].items():
            kwargs = dict(spec.get("kwargs") or {})
            kwargs.setdefault("cache", True)  # a production program: DSPy's default caching
            lms[name] = _factory_lm(spec["model"], slot=name, **kwargs)
        scalings = {name: _scaling_of(name, spec, names) for name, spec in cfg["slots"].items()}
        state = cfg.get(STATE_KEY)
        if state is not None:
            program = program.deepcopy()
            _load_state(program, state, type(app).__name__)
        bound = bound_copy(program, lms, names, own=False)
        _scale(bound, scalings, lambda slot, model: _factory_lm(model, slot=slot, cache=True))
        return bound


def _check_models_known(program: dspy.Module, names: SlotNames, lms: Mapping[str, Any]) -> None:
    for name, pred in names.predictors.items():
        if name not in lms and pred.lm is None and dspy.settings.lm is None \
                and not runtime_lm_modules(program):
            raise SlotError(
                f"slot {name!r} has no model: assign one (bind(program, {{{name!r}: "
                f"'provider/model'}})) or configure a default with dspy.configure(lm=dspy.LM(...))"
            )


# --------------------------------------------------------------------------- compiled state


def _demo_count(state: Mapping[str, Any]) -> int:
    return sum(len(s.get("demos") or []) for s in state.values() if isinstance(s, Mapping))


def _program_state(program: dspy.Module, slots: Mapping[str, Mapping[str, Any]], *,
                   strict: bool) -> dict[str, Any] | None:
    """``program.dump_state()`` (demos, signatures), JSON-checked, no secrets. Each assigned
    predictor's ``lm`` is its assigned model; the others carry none (``apply`` keeps the target
    program's LMs)."""
    state = program.dump_state()
    for name, pred_state in state.items():
        if not isinstance(pred_state, dict):
            continue
        spec = slots.get(name)
        pred_state["lm"] = dspy.LM(spec["model"], **spec["kwargs"]).dump_state() if spec else None
        if isinstance(pred_state["lm"], dict):
            pred_state["lm"] = {k: v for k, v in strip_secrets(pred_state["lm"]).items()
                                if k not in ("api_base", "base_url")}
    try:
        return json.loads(json.dumps(state))
    except (TypeError, ValueError) as exc:
        if strict:
            raise ConfigError(f"the program's state is not JSON-serializable ({exc}); export with "
                              "include_state=False") from None
        warnings.warn("the program's compiled state (demos, instructions) is not "
                      f"JSON-serializable ({exc}); it is left out of the config", UserWarning,
                      stacklevel=4)
        return None


def _load_state(new: dspy.Module, state: Any, name: str) -> None:
    """Load the exported state into ``new``, keeping its own predictor LMs;
    warn if demos were lost."""
    if not isinstance(state, Mapping):
        raise ConfigError(f"config {STATE_KEY!r} must be the program.dump_state() object")
    own = {n: p.lm for n, p in new.named_predictors()}
    try:
        new.load_state(dict(state))
    except (KeyError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"config {STATE_KEY!r} does not fit {name} ({type(exc).__name__}: {exc}); apply it to "
            "an instance of the program it was exported from, or export with include_state=False"
        ) from None
    for n, pred in new.named_predictors():
        if pred.lm is None:
            pred.lm = own.get(n)
    have, want = _demo_count(new.dump_state()), _demo_count(state)
    if have < want:
        warnings.warn(f"{name} has {have} few-shot demos after apply, the config carries {want}: "
                      "its predictors differ from the program the config was exported from",
                      DemosLostWarning, stacklevel=4)


def export_config(program: dspy.Module, assignment: Mapping[str, Any], *,
                  include_state: bool | None = None) -> dict[str, Any]:
    """Module-level ``DSPyAdapter().export_config`` (with the ``include_state`` option)."""
    return DSPyAdapter().export_config(program, assignment, include_state=include_state)
