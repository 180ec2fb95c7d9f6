"""A new model or a new price list without starting over (runs offline on the simulated zoo).

1. optimize the demo graph with some candidates, stored in run.db;
2. a new model is released: run again with it added -- only the cells of combinations never stored
   are paid, and the pick is the one a fresh run on the whole space makes;
3. prices change: ``load_result(..., prices=...)`` re-ranks the stored run with 0 model calls.

    python examples/new_models_and_prices.py [--examples 30] [--out new-models-out]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

# offline: litellm's bundled price map
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import agentopt_adapters as aa
from agentopt_adapters.models.pricing import price_per_mtok
from agentopt_adapters.sim.demo.run import load_demo
from agentopt_search import read_run

OLD = ["sim/mini", "sim/small", "sim/large"]
NEW = "sim/medium"
SETTINGS = dict(objective="cost", tolerance=0.1, seed=0, progress=False, max_concurrency=8)


def cells(db: Path) -> set[tuple[tuple[str, ...], int]]:
    return {(tuple(sorted(c.assignment.items())), c.example) for c in read_run(str(db)).cells
            if not c.shared}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=30)
    ap.add_argument("--out", default="new-models-out")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in ("run.db", "fresh.db"):
        (out / name).unlink(missing_ok=True)
    graph, task, _, _ = load_demo()
    data = [dict(it) for it in task.items[: args.examples]]
    db = out / "run.db"

    first = aa.optimize(graph, data, task.metric, OLD, storage=f"sqlite:///{db}", **SETTINGS)
    before = cells(db)
    again = aa.optimize(graph, data, task.metric, OLD + [NEW], storage=f"sqlite:///{db}",
                        **SETTINGS)
    paid = cells(db) - before
    fresh = aa.optimize(graph, data, task.metric, OLD + [NEW],
                        storage=f"sqlite:///{out / 'fresh.db'}", **SETTINGS)
    report = {
        "first_run": {"pick": first.best.assignment, "paid_usd": first.spent_usd,
                      "cells_paid": first.n_paid},
        "with_new_model": {"pick": again.best.assignment, "cells_reused": again.n_reused,
                           "cells_paid": again.n_paid, "new_cells_stored": len(paid),
                           "paid_cells_already_stored": len(paid & before),
                           "paid_usd": again.spent_usd, "evidence_usd": again.evidence_usd},
        "fresh_run_on_the_whole_space": {"pick": fresh.best.assignment,
                                         "paid_usd": fresh.spent_usd, "cells_paid": fresh.n_paid},
        "same_pick_as_fresh": again.best.assignment == fresh.best.assignment,
    }
    # the winner's models 10x dearer: re-rank the stored run, no model called
    winner = set(again.best.assignment.values()) - {"(current)"}
    prices = {m: [10 * p for p in price_per_mtok(m) or (0.0, 0.0)] for m in winner}
    (out / "prices.json").write_text(json.dumps(prices))
    repriced = aa.load_result(str(db), prices=out / "prices.json")
    report["new_prices"] = {"prices": prices,
                            "pick": repriced.best.assignment if repriced.best else None,
                            "paid_usd": repriced.spent_usd, "cells_paid": repriced.n_paid,
                            "needs_evaluations": bool(repriced.extra.get("needs_evaluations"))}
    print(json.dumps(report, indent=2))
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
