"""Budget: dollars spent never exceed ``budget_usd`` plus the cost of the calls already in flight
when the cap was reached; the result says it stopped on budget and gives the best so far with its
interval.

Exact in-flight accounting needs the order of "cell starts" and "cell recorded" events as the
engine sees them. With an ``async`` evaluate / app both happen on the event loop with no suspension
point between the engine's budget check and the cell's start, or between its end and its recording,
so an event log kept by the evaluate function is the engine's own order.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import math
import os
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import pytest
from rich.console import Console

import agentopt_adapters as aa
from agentopt_adapters.callable import acompletion
from agentopt_adapters.models.pricing import cost_usd
from agentopt_adapters.optimization._format import usd as _usd
from agentopt_adapters.sim.server import serve_in_thread
from agentopt_adapters.sim.tasks import load_task
from agentopt_search import Outcome, search
from search_helpers import Planted

SLOTS = {"planner": ["p1", "p2", "p3"], "solver": ["s1", "s2", "s3"]}
BEST = {"planner": "p2", "solver": "s3"}
TASK = load_task("arithmetic")


class Ledger:
    """Start / end events of cells in the event loop's order, with each cell's cost."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any, float]] = []

    def start(self, cell: Any) -> None:
        self.events.append(("start", cell, 0.0))

    def end(self, cell: Any, cost: float) -> None:
        self.events.append(("end", cell, cost))

    def check(self, budget: float) -> dict[str, Any]:
        """Replay the events: the cap moment, the cells in flight then,
        and what was spent in all."""
        spent, cap_at, running = 0.0, None, {}
        costs = {c: x for kind, c, x in self.events if kind == "end"}
        in_flight: list[Any] = []
        for i, (kind, cell, cost) in enumerate(self.events):
            if kind == "start":
                assert cap_at is None, f"cell {cell} started after the budget was reached"
                running[cell] = i
            else:
                running.pop(cell)
                spent += cost
                if cap_at is None and spent >= budget:
                    cap_at = i
                    # the cell that crossed the cap and those still running
                    in_flight = [cell, *running]
        assert not running, "every started cell finishes and is recorded"
        return {"spent": spent, "cap_at": cap_at, "in_flight": in_flight,
                "in_flight_usd": sum(costs[c] for c in in_flight), "over": spent - budget}


def _delay(*key: Any) -> float:
    """A deterministic simulated latency of 1-5 ms per cell, so cells finish out of order."""
    return 0.001 * (1 + int(hashlib.sha256(repr(key).encode()).hexdigest(), 16) % 5)


@pytest.mark.parametrize("max_concurrency", [3, 8])
def test_search_overspends_at_most_the_calls_in_flight(max_concurrency: int) -> None:
    prob = Planted(SLOTS, BEST, n_items=40)
    ledger = Ledger()

    async def evaluate(assignment: dict[str, str], example: int) -> Outcome:
        cell = (prob.space.index(assignment), example)
        ledger.start(cell)
        await asyncio.sleep(_delay(cell))
        out = prob.evaluate(assignment, example)
        ledger.end(cell, out.cost_usd)
        return out

    budget = 0.6
    result = search(prob.space, evaluate, prob.examples, strategy="brute_force", budget_usd=budget,
                    max_concurrency=max_concurrency, progress=False)
    figs = ledger.check(budget)
    print(f"\nsearch, concurrency {max_concurrency}: budget ${budget}, spent "
          f"${figs['spent']:.4f}, over by ${figs['over']:.4f} <= ${figs['in_flight_usd']:.4f} in "
          f"flight ({len(figs['in_flight'])} cells)")
    assert result.stop_reason == "budget" and result.stopped_on_budget
    assert result.spent_usd == pytest.approx(figs["spent"])
    assert figs["cap_at"] is not None and 1 <= len(figs["in_flight"]) <= max_concurrency
    assert result.spent_usd <= budget + figs["in_flight_usd"] + 1e-12
    assert all(v == 1 for v in prob.calls.values())  # nothing paid twice
    assert result.best is not None and result.best.n > 0
    lo, hi = result.best.ci
    assert 0.0 <= lo <= result.best.mean_score <= hi <= 1.0 and hi - lo > 0


