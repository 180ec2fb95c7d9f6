"""What one evaluation of one combination on one example produced."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["Outcome", "UsageRow"]


class UsageRow(NamedTuple):
    """The model calls one slot made with one model on one example.

    ``slot`` is None for calls no slot explains (unattributed); ``cost_usd`` None when unpriced.
    """

    slot: str | None
    model: str
    calls: int
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None


@dataclass(frozen=True)
class Outcome:
    """Score in [0, 1] (higher is better), dollars and seconds spent; ``error`` marks a failed run.

    ``usage``: optional per-(slot, model) call table. When given, a slot with no row made no call
    on this example, so the outcome also holds for every combination that differs only in such
    slots (the search records it for them without paying again); tokens per model allow re-pricing
    later.
    """

    score: float
    cost_usd: float | None = 0.0
    latency_s: float = 0.0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    usage: tuple[UsageRow, ...] | None = None

    def __post_init__(self) -> None:
        if self.usage is not None and not isinstance(self.usage, tuple):
            object.__setattr__(self, "usage", _usage_rows(self.usage))

    @classmethod
    def failed(cls, error: str, cost_usd: float = 0.0, latency_s: float = 0.0,
               usage: Iterable[Any] | None = None) -> Outcome:
        """A run that failed: score 0, real cost kept."""
        return cls(score=0.0, cost_usd=cost_usd, latency_s=latency_s, error=error,
                   usage=None if usage is None else _usage_rows(usage))

    def called_slots(self) -> frozenset[str] | None:
        """Slots that made at least one call; None when unknown (no usage,
        or unattributed calls)."""
        if self.usage is None or any(r.slot is None and r.calls > 0 for r in self.usage):
            return None
        return frozenset(r.slot for r in self.usage if r.calls > 0 and r.slot is not None)

    def check(self, where: str) -> Outcome:
        """Validate; ``where`` names the combination and example in the error."""
        s = self.score
        if isinstance(s, bool) or not isinstance(s, numbers.Real) or math.isnan(s) \
                or not 0.0 <= s <= 1.0:
            raise ValueError(f"score {s!r} for {where} is not a number in [0, 1]; make the metric "
                             "return a float in [0, 1]")
        for name in ("cost_usd", "latency_s"):
            v = getattr(self, name)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) \
                    or v < 0:
                raise ValueError(f"{name} {v!r} for {where} must be a non-negative number")
        for row in self.usage or ():
            _check_row(row, where)
        return self


def _usage_rows(rows: Iterable[Any]) -> tuple[UsageRow, ...]:
    try:
        return tuple(r if isinstance(r, UsageRow) else UsageRow(*r) for r in rows)
    except TypeError as exc:
        raise ValueError("usage must be rows (slot, model, calls, input_tokens, output_tokens, "
                         f"cost_usd): {exc}") from None


def _check_row(row: UsageRow, where: str) -> None:
    ok = (row.slot is None or isinstance(row.slot, str)) and isinstance(row.model, str) and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0
        for v in (row.calls, row.input_tokens, row.output_tokens)
    ) and (row.cost_usd is None
           or (isinstance(row.cost_usd, numbers.Real) and not isinstance(row.cost_usd, bool)
                                    and math.isfinite(row.cost_usd) and row.cost_usd >= 0))
    if not ok:
        raise ValueError(f"usage row {tuple(row)!r} for {where} must be (slot or None, model, "
                         "calls, input_tokens, output_tokens, cost_usd or None) with non-negative "
                         "counts")
