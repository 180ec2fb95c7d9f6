"""Adapter overhead per LM call, DSPy: a bound run vs the plain program, on a zero-latency fake LM.

Run: ``python -m agentopt_adapters.dspy.bench [--runs 100]``. Prints CPU µs per LM call for the
plain program, the plain program with one no-op DSPy callback registered (what any callback
costs), and the program run through ``aa.bind``; and the ratios bound / plain. All figures come
from this run.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # a benchmark never downloads prices

import argparse
import re
import time
from collections.abc import Callable
from typing import Any

import dspy
from dspy.lm15 import Message, Response, TextPart, Usage
from dspy.utils.callback import BaseCallback

import agentopt_adapters as aa

__all__ = ["FakeEngine", "fake_lm", "Pipeline", "main"]

_FIELDS = re.compile(r"`\[\[ ## (\w+) ## \]\]`")


class FakeEngine:
    """A DSPy engine answering every output field the ChatAdapter prompt asks for, instantly."""

    def complete(self, request: Any) -> Response:
        asked = request.messages[-1].text or ""
        tail = asked[asked.rfind("Respond with the corresponding output fields"):]
        fields = [f for f in _FIELDS.findall(tail) if f != "completed"]
        body = "".join(f"[[ ## {f} ## ]]\n0\n\n" for f in fields) + "[[ ## completed ## ]]"
        return Response(id=None, model="fake", message=Message.assistant([TextPart(body)]),
                        finish_reason="stop",
                        usage=Usage(input_tokens=10, output_tokens=5, total_tokens=15))

    def close(self) -> None:
        pass


class _AsyncFakeEngine:
    def __init__(self) -> None:
        self.sync = FakeEngine()

    async def complete(self, request: Any) -> Response:
        return self.sync.complete(request)

    async def aclose(self) -> None:
        pass


def fake_lm(name: str = "openai/fake") -> dspy.LM:
    """An uncached dspy.LM on the zero-latency fake engine (sync and async)."""
    return dspy.LM(name, engine=FakeEngine(), async_engine=_AsyncFakeEngine(), cache=False)


class Pipeline(dspy.Module):
    """Three predictors: Predict, ChainOfThought, Predict (3 LM calls per run)."""

    def __init__(self) -> None:
        super().__init__()
        self.draft = dspy.Predict("question -> answer")
        self.think = dspy.ChainOfThought("question, draft -> answer")
        self.final = dspy.Predict("question, answer -> final_answer")

    def forward(self, question: str) -> dspy.Prediction:
        draft = self.draft(question=question).answer
        answer = self.think(question=question, draft=draft).answer
        return self.final(question=question, answer=answer)


def _interleaved_us(variants: dict[str, Callable[[], Any]], runs: int, calls_per_run: int,
                    repeats: int = 15) -> dict[str, float]:
    """CPU µs of this process per LM call of each variant: the variants take turns, and each figure
    is the best of ``repeats`` turns of ``runs`` runs (CPU time, not wall time: on a machine shared
    with other jobs their load does not count against whichever variant it happens to hit)."""
    for fn in variants.values():
        for _ in range(10):
            fn()  # warm-up
    best: dict[str, float] = {name: float("inf") for name in variants}
    for _ in range(repeats):
        for name, fn in variants.items():
            start = time.process_time()
            for _ in range(runs):
                fn()
            per_call = (time.process_time() - start) / (runs * calls_per_run) * 1e6
            best[name] = min(best[name], per_call)
    return best


def measure(runs: int = 100) -> dict[str, float]:
    """µs per LM call: plain, plain + one no-op callback, bound with no assignment, bound with
    every slot assigned its own LM."""
    program = Pipeline()
    lm = fake_lm()
    aa.set_prices({f"openai/fake{suffix}": (0.1, 0.4) for suffix in ("", "-0", "-1", "-2")})
    example = {"question": "What is 2 + 2?"}
    calls = 3
    assignment = {name: fake_lm(f"openai/fake-{i}")
                  for i, (name, _) in enumerate(program.named_predictors())}
    noop = BaseCallback()

    def with_callback() -> Any:
        with dspy.context(callbacks=[noop]):
            return program(**example)

    with dspy.context(lm=lm), aa.bind(program, {}) as baseline, \
            aa.bind(program, assignment) as assigned:
        assert len(baseline(example)[1]) == calls
        assert [c.slot for c in assigned(example)[1]] == list(assignment)
        return _interleaved_us({
            "plain": lambda: program(**example),
            "plain + 1 no-op callback": with_callback,
            "bound, no assignment": lambda: baseline(example),
            "bound, every slot assigned": lambda: assigned(example),
        }, runs, calls)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100,
                        help="program runs per timing sample (3 LM calls each)")
    args = parser.parse_args(argv)
    figures = measure(args.runs)
    plain = figures["plain"]
    print(f"{'DSPy, zero-latency LM':<30} {'CPU µs / call':>13} {'vs plain':>9} "
          f"{'overhead µs':>12}")
    for label, us in figures.items():
        print(f"{label:<30} {us:>13.1f} {us / plain:>8.2f}x {us - plain:>12.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
