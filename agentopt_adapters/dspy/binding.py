"""The bound copy of a program: one deep copy per assignment, whose every LM is owned by the binding.

* Every LM the program can reach is replaced in the copy by an uncached, timed copy of itself
  (``recording.owned_lm``: the user's class, endpoint, key, headers and client, cache off), so the
  slots nobody assigned run exactly as the user's program does. The user's objects are never mutated.
* Every predictor carries its slot name (``recording.SLOT_ATTR``); an assigned one gets its own LM.
* An LM attribute of a module is replaced by its own owned copy carrying its path as slot name
  (or by the assigned LM), so direct calls ``self.untrusted_model(prompt)`` are attributed and routable.
* ``dspy.BestOfN`` / ``dspy.Refine`` read one LM for their whole inner module (``get_lm()``), copy it
  with a rollout id and set it on a deep copy of that module. Inside them every predictor's LM is a
  ``SlotRouter``: one object (so ``get_lm()`` succeeds), which sends each call to the LM of the slot
  that makes it, with the wrapper's rollout id and temperature.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

import dspy
from dspy.utils import magicattr

from .recording import SLOT_ATTR, owned_lm

__all__ = ["bound_copy", "SlotRouter"]

_WRAPPERS = (dspy.BestOfN, dspy.Refine)


class SlotRouter(dspy.BaseLM):
    """The LM of every predictor inside a BestOfN / Refine of a bound program (see module docstring)."""

    def __init__(self, targets: Mapping[str, Any]) -> None:
        super().__init__(model="agentopt/slot-router", cache=False, num_retries=0)
        self.targets = dict(targets)  # slot -> its LM, or None: the LM configured at call time

    def __deepcopy__(self, memo: dict[int, Any]) -> "SlotRouter":
        return self.copy()  # the wrappers deep-copy their module: share the targets, do not copy them

    def _target(self) -> Any:
        mods = dspy.settings.caller_modules or []
        inner = mods[-1] if mods else None
        slot = inner.__dict__.get(SLOT_ATTR) if isinstance(inner, dspy.Predict) else None
        lm = self.targets.get(slot) or dspy.settings.lm
        if lm is None or isinstance(lm, SlotRouter):
            raise ValueError("No LM is loaded. Please configure the LM using `dspy.configure(lm=dspy.LM(...))`.")
        return lm

    def _kwargs(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        return {**{k: v for k, v in self.kwargs.items() if v is not None}, **kwargs}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._target()(*args, **self._kwargs(kwargs))

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        return await self._target().acall(*args, **self._kwargs(kwargs))

    @property
    def supports_function_calling(self) -> bool:  # type: ignore[override]
        return self._target().supports_function_calling

    @property
    def supports_reasoning(self) -> bool:  # type: ignore[override]
        return self._target().supports_reasoning

    @property
    def supports_response_schema(self) -> bool:  # type: ignore[override]
        return self._target().supports_response_schema

    @property
    def supported_params(self) -> set[str]:  # type: ignore[override]
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


def _route_wrappers(bound: dspy.Module) -> None:
    """A SlotRouter for the predictors inside each outermost BestOfN / Refine."""
    for _, wrapper in bound.named_sub_modules(type_=_WRAPPERS):
        inner = getattr(wrapper, "module", None)
        if not isinstance(inner, dspy.Module):
            continue
        preds = [p for _, p in inner.named_predictors()]
        if not preds or any(isinstance(p.lm, SlotRouter) for p in preds):
            continue  # nothing inside, or inside a wrapper already routed
        router = SlotRouter({p.__dict__[SLOT_ATTR]: p.lm for p in preds if SLOT_ATTR in p.__dict__})
        for pred in preds:
            pred.lm = router


def bound_copy(program: dspy.Module, assigned: Mapping[str, Any], lm_paths: Mapping[str, Any]) -> dspy.Module:
    """The program with ``assigned`` (slot -> owned LM) in place; other slots keep (copies of) their own.

    ``lm_paths``: the program's LM attributes by path (``slots.lm_attributes``)."""
    bound = _deepcopy_owning_lms(program)
    for name, pred in bound.named_predictors():
        pred.__dict__[SLOT_ATTR] = name
        if name in assigned:
            pred.lm = assigned[name]
    for path in lm_paths:
        lm = assigned.get(path) or owned_lm(magicattr.get(bound, path))
        setattr(lm, SLOT_ATTR, path)
        magicattr.set(bound, path, lm)
    _route_wrappers(bound)
    return bound
