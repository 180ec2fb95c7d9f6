"""Shared pieces of the strategies (not a strategy: modules starting with ``_`` are not
registered).

``Race``: certify the pick among a set of candidates (``arm_elimination`` races every combination;
``screening``, ``bayesian``, ``lm_proposal`` and ``hill_climbing`` race the ones they chose).

Each decision, on each candidate's observed prefix of the shared item order:

1. drop candidates that break a constraint (measured cost / latency; upper bound below
   ``min_score``);
2. eliminate candidates certified worse than one of the ``compare_top`` best means (paired lower
   bound of ``x_j - x_c`` above ``margin``) or than the highest one-sample lower bound (their upper
   bound below it minus ``margin``); ``margin`` = 0 for the score objective, ``tolerance`` for the
   cost objective (only combinations certified outside the tolerance can never be the pick); with
   weights, only combinations the other also matches on measured cost and latency;
3. stop when the pick is certified (``certify.py``): score objective, some leader ``h`` with every
   other candidate certified at most ``tolerance`` above it; cost objective, some candidate so
   certified whose measured cost is within ``COST_SLACK`` of the cheapest surviving one;
4. otherwise plan who gets more items: a candidate that could finish the race by itself (at its
   last item its lower bound is its mean; with a perfect record from here, or plausibly, that mean
   + tolerance reaches every other upper bound: the ceiling case) is evaluated alone, one look at a
   time, and kept while it still can (``_push``); else the leader, the cheapest likely-good
   candidate, the cheaper ones that must still be ruled out and the ones not yet covered by it go
   to the next look of a x1.2 grid together (the rest wait: they may never be needed); the grid
   gets finer as the unseen items run out (``stats.look_schedule``).

Bounds are anytime-valid, so looking after any number of items costs nothing; levels are set by
``certify.levels`` for ``k`` candidates (the guarantee is relative to the candidates).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import selection
from ..certify import Certifier, levels
from ..state import Cell, SearchState
from ..stats import look_schedule, next_look

__all__ = ["Race", "ranked", "price_order"]


def ranked(state: SearchState, combos: Sequence[int] | np.ndarray,
           n: int | None = None) -> np.ndarray:
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


def price_order(state: SearchState, combos: Sequence[int] | np.ndarray) -> list[int]:
    """``combos`` cheapest first by estimated cost per item; unknown cost last,
    in candidate order."""
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
        self.cert.limit[self.candidates] = self.schedule[0] if self.schedule else 0
        self.certified: list[int] = []
        self._pushing: int | None = None
        self.done = self.candidates.size == 0

    def alive(self, state: SearchState) -> np.ndarray:
        """The candidates still alive (recomputed only after an elimination)."""
        key = len(state.kinds)
        if getattr(self, "_alive_key", None) != key:
            status = state.status
            self._alive_key = key
            self._alive = (self.candidates[[status[c] == "alive"
                                            for c in self.candidates.tolist()]]
                           if self.candidates.size else self.candidates)
        return self._alive

    def propose(self, state: SearchState) -> list[Cell]:
        while not self.done:
            cells = []
            for n in sorted(set(self.plan.values())):
                combos = [c for c, k in self.plan.items() if k == n and state.status[c] == "alive"]
                self.cert.allow(combos, n)
                cells += state.cells_upto(combos, n)
            if cells:
                return cells
            self.done = self.decide(state)
        return []

    def pick(self, state: SearchState) -> int | None:
        certified = [c for c in self.certified if state.status[c] == "alive"]
        return selection.pick(state, self.alive(state), certified or None)

    # -- one decision --------------------------------------------------------------------------
    def decide(self, state: SearchState) -> bool:
        """Eliminate, check the certificate, plan the next items; True when the race is over."""
        self._drop_infeasible(state)
        alive = self.alive(state)
        if alive.size > 1:
            view = _View(state, self.cert, alive)
            self._eliminate(state, view)
            alive = self.alive(state)
        if alive.size <= 1:
            self.certified = alive.tolist()
            return True
        if alive.size != view.alive.size:
            # the view before the eliminations serves when there were none
            view = _View(state, self.cert, alive)
        if self._certify(state, view):
            return True
        self.plan = self._next(state, view)
        return not self.plan

    def _drop_infeasible(self, state: SearchState) -> None:
        alive = self.alive(state)
        if alive.size == 0:
            return
        for c in alive[~selection.feasible(state, alive, self.cert.costs(alive),
                                           self.cert.latencies(alive))]:
            state.eliminate(int(c), "breaks max_cost_per_example / max_latency_s (measured means)",
                            kind="infeasible")
        if state.min_score is not None:
            alive = self.alive(state)
            for c in alive[self.cert.upper_below(alive, state.min_score)]:
                state.eliminate(int(c), f"certified below min_score {state.min_score:g}",
                                kind="infeasible")

    def _eliminate(self, state: SearchState, view: _View) -> None:
        margin = state.tolerance if self.kind == "cost" else 0.0
        alive = view.alive
        # One-sample: an upper bound below the highest lower bound (minus the margin).
        strongest = int(alive[int(np.argmax(view.low))])
        out = ((view.up < view.low.max() - margin) & self._dominates(state, strongest, alive)
               & (alive != strongest))
        self._drop(state, view, alive[out], strongest, margin)
        # Paired: against each of the best means, on the rows whose mean difference leaves room for
        # it.
        for j in alive[view.order[: self.compare_top]].tolist():
            live = self.alive(state)
            if state.status[j] != "alive":
                continue
            gap = view.mean_of(j) - view.means_of(live)
            maybe = live[(gap > margin) & self._dominates(state, j, live)]
            self._drop(state, view, maybe[self.cert.beats(j, maybe, margin)], j, margin)

    def _drop(self, state: SearchState, view: _View, combos: np.ndarray, j: int,
              margin: float) -> None:
        for c in combos.tolist():
            state.eliminate(int(c), f"{self.label}certified "
                                    f"{'more than the tolerance ' if margin else ''}below "
                                    f"{state.space.key(j)} after {view.count_of(int(c))} items")

    def _dominates(self, state: SearchState, j: int, combos: np.ndarray) -> np.ndarray:
        """With weights, ``j`` may eliminate only combinations
        it also matches on cost and latency."""
        if self.kind != "weights":
            return np.ones(combos.size, dtype=bool)
        w = state.objective
        ok = np.ones(combos.size, dtype=bool)
        for key, measured in (("cost", self.cert.costs), ("latency", self.cert.latencies)):
            if w.get(key, 0.0):  # type: ignore[union-attr]
                ok &= measured([j])[0] <= measured(combos)
        return ok

    def _certify(self, state: SearchState, view: _View) -> bool:
        good = [h for h in view.holder_candidates() if view.covers_all(h)]
        if good:
            self.certified = good
            return True
        return False

    def _next(self, state: SearchState, view: _View) -> dict[int, int]:
        """Who gets more items, up to how many."""
        alive, tol, last = view.alive, state.tolerance, state.n_items
        lead = view.leader
        goal = view.cheapest_likely() if self.kind == "cost" else lead
        cheaper = view.cheaper_than(goal) if self.kind == "cost" else np.zeros(0, dtype=int)
        if cheaper.size == 0:
            pushed = self._push(view)
            if pushed is not None:
                return {pushed: next_look(self.schedule, int(view.count_of(pushed)))}
        unc = ~view.covered(goal)
        far = unc & (view.up > view.mean_of(goal) + tol)
        unc = alive[far] if far.any() else alive[unc]
        group = np.unique(np.concatenate([[lead, goal], cheaper, unc]).astype(int))
        group = group[view.counts_of(group) < last]
        if group.size == 0:
            group = alive[view.counts_of(alive) < last]
            if group.size == 0:
                return {}
        target = next_look(self.schedule, int(view.counts_of(group).min()))
        return {int(c): target for c in group}

    def _push(self, view: _View) -> int | None:
        """The candidate to evaluate alone first (None: none): one that would finish the race
        alone, its own lower bound at the last item passing every other upper bound minus the
        tolerance (the ceiling case). Kept while it still can; else the cheapest to complete among
        those that would if their record stayed perfect from here; else the most promising (fewest
        misses per item) among those that plausibly could (two standard errors up, and not above a
        perfect finish)."""
        state = view.state
        top2 = np.sort(view.up)[-2:] if view.up.size > 1 else np.r_[view.up, view.up]
        # max upper bound of the others
        others_up = np.where(view.up >= top2[-1], top2[0], top2[-1])
        rest = state.n_items - view.counts
        hope = (view.means * view.counts + 1.0) / (view.counts + 1.0)
        # its mean if every item left is a success
        best = (view.means * view.counts + rest) / state.n_items
        open_ = rest > 0
        if self.kind == "cost":
            open_ &= view.affordable()
        likely = open_ & (hope + state.tolerance + 1e-12 >= others_up)
        # two standard errors up
        plausible = hope + 2 * np.sqrt(hope * (1 - hope) / (view.counts + 1.0))
        possible = open_ & (np.minimum(best, plausible) + state.tolerance + 1e-12 >= others_up)
        if self._pushing in view.pos and possible[view.pos[self._pushing]]:
            # keep going while it can still finish: switching pays other items again
            return self._pushing
        if likely.any():
            self._pushing = int(view.alive[int(np.argmin(
                np.where(likely, view.costs * rest, np.inf)))])
        elif possible.any():
            order = np.lexsort((view.costs * rest, -view.counts, -hope))
            self._pushing = int(view.alive[order[possible[order]][0]])
        else:
            self._pushing = None
        return self._pushing



class _View:
    """The alive candidates at one decision: prefix counts, means, one-sample bounds, measured
    costs, ranking (best mean first; equal means: more items, then cheaper)."""

    def __init__(self, state: SearchState, cert: Certifier, alive: np.ndarray) -> None:
        self.state, self.cert, self.alive = state, cert, alive
        self.counts = cert.counts(alive)
        means = cert.means(alive)
        self.means = np.where(np.isnan(means), -1.0, means)
        self.low, self.up = cert.bounds(alive)
        self.costs = cert.costs(alive)
        self.order = np.lexsort((alive, self.costs, -self.counts, -self.means))
        self.pos = dict(zip(alive.tolist(), range(alive.size)))
        self.leader = int(alive[self.order[0]])
        self._covered: dict[int, np.ndarray] = {}

    def count_of(self, c: int) -> int:
        return int(self.counts[self.pos[c]])

    def counts_of(self, combos: np.ndarray) -> np.ndarray:
        return self.counts[np.searchsorted(self.alive, combos)]  # ``alive`` is sorted

    def mean_of(self, c: int) -> float:
        return float(self.means[self.pos[c]])

    def means_of(self, combos: np.ndarray) -> np.ndarray:
        return self.means[np.searchsorted(self.alive, combos)]

    def cost_of(self, c: int) -> float:
        return float(self.costs[self.pos[c]])

    def covered(self, h: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Which alive candidates (positions ``rows``, default all) are certified at most
        ``tolerance`` above ``h``: paired, or one-sample upper bound <= ``h``'s lower bound +
        tolerance."""
        tol = self.state.tolerance
        if rows is None and h in self._covered:
            return self._covered[h]
        idx = np.arange(self.alive.size) if rows is None else rows
        out = self.up[idx] <= self.low[self.pos[h]] + tol
        rest = ~out
        if rest.any():
            out[rest] = self.cert.within(self.alive[idx[rest]], h, tol)
        out |= self.alive[idx] == h
        if rows is None:
            self._covered[h] = out
        return out

    def covers_all(self, h: int) -> bool:
        """Whether ``h`` covers every alive candidate; the best-ranked ones (likeliest to fail) are
        tried first, so a holder that fails usually costs a handful of tests."""
        if h in self._covered:
            return bool(self._covered[h].all())
        if not self.covered(h, self.order[:16]).all():
            return False
        return bool(self.covered(h).all())

    def likely(self) -> np.ndarray:
        """Positions of candidates whose mean is within tolerance of the leader's."""
        return np.flatnonzero(self.means >= self.mean_of(self.leader) - self.state.tolerance
                              - 1e-12)

    def cheapest_likely(self) -> int:
        likely = self.likely()
        return int(self.alive[likely[np.lexsort((-self.means[likely], self.costs[likely]))[0]]])

    def cheaper_than(self, goal: int) -> np.ndarray:
        """Candidates measured cheaper than ``goal`` by more than ``COST_SLACK``
        (they must be ruled out)."""
        return self.alive[self.costs * (1 + selection.COST_SLACK) < self.cost_of(goal)]

    def affordable(self) -> np.ndarray:
        """Which candidates cost at most ``1 + COST_SLACK`` times the cheapest alive one."""
        return self.costs <= (1 + selection.COST_SLACK) * self.costs.min() + 1e-15

    def holder_candidates(self) -> list[int]:
        """Who may hold the certificate: the three best means and the highest lower bound; with the
        cost objective, only candidates within ``COST_SLACK`` of the cheapest."""
        idx = self.order
        low = self.low
        if selection.objective_kind(self.state) == "cost":
            ok = self.affordable()
            idx = idx[ok[idx]]
            low = np.where(ok, low, -np.inf)
        out = [int(c) for c in self.alive[idx[:3]]]
        if idx.size:
            out.append(int(self.alive[int(np.argmax(low))]))
        return list(dict.fromkeys(out))
