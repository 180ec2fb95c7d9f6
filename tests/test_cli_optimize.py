"""agentopt optimize / show / dashboard on a small app file and a jsonl dataset."""

from __future__ import annotations

import json
import textwrap

import pytest
from typer.testing import CliRunner

from agentopt_adapters.cli import app
from agentopt_adapters.cli.loading import parse_candidates
from agentopt_adapters.cli.run_commands import dashboard_command
from agentopt_adapters.errors import AgentOptError
from agentopt_adapters.sim.tasks import load_task

runner = CliRunner()

APP = textwrap.dedent('''
    from agentopt_adapters.callable import completion

    def app(models, ex):
        r = completion(models, "solve", messages=[{"role": "user", "content": ex["question"]}])
        return r.choices[0].message.content

    app.agentopt_slots = {"solve": "sim/medium"}

    def metric(example, output):
        from agentopt_adapters.sim.tasks import load_task
        return load_task("arithmetic").metric(example, output)
''')


@pytest.fixture()
def files(tmp_path):
    (tmp_path / "myapp.py").write_text(APP)
    data = tmp_path / "data.jsonl"
    data.write_text("\n".join(json.dumps(x) for x in load_task("arithmetic").items[:6]) + "\n")
    return tmp_path


@pytest.mark.parametrize("cmd", ["optimize", "show", "dashboard", "models", "sim-server"])
def test_help(cmd):
    res = runner.invoke(app, [cmd, "--help"])
    assert res.exit_code == 0, res.output
    assert "Usage" in res.output


@pytest.mark.slow
def test_optimize_then_show(files):
    db = files / "run.db"
    out = files / "agentopt.json"
    res = runner.invoke(app,
                        ["optimize", f"{files / 'myapp.py'}:app", "--data",
                         str(files / "data.jsonl"),
                              "--metric", f"{files / 'myapp.py'}:metric", "--candidates",
                         "sim/nano,sim/small",
                              "--storage", str(db), "--out", str(out), "--plot",
                              str(files / "p.html"), "--no-progress", "--strategy", "brute_force"])
    assert res.exit_code == 0, res.output
    assert "Leaderboard" in res.output and "baseline" in res.output.lower()
    doc = json.loads(out.read_text())
    assert doc["format"] == "agentopt.assignment/v1" and set(doc["slots"]) == {"solve"}
    assert (files / "p.html").exists()
    shown = runner.invoke(app, ["show", str(db)])
    assert shown.exit_code == 0, shown.output
    assert "solve=sim/nano" in shown.output and "solve=sim/small" in shown.output
    assert "no model called" in shown.output and "baseline" in shown.output.lower()
    d = json.loads(runner.invoke(app, ["show", str(db), "--json"]).output)
    assert d["baseline"]["assignment"] == {"solve": "(current)"} and d["baseline"]["n"] == 6
    assert d["baseline_models"] == {"solve": "sim/medium"}
    assert d["best"]["assignment"] == {"solve": doc["slots"]["solve"]["model"]}
    ranked = {tuple(r["assignment"].items()) for r in d["leaderboard"]}
    assert ranked == {(("solve", "sim/nano"),), (("solve", "sim/small"),)}
    # new prices: the pick's model 100x dearer; the tolerance-aware cost pick moves, with no model
    # call
    picked = d["best"]["assignment"]["solve"]
    (files / "prices.json").write_text(json.dumps({picked: [100.0, 400.0]}))
    repriced = json.loads(runner.invoke(app, ["show", str(db), "--json", "--prices",
                                              str(files / "prices.json")]).output)
    row = {r["assignment"]["solve"]: r for r in repriced["leaderboard"]}
    old_row = {r["assignment"]["solve"]: r for r in d["leaderboard"]}
    assert row[picked]["mean_cost_usd"] > 10 * old_row[picked]["mean_cost_usd"]
    other = "sim/small" if picked == "sim/nano" else "sim/nano"
    assert row[other]["mean_cost_usd"] == pytest.approx(old_row[other]["mean_cost_usd"])
    assert repriced["n_evaluations"] == d["n_evaluations"]  # the same stored cells, nothing new


def test_optimize_bad_inputs(files):
    base = ["optimize", f"{files / 'myapp.py'}:app", "--data", str(files / "data.jsonl"),
            "--metric", f"{files / 'myapp.py'}:metric", "--no-progress"]
    res = runner.invoke(app, base + ["--candidates", "sim/nano,sim/bogus"])
    assert res.exit_code == 2 and "unknown model 'sim/bogus'" in res.output
    res = runner.invoke(app,
                        base[:1] + [f"{files / 'myapp.py'}:nope"] + base[2:]
                        + ["--candidates", "sim/nano"])
    assert res.exit_code == 2 and "no attribute 'nope'" in res.output
    (files / "empty.jsonl").write_text("")
    res = runner.invoke(app,
                        base[:3] + [str(files / "empty.jsonl")] + base[4:]
                        + ["--candidates", "sim/nano"])
    assert res.exit_code == 2 and "empty" in res.output


def test_show_missing_db(tmp_path):
    res = runner.invoke(app, ["show", str(tmp_path / "nope.db")])
    assert res.exit_code == 2 and "no such run database" in res.output


def test_dashboard_command(tmp_path):
    cmd = dashboard_command("sqlite:///run.db", port=9999)
    assert cmd[0].endswith("optuna-dashboard") and cmd[1:] == ["sqlite:///run.db", "--port",
                                                               "9999", "--host", "127.0.0.1"]
    (tmp_path / "run.db").write_bytes(b"")
    res = runner.invoke(app, ["dashboard", str(tmp_path / "run.db"), "--dry-run", "--no-browser"])
    assert res.exit_code == 0 and "optuna-dashboard sqlite:///" in res.output


def test_parse_candidates():
    assert parse_candidates(["a,b", "c"]) == ["a", "b", "c"]
    assert parse_candidates(["plan=a,b", "solve=c"]) == {"plan": ["a", "b"], "solve": ["c"]}
    with pytest.raises(AgentOptError):
        parse_candidates(["a", "plan=b"])


def test_console_entry_point_runs_a_command(capsys):
    from agentopt_adapters.cli import main

    with pytest.raises(SystemExit) as done:
        main(["models", "--json"])
    assert done.value.code == 0
    assert json.loads(capsys.readouterr().out)[0]["name"] == "sim/nano"


def test_optimize_config_reaches_optimize(files):
    base = ["optimize", f"{files / 'myapp.py'}:app", "--data", str(files / "data.jsonl"),
            "--metric", f"{files / 'myapp.py'}:metric", "--no-progress", "--candidates",
            "sim/nano"]
    res = runner.invoke(app, base + ["--config", "{not json"])
    assert res.exit_code == 2 and "--config must be JSON" in res.output
    res = runner.invoke(app, base + ["--config", '{"recursion_limit": 50}'])
    # a plain callable takes no config
    assert res.exit_code == 2 and "LangGraph runtime inputs" in res.output


def test_optimize_no_tracing_runs(files):
    res = runner.invoke(app, ["optimize", f"{files / 'myapp.py'}:app",
                              "--data", str(files / "data.jsonl"),
                              "--metric", f"{files / 'myapp.py'}:metric", "--no-progress",
                              "--candidates", "sim/nano", "--no-tracing",
                              "--out", str(files / "a.json")])
    assert res.exit_code == 0, res.output
    assert json.loads((files / "a.json").read_text())["slots"]["solve"]["model"] == "sim/nano"
