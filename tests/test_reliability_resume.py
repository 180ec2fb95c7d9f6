"""Crash and resume: an ``agentopt optimize --storage run.db`` run killed with SIGKILL mid-search
and started again with the same command pays for no stored cell again and reaches the uninterrupted
pick."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import optuna
import pytest
from typer.testing import CliRunner

from agentopt_adapters.cli import app as cli_app
from agentopt_adapters.sim.server import SimServer, serve_in_thread
from agentopt_adapters.sim.tasks import load_task
from agentopt_search import read_run

APP = textwrap.dedent('''
    import os
    from agentopt_adapters.callable import completion

    def app(models, ex):
        r = completion(models, "solve", messages=[{"role": "user", "content": ex["question"]}],
                       api_base=os.environ["AGENTOPT_TEST_SIM_URL"], api_key="unused")
        return r.choices[0].message.content

    app.agentopt_slots = {"solve": "openai/sim/large"}

    def metric(example, output):
        from agentopt_adapters.sim.tasks import load_task
        return load_task("arithmetic").metric(example, output)
''')
CALLS_PER_CELL = 1  # the app makes one model call per example


def command(tmp: Path, db: str, out: str) -> list[str]:
    return [sys.executable, "-m", "agentopt_adapters.cli", *args(tmp, db, out)]


def args(tmp: Path, db: str, out: str) -> list[str]:
    return ["optimize", f"{tmp / 'app.py'}:app",
            "--data", str(tmp / "data.jsonl"), "--metric", f"{tmp / 'app.py'}:metric",
            "--candidates", "openai/sim/nano,openai/sim/small,openai/sim/medium",
            "--storage", str(tmp / db), "--out", str(tmp / out), "--no-progress",
            "--max-concurrency", "2", "--seed", "3"]


def stored_cells(db: Path) -> tuple[set[tuple[str, int]], dict[str, int]]:
    """Distinct (combination, example) cells stored in ``db`` (``read_run``);
    trial states counted."""
    url = f"sqlite:///{db}"
    run = read_run(url)
    cells = {("|".join(f"{k}={v}" for k, v in sorted(c.assignment.items())), c.example)
             for c in run.cells
             if not c.shared}
    states: dict[str, int] = {}
    for t in optuna.load_study(study_name=run.study_name, storage=url).get_trials(deepcopy=False):
        states[t.state.name] = states.get(t.state.name, 0) + 1
    return cells, states


def _has_cells(db: Path) -> bool:
    try:
        return bool(stored_cells(db)[0])
    except (ValueError, Exception):  # noqa: BLE001 - the database may not hold the study yet
        return False


def run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return res


@pytest.fixture()
def server() -> Any:
    # each simulated call takes a few real milliseconds, so the search lasts long enough to be
    # killed in
    with serve_in_thread(port=0, time_scale=0.05) as srv:
        yield srv


@pytest.mark.slow
def test_sigkill_then_same_command_repays_nothing_and_reaches_the_same_pick(
        tmp_path: Path, server: SimServer, monkeypatch: pytest.MonkeyPatch) -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "data.jsonl").write_text("\n".join(json.dumps(x)
                                                   for x in load_task("arithmetic").items[:10])
                                         + "\n")
    env = {**os.environ, "AGENTOPT_TEST_SIM_URL": server.url}

    # the uninterrupted reference (the same CLI command, in this process to save a start-up)
    monkeypatch.setenv("AGENTOPT_TEST_SIM_URL", server.url)
    ref = CliRunner().invoke(cli_app, args(tmp_path, "ref.db", "ref.json"))
    assert ref.exit_code == 0, ref.output
    ref_requests = server.request_count
    ref_cells, ref_states = stored_cells(tmp_path / "ref.db")
    assert ref_requests == len(ref_cells) * CALLS_PER_CELL and set(ref_states) == {"COMPLETE"}

    # the same command, killed with SIGKILL once the server has answered ~40% of the reference's
    # calls
    threshold = ref_requests + int(0.4 * ref_requests)
    proc = subprocess.Popen(command(tmp_path, "run.db", "run.json"), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline and not (
                server.request_count >= threshold and _has_cells(tmp_path / "run.db")):
            # polling for a condition (some calls answered, a flush written), not a duration
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    killed_requests = server.request_count - ref_requests
    at_kill, _states = stored_cells(tmp_path / "run.db")
    assert 0 < len(at_kill) < len(ref_cells)

    # started again with the same command
    before = server.request_count
    again = run(command(tmp_path, "run.db", "run.json"), env)
    resumed_requests = server.request_count - before
    final, _final_states = stored_cells(tmp_path / "run.db")
    new_cells = final - at_kill
    lost = killed_requests - len(at_kill) * CALLS_PER_CELL  # answered while killed, never stored

    print(f"\nreference {ref_requests} requests / {len(ref_cells)} cells; killed after "
          f"{killed_requests} requests with {len(at_kill)} cells stored ({lost} in flight lost); "
          f"resumed run {resumed_requests} requests for {len(new_cells)} new cells; stored cells "
          f"paid again: {resumed_requests - len(new_cells) * CALLS_PER_CELL}")
    assert resumed_requests == len(new_cells) * CALLS_PER_CELL  # zero stored cells paid again
    assert at_kill <= final and final == ref_cells
    # answered but not yet flushed (writes are batched: at most the last flush interval)
    assert lost >= 0
    ref_doc = json.loads((tmp_path / "ref.json").read_text())
    doc = json.loads((tmp_path / "run.json").read_text())
    assert doc["slots"] == ref_doc["slots"]  # the same pick
    assert doc["agentopt"]["score"] == ref_doc["agentopt"]["score"]
    assert doc["agentopt"]["n"] == ref_doc["agentopt"]["n"]
    assert "Leaderboard" in again.stdout
