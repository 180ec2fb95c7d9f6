"""The replay benchmark runs strategies through search() and compares with AgentOpt's rule."""

import csv

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
        w.writerow(["planner", "solver", "item", "score", "latency_s", "cost_usd", "input_tokens", "output_tokens"])
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


def test_strategies_and_baseline_through_search(grid_csv):
    replay = load_replay(grid_csv)
    records = [run_one(replay, s, seed) for s in ("auto", "brute_force", "agentopt_rule") for seed in range(3)]
    rows = summarise(records)
    by = {r["strategy"]: r for r in rows}
    assert by["brute_force"]["pct_brute"] == pytest.approx(100.0)
    assert by["agentopt_rule"]["vs_agentopt"] == pytest.approx(1.0)
    assert by["auto"]["p_1pp"] == 1.0 and by["auto"]["pct_brute"] < 100
    assert "P(<=1pp)" in format_table(rows)


def test_cli_prints_table(grid_csv, capsys):
    main(["--data", str(grid_csv.parent), "--benchmarks", "toy", "--seeds", "2", "--workers", "1",
          "--strategies", "auto"])
    out = capsys.readouterr().out
    assert "agentopt_rule" in out and "auto" in out and "$ vs AgentOpt" in out
