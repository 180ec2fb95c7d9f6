"""The replay benchmark runs strategies through search() and compares with AgentOpt's rule."""

import csv
import json

import numpy as np
import pytest

from agentopt_search.bench import load_replay
from agentopt_search.bench.run import format_table, main, run_one, summarise


@pytest.fixture()
def grid_csv(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "toy.csv"
    skill = {"a": 0.3, "b": 0.5, "c": 0.8}
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["planner", "solver", "item", "score", "latency_s", "cost_usd", "input_tokens",
                    "output_tokens"])
        for p in skill:
            for s in skill:
                for item in range(120):
                    if (p, s, item) == ("a", "a", 5):
                        continue  # an unrecorded run: item 5 is dropped for every combination
                    score = float(rng.random() < (skill[p] + skill[s]) / 2)
                    w.writerow([p, s, item, score, 1.0, 0.001 * (1 + 10 * skill[s]), 100, 10])
    return path


def test_replay_keeps_complete_items_and_truth(grid_csv):
    replay = load_replay(grid_csv)
    assert replay.n_items == 119 and replay.space.size == 9
    assert not np.isnan(replay.scores).any()
    assert np.argmax(replay.true_means) == replay.space.index({"planner": "c", "solver": "c"})


def test_strategies_and_baselines_through_search(grid_csv):
    replay = load_replay(grid_csv)
    records = [r for s in ("auto", "auto:cost", "brute_force", "agentopt_rule", "agentopt_z2")
               for seed in range(3)
               for r in run_one(replay, s, seed, tolerances=(0.01, 0.05))]
    rows = summarise(records)
    by = {(r["strategy"], r["tolerance"]): r for r in rows}
    assert by[("brute_force", 0.01)]["pct_brute"] == pytest.approx(100.0)
    assert by[("agentopt_rule", 0.01)]["vs_published"] == pytest.approx(1.0)
    assert by[("agentopt_z2", 0.05)]["vs_z2"] == pytest.approx(1.0)
    assert by[("auto", 0.01)]["p_within"] == 1.0 and by[("auto", 0.01)]["pct_brute"] < 100
    # the cheapest within tolerance, priced as promised
    assert by[("auto:cost", 0.05)]["p_cheap"] == 1.0
    assert {r["tolerance"] for r in rows} == {0.01, 0.05}
    text = format_table(rows)
    assert "P(ok&<=1.1x$)" in text and "$/AgentOpt z2" in text


def test_pick_within_tolerance_and_priced_is_judged_on_the_truth(grid_csv):
    """A search picking the best combination is within tolerance but not the cheapest within a
    wide tolerance when a cheaper combination is close enough."""
    replay = load_replay(grid_csv)
    rec = run_one(replay, "brute_force", 0, tolerances=(0.0, 0.9))
    strict, loose = rec
    assert strict.pick_true == strict.best_true and strict.cheapest_ok == strict.pick_cost
    assert loose.cheapest_ok == pytest.approx(replay.costs.mean(axis=1).min())


def test_cli_prints_tables_and_coverage(grid_csv, capsys):
    main(["--data", str(grid_csv.parent), "--benchmarks", "toy", "--seeds", "2", "--workers", "1",
          "--strategies", "auto", "--tolerances", "0.01", "--coverage-sims", "300"])
    out = capsys.readouterr().out
    assert "agentopt_rule" in out
    assert "agentopt_z2" in out
    assert "auto" in out
    assert "$/published" in out
    assert "mean over spaces" in out and "worst ratio" in out


def test_records_file_keeps_each_job_and_resumes_without_rerunning(grid_csv, tmp_path, capsys):
    records = tmp_path / "runs.jsonl"
    args = ["--data", str(grid_csv.parent), "--benchmarks", "toy", "--workers", "1",
            "--strategies", "auto", "--tolerances", "0.01", "--coverage-sims", "0",
            "--records", str(records)]
    main([*args, "--seeds", "1"])
    first = records.read_text().splitlines()
    assert len(first) == 3  # auto and the two AgentOpt rules, seed 0
    capsys.readouterr()
    main([*args, "--seeds", "2"])  # seed 0 is read back, only seed 1 runs
    lines = records.read_text().splitlines()
    assert lines[:3] == first and len(lines) == 6
    assert {json.loads(line)["seed"] for line in lines[3:]} == {1}
    assert "auto" in capsys.readouterr().out
