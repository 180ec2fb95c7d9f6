"""Does a slow metric (an LLM judge) block other evaluations? ``aa.optimize`` with a metric that
takes ``--metric-s`` seconds (sync: it sleeps in a worker thread; ``--async-metric``: awaited on
the loop), on a one-slot app whose model calls are instant.

    python -m agentopt_adapters.sim.bench.slow_metric [--metric-s 0.5] [--examples 16]
        [--concurrency 1,8]

Speedup = the sum of the metric's seconds over every scored evaluation / the run's wall time. A
metric run on the event-loop thread would score about 1x whatever ``max_concurrency`` is.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
from typing import Any

__all__ = ["main"]


def _app(models: dict[str, str], ex: dict[str, Any]) -> str:
    from ...callable import completion

    r = completion(models, "solve", messages=[{"role": "user", "content": ex["question"]}])
    return r.choices[0].message.content


_app.agentopt_slots = {"solve": "sim/large"}  # type: ignore[attr-defined]


class _Metric:
    """The task's metric, taking ``seconds`` like a judge call; counts what it was asked."""

    def __init__(self, seconds: float, task: Any) -> None:
        self.seconds, self.task, self.calls = seconds, task, 0
        self.lock = threading.Lock()

    def __call__(self, example: Any, output: Any) -> float:
        with self.lock:
            self.calls += 1
        time.sleep(self.seconds)  # the judge's latency: what this benchmark measures
        return float(self.task.metric(example, output))

    async def judge(self, example: Any, output: Any) -> float:
        with self.lock:
            self.calls += 1
        await asyncio.sleep(self.seconds)
        return float(self.task.metric(example, output))


def run(metric_s: float, n_examples: int, concurrency: int, use_async: bool) -> dict[str, float]:
    import agentopt_adapters as aa

    from ..tasks import load_task

    task = load_task("arithmetic")
    metric = _Metric(metric_s, task)
    start = time.perf_counter()
    aa.optimize(_app, task.items[:n_examples], metric.judge if use_async else metric,
                ["sim/nano", "sim/small"], strategy="brute_force", max_concurrency=concurrency,
                progress=False)
    wall = time.perf_counter() - start
    return {"wall_s": wall, "metric_s": metric.calls * metric_s,
            "speedup": metric.calls * metric_s / wall}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--metric-s", type=float, default=0.5)
    ap.add_argument("--examples", type=int, default=16)
    ap.add_argument("--concurrency", default="1,8")
    ap.add_argument("--async-metric", action="store_true")
    args = ap.parse_args(argv)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    # instant model calls: only the metric takes time
    os.environ.setdefault("AGENTOPT_SIM_TIME_SCALE", "0")
    print(f"metric {args.metric_s}s "
          f"({'async' if args.async_metric else 'sync, in worker threads'}), {args.examples} "
          "examples x 3 assignments (2 candidates + the baseline)")
    run(0.0, 2, 2, args.async_metric)  # warm-up: imports and first calls are not what is measured
    for c in (int(x) for x in args.concurrency.split(",")):
        r = run(args.metric_s, args.examples, c, args.async_metric)
        print(f"max_concurrency={c:>3}: wall {r['wall_s']:.2f}s for {r['metric_s']:.1f}s of "
              f"metric -> speedup {r['speedup']:.1f}x")


if __name__ == "__main__":
    main()
