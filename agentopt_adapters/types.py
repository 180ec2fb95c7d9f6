"""Plain data shared by every adapter: slots, per-call usage, a run's usage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

__all__ = ["Slot", "CallUsage", "Usage", "FailedRun", "is_failed"]


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Usage:
    """Every model call of one run, in call order."""

    calls: list[CallUsage] = field(default_factory=list)

    def __iter__(self):
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
    """The output of a run that produced no usable answer (e.g. the model's reply could not be parsed).

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
