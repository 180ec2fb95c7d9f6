"""Secrets: a planted API key (environment and ``api_key=`` kwargs) appears in no file written by a
run (exported config, Optuna storage, plot, caches, logs) and in no printed output."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import dspy
import pytest
from rich.console import Console

import agentopt_adapters as aa
import lg_graphs as G
from agentopt_adapters.assignment_file import make_config
from agentopt_adapters.models import chat_model, dspy_lm
from agentopt_adapters.redaction import redact, strip_secrets
from agentopt_adapters.sim.server import SimServer, serve_in_thread
from agentopt_adapters.sim.tasks import load_task

KEY = "sk-test-PLANTED-0123456789"
TASK = load_task("arithmetic")

APP = textwrap.dedent('''
    import os
    from agentopt_adapters.callable import completion

    def app(models, ex):
        if models["solve"] == "openai/sim/mini":  # a provider error that echoes the key sent
            key = os.environ["OPENAI_API_KEY"]
            raise PermissionError(f"invalid api key {key!r} for this model")
        # the key travels as an api_key= kwarg, as user code often passes it
        r = completion(models, "solve", messages=[{"role": "user", "content": ex["question"]}],
                       api_key=os.environ["OPENAI_API_KEY"],
                       api_base=os.environ["OPENAI_API_BASE"])
        return r.choices[0].message.content

    app.agentopt_slots = {"solve": "openai/sim/large"}

    def metric(example, output):
        from agentopt_adapters.sim.tasks import load_task
        return load_task("arithmetic").metric(example, output)
''')


def leaks(root: Path, *texts: str) -> list[str]:
    """Every file under ``root`` (bytes, any format) and every text that contains the key."""
    found = [str(p.relative_to(root)) for p in sorted(root.rglob("*"))
             if p.is_file() and KEY.encode() in p.read_bytes()]
    found += [f"output #{i}" for i, t in enumerate(texts) if KEY in t]
    return found


@pytest.fixture()
def server() -> Iterator[SimServer]:
    with serve_in_thread(port=0) as srv:
        yield srv


def test_strip_secrets_is_recursive_and_keeps_settings() -> None:
    kw = {"api_key": KEY, "temperature": 0, "max_tokens": 64,
          "extra_headers": {"Authorization": f"Bearer {KEY}",
          "X-Trace": "1"}, "default_headers": {"x-api-key": KEY},
          "model_kwargs": {"openai_api_key": KEY, "seed": 1}, "base_url": "http://127.0.0.1:1/v1",
          "note": f"uses {KEY}"}
    out = strip_secrets(kw)
    assert KEY not in json.dumps(out)
    assert out["temperature"] == 0
    assert out["max_tokens"] == 64
    assert out["model_kwargs"] == {"seed": 1}
    assert out["extra_headers"] == {"X-Trace": "1"} and out["base_url"] == "http://127.0.0.1:1/v1"
    doc = make_config("langgraph", {"plan": {"model": "openai/sim/small", "kwargs": kw}})
    assert KEY not in json.dumps(doc)


def test_error_messages_are_redacted_of_keys_from_env_and_factory_kwargs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    assert redact(f"401: bad key {KEY}") == "401: bad key ***"
    other = "sk-kwarg-only-SECRET-42"  # given only as api_key=, never in the environment
    assert redact(f"rejected {other}") == f"rejected {other}"
    chat_model("openai/sim/small", api_base="http://127.0.0.1:9/v1", api_key=other)
    assert redact(f"rejected {other}") == "rejected ***"


@pytest.mark.slow
def test_cli_run_writes_and_prints_no_key(tmp_path: Path, server: SimServer) -> None:
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "data.jsonl").write_text("\n".join(json.dumps(x) for x in TASK.items[:4]) + "\n")
    home = tmp_path / "home"
    home.mkdir()
    # run from tmp_path (so anything written to the working directory is checked too): absolute
    # import path
    given = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    path = [str(Path(__file__).resolve().parents[1]), *(os.path.abspath(p) for p in given if p)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "OPENAI_API_KEY": KEY,
           "OPENAI_API_BASE": server.url, "HOME": str(home),
           "XDG_CACHE_HOME": str(home / ".cache"), "DSPY_CACHEDIR": str(home / ".dspy_cache")}
    cli = [sys.executable, "-m", "agentopt_adapters.cli"]
    run = subprocess.run(
        [*cli, "optimize", f"{tmp_path / 'app.py'}:app", "--data", str(tmp_path / "data.jsonl"),
         "--metric", f"{tmp_path / 'app.py'}:metric", "--candidates",
         "openai/sim/nano,openai/sim/mini,openai/sim/bogus", "--storage", str(tmp_path / "run.db"),
         "--out", str(tmp_path / "agentopt.json"), "--plot", str(tmp_path / "pareto.html"),
         "--no-progress"],
        env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    # error paths were exercised and printed: a 404 and an error message that carried the key
    assert "unknown simulated model 'sim/bogus'" in run.stdout
    assert "invalid api key '***'" in run.stdout
    shown = [subprocess.run([*cli, "show", str(tmp_path / "run.db"), *extra], env=env,
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
             for extra in ([], ["--json"])]
    assert all(s.returncode == 0 for s in shown)
    written = {p.name for p in tmp_path.iterdir()}
    assert {"run.db", "agentopt.json", "pareto.html"} <= written
    assert leaks(tmp_path, run.stdout, run.stderr, *(s.stdout + s.stderr for s in shown)) == []


def langgraph_app(url: str) -> Any:
    llm = chat_model("openai/sim/large", api_base=url, api_key=KEY, temperature=0.0)

    def solve(state: G.QAState) -> G.QAState:
        return {"answer": str(llm.invoke(state["question"]).content)}

    return G.one_node_graph("solve", solve)


class Answer(dspy.Module):
    def __init__(self, lm: Any) -> None:
        super().__init__()
        self.answer = dspy.Predict("question -> answer")
        self.answer.lm = lm

    def forward(self, question: str) -> dspy.Prediction:
        return self.answer(question=question)


@pytest.mark.slow
def test_langgraph_and_dspy_runs_write_and_print_no_key(tmp_path: Path, server: SimServer,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                       capfd: pytest.CaptureFixture[str],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    # candidates built from plain strings reach the server
    monkeypatch.setenv("OPENAI_API_BASE", server.url)
    caplog.set_level(logging.DEBUG)
    items = TASK.items[:4]
    console = io.StringIO()
    graph = langgraph_app(server.url)
    program = Answer(dspy_lm("openai/sim/large", api_base=server.url, api_key=KEY))
    runs = {
        "langgraph": (graph,
                      [{"question": it["question"], "answer": it["answer"]} for it in items],
                      TASK.metric),
        "dspy": (program,
                 [dspy.Example(question=it["question"], answer=it["answer"]).with_inputs(
                     "question") for it in items],
                 lambda ex, out: TASK.metric(ex, out) if out else 0.0),
    }
    for name, (app, data, metric) in runs.items():
        res = aa.optimize(app, data, metric, ["openai/sim/nano", "openai/sim/bogus"],
                          strategy="brute_force", storage=f"sqlite:///{tmp_path / f'{name}.db'}",
                          progress=False, max_concurrency=2)
        assert res.framework == name and any(s.status == "failed" for s in res.leaderboard)
        res.print_summary(console=Console(file=console, width=200))
        res.export(tmp_path / f"{name}.json")
        res.plot(tmp_path / f"{name}.html")
        (tmp_path / f"{name}-result.json").write_text(json.dumps(res.to_dict(), default=str))
        # an assignment that carries the key as kwargs
        doc = aa.export_config(app,
                               {s.name: {"model": "openai/sim/small",
                                         "kwargs": {"api_key": KEY, "temperature": 0}}
                                     for s in aa.discover(app)})
        (tmp_path / f"{name}-kwargs.json").write_text(json.dumps(doc))
    from agentopt_adapters.dspy import export_config as dspy_export

    state_doc = dspy_export(program, {"answer": "openai/sim/small"}, include_state=True)
    (tmp_path / "dspy-state.json").write_text(json.dumps(state_doc))
    out, err = capfd.readouterr()
    assert leaks(tmp_path, console.getvalue(), out, err, caplog.text) == []
