"""The bound copy of a program: one deep copy per assignment, whose every LM is owned by the
binding.

* Every LM the program can reach is replaced in the copy by an uncached, timed copy of itself
  (``recording.owned_lm``: the user's class, endpoint, key, headers and client, cache off), so the
  slots nobody assigned run exactly as the user's program does. The user's objects are never
  mutated.
* Every predictor carries its slot name (``recording.SLOT_ATTR``); an assigned one gets its own
  LM.
* An LM attribute of a module is replaced by its own owned copy carrying its path as slot name
  (or by the assigned LM), so direct calls ``self.untrusted_model(prompt)`` are attributed and
  routable.
* ``dspy.BestOfN`` / ``dspy.Refine`` read one LM for their whole inner module (``get_lm()``), copy
  it with a rollout id and set it on a deep copy of that module. Inside them every predictor's LM
  is a ``SlotRouter``: one object (so ``get_lm()`` succeeds), which sends each call to the LM of
  the slot that makes it, with the wrapper's rollout id and temperature.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import dspy
from dspy.utils import magicattr

from .recording import FEEDBACK_ATTR, SLOT_ATTR, caller_slot, owned_lm
from .slots import SlotNames

__all__ = ["bound_copy", "SlotRouter"]

_WRAPPERS = (dspy.BestOfN, dspy.Refine)
# dspy settings key: the LM configured when a wrapper's forward began
_OUTER_LM = "agentopt_outer_lm"


class SlotRouter(dspy.BaseLM):
    """The LM of every predictor inside a BestOfN / Refine of a bound program
    (see module docstring)."""

    def __init__(self, targets: Mapping[str, Any]) -> None:
        super().__init__(model="agentopt/slot-router", cache=False, num_retries=0)
        self.targets = dict(targets)  # slot -> its LM, or None: the LM configured at call time

    def __deepcopy__(self, memo: dict[int, Any]) -> SlotRouter:
        # the wrappers deep-copy their module: share the targets, do not copy them
        return self.copy()

    def _target(self) -> Any:
        slot = caller_slot(dspy.settings.caller_modules or [])
        target = self.targets.get(slot) if slot is not None else None
        lm = target or dspy.settings.get(_OUTER_LM) or dspy.settings.lm
        if lm is None or isinstance(lm, SlotRouter):
            raise ValueError("No LM is loaded. Please configure the LM using "
                             "`dspy.configure(lm=dspy.LM(...))`.")
        return lm

    def _kwargs(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        return {**{k: v for k, v in self.kwargs.items() if v is not None}, **kwargs}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._target()(*args, **self._kwargs(kwargs))

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        return await self._target().acall(*args, **self._kwargs(kwargs))

    @property
    def supports_function_calling(self) -> bool:
        return self._target().supports_function_calling

    @property
    def supports_reasoning(self) -> bool:
        return self._target().supports_reasoning

    @property
    def supports_response_schema(self) -> bool:
        return self._target().supports_response_schema

    @property
    def supported_params(self) -> set[str]:
        return self._target().supported_params


def _deepcopy_owning_lms(program: dspy.Module) -> dspy.Module:
    """Deep copy ``program``; every LM reachable from it becomes an owned copy (one per LM object).

    Pre-seeding deepcopy's memo keeps the user's LMs (and their long histories) out of the copy."""
    memo: dict[int, Any] = {}
    for _, lm in program.named_sub_modules(type_=dspy.BaseLM):
        memo.setdefault(id(lm), owned_lm(lm))
    try:
        return copy.deepcopy(program, memo)
    except Exception:  # noqa: BLE001 - same fallback as dspy.Module.deepcopy
        new = program.deepcopy()
        for _, pred in new.named_sub_modules(type_=dspy.Predict):
            if pred.lm is not None:
                pred.lm = owned_lm(pred.lm)
        return new


def _wrapper_forward(wrapper: dspy.Module, feedback_lm: Any) -> Callable[..., Any]:
    """The wrapper's own forward, run with the LM configured at its start noted for the SlotRouter
    (DSPy's wrappers use that LM for every slot nobody assigned) and, for a Refine whose feedback
    slot is assigned, a SlotRouter configured that sends its advice predictor to that LM (and every
    other caller, e.g. a judge in the reward function, to the LM configured at the start)."""
    forward = type(wrapper).forward
    slot = wrapper.__dict__.get(FEEDBACK_ATTR)
    router = SlotRouter({slot: feedback_lm}) if feedback_lm is not None else None

    def run(*args: Any, **kwargs: Any) -> Any:
        over = {_OUTER_LM: dspy.settings.get(_OUTER_LM) or dspy.settings.lm}
        if router is not None:
            over["lm"] = router
        with dspy.context(**over):
            return forward(wrapper, *args, **kwargs)

    return run


def _route_wrappers(bound: dspy.Module, assigned: Mapping[str, Any], names: SlotNames) -> None:
    """A SlotRouter for the predictors inside each outermost BestOfN / Refine;
    feedback slots tagged."""
    feedback = {id(magicattr.get(bound, n[: -len(".feedback")]) if n != "feedback" else bound): n
                for n in names.feedback}
    for _, wrapper in bound.named_sub_modules(type_=_WRAPPERS):
        slot = feedback.get(id(wrapper))
        if slot is not None:
            wrapper.__dict__[FEEDBACK_ATTR] = slot
        wrapper.__dict__["forward"] = _wrapper_forward(wrapper,
                                                       assigned.get(slot) if slot else None)
        inner = getattr(wrapper, "module", None)
        if not isinstance(inner, dspy.Module):
            continue
        preds = [p for _, p in inner.named_predictors()]
        if not preds or any(isinstance(p.lm, SlotRouter) for p in preds):
            continue  # nothing inside, or inside a wrapper already routed
        router = SlotRouter({p.__dict__[SLOT_ATTR]: p.lm for p in preds
                             if SLOT_ATTR in p.__dict__})
        for pred in preds:
            pred.lm = router


def bound_copy(program: dspy.Module, assigned: Mapping[str, Any], names: SlotNames, *,
               own: bool = True) -> dspy.Module:
    """A copy of the program with ``assigned`` (slot -> LM) in place; other slots keep their own
    LMs.

    ``own``: every LM of the copy is an uncached, timed copy owned by the binding (a bound run);
    otherwise the copy keeps DSPy's copies of the user's LMs as they are (``apply``)."""
    bound = _deepcopy_owning_lms(program) if own else program.deepcopy()
    for name, pred in bound.named_predictors():
        pred.__dict__[SLOT_ATTR] = name
        if name in assigned:
            pred.lm = assigned[name]
    for path in names.lms:
        lm = assigned.get(path)
        if lm is None:
            lm = magicattr.get(bound, path)
            lm = owned_lm(lm) if own else lm
        setattr(lm, SLOT_ATTR, path)
        magicattr.set(bound, path, lm)
    _route_wrappers(bound, assigned, names)
    return bound
