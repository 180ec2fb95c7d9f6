"""Many workers on one PostgreSQL study: `agentopt optimize --storage postgresql://... --study NAME` run
by several processes shares the work, never pays for a cell twice, and survives a killed worker.

The server is started here (initdb + pg_ctl in a temp dir); the app is tests/mw_app.py, a two-slot
callable on the in-process simulated models that logs every evaluation it finishes.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from typer.testing import CliRunner

import mw_app
from agentopt_adapters import optimize
from agentopt_adapters.cli import app as cli_app
from agentopt_adapters.sim.tasks import load_task
from agentopt_search.storage import resolve_url
from pg_server import postgres_server

pytestmark = pytest.mark.slow

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
CANDIDATES = ["sim/nano", "sim/small", "sim/large"]
N_EXAMPLES = 36


@pytest.fixture(scope="module")
def pg_url():
    with postgres_server() as url:
        yield url


@pytest.fixture()
def data(tmp_path):
    items = load_task("arithmetic").items[:N_EXAMPLES]
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in items) + "\n")
    return items, path


def _env(log: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MW_", "AGENTOPT_HEARTBEAT", "AGENTOPT_GRACE"))}
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS), env.get("PYTHONPATH", "")]),
               MW_LOG=str(log), AGENTOPT_SIM_TIME_SCALE="0.003", **extra)
    return env


def _worker(app: str, data: Path, url: str, study: str, out: Path, env: dict[str, str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "agentopt_adapters.cli", "optimize", f"mw_app:{app}", "--data", str(data),
           "--metric", "mw_app:metric", "--candidates", ",".join(CANDIDATES), "--storage", url, "--study", study,
           "--no-progress", "--max-concurrency", "4", "--out", str(out)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=out.parent)


def _wait_for(cond, procs, what: str, timeout: float = 180.0, explain=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        for p in procs:
            if p.poll() is not None:
                pytest.fail(f"a worker exited (code {p.returncode}) while waiting for {what}:\n{p.stdout.read()}")
        if time.monotonic() > deadline:
            for p in procs:
                p.kill()
            outs = "\n".join(p.communicate()[0][-3000:] for p in procs)
            pytest.fail(f"timed out waiting for {what}; {explain()}\n{outs}")
        time.sleep(0.05)


def _finish(p: subprocess.Popen) -> str:
    out, _ = p.communicate(timeout=300)
    assert p.returncode == 0, out
    return out


def _evaluations(log: Path) -> list[tuple[int, tuple[str, str, str]]]:
    if not log.exists():
        return []
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [(r["pid"], (r["planner"], r["solver"], r["id"])) for r in rows]


def _reference(app, items, log: Path, monkeypatch) -> tuple[dict[str, str], set]:
    """The single-worker run: its pick and the set of cells it evaluated."""
    monkeypatch.setenv("MW_LOG", str(log))
    monkeypatch.setenv("AGENTOPT_SIM_TIME_SCALE", "0")
    monkeypatch.delenv("MW_GATE", raising=False)
    monkeypatch.delenv("MW_HANG_AFTER", raising=False)
    res = optimize(app, items, mw_app.metric, candidates=CANDIDATES, max_concurrency=4, progress=False)
    cells = [c for _, c in _evaluations(log)]
    assert len(cells) == len(set(cells))
    return res.best.assignment, set(cells)


def _stored_cells(url: str, studies: list[str], worker: int | None = None) -> set[tuple[str, str, str]]:
    """(planner, solver, example id) of every stored cell (of one worker's trials); none stored twice in a study."""
    ids = {i: x["id"] for i, x in enumerate(load_task("arithmetic").items[:N_EXAMPLES])}
    union: set[tuple[str, str, str]] = set()
    for name in studies:
        out: set[tuple[str, str, str]] = set()
        try:
            trials = optuna.load_study(study_name=name, storage=resolve_url(url)).get_trials(deepcopy=False)
        except KeyError:  # not created yet
            continue
        for t in trials:
            if worker is not None and not t.user_attrs.get("worker", "").endswith(f":{worker}"):
                continue
            for k in t.user_attrs:
                if k.startswith("cell:"):
                    cell = (t.params["planner"], t.params["solver"], ids[int(k[5:])])
                    assert cell not in out, f"cell {cell} stored twice in study {name}"
                    out.add(cell)
        union |= out
    return union


def _picked(out: Path) -> dict[str, str]:
    return {k: v["model"] for k, v in json.loads(out.read_text())["slots"].items()}


def test_two_workers_share_one_study_without_duplicates(pg_url, data, tmp_path, monkeypatch):
    items, data_path = data
    log, gate = tmp_path / "evals.jsonl", tmp_path / "gate"
    gate.mkdir()
    env = _env(log, MW_GATE=str(gate))
    outs = [tmp_path / "w1.json", tmp_path / "w2.json"]
    procs = [_worker("app", data_path, pg_url, "shared", out, env) for out in outs]
    # both workers hold claimed cells before either evaluates one (the first look, 9 combinations x 5
    # examples = 45 cells, is more than one claim of 32, so the second worker always gets some)
    _wait_for(lambda: len(list(gate.glob("ready-*"))) == 2, procs, "both workers to claim cells")
    (gate / "go").touch()
    for p in procs:
        _finish(p)

    evals = _evaluations(log)
    per_cell = collections.Counter(cell for _, cell in evals)
    dupes = {c: n for c, n in per_cell.items() if n > 1}
    by_worker = collections.Counter(pid for pid, _ in evals)
    print(f"\n2 workers: {len(evals)} evaluations, per worker {dict(by_worker)}, duplicate cells {len(dupes)}")
    assert dupes == {}, f"cells evaluated more than once across workers: {dupes}"
    assert len(by_worker) == 2 and min(by_worker.values()) > 0, by_worker

    best, ref_cells = _reference(mw_app.app, items, tmp_path / "ref.jsonl", monkeypatch)
    assert set(per_cell) == ref_cells, "the workers evaluated other cells than one worker would"
    assert _stored_cells(pg_url, ["shared"]) == ref_cells
    assert _picked(outs[0]) == _picked(outs[1]) == best

    shown = CliRunner().invoke(cli_app, ["show", pg_url, "--study", "shared", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["best"]["assignment"] == best


@pytest.mark.parametrize("backend,strategy", [("postgresql", "brute_force"), ("postgresql", "auto"), ("sqlite", "auto")])
def test_three_racing_search_workers(backend, strategy, pg_url, tmp_path):
    """agentopt_search alone, fast cells, three workers racing for claims: no cell twice, none missing."""
    url = pg_url if backend == "postgresql" else f"sqlite:///{tmp_path / 'run.db'}"
    study, log = f"race-{backend}-{strategy}", tmp_path / "evals.txt"
    env = _env(log)
    procs = [subprocess.Popen([sys.executable, str(TESTS / "mw_search_worker.py"), url, study, str(log), strategy],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(3)]
    results = [json.loads(_finish(p).strip().splitlines()[-1]) for p in procs]
    rows = [tuple(map(int, line.split())) for line in log.read_text().splitlines()]
    per_cell = collections.Counter((c, e) for _, c, e in rows)
    dupes = {k: n for k, n in per_cell.items() if n > 1}
    print(f"\n{backend}/{strategy}: {len(rows)} evaluations by {len({p for p, _, _ in rows})} workers, duplicates {len(dupes)}")
    assert dupes == {}

    from agentopt_search import search
    from mw_search_worker import BEST, N_ITEMS, SLOTS
    from search_helpers import Planted

    ref = Planted(SLOTS, BEST, n_items=N_ITEMS)
    single = search(ref.space, ref.evaluate, ref.examples, strategy=strategy, max_concurrency=4, progress=False)
    assert set(per_cell) == set(ref.calls), "the workers evaluated other cells than one worker would"
    assert all(r["best"] == single.best.assignment for r in results)
    assert sum(r["paid"] for r in results) == len(rows)


def test_killed_workers_lose_no_cell(pg_url, data, tmp_path, monkeypatch):
    """A and B run together; A gets stuck holding claimed cells and is killed (SIGKILL), the others redo them;
    then B gets stuck the same way and is killed, and a restarted worker C finishes. Every needed cell is
    stored, none is evaluated twice, and the dead workers' trials end failed (stale heartbeat)."""
    items, data_path = data
    log, a_killed = tmp_path / "evals.jsonl", tmp_path / "a-killed"
    fast = dict(AGENTOPT_HEARTBEAT_S="1", AGENTOPT_GRACE_S="4")
    study = "killed"
    a = _worker("app_with_baseline", data_path, pg_url, study, tmp_path / "a.json", _env(log, MW_HANG_AFTER="10", **fast))
    b = _worker("app_with_baseline", data_path, pg_url, study, tmp_path / "b.json",
                _env(log, MW_HANG_AFTER="20", MW_HANG_WHEN=str(a_killed), **fast))

    def count(pid: int) -> int:
        return sum(1 for p, _ in _evaluations(log) if p == pid)

    def stuck(pid: int) -> bool:
        """It blocks in the app (its log is final) and every cell it finished is stored: it holds claims only."""
        done = {cell for p, cell in _evaluations(log) if p == pid}
        return Path(f"{log}.hung-{pid}").exists() and \
            done <= _stored_cells(pg_url, [study, f"{study}-baseline"], worker=pid)

    def explain(pid: int):
        return lambda: (f"hung: {Path(f'{log}.hung-{pid}').exists()}; logged but not stored by {pid}: "
                        f"{ {c for p, c in _evaluations(log) if p == pid} - _stored_cells(pg_url, [study, f'{study}-baseline'], worker=pid)}; "
                        f"evaluations per pid {collections.Counter(p for p, _ in _evaluations(log))}")

    _wait_for(lambda: stuck(a.pid), [a, b], "A to get stuck", explain=explain(a.pid))
    a.send_signal(signal.SIGKILL)
    a.wait()
    a_killed.touch()  # B evaluates 20 more cells (A's among them once A's heartbeat is stale), then blocks
    _wait_for(lambda: stuck(b.pid), [b], "B to take over and get stuck", explain=explain(b.pid))
    b.send_signal(signal.SIGKILL)
    b.wait()
    c = _worker("app_with_baseline", data_path, pg_url, study, tmp_path / "c.json", _env(log, **fast))
    _finish(c)

    evals = _evaluations(log)
    per_cell = collections.Counter(cell for _, cell in evals)
    dupes = {cell: n for cell, n in per_cell.items() if n > 1}
    by_worker = {name: count(p.pid) for name, p in (("A", a), ("B", b), ("C", c))}
    best, ref_cells = _reference(mw_app.app_with_baseline, items, tmp_path / "ref.jsonl", monkeypatch)
    stored = _stored_cells(pg_url, [study, f"{study}-baseline"])
    print(f"\nkilled workers: evaluations per worker {by_worker}, duplicate cells {len(dupes)}, "
          f"cells lost {len(ref_cells - stored)}")
    assert min(by_worker.values()) > 0, by_worker
    assert dupes == {}, f"cells evaluated more than once: {dupes}"
    assert ref_cells <= stored, f"cells lost: {sorted(ref_cells - stored)[:5]}"
    assert stored == ref_cells
    assert _picked(tmp_path / "c.json") == best

    states: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for name in (study, f"{study}-baseline"):
        for t in optuna.load_study(study_name=name, storage=resolve_url(pg_url)).get_trials(deepcopy=False):
            pid = int(t.user_attrs["worker"].rsplit(":", 1)[1])
            states[{a.pid: "A", b.pid: "B", c.pid: "C"}[pid]][t.state.name] += 1
    print(f"trial states per worker: { {k: dict(v) for k, v in states.items()} }")
    # the killed workers died holding claims: their RUNNING trials were failed as stale; none is left running
    assert states["A"]["FAIL"] > 0 and states["B"]["FAIL"] > 0
    assert all(v["RUNNING"] == 0 for v in states.values())
    assert set(states["C"]) <= {"COMPLETE"}
