"""brute force over {small, small x4 vote, small x8 vote, frontier} for one slot,
offline on the bundled tasks (simulated zoo). ``python -m agentopt_adapters.sim.bench.samples
[out.json]``.

For each setup: ``aa.optimize(..., strategy="brute_force")`` gives accuracy with its 95% interval
and cost per example; the same cells are re-run through ``aa.bind`` (deterministic: the zoo is
seeded per request and sample) to get per-example scores for a paired small x8 - frontier interval
(bootstrap over examples) and the searched slot's own cost.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from typing import Any

import numpy as np

import agentopt_adapters as aa
from agentopt_adapters.sim.tasks import load_task

__all__ = ["CANDS", "EXTRA", "dspy_predict", "setups", "per_example", "boot", "measure", "main"]

CANDS = ["sim/small", "sim/small*4:vote", "sim/small*8:vote", "sim/frontier"]
EXTRA = ["sim/small*8:judge=sim/large", "sim/small*8:judge=sim/frontier"]


def dspy_predict(cot: bool) -> Any:
    import dspy

    from agentopt_adapters.models import dspy_lm

    prog = (dspy.ChainOfThought if cot else dspy.Predict)("question -> answer: int")
    prog.set_lm(dspy_lm("sim/frontier"))
    return prog


def setups() -> list[dict[str, Any]]:
    import dspy

    from agentopt_adapters.sim.demo.dspy_app import program as multihop_program
    from agentopt_adapters.sim.demo.langgraph_app import graph

    arith = load_task("arithmetic")
    multihop = load_task("multihop")
    a_rows = [dict(it) for it in arith.items]
    a_dspy = [dspy.Example(question=it["question"], answer=it["answer"]).with_inputs("question")
              for it in arith.items]
    m_dspy = [dspy.Example(question=it["question"], answer=it["answer"]).with_inputs("question")
              for it in multihop.items]
    return [
        {"name": "DSPy Predict('question -> answer: int'), arithmetic", "app": dspy_predict(False),
         "slot": "self", "data": a_dspy, "metric": arith.metric, "cands": CANDS + EXTRA},
        {"name": "DSPy ChainOfThought('question -> answer: int'), arithmetic",
         "app": dspy_predict(True), "slot": "predict", "data": a_dspy, "metric": arith.metric,
         "cands": CANDS},
        {"name": "LangGraph demo (planner + solver with calculator), slot 'plan', arithmetic",
         "app": graph, "slot": "plan", "data": a_rows, "metric": arith.metric, "cands": CANDS},
        {"name": "LangGraph demo, slot 'solve', arithmetic", "app": graph,
         "slot": "solve", "data": a_rows, "metric": arith.metric, "cands": CANDS},
        {"name": "DSPy demo (plan + answer), slot 'answer', multihop", "app": multihop_program,
         "slot": "answer", "data": m_dspy, "metric": multihop.metric, "cands": CANDS},
    ]


def per_example(app: Any, slot: str, cand: str, data: list[Any], metric: Any,
                plan: Any) -> np.ndarray:
    """Rows (score, cost, cost of the slot) per example, through aa.bind
    (the cells the search evaluated)."""
    binding = plan.binding({slot: cand})
    rows = []
    with aa.bind(app, binding) as run:
        for ex in data:
            out, usage = run(ex)
            rows.append((float(metric(ex, out)), usage.cost_usd,
                         sum(c.cost_usd for c in usage
                             if c.slot == slot and c.cost_usd is not None)))
    return np.array(rows)


def boot(x: np.ndarray, stat: Any, n_boot: int = 10_000, seed: int = 0) -> list[float]:
    """95% percentile bootstrap interval of ``stat`` over examples (rows of ``x``)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(x), size=(n_boot, len(x)))
    vals = np.array([stat(x[i]) for i in idx])
    return [float(np.quantile(vals, 0.025)), float(np.quantile(vals, 0.975))]


