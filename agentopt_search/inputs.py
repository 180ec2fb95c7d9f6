"""Checks of ``search``'s arguments: one clear ValueError each, before anything is paid."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

from .space import SearchSpace

__all__ = ["check_inputs", "check_anchors"]


def check_inputs(evaluate: Any, examples: Iterable[Any], *, max_concurrency: Any, seed: Any,
                 budget_usd: Any, confidence: Any) -> list[Any]:
    """The examples as a list; ValueError naming the first bad argument."""
    if not callable(evaluate):
        raise ValueError("evaluate must be a function evaluate(assignment, example) -> Outcome")
    items = _examples(examples)
    if not _is_int(max_concurrency) or max_concurrency < 1:
        raise ValueError(f"max_concurrency must be a positive integer, got {max_concurrency!r}")
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if budget_usd is not None and (isinstance(budget_usd, bool)
                                   or not isinstance(budget_usd, numbers.Real)
                                   or math.isnan(budget_usd) or budget_usd < 0):
        raise ValueError("budget_usd must be a non-negative number of dollars or None, got "
                         f"{budget_usd!r}")
    if not _is_real(confidence) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return items


def _examples(examples: Any) -> list[Any]:
    if isinstance(examples, (str, bytes, Mapping)):
        raise ValueError(f"examples must be a list of examples, got {type(examples).__name__}")
    try:
        items = list(examples)
    except TypeError:
        raise ValueError("examples must be an iterable of examples, got "
                         f"{type(examples).__name__}") from None
    if not items:
        raise ValueError("examples is empty; give at least one example to evaluate on")
    return items


def check_anchors(anchors: Any, space: SearchSpace) -> dict[str, dict[str, str]]:
    """``{name: {slot: value}}`` with every slot of the space (values need not be candidates)."""
    if anchors is None:
        return {}
    if not isinstance(anchors, Mapping):
        raise ValueError(f"anchors must be a dict {{name: {{slot: value}}}}, got "
                         f"{type(anchors).__name__}")
    out: dict[str, dict[str, str]] = {}
    for name, assignment in anchors.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"anchor names must be non-empty strings, got {name!r}")
        if not isinstance(assignment, Mapping) or set(assignment) != set(space.names):
            got = sorted(assignment) if isinstance(assignment, Mapping) else assignment
            raise ValueError(f"anchor {name!r} must give a value for each slot "
                             f"{list(space.names)}, got {got!r}")
        bad = [v for v in assignment.values() if not isinstance(v, str) or not v]
        if bad:
            raise ValueError(f"anchor {name!r}: values must be non-empty strings, got {bad[0]!r}")
        out[name] = {s: str(assignment[s]) for s in space.names}
    return out


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    """A finite real number (not a bool)."""
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)
