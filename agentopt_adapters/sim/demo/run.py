"""``agentopt demo``: optimize a bundled app on a bundled task with the simulated model zoo.

```python
from agentopt_adapters.sim.demo.run import run_demo
# prints the summary, writes pareto.html + agentopt.json
summary = run_demo(dspy=False, out_dir="demo-out")
```
Everything runs offline, in-process (litellm provider ``sim/<name>``).
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["run_demo", "DEFAULT_CANDIDATES", "DEFAULT_EXAMPLES", "load_demo"]

# The app's own model (sim/frontier) is always added as the baseline; these are the cheaper
# options, one of them with inference-time scaling (8 samples, majority vote) to set against the
# frontier model.
DEFAULT_CANDIDATES = ["sim/mini", "sim/small", "sim/medium", "sim/large", "sim/xl",
                      "sim/small*8:vote"]
DEFAULT_EXAMPLES = 60

_APPLY_LINE = {
    False: 'graph = aa.apply(graph, "{path}")',
    True: 'program = aa.apply(program, "{path}")',
}


def load_demo(dspy: bool = False) -> tuple[Any, Any, str, Any]:
    """(app, task, app module name, to_input) of the LangGraph (default) or DSPy demo."""
    from ..tasks import load_task

    mod: ModuleType
    if dspy:
        from . import dspy_app

        mod, app = dspy_app, dspy_app.program
    else:
        from . import langgraph_app

        mod, app = langgraph_app, langgraph_app.graph
    return app, load_task(mod.TASK), mod.__name__, mod.to_input


def _dataset(task: Any, n: int, dspy: bool) -> list[Any]:
    items = task.items[:n]
    if not dspy:
        return [dict(it) for it in items]  # the graph reads "question"; the metric reads "answer"
    import dspy as _dspy

    return [_dspy.Example(question=it["question"], answer=it["answer"], id=it["id"])
            .with_inputs("question") for it in items]


def _row(s: Any) -> dict[str, Any] | None:
    if s is None:
        return None
    return {"assignment": dict(s.assignment), "score": s.mean_score, "ci": list(s.ci),
            "cost_per_example_usd": s.mean_cost_usd, "latency_s": s.mean_latency_s, "n": s.n}


def _samples_line(result: Any, cands: Sequence[str]) -> tuple[str, dict[str, Any] | None]:
    """The best tried combination that draws samples against the app as it is
    (the frontier model)."""
    from ...optimization._format import usd
    from ...scaling import parse_shorthand

    scaled = {c for c in cands if isinstance(parse_shorthand(c), dict)}
    rows = [s for s in result.leaderboard
            if s.n and s.status != "failed" and scaled & set(s.assignment.values())]
    base = result.baseline
    if not scaled or not rows or base is None or not base.n:
        return "", None
    row = rows[0]
    ratio = base.mean_cost_usd / row.mean_cost_usd if row.mean_cost_usd else float("nan")
    line = (f"With samples: {row.key} scores {row.mean_score:.3f} [{row.ci[0]:.3f}, "
            f"{row.ci[1]:.3f}] on {row.n} examples at {usd(row.mean_cost_usd)}/example; the app "
            f"as it is (sim/frontier) scores {base.mean_score:.3f} [{base.ci[0]:.3f}, "
            f"{base.ci[1]:.3f}] at {usd(base.mean_cost_usd)}/example, {ratio:.1f}x as much. "
            "Ringed on the plot.")
    return line, {"combination": _row(row), "baseline": _row(base),
                  "frontier_cost_over_samples_cost": ratio}


def _intro(console: Any, app: Any, task: Any, module: str, n: int, cands: list[str],
           dspy: bool) -> None:
    import agentopt_adapters as aa

    kind = "DSPy program" if dspy else "LangGraph graph"
    console.rule(f"agentopt demo: {kind} on the '{task.name}' task (simulated models, offline)")
    console.print(f"app: [bold]{module}[/bold]  ({n} examples, metric: {task.name}.metric)")
    for s in aa.discover(app):
        console.print(f"  slot [bold]{s.name}[/bold]: today {s.default_model}  ({s.where})")
    console.print(f"candidates per slot: {', '.join(cands)} (the app as it is is measured beside "
                  "them: the baseline)\n")


def _measured(result: Any) -> dict[str, Any]:
    """The pick, the baseline, the front and the spend, as summary.json holds them."""
    best, base = result.best, result.baseline
    beats = bool(best is not None and base is not None and base.n
                 and best.mean_score >= base.mean_score - 1e-12
                 and best.mean_cost_usd < base.mean_cost_usd)
    return {"best": _row(best), "baseline": _row(base), "baseline_models": result.baseline_models,
            "best_beats_baseline": beats, "pareto": [_row(s) for s in result.pareto()],
            "spent_usd": result.spent_usd, "brute_force_usd": result.brute_force_usd,
            "n_evaluations": result.n_evaluations, "comparison": result.comparison()}


def run_demo(
    dspy: bool = False,
    out_dir: str | Path = ".",
    n_examples: int = DEFAULT_EXAMPLES,
    candidates: Sequence[str] | None = None,
    seed: int = 0,
    *,
    strategy: str = "auto",
    max_concurrency: int = 8,
    progress: bool = True,
    console: Any = None,
) -> dict[str, Any]:
    """Run the demo end to end; returns (and writes to ``summary.json``) the measured numbers."""
    from rich.console import Console

    import agentopt_adapters as aa

    warnings.filterwarnings("ignore")
    console = console or Console(width=max(120, Console().width))  # room for slot=model names
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    app, task, module, _ = load_demo(dspy)
    cands = list(candidates or DEFAULT_CANDIDATES)
    data = _dataset(task, n_examples, dspy)
    _intro(console, app, task, module, len(data), cands, dspy)
    t0 = time.perf_counter()
    result = aa.optimize(app, data, task.metric, candidates=cands, strategy=strategy, seed=seed,
                         max_concurrency=max_concurrency, progress=progress)
    elapsed = time.perf_counter() - t0

    console.print()
    result.print_summary(console=console)
    html = result.plot(out / "pareto.html")
    cfg = result.export(out / "agentopt.json")
    samples_line, samples = _samples_line(result, cands)
    summary = {
        "app": module, "framework": result.framework, "task": task.name, "n_examples": len(data),
        "candidates": cands, "seed": seed, "strategy": result.strategy,
        "elapsed_s": round(elapsed, 2), **_measured(result), "samples_vs_frontier": samples,
        "files": {"pareto_html": str(html), "config": str(cfg)},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")

    if samples_line:
        console.print(f"\n{samples_line}", markup=False, highlight=False)
    console.print(f"\nsearch took {elapsed:.1f}s; wrote {html}, {cfg} and {out / 'summary.json'}")
    name = "program" if dspy else "graph"
    console.print("Apply it in your app (after `import agentopt_adapters as aa` and building "
                  f"`{name}`):")
    console.print(f"    {_APPLY_LINE[dspy].format(path=cfg)}", markup=False, highlight=False)
    return summary
