"""What is searched: the slots the user asked for and each slot's candidate models.

A candidate is a litellm model string, or ``{"model": ..., "kwargs": {...}}`` for a model with its
own settings (endpoint, temperature, ...; secrets are used, never written), optionally with a
``"label"`` and inference-time scaling (``"samples"``, ``"select"``, ``"judge"``: see ``scaling``;
``"sim/small*8:vote"`` is the short form). ``CURRENT`` (``"(current)"``) is the slot's own model
object, untouched; the baseline is every searched slot on ``CURRENT``. The space holds exactly the
asked candidates — the baseline is measured beside it, never added to it — and slots not searched
keep their own models.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentopt_search import SearchSpace

from ..errors import ModelError, SlotError
from ..models import check_model_string
from ..redaction import strip_secrets
from ..scaling import Scaling, parse_scaling, parse_shorthand
from ..usage import Slot

__all__ = ["CURRENT", "Candidate", "SpacePlan", "plan_space"]

#: The slot's own model object (the app as it is).
CURRENT = "(current)"


@dataclass(frozen=True)
class Candidate:
    """One model a slot may use: ``label`` names it in the space, leaderboard and storage."""

    label: str
    model: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    scaling: Scaling = field(default_factory=Scaling)

    def binding(self) -> str | dict[str, Any]:
        """What ``adapter.bind`` takes for this candidate."""
        if not self.kwargs and not self.scaling.active:
            return self.model
        return {"model": self.model, "kwargs": dict(self.kwargs), **self.scaling.settings()}

    def public(self) -> dict[str, Any]:
        """The candidate without secrets (what may be stored or printed;
        a select function by name)."""
        return {"model": self.model, "kwargs": strip_secrets(self.kwargs), **self.scaling.public()}

    def exported(self) -> dict[str, Any]:
        """What ``export`` writes for the candidate: without secrets; a select function stays a
        function, so that the export refuses it with a clear error instead of writing a name it
        cannot apply."""
        return {"model": self.model, "kwargs": strip_secrets(self.kwargs),
                **self.scaling.settings()}


def parse_candidate(spec: Any, slot: str) -> Candidate:
    """A Candidate from a model string (``"sim/small*8:vote"`` too) or ``{"model", "kwargs",
    "label", "samples", "select", "judge"}``; one clear error otherwise."""
    if spec == CURRENT:
        return Candidate(CURRENT, CURRENT)
    if isinstance(spec, str):
        spec = parse_shorthand(spec)
    if isinstance(spec, str):
        return Candidate(spec, check_model_string(spec, slot))
    if isinstance(spec, Mapping) and isinstance(spec.get("model"), str):
        unknown = sorted(set(spec) - {"model", "kwargs", "label", "samples", "select", "judge"})
        kwargs = spec.get("kwargs") or {}
        if unknown or not isinstance(kwargs, Mapping):
            raise ModelError(f"slot {slot!r}: a candidate dict takes 'model', 'kwargs' (a dict), "
                             f"'label', 'samples', 'select' and 'judge', got {sorted(spec)}")
        model = check_model_string(spec["model"], slot)
        scaling = parse_scaling(spec, f"slot {slot!r}, candidate {model!r}")
        label = spec.get("label") or _label(model, kwargs) + scaling.label()
        if not isinstance(label, str):
            raise ModelError(f"slot {slot!r}: candidate 'label' must be a string, got {label!r}")
        return Candidate(label, model, dict(kwargs), scaling)
    raise ModelError(f"slot {slot!r}: a candidate is a model string such as 'sim/small' or "
                     f"{{'model': 'openai/gpt-4o-mini', 'kwargs': {{...}}}}, got {spec!r}")


def _label(model: str, kwargs: Mapping[str, Any]) -> str:
    """``model`` alone, or ``model#<hash of its settings>`` so
    different settings are different cells."""
    if not kwargs:
        return model
    text = json.dumps(strip_secrets(kwargs), sort_keys=True, default=repr)
    return f"{model}#{hashlib.sha256(text.encode()).hexdigest()[:6]}"


@dataclass
class SpacePlan:
    """The searched slots (display name -> app slot) and their candidates."""

    aliases: dict[str, str]
    candidates: dict[str, list[Candidate]]
    slots: list[Slot]
    #: Apps that cannot keep a model object of their own (plain callables get model strings): the
    #: model ``CURRENT`` stands for, per app slot (its declared default).
    spelled_out: dict[str, str] | None = None

    @property
    def space(self) -> SearchSpace:
        return SearchSpace({a: [c.label for c in cands] for a, cands in self.candidates.items()})

    @property
    def baseline(self) -> dict[str, str] | None:
        """The anchor assignment: every searched slot on its own model (None when the app has
        none)."""
        if (self.spelled_out is not None
                and not set(self.aliases.values()) <= set(self.spelled_out)):
            return None
        return dict.fromkeys(self.aliases, CURRENT)

    def current_models(self) -> dict[str, str | None]:
        """Searched slot -> the model its own model object calls (as discovered; None: unknown)."""
        found = {s.name: s.default_model for s in self.slots}
        return {a: found.get(app_slot) for a, app_slot in self.aliases.items()}

    def binding(self, assignment: Mapping[str, str]) -> dict[str, Any]:
        """``{app slot: model}`` for ``adapter.bind``: slots on ``CURRENT`` (and slots not
        searched) are left out, keeping their own model — or get their declared default when it
        must be spelled out."""
        by_label = {a: {c.label: c for c in cands} for a, cands in self.candidates.items()}
        out: dict[str, Any] = dict(self.spelled_out or {})
        for alias, label in assignment.items():
            if label != CURRENT:
                out[self.aliases[alias]] = by_label[alias][label].binding()
        return out

    def public(self, assignment: Mapping[str, str]) -> dict[str, Any]:
        """``{app slot: {"model", "kwargs", scaling}}`` without secrets, for export
        (``CURRENT`` slots left out)."""
        by_label = {a: {c.label: c for c in cands} for a, cands in self.candidates.items()}
        return {self.aliases[a]: by_label[a][label].exported() for a, label in assignment.items()
                if label != CURRENT}

    def uses_samples(self, assignment: Mapping[str, str]) -> bool:
        """True when a slot of ``assignment`` is on a candidate that draws samples
        (``scaling``)."""
        by_label = {a: {c.label: c for c in cands} for a, cands in self.candidates.items()}
        return any(label in by_label.get(a, {}) and by_label[a][label].scaling.active
                   for a, label in assignment.items())

    def app_slot(self, name: str | None) -> str | None:
        """The display name of an app slot (itself when it is not searched)."""
        back = {v: k for k, v in self.aliases.items()}
        return back.get(name, name) if name is not None else None


def plan_space(discovered: list[Slot], candidates: Any, slots: Any = None, *, scaling: Any = None,
               spell_out_current: bool = False, scales: bool = True) -> SpacePlan:
    """Which slots are searched over which candidates; one clear error for each kind of bad input.
    ``scaling``: ``{"samples": [1, 4, 8], "select": ..., "judge": ...}`` for every searched slot,
    or ``{slot: {...}}``: each candidate of those slots once per sample count.
    ``spell_out_current``: the app takes model strings, so its own models are its declared
    defaults. ``scales``: the app's adapter can draw samples (else a candidate with samples is an
    error)."""
    candidates = _candidate_lists(candidates)
    aliases = _aliases(discovered, slots, candidates)
    plan = {alias: _slot_candidates(alias, _given(candidates, alias, name),
                                    _scaling_for(scaling, alias, name), scales)
            for alias, name in aliases.items()}
    spelled = ({s.name: s.default_model for s in discovered if s.default_model}
               if spell_out_current else None)
    return SpacePlan(aliases, plan, list(discovered), spelled)


def _candidate_lists(candidates: Any) -> Any:
    """``candidates`` as a list or mapping ("a,b" split); one clear error for anything else."""
    if candidates is None:
        raise ModelError("candidates is required: a list of model strings, or {slot: [models]}")
    if isinstance(candidates, str):
        candidates = [c.strip() for c in candidates.split(",") if c.strip()]
    if not isinstance(candidates, (Mapping, Iterable)):
        raise ModelError(f"candidates must be a list of model strings or {{slot: [models]}}, got "
                         f"{candidates!r}")
    return candidates


def _slot_candidates(alias: str, given: Any, scaling: Mapping[str, Any] | None,
                     scales: bool) -> list[Candidate]:
    """One slot's candidates, parsed, scaled and checked (no duplicate, none empty,
    samples allowed)."""
    parsed = _scaled([parse_candidate(spec, alias) for spec in _as_list(given, alias)], scaling,
                     alias)
    labels = [c.label for c in parsed]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise ModelError(f"slot {alias!r} lists candidate(s) {dupes} more than once; list each "
                         "once (give a 'label' to tell apart one model with different kwargs)")
    if not parsed:
        raise ModelError(f"slot {alias!r} has no candidate models")
    scaled = [c.label for c in parsed if c.scaling.active]
    if scaled and not scales:
        raise ModelError(f"slot {alias!r}, candidate(s) {scaled}: samples are drawn by the "
                         "LangGraph and DSPy adapters; a plain callable app gets model strings "
                         "and calls them itself")
    return parsed


def _scaling_for(scaling: Any, alias: str, name: str) -> Mapping[str, Any] | None:
    if scaling is None:
        return None
    if not isinstance(scaling, Mapping):
        raise ModelError(f"scaling must be {{'samples': [1, 4, 8], 'select': 'vote'}} or {{slot: "
                         f"{{...}}}}, got {scaling!r}")
    if "samples" in scaling:
        return scaling
    spec = scaling.get(alias, scaling.get(name))
    if spec is not None and not isinstance(spec, Mapping):
        raise ModelError(f"scaling[{alias!r}] must be {{'samples': [1, 4, 8], 'select': 'vote'}}, "
                         f"got {spec!r}")
    return spec


def _scaled(cands: list[Candidate], spec: Mapping[str, Any] | None, slot: str) -> list[Candidate]:
    """Each candidate once per sample count of ``spec`` (None: as given)."""
    if spec is None:
        return cands
    if any(c.scaling.active for c in cands):
        raise ModelError(f"slot {slot!r}: give samples either with scaling= or in the candidates, "
                         "not both")
    counts = spec.get("samples")
    if isinstance(counts, int) or not isinstance(counts, (list, tuple)) or not counts:
        raise ModelError(f"scaling for slot {slot!r}: 'samples' must be a list of counts such as "
                         f"[1, 4, 8], got {counts!r}")
    rest = {k: v for k, v in spec.items() if k != "samples"}
    out = []
    for c in cands:
        for n in counts:
            scale = parse_scaling({**rest, "samples": n}, f"scaling for slot {slot!r}")
            out.append(c if not scale.active or c.label == CURRENT else
                       Candidate(c.label + scale.label(), c.model, c.kwargs, scale))
    return out


def _given(candidates: Any, alias: str, name: str) -> Any:
    if not isinstance(candidates, Mapping):
        return candidates
    for key in (alias, name):
        if key in candidates:
            return candidates[key]
    raise SlotError(f"candidates has no entry for the searched slot {alias!r}; add {alias!r}: "
                    "[models], or leave the slot out of slots= to keep its own model")


def _as_list(models: Any, slot: str) -> list[Any]:
    if isinstance(models, (str, Mapping)):
        return [models]
    if not isinstance(models, Iterable):
        raise ModelError(f"slot {slot!r}: candidates must be a list of model strings such as "
                         f"['sim/nano', 'sim/small'], got {models!r}")
    return list(models)


def _aliases(discovered: list[Slot], slots: Any, candidates: Any) -> dict[str, str]:
    """{display name: app slot name} of the slots to search."""
    known = sorted(s.name for s in discovered)
    if slots is None:
        chosen = ({str(k): str(k) for k in candidates} if isinstance(candidates, Mapping)
                  else {n: n for n in known})
    elif isinstance(slots, Mapping):  # {app slot: display name}
        chosen = {str(alias): str(name) for name, alias in slots.items()}
    elif isinstance(slots, str):
        chosen = {slots: slots}
    elif isinstance(slots, Iterable):
        chosen = {str(s): str(s) for s in slots}
    else:
        raise SlotError(f"slots must be a list of slot names or {{app slot: name}}, got {slots!r}")
    unknown = sorted(set(chosen.values()) - set(known))
    if unknown:
        what = "candidates" if slots is None else "slots="
        raise SlotError(f"{what} names unknown slot(s) {unknown}; the app's slots are {known}")
    if not chosen:
        raise SlotError(f"no slot to search; the app's slots are {known}")
    return chosen
