"""Shared pieces of the strategies (not a strategy: modules starting with ``_`` are not registered).

``Race``: certify the pick among a set of candidates (``arm_elimination`` races every combination;
``screening``, ``bayesian``, ``lm_proposal`` and ``hill_climbing`` race the ones they chose).

Each decision, on each candidate's observed prefix of the shared item order:

1. drop candidates that break a constraint (measured cost / latency; upper bound below ``min_score``);
2. eliminate candidates certified worse than one of the ``compare_top`` best (paired lower bound of
   ``x_j - x_c`` above ``margin``, or one-sample upper bound below ``j``'s lower bound minus
   ``margin``; ``margin`` = 0 for the score objective, ``tolerance`` for the cost objective: only
   combinations certified outside the tolerance can never be the pick);
3. stop when the pick is certified (``certify.py``): score objective, some leader ``h`` with every
   other candidate certified at most ``tolerance`` above it; cost objective, some candidate so
   certified whose measured cost is within ``COST_SLACK`` of the cheapest surviving one;
4. otherwise plan who gets more items: a candidate that would finish the race by itself if it kept
   its mean (every other upper bound at most its mean + tolerance: the ceiling case) is pushed
   alone, the one cheapest to complete first; else the leader, the cheapest likely-good candidate,
   the cheaper ones that must still be ruled out and the ones not yet covered by it go to the next
   look of a x1.2 grid together (the rest wait: they may never be needed).

Bounds are anytime-valid, so looking after any number of items costs nothing; levels are set by
``certify.levels`` for ``k`` candidates (the guarantee is relative to the candidates).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import selection
from ..certify import Certifier, levels
from ..state import Cell, SearchState
from ..stats import look_schedule, next_look

__all__ = ["Race", "ranked", "price_order"]


def ranked(state: SearchState, combos: Sequence[int] | np.ndarray, n: int | None = None) -> np.ndarray:
    """``combos`` best first: mean on the first ``n`` items (all observed if None), equal means
    go to the cheaper (observed cost per item), then the lower index."""
    combos = np.asarray(combos, dtype=int)
    if combos.size == 0:
        return combos
    x = state.scores[combos] if n is None else state.scores[combos, :n]
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.nansum(x, axis=1) / (~np.isnan(x)).sum(axis=1)
    cost = np.nan_to_num(state.cost_per_item(combos), nan=np.inf)
    return combos[np.lexsort((combos, cost, -np.nan_to_num(means, nan=-np.inf)))]


def price_order(state: SearchState, combos: Sequence[int]) -> list[int]:
    """``combos`` cheapest first by estimated cost per item; unknown cost last, in candidate order."""
    combos = np.asarray(combos, dtype=int)
    cost = state.estimated_cost_per_item()[combos]
    return combos[np.lexsort((combos, np.nan_to_num(cost, nan=np.inf)))].tolist()


class Race:
    """Certify the pick among ``candidates`` (the caller eliminates everything else)."""

    def __init__(self, state: SearchState, candidates: Sequence[int], first: int | None = None,
                 growth: float = 1.2, compare_top: int = 3, label: str = "") -> None:
        self.candidates = np.array(sorted({int(c) for c in candidates}), dtype=int)
        self.schedule = look_schedule(state.n_items, first, growth)
        self.kind = selection.objective_kind(state)
        state.pair_alpha, state.one_alpha = levels(state.alpha, self.candidates.size, self.kind)
        self.cert = Certifier(state, state.pair_alpha, state.one_alpha)
        self.compare_top = compare_top
        self.label = label
        self.plan: dict[int, int] = {int(c): self.schedule[0] for c in self.candidates}
        self.certified: list[int] = []
        self.done = self.candidates.size == 0

    def alive(self, state: SearchState) -> np.ndarray:
        return np.array([c for c in self.candidates if state.status[c] == "alive"], dtype=int)

    def propose(self, state: SearchState) -> list[Cell]:
        while not self.done:
            cells = [cell for c, n in self.plan.items() if state.status[c] == "alive"
                     for cell in state.cells_upto([c], n)]
            if cells:
                return cells
            self.done = self.decide(state)
        return []

    def pick(self, state: SearchState) -> int | None:
        certified = [c for c in self.certified if state.status[c] == "alive"]
        return selection.pick(state, self.alive(state), certified or None)

    # -- one decision ------------------------------------------------------------------------------
    def decide(self, state: SearchState) -> bool:
        """Eliminate, check the certificate, plan the next items; True when the race is over."""
        self._drop_infeasible(state)
        alive = self.alive(state)
        if alive.size > 1:
            self._eliminate(state, alive)
            alive = self.alive(state)
        if alive.size <= 1:
            self.certified = alive.tolist()
            return True
        view = _View(state, self.cert, alive)
        if self._certify(state, view):
            return True
        self.plan = self._next(state, view)
        return not self.plan

    def _drop_infeasible(self, state: SearchState) -> None:
        alive = self.alive(state)
        if alive.size == 0:
            return
        for c in alive[~selection.feasible(state, alive)]:
            state.eliminate(int(c), "breaks max_cost_per_example / max_latency_s (measured means)", kind="infeasible")
        if state.min_score is not None:
            alive = self.alive(state)
            for c in alive[self.cert.upper_below(alive, state.min_score)]:
                state.eliminate(int(c), f"certified below min_score {state.min_score:g}", kind="infeasible")

    def _eliminate(self, state: SearchState, alive: np.ndarray) -> None:
        margin = state.tolerance if self.kind == "cost" else 0.0
        view = _View(state, self.cert, alive)
        top = alive[view.order[: self.compare_top]]
        lows = self.cert.bounds(top)[0]
        strongest = int(top[int(np.argmax(lows))])
        # One-sample: below the highest lower bound among the top (minus the margin).
        out = self.cert.upper_below(alive, float(lows.max()) - margin) & self._dominates(state, strongest, alive)
        self._drop(state, view, alive[out & (alive != strongest)], strongest, margin)
        # Paired: against each of the top, on the rows whose mean difference leaves room for it.
        for j in top.tolist():
            live = self.alive(state)
            if state.status[j] != "alive":
                continue
            gap = view.mean_of(j) - np.array([view.mean_of(int(c)) for c in live])
            maybe = live[(gap > margin) & self._dominates(state, j, live)]
            self._drop(state, view, maybe[self.cert.beats(j, maybe, margin)], j, margin)

    def _drop(self, state: SearchState, view: "_View", combos: np.ndarray, j: int, margin: float) -> None:
        for c in combos.tolist():
            state.eliminate(int(c), f"{self.label}certified {'more than the tolerance ' if margin else ''}below "
                                    f"{state.space.key(j)} after {view.count_of(int(c))} items")

    def _dominates(self, state: SearchState, j: int, combos: np.ndarray) -> np.ndarray:
        """With weights, ``j`` may eliminate only combinations it also matches on cost and latency."""
        if self.kind != "weights":
            return np.ones(combos.size, dtype=bool)
        w = state.objective
        ok = np.ones(combos.size, dtype=bool)
        for key, rows in (("cost", state.costs), ("latency", state.latencies)):
            if w.get(key, 0.0):  # type: ignore[union-attr]
                v = np.nan_to_num(_row_means(rows[combos]), nan=0.0)
                ok &= np.nan_to_num(_row_means(rows[[j]]), nan=0.0)[0] <= v
        return ok

    def _certify(self, state: SearchState, view: "_View") -> bool:
        good = [h for h in view.holder_candidates() if view.covers_all(h)]
        if good:
            self.certified = good
            return True
        return False

    def _next(self, state: SearchState, view: "_View") -> dict[int, int]:
        """Who gets more items, up to how many."""
        alive, tol, last = view.alive, state.tolerance, state.n_items
        lead = view.leader
        goal = view.cheapest_likely() if self.kind == "cost" else lead
        cheaper = view.cheaper_than(goal) if self.kind == "cost" else np.zeros(0, dtype=int)
        if cheaper.size == 0:
            pushed = self._push(view)
            if pushed is not None:
                return {pushed: next_look(self.schedule, int(view.count_of(pushed)))}
        unc = alive[~view.covered(goal)]
        if unc.size:
            far = unc[~self.cert.upper_below(unc, view.mean_of(goal) + tol)]
            unc = far if far.size else unc
        group = np.unique(np.concatenate([[lead, goal], cheaper, unc]).astype(int))
        group = group[view.counts_of(group) < last]
        if group.size == 0:
            group = alive[view.counts_of(alive) < last]
            if group.size == 0:
                return {}
        target = next_look(self.schedule, int(view.counts_of(group).min()))
        return {int(c): target for c in group}

    def _push(self, view: "_View") -> int | None:
        """A candidate that finishes the race alone if it keeps its mean (every other upper bound
        at most its mean + tolerance), the cheapest to complete; None if there is none."""
        state = view.state
        best = None
        for h in view.holder_candidates():
            if view.count_of(h) >= state.n_items:
                continue
            bar = view.mean_of(h) + state.tolerance + 1e-12
            others = view.alive[view.alive != h]
            if view.means[view.alive != h].max(initial=-1.0) > bar:  # someone already measures above it
                continue
            if self.cert.upper_below(others, bar).all():
                remaining = view.cost_of(h) * (state.n_items - view.count_of(h))
                if best is None or remaining < best[0]:
                    best = (remaining, h)
        return None if best is None else best[1]


def _row_means(rows: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nansum(rows, axis=1) / (~np.isnan(rows)).sum(axis=1)


class _View:
    """The alive candidates at one decision: prefix counts, means, measured costs, ranking."""

    def __init__(self, state: SearchState, cert: Certifier, alive: np.ndarray) -> None:
        self.state, self.cert, self.alive = state, cert, alive
        self.counts = cert.counts(alive)
        self.means = np.nan_to_num(cert.means(alive), nan=-1.0)
        self.costs = np.nan_to_num(_row_means(state.costs[alive]), nan=0.0)
        self.order = np.lexsort((alive, self.costs, -self.counts, -self.means))
        self.pos = {int(c): i for i, c in enumerate(alive)}
        self.leader = int(alive[self.order[0]])
        self._covered: dict[int, np.ndarray] = {}

    def covered(self, h: int) -> np.ndarray:
        """Which alive candidates are certified at most ``tolerance`` above ``h`` (cached)."""
        if h not in self._covered:
            self._covered[h] = self.cert.covered(self.alive, h, self.state.tolerance)
        return self._covered[h]

    def covers_all(self, h: int) -> bool:
        """Whether ``h`` covers every alive candidate; the best-ranked ones (likeliest to fail) are
        tried first, so a holder that fails usually costs a handful of tests."""
        if h in self._covered:
            return bool(self._covered[h].all())
        head = self.alive[self.order[:16]]
        if not self.cert.covered(head, h, self.state.tolerance).all():
            return False
        return bool(self.covered(h).all())

    def count_of(self, c: int) -> int:
        return int(self.counts[self.pos[c]])

    def counts_of(self, combos: np.ndarray) -> np.ndarray:
        return np.array([self.counts[self.pos[int(c)]] for c in combos], dtype=int)

    def mean_of(self, c: int) -> float:
        return float(self.means[self.pos[c]])

    def cost_of(self, c: int) -> float:
        return float(self.costs[self.pos[c]])

    def likely(self) -> np.ndarray:
        """Positions of candidates whose mean is within tolerance of the leader's."""
        return np.flatnonzero(self.means >= self.mean_of(self.leader) - self.state.tolerance - 1e-12)

    def cheapest_likely(self) -> int:
        likely = self.likely()
        return int(self.alive[likely[np.lexsort((-self.means[likely], self.costs[likely]))[0]]])

    def cheaper_than(self, goal: int) -> np.ndarray:
        """Candidates measured cheaper than ``goal`` by more than ``COST_SLACK`` (they must be ruled out)."""
        return self.alive[self.costs * (1 + selection.COST_SLACK) < self.cost_of(goal)]

    def holder_candidates(self, affordable: bool | None = None) -> list[int]:
        """Who may hold the certificate: the three best means and the highest lower bound among the
        top; with the cost objective, only candidates within ``COST_SLACK`` of the cheapest."""
        if affordable is None:
            affordable = selection.objective_kind(self.state) == "cost"
        idx = self.order
        if affordable:
            cheap = self.costs <= (1 + selection.COST_SLACK) * self.costs.min() + 1e-15
            idx = idx[cheap[idx]]
        top = self.alive[idx[:8]]
        out = [int(c) for c in top[:3]]
        if top.size:
            out.append(int(top[int(np.argmax(self.cert.bounds(top)[0]))]))
        return list(dict.fromkeys(out))
