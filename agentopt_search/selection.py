"""The selection rule: which combination a search picks, given the objective and the constraints.

``objective="score"`` (default): the best score; the search certifies a pick within ``tolerance``
of the best. ``objective="cost"``: the cheapest combination whose score is within ``tolerance``
of the best; the search certifies that the pick is within tolerance and that every combination
measured cheaper (by more than ``COST_SLACK``, 5%) is not. A dict of weights over ``score``,
``cost`` (dollars per example) and ``latency`` (seconds): the largest weighted sum of measured
means (the search eliminates only combinations beaten on score and no cheaper nor faster; no
certificate).

Constraints ``max_cost_per_example`` / ``max_latency_s`` are checked on measured means (costs and
latencies have no a priori bound, so no finite-sample bound on their means holds; the confidence
statement treats this check as exact). ``min_score`` drops combinations whose certified upper
bound is below it; a pick whose measured score is below it is no pick.

Every strategy's ``pick`` goes through ``pick`` below, so the rule lives in one place.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .state import SearchState

__all__ = ["COST_SLACK", "OBJECTIVE_KEYS", "check_objective", "check_selection", "feasible",
           "pick", "weighted", "objective_kind"]

OBJECTIVE_KEYS = ("score", "cost", "latency")
#: Measured costs within this fraction of each other count as equal: a combination certified within
#: tolerance is the pick if no surviving one measures more than 5% cheaper (costs are measured, not
#: bounded, so "the cheapest" is up to this slack and the error of the measured means).
COST_SLACK = 0.05


def _real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def check_objective(objective: Any) -> str | dict[str, float]:
    """``objective`` as the search uses it, or one clear ``ValueError``."""
    if isinstance(objective, str) and objective in ("score", "cost"):
        return objective
    if isinstance(objective, Mapping):
        bad = sorted(set(map(str, objective)) - set(OBJECTIVE_KEYS))
        if bad or not objective:
            raise ValueError(f"objective weights may use the keys {list(OBJECTIVE_KEYS)}, got "
                             f"{sorted(map(str, objective))}")
        weights = {k: objective.get(k, 0.0) for k in OBJECTIVE_KEYS}
        if not all(_real(v) for v in weights.values()):
            raise ValueError(f"objective weights must be finite numbers, got {dict(objective)!r}")
        if (weights["score"] < 0 or weights["cost"] > 0 or weights["latency"] > 0
                or not any(weights.values())):
            raise ValueError("objective weights: 'score' must be >= 0 and 'cost', 'latency' <= 0 "
                             "(higher score, lower cost and latency are better), not all 0; got "
                             f"{dict(objective)!r}, "
                             "e.g. {'score': 1, 'cost': -100, 'latency': -0.01}")
        return {k: float(v) for k, v in weights.items()}
    raise ValueError(f"objective must be 'score', 'cost' or a dict of weights like "
                     f"{{'score': 1, 'cost': -100, 'latency': -0.01}}, got {objective!r}")


def check_selection(objective: Any, tolerance: Any, max_cost_per_example: Any, max_latency_s: Any,
                    min_score: Any) -> dict[str, Any]:
    """Validated selection settings (one clear ``ValueError`` naming the bad one)."""
    if not _real(tolerance) or not 0 <= tolerance < 1:
        raise ValueError(f"tolerance (epsilon) must be a number in [0, 1), got {tolerance!r}")
    for name, v in (("max_cost_per_example", max_cost_per_example),
                    ("max_latency_s", max_latency_s)):
        if v is not None and (not _real(v) or v < 0):
            raise ValueError(f"{name} must be a non-negative number or None, got {v!r}")
    if min_score is not None and (not _real(min_score) or not 0 <= min_score <= 1):
        raise ValueError(f"min_score must be a number in [0, 1] or None, got {min_score!r}")
    return dict(objective=check_objective(objective), epsilon=float(tolerance),
                max_cost_per_example=None if max_cost_per_example is None
                else float(max_cost_per_example),
                max_latency_s=None if max_latency_s is None else float(max_latency_s),
                min_score=None if min_score is None else float(min_score))


def objective_kind(state: SearchState) -> str:
    """``"score"``, ``"cost"`` or ``"weights"``."""
    return state.objective if isinstance(state.objective, str) else "weights"


def _mean(rows: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nansum(rows, axis=1) / (~np.isnan(rows)).sum(axis=1)


def feasible(state: SearchState, combos: Sequence[int] | np.ndarray,
             cost: np.ndarray | None = None, latency: np.ndarray | None = None) -> np.ndarray:
    """Which of ``combos`` meet ``max_cost_per_example`` and ``max_latency_s`` on measured means
    (``cost`` / ``latency``: the means to use, default every observed cell; unmeasured = feasible,
    an unpriced combination meets any cost cap)."""
    combos = np.asarray(combos, dtype=int)
    ok = np.ones(combos.size, dtype=bool)
    for cap, given, rows in ((state.max_cost_per_example, cost, state.costs),
                             (state.max_latency_s, latency, state.latencies)):
        if cap is not None and combos.size:
            means = given if given is not None else _mean(rows[combos])
            ok &= ~(np.nan_to_num(means, nan=0.0) > cap)
    return ok


def weighted(state: SearchState, combos: Sequence[int] | np.ndarray,
             scores: np.ndarray) -> np.ndarray:
    """The weighted objective of ``combos`` given their ``scores`` (measured cost and latency)."""
    w = state.objective if isinstance(state.objective, dict) else {"score": 1.0}
    combos = np.asarray(combos, dtype=int)
    cost = np.nan_to_num(_mean(state.costs[combos]), nan=0.0)
    latency = np.nan_to_num(_mean(state.latencies[combos]), nan=0.0)
    return (w.get("score", 0.0) * scores + w.get("cost", 0.0) * cost
            + w.get("latency", 0.0) * latency)


def _common_means(state: SearchState, combos: np.ndarray) -> np.ndarray:
    """Mean scores on the items every one of ``combos`` saw (paired),
    or their own means if none."""
    rows = state.scores[combos]
    common = (~np.isnan(rows)).all(axis=0)
    return rows[:, common].mean(axis=1) if common.any() else _mean(rows)


def _failed_everywhere(state: SearchState, c: int) -> bool:
    """Whether every item ``c`` was scored on is an error."""
    return all((c, int(p)) in state.errors for p in np.flatnonzero(~np.isnan(state.scores[c])))


def _usable(state: SearchState, pool: np.ndarray) -> np.ndarray:
    """``pool`` without the combinations that have no evidence, failed on every item they ran or
    break a constraint."""
    if not pool.size:
        return pool
    n = state.n_observed(pool)
    failed = np.array([_failed_everywhere(state, int(c)) for c in pool], dtype=np.bool_)
    return pool[(n > 0) & ~failed & feasible(state, pool)]


def _best(state: SearchState, kind: str, pool: np.ndarray, uncertified: bool) -> int:
    """The best of ``pool`` (all usable) for the objective ``kind``. ``uncertified`` (no certified
    set given): the cost objective first keeps the means within tolerance of the best mean."""
    means = _common_means(state, pool)
    cost = np.nan_to_num(_mean(state.costs[pool]), nan=np.inf)
    if kind == "cost":
        if uncertified:
            keep = means >= means.max() - state.epsilon - 1e-12
            pool, means, cost = pool[keep], means[keep], cost[keep]
        order = np.lexsort((pool, -means, cost))
    elif kind == "weights":
        order = np.lexsort((pool, cost, -weighted(state, pool, means)))
    else:
        order = np.lexsort((pool, cost, -means))
    return int(pool[order[0]])


def pick(state: SearchState, candidates: Sequence[int] | np.ndarray,
         certified: Sequence[int] | np.ndarray | None = None,
         objective: str | None = None) -> int | None:
    """The pick among ``candidates`` under the objective and constraints; ``certified``: those a
    strategy proved within tolerance of the best (the pick comes from them when given). None when
    no candidate with evidence meets the constraints. ``objective`` ("score", "cost", "weights")
    overrides the state's kind for strategies that answer a fixed question (``threshold_se``)."""
    kind = objective or objective_kind(state)
    if kind == "weights":
        certified = None  # certificates are on score alone; weights rank every candidate
    pool = np.asarray(certified if certified is not None and len(certified) else candidates,
                      dtype=int)
    pool = _usable(state, pool)
    if pool.size == 0:
        return None
    best = _best(state, kind, pool, certified is None or not len(certified))
    if state.min_score is not None and _mean(state.scores[[best]])[0] < state.min_score:
        return None
    return best
