"""What one evaluation of one combination on one example produced."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Outcome"]


@dataclass(frozen=True)
class Outcome:
    """Score in [0, 1] (higher is better), dollars and seconds spent; ``error`` marks a failed run."""

    score: float
    cost_usd: float = 0.0
    latency_s: float = 0.0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def failed(cls, error: str, cost_usd: float = 0.0, latency_s: float = 0.0) -> "Outcome":
        """A run that failed: score 0, real cost kept."""
        return cls(score=0.0, cost_usd=cost_usd, latency_s=latency_s, error=error)

    def check(self, where: str) -> "Outcome":
        """Validate; ``where`` names the combination and example in the error."""
        s = self.score
        if isinstance(s, bool) or not isinstance(s, numbers.Real) or math.isnan(s) or not 0.0 <= s <= 1.0:
            raise ValueError(f"score {s!r} for {where} is not a number in [0, 1]; make the metric return a float in [0, 1]")
        for name in ("cost_usd", "latency_s"):
            v = getattr(self, name)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v < 0:
                raise ValueError(f"{name} {v!r} for {where} must be a non-negative number")
        return self
