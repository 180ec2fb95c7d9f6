"""Many assignments run concurrently with zero cross-talk (>= 1,000 calls), and a mixed assignment
beats every single model on the simulated multi-hop task -- measured with bound runs only."""

from __future__ import annotations

import asyncio
import random
from concurrent.futures import ThreadPoolExecutor

import dspy
import pytest

import agentopt_adapters as aa
from dspy_programs import SLOTS, load_example

pytestmark = pytest.mark.slow  # >= 1,000 calls over 16 threads

ex = load_example()
DATA = ex.examples(ex.TASK.items[:60])
SINGLES = ["sim/small", "sim/medium", "sim/large", "sim/xl"]
ASSIGNMENTS = {f"all {m}": dict.fromkeys(SLOTS, m) for m in SINGLES}
ASSIGNMENTS["mixed"] = dict(ex.MIXED)


def _signature(usage):
    return [(c.slot, c.model, c.input_tokens, c.output_tokens, c.cost_usd) for c in usage]


@pytest.fixture(scope="module")
def concurrent_results():
    """Every (assignment, example) pair, shuffled over 16 threads, each assignment bound once."""
    program = ex.MultiHop()
    jobs = [(label, i) for label in ASSIGNMENTS for i in range(len(DATA))]
    random.Random(0).shuffle(jobs)
    bindings = {label: aa.bind(program, a) for label, a in ASSIGNMENTS.items()}
    runners = {label: b.__enter__() for label, b in bindings.items()}
    with dspy.context(lm=None), ThreadPoolExecutor(16) as pool:
        outs = list(pool.map(lambda job: runners[job[0]](DATA[job[1]]), jobs))
    for b in bindings.values():
        b.__exit__(None, None, None)
    results = dict(zip(jobs, outs))
    return program, runners, results


def test_thousand_concurrent_calls_zero_cross_talk(concurrent_results):
    program, runners, results = concurrent_results
    calls = sum(len(usage) for _, usage in results.values())
    assert calls >= 1000
    cross_talk = 0
    for (label, _), (out, usage) in results.items():
        assignment = ASSIGNMENTS[label]
        assert [c.slot for c in usage][:1] == ["planner.plan.predict"]
        assert usage.calls[-1].slot == "final"
        cross_talk += sum(1 for c in usage if c.slot is None or c.model != assignment[c.slot])
        assert not aa.usage.is_failed(out)
    assert cross_talk == 0
    # every call any bound LM made was recorded by exactly one run: nothing lost, nothing doubled
    made = sum(len(lm.history) for runner in runners.values() for lm in runner.lms.values())
    assert made == calls
    # the user's program was never touched
    assert all(p.lm is None for _, p in program.named_predictors())


def test_concurrent_runs_equal_sequential_and_async_runs(concurrent_results):
    """Cross-talk would change a run's calls; each concurrent run equals its isolated re-run."""
    program = concurrent_results[0]
    results = concurrent_results[2]
    picks = [("mixed", i) for i in range(0, 60, 6)] + [("all sim/large", i)
                                                       for i in range(3, 60, 6)]
    with dspy.context(lm=None):
        for label in ("mixed", "all sim/large"):
            with aa.bind(program, ASSIGNMENTS[label]) as run:
                mine = [p for p in picks if p[0] == label]
                for job in mine[:3]:  # sequential, one at a time
                    out, usage = run(DATA[job[1]])
                    assert _signature(usage) == _signature(results[job][1])
                    assert out.answer == results[job][0].answer

                async def all_at_once(mine=mine):
                    return await asyncio.gather(*(run.acall(DATA[j[1]]) for j in mine))

                for job, (out, usage) in zip(mine, asyncio.run(all_at_once())):
                    assert _signature(usage) == _signature(results[job][1])
                    assert out.answer == results[job][0].answer


def test_mixed_assignment_beats_every_single_model(concurrent_results):
    results = concurrent_results[2]
    scores = {}
    for label in ASSIGNMENTS:
        runs = [(DATA[i], results[(label, i)]) for i in range(len(DATA))]
        scores[label] = (sum(ex.metric(e, out) for e, (out, _) in runs) / len(runs),
                         sum(usage.cost_usd for _, (_, usage) in runs))
    acc, cost = scores.pop("mixed")
    for label, (single_acc, single_cost) in scores.items():
        # no single model is both at least as accurate and at most as expensive
        assert not (single_acc >= acc and single_cost <= cost), (label, scores, acc, cost)
    best_acc, best_cost = max(scores.values())
    assert acc >= best_acc and cost < best_cost / 4  # as accurate as the best single, 4x+ cheaper
    large_acc, large_cost = scores["all sim/large"]
    assert acc > large_acc and cost < large_cost / 2
