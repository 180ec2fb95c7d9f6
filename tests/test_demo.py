"""`agentopt demo` end to end, as a user runs it: a subprocess,
its printed summary and its files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import agentopt_adapters as aa

pytestmark = pytest.mark.slow

ENV = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "120"}


def _demo(tmp_path: Path, *extra: str) -> tuple[str, Path]:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "agentopt_adapters.cli", "demo", "--out", str(out), *extra]
    # a hang guard
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=540, env=ENV, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout, out


def _check(stdout: str, out: Path, app_name: str) -> dict:
    flat = " ".join(stdout.split())
    assert "Pareto front" in flat and "Best" in flat and "brute force" in flat
    assert "Best vs baseline" in flat
    assert f'{app_name} = aa.apply({app_name}, "{out / "agentopt.json"}")' in flat
    html = out / "pareto.html"
    assert html.is_file()
    assert html.stat().st_size > 10_000
    assert "plotly" in html.read_text()[:200_000].lower()
    cfg = json.loads((out / "agentopt.json").read_text())
    assert cfg["agentopt"]["n"] > 0
    summary = json.loads((out / "summary.json").read_text())
    best, base = summary["best"], summary["baseline"]
    assert set(base["assignment"].values()) == {"(current)"}  # the app's own model objects
    assert set(summary["baseline_models"].values()) == {"sim/frontier"}
    # measured in the same run: cheaper at equal-or-better score
    assert best["assignment"] != base["assignment"]
    assert best["score"] >= base["score"]
    assert best["cost_per_example_usd"] < base["cost_per_example_usd"]
    assert summary["best_beats_baseline"] is True
    return summary


def test_demo_langgraph(tmp_path: Path) -> None:
    stdout, out = _demo(tmp_path, "--examples", "40")
    summary = _check(stdout, out, "graph")
    from agentopt_adapters.sim.demo.langgraph_app import graph
    from agentopt_adapters.sim.tasks import load_task

    tuned = aa.apply(graph, out / "agentopt.json")
    with aa.bind(tuned, {}) as run:  # the tuned graph routes every call to the exported models
        item = load_task("arithmetic").items[0]
        output, usage = run({"question": item["question"]})
    # "sim/small*8:vote" calls sim/small
    exported = {v.split("*")[0] for v in summary["best"]["assignment"].values()}
    assert {c.model for c in usage} <= exported
    assert output["final_answer"]
    assert tuned.invoke({"question": item["question"]})["final_answer"]


def test_demo_dspy(tmp_path: Path) -> None:
    stdout, out = _demo(tmp_path, "--dspy", "--examples", "40")
    _check(stdout, out, "program")
    from agentopt_adapters.sim.demo.dspy_app import program
    from agentopt_adapters.sim.tasks import load_task

    tuned = aa.apply(program, out / "agentopt.json")
    cfg = json.loads((out / "agentopt.json").read_text())
    item = load_task("multihop").items[0]
    pred = tuned(question=item["question"])
    assert isinstance(pred.answer, str) and pred.answer
    assert cfg["agentopt"]["score"] is not None


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable",
                 "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_pareto_html_opens_in_headless_chromium(tmp_path: Path) -> None:
    chrome = _chromium()
    if chrome is None:
        pytest.skip("Chromium is not installed (.ci/run installs it)")
    from agentopt_adapters.sim.demo.run import run_demo

    run_demo(out_dir=tmp_path, n_examples=12, progress=False)
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [chrome, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}",
         "--window-size=1000,700", "--virtual-time-budget=5000", f"--screenshot={shot}",
         (tmp_path / "pareto.html").as_uri()],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.is_file()
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 5_000