def test_search_stops_before_paying_when_the_budget_is_already_spent() -> None:
    prob = Planted(SLOTS, BEST, n_items=10)
    result = search(prob.space, prob.evaluate, prob.examples, budget_usd=0.0, progress=False)
    assert result.stop_reason == "budget" and result.n_evaluations == 0 and not prob.calls
    assert result.best is None


def make_app(url: str, ledger: Ledger) -> Any:
    """An async one-slot callable app over HTTP that logs each cell's start and end
    (with its cost)."""

    async def app(models: dict[str, str], ex: dict[str, Any]) -> str:
        cell = (models["solve"], ex["question"])
        ledger.start(cell)
        r = await acompletion(models, "solve",
                              messages=[{"role": "user", "content": ex["question"]}], api_base=url,
                              api_key="unused")
        ledger.end(cell,
                   cost_usd(models["solve"], r.usage.prompt_tokens, r.usage.completion_tokens)
                   or 0.0)
        return r.choices[0].message.content

    app.agentopt_slots = {"solve": "openai/sim/large"}  # type: ignore[attr-defined]
    return app


async def async_metric(example: Any, output: Any) -> float:
    """The task's metric, awaited on the loop: a cell's cost reaches the search the moment the app
    returns (a metric in a thread would let another cell start before the search learns the cap was
    reached)."""
    return TASK.metric(example, output)


@pytest.mark.slow
def test_optimize_budget_counts_the_baseline_and_says_it_stopped() -> None:
    data = TASK.items[:10]
    cands = ["openai/sim/nano", "openai/sim/small", "openai/sim/medium", "openai/sim/xl"]
    with serve_in_thread(port=0) as srv:
        full = aa.optimize(make_app(srv.url, Ledger()), data, TASK.metric, cands,
                           strategy="brute_force", progress=False, max_concurrency=4)
        # the app as it is, measured beside the search
        base = full.baseline.mean_cost_usd * full.baseline.n
        budgets = {"early (baseline cells included)": 0.5 * base,
                   "mid-search": 0.4 * full.spent_usd}
        for where, budget in budgets.items():
            ledger = Ledger()
            before = srv.log.count
            res = aa.optimize(make_app(srv.url, ledger), data, async_metric, cands,
                              strategy="brute_force", budget_usd=budget, progress=False,
                              max_concurrency=4)
            figs = ledger.check(budget)
            # dollars as the server saw them: every answered request priced
            server_usd = sum(cost_usd(f"openai/{r.model}", r.input_tokens, r.output_tokens) or 0.0
                             for r in srv.log.records[before:] if r.status == 200)
            print(f"\noptimize, cap reached {where}: budget ${budget:.5f}, spent "
                  f"${res.spent_usd:.5f} (server: ${server_usd:.5f}), over by ${figs['over']:.6f} "
                  f"<= ${figs['in_flight_usd']:.6f} in flight ({len(figs['in_flight'])} cells)")
            assert res.stop_reason == "budget"
            assert res.spent_usd == pytest.approx(figs["spent"]) == pytest.approx(server_usd)
            assert figs["cap_at"] is not None
            assert res.spent_usd <= budget + figs["in_flight_usd"] + 1e-12
            assert res.n_evaluations < full.n_evaluations
            best = res.best
            assert best is not None and best.n > 0 and not math.isnan(best.mean_score)
            assert best.ci[0] <= best.mean_score <= best.ci[1]
            out = io.StringIO()
            res.print_summary(console=Console(file=out, width=200))
            text = " ".join(out.getvalue().split())
            assert (f"Stopped on the budget of {_usd(budget)}: the evidence cost "
                    f"{_usd(res.evidence_usd)}") in text
            assert f"Best so far: {best.key}, score {best.mean_score:.3f}" in text
            ci = f"[{best.ci[0]:.3f}, {best.ci[1]:.3f}]"
            assert f"{ci} on {best.n} of {len(data)} examples" in text
