"""How numbers read in summaries and plots: NaN as missing, dollars at a useful precision."""

from __future__ import annotations

import math

__all__ = ["as_number", "usd"]


def as_number(v: float | None) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def usd(v: float | None) -> str:
    return "n/a" if as_number(v) is None else (f"${v:,.5f}" if v < 0.01 else f"${v:,.4f}")  # type: ignore[operator]
