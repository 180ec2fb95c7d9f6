"""Many workers on one PostgreSQL study: `agentopt optimize --storage postgresql://... --study
NAME` run by several processes shares the work, never pays for a cell twice, and survives a killed
worker.

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

import mw_app
from agentopt_adapters import optimize
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
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MW_", "AGENTOPT_HEARTBEAT", "AGENTOPT_GRACE"))}
    env.update(PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS), env.get("PYTHONPATH", "")]),
               MW_LOG=str(log), AGENTOPT_SIM_TIME_SCALE="0.003", **extra)
    return env


def _worker(app: str, data: Path, url: str, study: str, out: Path,
            env: dict[str, str]) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "agentopt_adapters.cli", "optimize", f"mw_app:{app}", "--data",
           str(data), "--metric", "mw_app:metric", "--candidates", ",".join(CANDIDATES),
           "--storage", url, "--study", study, "--no-progress", "--max-concurrency", "4", "--out",
           str(out)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, cwd=out.parent)


def _wait_for(cond, procs, what: str, timeout: float = 180.0, explain=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        for p in procs:
            if p.poll() is not None:
                pytest.fail(f"a worker exited (code {p.returncode}) while waiting for "
                            f"{what}:\n{p.stdout.read()}")
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
    res = optimize(app, items, mw_app.metric, candidates=CANDIDATES, max_concurrency=4,
                   progress=False)
    cells = [c for _, c in _evaluations(log)]
    assert len(cells) == len(set(cells))
    return res.best.assignment, set(cells)


def _stored_cells(url: str, studies: list[str]) -> set[tuple[str, str, str]]:
    """(planner, solver, example id) of every stored cell; none stored twice in a study."""
    ids = {i: x["id"] for i, x in enumerate(load_task("arithmetic").items[:N_EXAMPLES])}
    union: set[tuple[str, str, str]] = set()
    for name in studies:
        out: set[tuple[str, str, str]] = set()
        try:
            study = optuna.load_study(study_name=name, storage=resolve_url(url))
            trials = study.get_trials(deepcopy=False)
        except KeyError:  # not created yet
            continue
        for t in trials:
            for k in t.system_attrs:
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
    # both workers hold claimed cells before either evaluates one (the first look, 9 combinations x
    # 5 examples = 45 cells, is more than one claim of 32, so the second worker always gets some)
    _wait_for(lambda: len(list(gate.glob("ready-*"))) == 2, procs, "both workers to claim cells")
    (gate / "go").touch()
    for p in procs:
        _finish(p)

    evals = _evaluations(log)
    per_cell = collections.Counter(cell for _, cell in evals)
    dupes = {c: n for c, n in per_cell.items() if n > 1}
    by_worker = collections.Counter(pid for pid, _ in evals)
    print(f"\n2 workers: {len(evals)} evaluations, per worker {dict(by_worker)}, duplicate cells "
          f"{len(dupes)}")
    assert dupes == {}, f"cells evaluated more than once across workers: {dupes}"
    assert len(by_worker) == 2 and min(by_worker.values()) > 0, by_worker

    best, ref_cells = _reference(mw_app.app, items, tmp_path / "ref.jsonl", monkeypatch)
    assert set(per_cell) == ref_cells, "the workers evaluated other cells than one worker would"
    assert _stored_cells(pg_url, ["shared"]) == ref_cells
    assert _picked(outs[0]) == _picked(outs[1]) == best

    from agentopt_search.storage import read_run

    assert {(c.assignment["planner"], c.assignment["solver"])
            for c in read_run(pg_url, "shared").cells} >= {
        tuple(best.values())}


def _search_worker(url: str, study: str, log: Path, strategy: str,
                   env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(TESTS / "mw_search_worker.py"), url, study,
                             str(log), strategy],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _search_log(log: Path) -> list[tuple[int, tuple[str, str, int]]]:
    if not log.exists():
        return []
    rows = [line.split() for line in log.read_text().splitlines() if line.strip()]
    return [(int(pid), (a, b, int(ex))) for pid, a, b, ex in rows]


def _search_reference(strategy: str) -> tuple[dict[str, str], set[tuple[str, str, int]]]:
    """One worker alone: its pick and the cells it evaluates (anchor included)."""
    from agentopt_search import search
    from mw_search_worker import ANCHORS, BEST, N_ITEMS, SLOTS, make_evaluate
    from search_helpers import Planted

    ref = Planted(SLOTS, BEST, n_items=N_ITEMS)
    cells: list[tuple[str, str, int]] = []
    single = search(ref.space, make_evaluate(ref, lambda a, e: cells.append((a["a"], a["b"], e))),
                    ref.examples, strategy=strategy, max_concurrency=4, progress=False,
                    anchors=ANCHORS)
    assert len(cells) == len(set(cells))
    return single.best.assignment, set(cells)


def _search_stored(url: str, study: str) -> set[tuple[str, str, int]]:
    from agentopt_search.storage import read_run

    try:
        cells = read_run(url, study).cells
    except ValueError:  # not created yet
        return set()
    out = {(c.assignment["a"], c.assignment["b"], c.example) for c in cells}
    assert len(out) == len(cells)
    return out


@pytest.mark.parametrize("backend,strategy",
                         [("postgresql", "brute_force"), ("postgresql", "auto"),
                          ("sqlite", "auto")])
def test_three_racing_search_workers(backend, strategy, pg_url, tmp_path):
    """agentopt_search alone, fast cells, three workers racing for claims: no cell twice,
    none missing."""
    url = pg_url if backend == "postgresql" else f"sqlite:///{tmp_path / 'run.db'}"
    study, log, gate = f"race-{backend}-{strategy}", tmp_path / "evals.txt", tmp_path / "gate"
    gate.mkdir()
    procs = [_search_worker(url, study, log, strategy,
                            _env(log, MW_SLEEP="0.005", MW_GATE=str(gate)))
             for _ in range(3)]
    # two workers hold claims before any evaluates (the first look of auto, 35 cells, may leave
    # none to a third)
    _wait_for(lambda: len(list(gate.glob("ready-*"))) >= 2, procs, "two workers to claim cells")
    (gate / "go").touch()
    results = [json.loads(_finish(p).strip().splitlines()[-1]) for p in procs]
    rows = _search_log(log)
    per_cell = collections.Counter(cell for _, cell in rows)
    dupes = {k: n for k, n in per_cell.items() if n > 1}
    print(f"\n{backend}/{strategy}: {len(rows)} evaluations by {len({p for p, _ in rows})} "
          f"workers, duplicates {len(dupes)}")
    assert dupes == {} and len({p for p, _ in rows}) >= 2
    best, ref_cells = _search_reference(strategy)
    assert set(per_cell) == ref_cells, "the workers evaluated other cells than one worker would"
    assert _search_stored(url, study) == ref_cells
    assert all(r["best"] == best for r in results)
    assert sum(r["paid"] for r in results) == len(rows)


def test_killed_workers_lose_no_cell(pg_url, tmp_path):
    """A and B run together; A gets stuck holding claimed cells and is killed (SIGKILL), the others
    redo them; then B gets stuck the same way and is killed, and a restarted worker C finishes.
    Every needed cell is stored, none is evaluated twice, every trial ends COMPLETE and no claim or
    heartbeat is left behind."""
    from agentopt_search.storage import OptunaStore, _sql

    log, a_killed, gate = tmp_path / "evals.txt", tmp_path / "a-killed", tmp_path / "gate"
    study = "killed"
    gate.mkdir()
    fast = dict(AGENTOPT_HEARTBEAT_S="1", AGENTOPT_GRACE_S="4", MW_SLEEP="0.005",
                MW_GATE=str(gate))
    a = _search_worker(pg_url, study, log, "auto", _env(log, MW_HANG_AFTER="10", **fast))
    # A claims first (a chunk of 32 of the first look's 35 cells: enough to get stuck after 10),
    # then B
    _wait_for(lambda: len(list(gate.glob("ready-*"))) == 1, [a], "A to claim cells")
    b = _search_worker(pg_url, study, log, "auto",
                       _env(log, MW_HANG_AFTER="20", MW_HANG_WHEN=str(a_killed), **fast))

    def done(pid: int) -> set:
        return {cell for p, cell in _search_log(log) if p == pid}

    def stuck(pid: int) -> bool:
        """It blocks in evaluate (its log is final) and every cell it finished is stored:
        it holds claims only."""
        return Path(f"{log}.hung-{pid}").exists() and done(pid) <= _search_stored(pg_url, study)

    def explain(pid: int):
        return lambda: (f"hung: {Path(f'{log}.hung-{pid}').exists()}; logged but not stored by "
                        f"{pid}: {done(pid) - _search_stored(pg_url, study)}")

    _wait_for(lambda: len(list(gate.glob("ready-*"))) == 2, [a, b], "A and B to claim cells")
    (gate / "go").touch()
    _wait_for(lambda: stuck(a.pid), [a, b], "A to get stuck", explain=explain(a.pid))
    a.send_signal(signal.SIGKILL)
    a.wait()
    # B evaluates 20 more cells (A's among them once A's heartbeat is stale), then blocks
    a_killed.touch()
    _wait_for(lambda: stuck(b.pid), [b], "B to take over and get stuck", explain=explain(b.pid))
    b.send_signal(signal.SIGKILL)
    b.wait()
    c = _search_worker(pg_url, study, log, "auto", _env(log, **fast))
    result = json.loads(_finish(c).strip().splitlines()[-1])

    rows = _search_log(log)
    per_cell = collections.Counter(cell for _, cell in rows)
    dupes = {cell: n for cell, n in per_cell.items() if n > 1}
    by_worker = {name: len(done(p.pid)) for name, p in (("A", a), ("B", b), ("C", c))}
    best, ref_cells = _search_reference("auto")
    stored = _search_stored(pg_url, study)
    print(f"\nkilled workers: evaluations per worker {by_worker}, duplicate cells {len(dupes)}, "
          f"cells lost {len(ref_cells - stored)}")
    assert min(by_worker.values()) > 0, by_worker
    assert dupes == {}, f"cells evaluated more than once: {dupes}"
    assert stored == ref_cells, \
        f"lost {sorted(ref_cells - stored)[:5]}, extra {sorted(stored - ref_cells)[:5]}"
    assert result["best"] == best

    loaded = optuna.load_study(study_name=study, storage=resolve_url(pg_url))
    trials = loaded.get_trials(deepcopy=False)
    assert {t.state.name for t in trials} == {"COMPLETE"}
    assert len(trials) == len({(a, b_) for a, b_, _ in stored})
    with OptunaStore(pg_url, study) as store, store._engine.connect() as conn:
        # no claim or beat left
        assert _sql.read_system_attrs(conn, store.study_id, "agentopt:") == {}
