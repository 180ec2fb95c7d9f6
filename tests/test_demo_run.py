"""The demo modules at unit level (fast lane): each bundled app goes through ``run_demo`` on a few
examples with one candidate and writes the files the demo promises (the full demo is in
test_demo.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from agentopt_adapters.sim.demo import run_demo  # the package-level entry (lazy import of run.py)


@pytest.mark.parametrize("use_dspy, slots",
                         [(False, {"plan", "solve"}), (True, {"plan.predict", "answer"})])
def test_run_demo_on_a_few_examples_writes_summary_config_and_plot(tmp_path: Path, use_dspy: bool,
                                                                   slots: set[str]) -> None:
    printed = io.StringIO()
    summary = run_demo(dspy=use_dspy, out_dir=tmp_path, n_examples=3, candidates=["sim/mini"],
                       strategy="brute_force", progress=False,
                       console=Console(file=printed, width=160))
    assert summary["n_examples"] == 3 and summary["candidates"] == ["sim/mini"]
    base = summary["baseline"]["assignment"]
    # the apps' own model objects ...
    assert set(base) == slots and set(base.values()) == {"(current)"}
    # ... which call sim/frontier
    assert set(summary["baseline_models"].values()) == {"sim/frontier"}
    # the one asked combination and the baseline beside it
    assert summary["n_evaluations"] == 2 * 3
    assert json.loads((tmp_path / "summary.json").read_text())["best"] == summary["best"]
    config = json.loads((tmp_path / "agentopt.json").read_text())
    picked = {slot: entry["model"] for slot, entry in config["slots"].items()}
    assert picked == summary["best"]["assignment"]
    assert (tmp_path / "pareto.html").stat().st_size > 0
    app = "program" if use_dspy else "graph"
    assert f'aa.apply({app}, "{tmp_path / "agentopt.json"}")' in printed.getvalue()


def test_run_demo_sets_a_candidate_with_samples_against_the_frontier_model(tmp_path: Path) -> None:
    printed = io.StringIO()
    summary = run_demo(dspy=False, out_dir=tmp_path, n_examples=3, candidates=["sim/mini*2:vote"],
                       strategy="brute_force", progress=False,
                       console=Console(file=printed, width=200))
    line = summary["samples_vs_frontier"]
    assert "sim/mini*2:vote" in " ".join(line["combination"]["assignment"].values())
    assert line["frontier_cost_over_samples_cost"] == pytest.approx(
        line["baseline"]["cost_per_example_usd"] / line["combination"]["cost_per_example_usd"])
    text = " ".join(printed.getvalue().split())
    assert "With samples: " in text and "the app as it is (sim/frontier) scores" in text
    assert "uses samples (best-of-n)" in (tmp_path / "pareto.html").read_text()
