"""Bad input everywhere: malformed datasets, metrics, candidates, configs and CLI files give one
clear error (an AgentOptError / ValueError at the API; exit code 2 and one ``error: ...`` line, no
traceback, at the CLI), never a traceback from deep inside."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import agentopt_adapters as aa
from agentopt_adapters.cli import app as cli_app
from agentopt_adapters.errors import (
    AgentOptError,
    ConfigError,
    DatasetError,
    MetricError,
    ModelError,
    SlotError,
)
from agentopt_adapters.sim import ZOO
from agentopt_search import Outcome, search

FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CANDS = ["sim/nano", "sim/small"]
DATA = [{"question": "What is 2 + 2?", "answer": 4}, {"question": "What is 3 + 5?", "answer": 8}]


def app(models: dict, example) -> str:
    """Calls no model: fast, and fine with any example type."""
    return f"{models['solve']} {example!r}"


app.agentopt_slots = {"solve": "sim/medium"}


def fragile_app(models: dict, example) -> str:
    return str(example["question"])  # fails on anything but a dict with a question


fragile_app.agentopt_slots = ["solve"]


def good_metric(example, output) -> float:
    return 0.5


def run(**kw):
    args = dict(app=app, dataset=DATA, metric=good_metric, candidates=CANDS, progress=False,
                max_concurrency=2)
    args.update(kw)
    return aa.optimize(**args)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=8,
)

# ---- datasets --------------------------------------------------------------------------------

not_a_dataset = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.binary(),
    st.dictionaries(st.text(max_size=5), json_values, max_size=3),
    st.sampled_from([[], (), set(), "", b""]), st.builds(iter, st.just([])),
)


@FUZZ
@given(dataset=not_a_dataset)
def test_malformed_dataset_is_a_dataset_error(dataset):
    with pytest.raises(DatasetError, match="dataset"):
        run(dataset=dataset)


@FUZZ
@given(dataset=st.lists(json_values | st.tuples(json_values, json_values), min_size=1, max_size=5))
def test_mixed_type_datasets_run_or_fail_with_one_clear_error(dataset):
    """Any list of examples is accepted; an app that fails on
    every example is one clear ValueError."""
    assert run(dataset=dataset).best is not None  # the tolerant app runs on anything
    try:
        result = run(app=fragile_app, dataset=dataset)
    except ValueError as exc:  # SearchError: every combination failed on every example
        assert "every combination failed" in str(exc)
        assert all(not (isinstance(x, dict) and "question" in x) for x in dataset)
    else:
        assert result.best is not None


# ---- metrics ---------------------------------------------------------------------------------

out_of_range = st.one_of(
    st.floats().filter(lambda x: math.isnan(x) or not 0 <= x <= 1),
    st.integers().filter(lambda x: x not in (0, 1)),
    st.text(), st.none(), st.lists(st.floats(0, 1), max_size=2),
    st.dictionaries(st.text(max_size=3), st.floats(0, 1)), st.complex_numbers(),
    st.just(np.float64("nan")), st.just(np.array([0.5])),
)


@FUZZ
@given(value=out_of_range)
def test_metric_returning_a_non_score_is_a_metric_error(value):
    with pytest.raises(MetricError, match="metric returned"):
        run(metric=lambda example, output: value)


@FUZZ
@given(exc=st.sampled_from([KeyError, TypeError, ValueError, ZeroDivisionError, AttributeError,
                            IndexError, RuntimeError, AssertionError]), msg=st.text(max_size=20))
def test_metric_that_raises_is_a_metric_error(exc, msg):
    def metric(example, output):
        raise exc(msg)

    with pytest.raises(MetricError, match=f"metric raised {exc.__name__}"):
        run(metric=metric)


@FUZZ
@given(value=st.one_of(st.floats(0, 1),
                       st.sampled_from([0, 1, True, False, np.float32(0.25), np.float64(1.0)])))
def test_any_real_number_in_range_is_a_score(value):
    assert run(metric=lambda example, output: value).best is not None


def test_metric_that_is_not_a_function():
    with pytest.raises(MetricError, match="metric must be a function"):
        run(metric="exact_match")


# ---- candidates, slots, options ---------------------------------------------------------------

unknown_sim = st.text(min_size=1, max_size=10).filter(lambda s: "," not in s) \
    .map(lambda s: f"sim/{s}") \
    .filter(lambda m: m not in ZOO and m.split("/")[-1] not in {k.split("/")[-1] for k in ZOO})
bad_model = st.one_of(st.integers(), st.floats(), st.none(), st.just(""),
                      st.lists(st.integers(), max_size=2), unknown_sim)
bad_candidates = st.one_of(
    st.integers(), st.floats(), st.booleans(),
    st.lists(bad_model, min_size=1, max_size=3),
    st.dictionaries(st.just("solve"),
                    st.one_of(bad_model, st.lists(bad_model, min_size=1, max_size=2), st.just([])),
                    min_size=1),
)


@FUZZ
@given(candidates=bad_candidates)
def test_malformed_candidates_are_a_model_error(candidates):
    with pytest.raises(ModelError):
        run(candidates=candidates)


@FUZZ
@given(name=st.text(max_size=8).filter(lambda s: s != "solve"))
def test_unknown_slot_names_are_a_slot_error(name):
    with pytest.raises(SlotError, match="unknown slot"):
        run(candidates={name: CANDS})
    with pytest.raises(SlotError, match="unknown slot"):
        run(slots=[name])


@FUZZ
@given(option=st.sampled_from(["budget_usd", "max_cost_per_example", "max_latency_s", "min_score",
                               "seed", "max_concurrency", "confidence", "epsilon"]),
       value=st.one_of(st.text(max_size=4), st.just(-1), st.just(float("nan")),
                       st.lists(st.integers(), max_size=2), st.just(-0.5),
                       st.dictionaries(st.text(max_size=2), st.integers(), max_size=1)))
def test_malformed_numeric_options_are_one_value_error(option, value):
    with pytest.raises(ValueError, match=option):
        run(**{option: value})


def test_unknown_strategy_options_are_named():
    with pytest.raises(ValueError, match=r"no option\(s\) \['firts'\]"):
        search({"m": ["a", "b"]}, lambda a, e: 1.0, [1, 2], progress=False,
               strategy="arm_elimination", firts=4)


# ---- agentopt_search.search ---------------------------------------------------------------------

bad_space = st.one_of(
    st.none(), st.integers(), st.text(), st.lists(st.text(max_size=3), max_size=3), st.just({}),
    st.dictionaries(st.text(max_size=4),
                    st.one_of(st.just([]), st.integers(), st.none(),
                              st.text(min_size=1, max_size=3),
                                                   st.lists(st.one_of(st.integers(), st.none(),
                                                                      st.just("")), min_size=1,
                                                            max_size=2)), min_size=1, max_size=2),
    st.dictionaries(st.integers(), st.just(["a"]), min_size=1, max_size=1),
)


@FUZZ
@given(space=bad_space)
def test_search_rejects_malformed_spaces(space):
    with pytest.raises(ValueError):
        search(space, lambda a, e: 1.0, [1, 2], progress=False)


@FUZZ
@given(examples=st.one_of(st.none(), st.integers(), st.text(),
                          st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
                          st.just([]), st.floats()))
def test_search_rejects_malformed_examples(examples):
    with pytest.raises(ValueError, match="examples"):
        search({"m": ["a"]}, lambda a, e: 1.0, examples, progress=False)


@FUZZ
@given(raw=st.one_of(st.none(), st.text(), st.booleans(), st.lists(st.floats(0, 1), max_size=2),
                     st.floats().filter(lambda x: math.isnan(x) or not 0 <= x <= 1),
                     st.builds(Outcome, score=st.floats().filter(
                         lambda x: math.isnan(x) or not 0 <= x <= 1)),
                     st.builds(Outcome, score=st.floats(0, 1),
                               cost_usd=st.floats(max_value=-1e-9) | st.just(math.nan))),
       is_async=st.booleans())
def test_search_rejects_malformed_outcomes(raw, is_async):
    def evaluate(assignment, example):
        return raw

    async def aevaluate(assignment, example):
        return raw

    with pytest.raises(ValueError, match="combination m=a on example #"):
        search({"m": ["a"]}, aevaluate if is_async else evaluate, [1, 2], progress=False,
               max_concurrency=2)


@FUZZ
@given(exc=st.sampled_from([KeyError, TypeError, OSError, RuntimeError, ZeroDivisionError]))
def test_search_whose_evaluate_always_fails_is_one_value_error(exc):
    def evaluate(assignment, example):
        raise exc("no")

    with pytest.raises(ValueError, match=f"every combination failed.*{exc.__name__}"):
        search({"m": ["a", "b"]}, evaluate, [1, 2, 3], progress=False)


# ---- exported configs -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def apps():
    import dspy

    import lg_graphs

    class Program(dspy.Module):
        def __init__(self):
            super().__init__()
            self.final = dspy.Predict("question -> answer")

        def forward(self, question):
            return self.final(question=question)

    return {"callable": (app, "solve"), "langgraph": (lg_graphs.planner_solver(), "plan"),
            "dspy": (Program(), "final")}


V1 = "agentopt.assignment/v1"
bad_kwargs = st.one_of(st.lists(st.integers()), st.integers(), st.text())
slot_spec = st.one_of(json_values, st.fixed_dictionaries({"model": bad_model}),
                      st.fixed_dictionaries({"model": st.just("sim/nano"), "kwargs": bad_kwargs}))


def configs(slot: str):
    """Malformed documents: garbage JSON values, wrong format, bad slots objects, wrong slot names,
    unknown models."""
    return st.one_of(
        json_values.filter(lambda v: not (isinstance(v, dict) and v.get("format") == V1)),
        st.fixed_dictionaries({"format": st.just(V1)},
                              optional={"slots": st.one_of(st.just({}), st.lists(json_values),
                                                                                      st.text(),
                                                           st.integers())}),
        st.fixed_dictionaries({"format": st.just(V1),
                               "slots": st.dictionaries(st.just(slot), slot_spec, min_size=1)}),
        st.fixed_dictionaries({"format": st.just(V1), "slots": st.dictionaries(
            st.text(max_size=6).filter(lambda s: s not in ("solve", "plan", "solve", "final")),
            st.just({"model": "sim/nano"}), min_size=1)}),
        st.fixed_dictionaries({"format": st.just(V1),
                               "framework": st.text(max_size=6) | st.integers(),
                               "slots": st.just({slot: {"model": "sim/nano"}})}).filter(
            lambda d: d["framework"] not in ("callable", "langgraph", "dspy")),
    )


@pytest.mark.parametrize("framework", ["callable", "langgraph", "dspy"])
def test_malformed_configs_are_one_clear_error(apps, framework, tmp_path_factory):
    target, slot = apps[framework]
    folder = tmp_path_factory.mktemp("cfg")

    @FUZZ
    @given(cfg=configs(slot), as_file=st.booleans())
    def check(cfg, as_file):
        given_cfg = cfg
        if as_file:
            given_cfg = folder / "agentopt.json"
            given_cfg.write_text(json.dumps(cfg))
        with pytest.raises(AgentOptError):
            aa.apply(target, given_cfg)
        seen.append(cfg)

    seen: list = []
    check()
    assert len(seen) >= 20  # hypothesis really generated documents


@FUZZ
@given(content=st.text(max_size=40).map(str.encode) | st.binary(max_size=40))
def test_config_files_with_garbage_are_a_config_error(content, tmp_path_factory):
    path = tmp_path_factory.mktemp("garbage") / "agentopt.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError):
        aa.apply(app, path)


def test_config_that_is_a_directory_or_missing(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        aa.apply(app, tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        aa.apply(app, tmp_path / "nope.json")


def test_bad_model_kwargs_are_a_model_error(apps):
    graph, slot = apps["langgraph"]
    with pytest.raises(ModelError, match="temperature"):
        aa.apply(graph,
                 {"format": V1,
                  "slots": {slot: {"model": "sim/nano", "kwargs": {"temperature": "hot"}}}})


# ---- the command line -------------------------------------------------------------------------

runner = CliRunner()

APP_FILE = textwrap.dedent('''
    def app(models, example):
        return f"{models['solve']} {example!r}"

    app.agentopt_slots = {"solve": "sim/medium"}

    def metric(example, output):
        return 0.5
''')


@pytest.fixture(scope="module")
def cli_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    (d / "app.py").write_text(APP_FILE)
    (d / "syntax.py").write_text("def app(:\n")
    (d / "boom.py").write_text("raise RuntimeError('boom at import')\n")
    (d / "data.jsonl").write_text("\n".join(json.dumps(x) for x in DATA) + "\n")
    return d


def _cli(args: list[str]):
    res = runner.invoke(cli_app, args)
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    return res, lines


def _assert_one_clear_error(res, lines) -> str:
    assert res.exit_code == 2, res.output
    # not an exception from inside
    assert isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == 1, res.output
    return errors[0]


def _optimize_args(d: Path, **over: str) -> list[str]:
    opts = {"--data": str(d / "data.jsonl"), "--metric": f"{d / 'app.py'}:metric",
            "--candidates": ",".join(CANDS), "--out": str(d / "out.json"), **over}
    app_spec = opts.pop("APP", f"{d / 'app.py'}:app")
    return ["optimize", app_spec, "--no-progress"] + [x for kv in opts.items() for x in kv]


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.one_of(st.text(max_size=60).map(str.encode), st.binary(max_size=30),
                         json_values.map(lambda v: json.dumps(v).encode()),
                         st.lists(json_values, max_size=3).map(
                             lambda xs: "\n".join(map(json.dumps, xs)).encode())),
       suffix=st.sampled_from([".json", ".jsonl"]))
def test_cli_malformed_data_files(cli_dir, content, suffix):
    """Exit 0 exactly when the file is a dataset (a non-empty JSON list / JSON lines);
    else one error line."""
    path = cli_dir / f"fuzz{suffix}"
    path.write_bytes(content)
    res, lines = _cli(_optimize_args(cli_dir, **{"--data": str(path)}))
    if _is_dataset(content, suffix):
        assert res.exit_code == 0 and "wrote" in res.output, res.output
    else:
        _assert_one_clear_error(res, lines)


def _is_dataset(content: bytes, suffix: str) -> bool:
    try:
        text = content.decode("utf-8")
        if suffix == ".json":
            data = json.loads(text)
            return isinstance(data, list) and len(data) > 0
        return len([json.loads(ln) for ln in text.splitlines() if ln.strip()]) > 0
    except ValueError:
        return False


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(candidates=st.one_of(st.just(","), st.just("zzz=sim/nano"), unknown_sim,
                            st.text(min_size=1, max_size=8).map(
    lambda s: f"nosuchprovider-{s}")).filter(lambda s: s.strip() and not s.startswith("-")))
def test_cli_malformed_candidates(cli_dir, candidates):
    res, lines = _cli(_optimize_args(cli_dir, **{"--candidates": candidates}))
    _assert_one_clear_error(res, lines)


@pytest.mark.parametrize("over,match", [
    ({"APP": "APPDIR/syntax.py:app"}, "SyntaxError"),
    ({"APP": "APPDIR/boom.py:app"}, "boom at import"),
    ({"APP": "APPDIR/nofile.py:app"}, "does not exist"),
    ({"APP": "APPDIR/app.py:nope"}, "no attribute 'nope'"),
    ({"APP": "json:dumps.__name__"}, "no adapter handles"),
    ({"APP": "no_such_module_xyz:app"}, "cannot import module"),
    ({"APP": "app_without_colon"}, "path/to/file.py:name"),
    ({"--metric": "APPDIR/app.py:nope"}, "no attribute"),
    ({"--metric": "APPDIR/boom.py:metric"}, "boom at import"),
    ({"--data": "APPDIR"}, "cannot read data file"),
    ({"--data": "APPDIR/missing.jsonl"}, "does not exist"),
    ({"--storage": "nosuch://x"}, "cannot open storage"),
    ({"--storage": "APPDIR"}, "cannot open storage"),
    ({"--out": "APPDIR/no/such/dir/out.json"}, "does not exist"),
    ({"--plot": "APPDIR/no/such/dir/p.html"}, "does not exist"),
    ({"--strategy": "fastest"}, "unknown strategy"),
    ({"--seed": "-1"}, "seed"),
    ({"--max-concurrency": "0"}, "max_concurrency"),
    ({"--budget-usd": "-1"}, "budget_usd"),
    ({"--slots": "nope"}, "unknown slot"),
])
def test_cli_optimize_bad_arguments(cli_dir, over, match):
    over = {k: v.replace("APPDIR", str(cli_dir)) for k, v in over.items()}
    res, lines = _cli(_optimize_args(cli_dir, **over))
    assert match in _assert_one_clear_error(res, lines)


def test_cli_show_bad_runs(cli_dir):
    import optuna

    (cli_dir / "garbage.db").write_text("not a database")
    foreign = f"sqlite:///{cli_dir / 'foreign.db'}"
    optuna.create_study(storage=foreign, study_name="x").optimize(
        lambda t: t.suggest_float("a", 0, 1), n_trials=2)
    for args, match in [(["show", str(cli_dir / "missing.db")], "no such run database"),
                        (["show", str(cli_dir / "garbage.db")], "cannot read storage"),
                        (["show", "nosuch://x"], "cannot read storage"),
                        (["show", foreign], "holds no agentopt run"),
                        (["show", foreign, "--study", "nope"], "has no study 'nope'"),
                        (["show", foreign, "--study", "x"], "not written by agentopt"),
                        (["show", foreign, "--json"], "holds no agentopt run")]:
        res, lines = _cli(args)
        assert match in _assert_one_clear_error(res, lines), args


@pytest.mark.slow
def test_cli_subprocess_prints_one_error_line(cli_dir):
    """The real console entry point: stderr is one ``error:`` line, no traceback."""
    import os
    import subprocess
    import sys

    (cli_dir / "bad.json").write_text('{"not": "a list"}')
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "agentopt_adapters.cli"]
                          + _optimize_args(cli_dir, **{
        "--data": str(cli_dir / "bad.json")}), capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert [ln for ln in proc.stderr.splitlines() if ln.strip()] == [
        f"error: {cli_dir / 'bad.json'}: expected a JSON list of examples, got dict"]
