"""Rounds and slots: brute force comes in few rounds, anchor cells outside the space hold no round
(the next round starts while they run), at most ``max_concurrency`` cells run at once across
rounds, and every started cell lands before ``search`` returns. No timing: evaluations yield to the
event loop a fixed number of times, so the interleaving is deterministic."""

from __future__ import annotations

import asyncio

import pytest

from agentopt_search import Outcome, SearchSpace, search
from agentopt_search.runner import BadOutcome
from agentopt_search.state import SearchState
from agentopt_search.strategies.arm_elimination import ArmElimination
from agentopt_search.strategies.brute_force import BruteForce
from search_helpers import Planted, _u

SLOTS = {"planner": ["p1", "p2", "p3"], "solver": ["s1", "s2", "s3"]}
BEST = {"planner": "p2", "solver": "s3"}
OWN = {"planner": "app-own", "solver": "app-own"}


class Trace:
    """Events in order, and how many cells were running at most."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self.in_flight = 0
        self.max_in_flight = 0

    def start(self, what: object) -> None:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.events.append(("start", what))

    def end(self, what: object) -> None:
        self.in_flight -= 1
        self.events.append(("end", what))


class LoggedRace(ArmElimination):
    """arm_elimination that notes each round it proposes (unregistered: ``name`` is empty)."""

    name = ""

    def __init__(self, trace: Trace) -> None:
        super().__init__()
        self.trace = trace

    def propose(self, state: SearchState):
        cells = super().propose(state)
        self.trace.events.append(("propose", len(cells)))
        return cells

    def describe(self) -> str:
        return "arm_elimination (logged)"


def _evaluator(prob: Planted, trace: Trace, anchor_yields: int, cell_yields: int = 3):
    async def evaluate(assignment: dict[str, str], example: int) -> Outcome:
        own = assignment == OWN
        trace.start(("own", example) if own else ("combo", example))
        for _ in range(anchor_yields if own else cell_yields):
            await asyncio.sleep(0)  # a yield to the event loop, not a delay
        trace.end(("own", example) if own else ("combo", example))
        if own:
            return Outcome(score=float(_u("own", example) < 0.4), cost_usd=0.02, latency_s=0.1)
        return prob.evaluate(assignment, example)

    return evaluate


def test_anchor_cells_hold_no_round_and_change_nothing_the_search_decides():
    runs = {}
    cases = (("no anchor", None, 0), ("slow anchor", {"own": OWN}, 200))
    for name, anchors, anchor_yields in cases:
        prob, trace = Planted(SLOTS, BEST, gap=0.3, n_items=200), Trace()
        result = search(prob.space, _evaluator(prob, trace, anchor_yields), prob.examples,
                        strategy=LoggedRace(trace), anchors=anchors, max_concurrency=4,
                        progress=False)
        runs[name] = (prob, trace, result)
    (plain, _, ref), (prob, trace, res) = runs["no anchor"], runs["slow anchor"]
    # the same cells of the space, the same eliminations, the same pick
    assert prob.calls == plain.calls and res.best.assignment == ref.best.assignment == BEST
    def table(r):
        return [(s.key, s.n, s.status) for s in r.leaderboard]

    assert table(res) == table(ref)
    # the anchor still lands wherever a combination was evaluated, before search returns
    covered = {ex for _, ex in prob.calls}
    own = [w for kind, w in trace.events if kind == "end" and w[0] == "own"]
    assert sorted(ex for _, ex in own) == sorted(covered) and res.anchors["own"].n == len(covered)
    paid = sum(prob.price[c] for c, _ in prob.calls)
    assert res.spent_usd == pytest.approx(paid + 0.02 * len(covered))
    # a later round was proposed while an anchor cell of an earlier one was still running
    running, overlapped = set(), 0
    for kind, what in trace.events:
        if kind == "start" and what[0] == "own":
            running.add(what)
        elif kind == "end" and what[0] == "own":
            running.discard(what)
        elif kind == "propose" and running:
            overlapped += 1
    assert overlapped >= 1
    # the slots are shared across rounds: never more than max_concurrency at once
    assert trace.max_in_flight == 4


def test_every_started_cell_lands_when_the_budget_stops_the_search():
    prob, trace = Planted(SLOTS, BEST, n_items=60), Trace()
    result = search(prob.space, _evaluator(prob, trace, 50), prob.examples, strategy="brute_force",
                    anchors={"own": OWN}, budget_usd=0.5, max_concurrency=4, progress=False)
    assert result.stop_reason == "budget"
    assert trace.in_flight == 0  # nothing still running when search returned
    n_own = sum(1 for kind, w in trace.events if kind == "end" and w[0] == "own")
    assert n_own == result.anchors["own"].n > 0
    assert result.n_evaluations == len(prob.calls) + n_own
    paid = sum(prob.price[c] for c, _ in prob.calls)
    assert result.spent_usd == pytest.approx(paid + 0.02 * n_own)
    assert trace.max_in_flight <= 4


def test_an_anchor_cell_that_returns_garbage_stops_the_search():
    prob = Planted(SLOTS, BEST, n_items=30)

    async def evaluate(assignment: dict[str, str], example: int):
        if assignment == OWN:
            await asyncio.sleep(0)
            return "not an outcome"
        return prob.evaluate(assignment, example)

    with pytest.raises(BadOutcome, match="evaluate returned str"):
        search(prob.space, evaluate, prob.examples, strategy="brute_force", anchors={"own": OWN},
               max_concurrency=4, progress=False)


def test_brute_force_proposes_a_small_space_in_one_round_and_a_large_one_in_big_rounds():
    small = SearchState(SearchSpace(SLOTS), 400)
    rounds = _drained(BruteForce(), small)
    assert len(rounds) == 1 and len(rounds[0]) == 9 * 400
    assert rounds[0][:10] == [(c, 0) for c in range(9)] + [(0, 1)]  # item-major
    wide = {"a": [f"a{i}" for i in range(40)], "b": [f"b{i}" for i in range(25)]}
    large = SearchState(SearchSpace(wide), 200)
    rounds = _drained(BruteForce(), large)
    assert all(len(r) >= 4096 for r in rounds[:-1]) and sum(map(len, rounds)) == 1000 * 200
    by_ten = _drained(BruteForce(batch_items=10, batch_cells=0), small)
    assert [len(r) for r in by_ten] == [90] * 40


def _drained(strategy: BruteForce, state: SearchState) -> list[list[tuple[int, int]]]:
    rounds = []
    while cells := strategy.propose(state):
        rounds.append(cells)
    return rounds