def measure(setup: dict[str, Any]) -> dict[str, Any]:
    from agentopt_adapters.optimization.candidates import plan_space

    app, slot = setup["app"], setup["slot"]
    t0 = time.perf_counter()
    res = aa.optimize(app, setup["data"], setup["metric"], {slot: setup["cands"]},
                      strategy="brute_force", progress=False, baseline=False, max_concurrency=16)
    elapsed = time.perf_counter() - t0
    plan = plan_space(aa.discover(app), {slot: setup["cands"]})
    rows = {}
    for cand in setup["cands"]:
        s = res.get({slot: cand})
        slot_use = res.per_slot_usage({slot: cand}).get(slot, {})
        rows[cand] = {"accuracy": s.mean_score, "ci": list(s.ci),
                      "cost_per_example": s.mean_cost_usd,
                      "slot_cost_per_example": ((slot_use.get("cost_usd") or 0.0)
                                                / max(1, slot_use.get("n_examples", 1))),
                      "slot_calls_per_example": (slot_use.get("calls", 0)
                                                 / max(1, slot_use.get("n_examples", 1))),
                      "latency_s": s.mean_latency_s, "n": s.n}
    cells = {c: per_example(app, slot, c, setup["data"], setup["metric"], plan)
             for c in setup["cands"]}
    for cand, x in cells.items():  # the bound runs are the searched cells (the zoo is seeded)
        assert abs(x[:, 0].mean() - rows[cand]["accuracy"]) < 1e-9
        assert abs(x[:, 1].mean() - rows[cand]["cost_per_example"]) < 1e-9
        rows[cand]["cost_ci"] = boot(x[:, 1], np.mean)
        rows[cand]["slot_cost_ci"] = boot(x[:, 2], np.mean)
    # score, cost, slot cost x 2
    pair = np.column_stack([cells["sim/small*8:vote"], cells["sim/frontier"]])
    diff = boot(pair[:, 0] - pair[:, 3], np.mean)
    ratio = lambda p: p[:, 1].mean() / p[:, 4].mean()  # noqa: E731
    slot_ratio = lambda p: p[:, 2].mean() / p[:, 5].mean()  # noqa: E731
    return {"name": setup["name"], "slot": slot, "n_examples": len(setup["data"]),
            "elapsed_s": round(elapsed, 1), "rows": rows,
            "small8_minus_frontier": {"mean": float((pair[:, 0] - pair[:, 3]).mean()),
                                      "ci95": diff},
            "cost_ratio_small8_over_frontier": {"value": ratio(pair), "ci95": boot(pair, ratio)},
            "slot_cost_ratio_small8_over_frontier": {"value": slot_ratio(pair),
                                                     "ci95": boot(pair, slot_ratio)}}


def main() -> None:
    warnings.filterwarnings("ignore")
    out = [measure(s) for s in setups()]
    for m in out:
        print(f"\n## {m['name']}  (n={m['n_examples']}, {m['elapsed_s']}s)")
        print("| candidate | accuracy [95% Wilson] | cost/example [95% bootstrap] | slot "
              "cost/example | slot calls | latency |")
        print("|---|---|---|---|---|---|")
        for cand, r in m["rows"].items():
            print(f"| {cand} | {r['accuracy']:.3f} [{r['ci'][0]:.3f}, {r['ci'][1]:.3f}] | "
                  f"${r['cost_per_example']:.5f} [{r['cost_ci'][0]:.5f}, {r['cost_ci'][1]:.5f}] | "
                  f"${r['slot_cost_per_example']:.5f} [{r['slot_cost_ci'][0]:.5f}, "
                  f"{r['slot_cost_ci'][1]:.5f}] | {r['slot_calls_per_example']:.1f} | "
                  f"{r['latency_s']:.2f}s |")
        d, c, sc = (m["small8_minus_frontier"], m["cost_ratio_small8_over_frontier"],
                    m["slot_cost_ratio_small8_over_frontier"])
        print(f"\nsmall*8 - frontier accuracy: {d['mean']:+.3f} [{d['ci95'][0]:+.3f}, "
              f"{d['ci95'][1]:+.3f}] (paired bootstrap); cost ratio small*8 / frontier: "
              f"{c['value']:.2f} [{c['ci95'][0]:.2f}, {c['ci95'][1]:.2f}] per example, "
              f"{sc['value']:.2f} [{sc['ci95'][0]:.2f}, {sc['ci95'][1]:.2f}] for the slot alone")
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
