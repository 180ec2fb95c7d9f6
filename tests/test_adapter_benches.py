"""The adapter-overhead benchmarks run end to end on a tiny budget: one row per variant. (Their
figures are not checked here: a test never asserts on timing; the benchmarks print ratios measured
in the run.)"""

from __future__ import annotations

import pytest


def _rows(out: str) -> list[str]:
    return [line.split("  ")[0].strip() for line in out.strip().splitlines()[1:]]


def test_dspy_bench_prints_one_row_per_variant(capsys: pytest.CaptureFixture[str]) -> None:
    from agentopt_adapters.dspy import bench

    assert bench.main(["--runs", "1"]) == 0
    assert _rows(capsys.readouterr().out) == ["plain", "plain + 1 no-op callback",
                                              "bound, no assignment", "bound, every slot assigned"]


def test_langgraph_bench_prints_one_row_per_variant(capsys: pytest.CaptureFixture[str]) -> None:
    from agentopt_adapters.langgraph import bench

    bench.main(["--runs", "1", "--calls", "2"])
    assert _rows(capsys.readouterr().out) == [
        "plain graph.invoke", "graph.invoke + no-op callback", "aa.bind(graph, {}) (baseline)",
        "aa.bind(graph, {work: other model})", "plain, forced tool",
        "aa.bind, forced tool, other class"]
