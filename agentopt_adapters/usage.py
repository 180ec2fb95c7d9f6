"""What a run used: slots, one record per model call, a run's usage.

``call_record`` is the one place a call record is built, for every adapter: tokens are priced
here (``models.pricing``: litellm's cost map plus ``set_prices`` overrides, so every framework
prices the same call the same way) and ``latency_s`` always means the seconds the app waited for
the model: the latency the provider reports for the call when it reports one (simulated models
do), else the wall clock around the call. The samples of one scaled step (``scaling``) share a
``sample_group``: they ran side by side, so a run's latency (``Usage.latency_s``) counts the
slowest.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Slot", "CallUsage", "Usage", "FailedRun", "is_failed", "call_record",
           "reported_latency"]


@dataclass(frozen=True)
class Slot:
    """One place in an app where a model is chosen.

    ``name`` is stable across runs (LangGraph node name, dotted for subgraphs, ``node#2`` for a
    second distinct model in one node; DSPy ``named_predictors()`` name). ``where`` says how the
    slot was found, e.g. ``"static: global 'llm' of plan()"`` or ``"probe: langgraph_node=plan"``.
    """

    name: str
    framework: str
    default_model: str | None = None
    where: str = ""


@dataclass
class CallUsage:
    """One model call. ``slot`` is None when no slot explains the call (a discovery gap)."""

    slot: str | None
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    latency_s: float = 0.0
    error: str | None = None
    #: Calls drawn side by side as the samples of one scaled step share an id (None: a call of its
    #: own).
    sample_group: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def call_record(slot: str | None, model: str, *, input_tokens: int = 0, output_tokens: int = 0,
                latency_s: float = 0.0, reported_cost_usd: float | None = None,
                error: str | None = None, finished: bool = True,
                sample_group: str | None = None) -> CallUsage:
    """One model call, priced from its tokens (the provider's own figure only where we have no
    price).

    A call that failed before any response costs 0; one that did not finish (still running when the
    run ended) has an unknown cost (None)."""
    from .models.pricing import cost_usd

    if not finished:
        cost = None
    elif error is not None and input_tokens == output_tokens == 0:
        cost = 0.0
    else:
        cost = cost_usd(model, input_tokens, output_tokens)
        cost = reported_cost_usd if cost is None else cost
    return CallUsage(slot=slot, model=model, input_tokens=int(input_tokens),
                     output_tokens=int(output_tokens), cost_usd=cost, latency_s=float(latency_s),
                     error=error, sample_group=sample_group)


def reported_latency(*sources: Any) -> float | None:
    """The call latency a provider reported (``sim_latency_s``: litellm's hidden params or the
    response's ``provider_specific_fields``, as LangChain and DSPy pass them on), from the first
    source that has one; None when none did."""
    for src in sources:
        for where in _report_places(src):
            value = where.get("sim_latency_s") if isinstance(where, dict) else None
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
    return None


def _report_places(src: Any) -> list[Any]:
    """litellm's hidden params; a LangChain message's response metadata or an ``llm_output`` dict,
    and the ``provider_specific_fields`` in it."""
    meta = src if isinstance(src, dict) else getattr(src, "response_metadata", None)
    places = [_hidden_params(src)]
    if isinstance(meta, dict):
        places += [meta, meta.get("provider_specific_fields")]
    return places


def _hidden_params(src: Any) -> Any:
    """litellm's ``_hidden_params`` of a response; skips pydantic models that have no such private
    attribute (e.g. LangChain messages), where ``getattr`` would raise and catch inside (~4 µs per
    call)."""
    if src is None or isinstance(src, dict):
        return None
    private = getattr(type(src), "__private_attributes__", None)
    if private is not None and "_hidden_params" not in private:
        return None
    return getattr(src, "_hidden_params", None)


@dataclass
class Usage:
    """Every model call of one run, in call order."""

    calls: list[CallUsage] = field(default_factory=list)

    @classmethod
    def reported(cls, cost_usd: float | None, latency_s: float) -> Usage:
        """One unattributed record of what an app reported itself (cost None: unknown,
        never a silent 0)."""
        model = "(reported by app)" if cost_usd is not None or latency_s else "(unknown)"
        return cls([CallUsage(slot=None, model=model, cost_usd=cost_usd, latency_s=latency_s)])

    def __iter__(self) -> Iterator[CallUsage]:
        return iter(self.calls)

    def __len__(self) -> int:
        return len(self.calls)

    def add(self, call: CallUsage) -> None:
        self.calls.append(call)

    def extend(self, calls: Iterable[CallUsage]) -> None:
        self.calls.extend(calls)

    @property
    def cost_usd(self) -> float | None:
        """Total USD; None if any call could not be priced (never a silent 0)."""
        costs = [c.cost_usd for c in self.calls]
        if any(c is None for c in costs):
            return None
        return float(sum(costs))  # type: ignore[arg-type]

    @property
    def latency_s(self) -> float:
        """Model seconds of the run: calls add up, except the samples of one step, which ran side
        by side and count as their slowest."""
        alone = sum(c.latency_s for c in self.calls if c.sample_group is None)
        groups: dict[str, float] = {}
        for c in self.calls:
            if c.sample_group is not None:
                groups[c.sample_group] = max(groups.get(c.sample_group, 0.0), c.latency_s)
        return alone + sum(groups.values())

    @property
    def input_tokens(self) -> int:
        return sum(c.input_tokens for c in self.calls)

    @property
    def output_tokens(self) -> int:
        return sum(c.output_tokens for c in self.calls)

    @property
    def unattributed(self) -> list[CallUsage]:
        return [c for c in self.calls if c.slot is None]

    def by_slot(self) -> dict[str | None, list[CallUsage]]:
        out: dict[str | None, list[CallUsage]] = {}
        for c in self.calls:
            out.setdefault(c.slot, []).append(c)
        return out

    def models_by_slot(self) -> dict[str | None, set[str]]:
        return {slot: {c.model for c in calls} for slot, calls in self.by_slot().items()}


@dataclass(frozen=True)
class FailedRun:
    """The output of a run that produced no usable answer (e.g. the model's reply could not be
    parsed).

    Runners return ``(FailedRun(...), usage)`` instead of raising, so the caller scores the
    example as wrong while still counting the calls it paid for. ``kind`` is a short machine
    tag (``"parse_error"``); ``error`` the human-readable message. It is falsy.
    """

    error: str
    kind: str = "parse_error"
    slot: str | None = None

    def __bool__(self) -> bool:
        return False


def is_failed(output: Any) -> bool:
    """True when ``output`` is a FailedRun marker returned by a Runner."""
    return isinstance(output, FailedRun)
