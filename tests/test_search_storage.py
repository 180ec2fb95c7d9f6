"""Persistence in Optuna storage: a resumed run pays for nothing twice;
dashboard-readable trials."""

import threading

import optuna
import pytest

from agentopt_search import Outcome, search
from agentopt_search.results import rows_from_cells
from agentopt_search.storage import OptunaStore, read_run
from search_helpers import Planted

SLOTS = {"planner": ["p1", "p2", "p3"], "solver": ["s1", "s2"]}
BEST = {"planner": "p3", "solver": "s1"}


class Killed(BaseException):
    """Stands for the process dying: not an evaluation error the search would record."""


@pytest.mark.slow
def test_killed_run_resumes_without_re_evaluating(tmp_path):
    url = f"sqlite:///{tmp_path / 'run.db'}"
    prob = Planted(SLOTS, BEST, n_items=80)
    with pytest.raises(Killed):
        search(prob.space, prob.evaluate, prob.examples, seed=2, storage=url, max_concurrency=1,
               progress=False, strategy="brute_force", on_record=_die_after(150))
    paid_first = dict(prob.calls)
    assert 0 < len(paid_first) <= 150

    result = search(prob.space, prob.evaluate, prob.examples, seed=2, storage=url,
                    max_concurrency=1, progress=False, strategy="brute_force")
    assert set(prob.calls.values()) == {1}, "a cell was paid twice"
    assert result.extra["resumed"] == len(paid_first)
    assert result.n_evaluations == prob.space.size * len(prob.examples)

    uninterrupted = Planted(SLOTS, BEST, n_items=80)
    ref = search(uninterrupted.space, uninterrupted.evaluate, uninterrupted.examples, seed=2,
                 progress=False, strategy="brute_force")
    assert result.best.assignment == ref.best.assignment
    assert result.best.mean_score == pytest.approx(ref.best.mean_score)


def _die_after(n):
    def hook(state):
        if state.n_evaluations >= n:
            raise Killed()
    return hook


@pytest.mark.slow
def test_second_run_on_finished_study_pays_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'run.db'}"
    prob = Planted(SLOTS, BEST, n_items=60)
    first = search(prob.space, prob.evaluate, prob.examples, storage=url, progress=False)
    n_calls = len(prob.calls)
    again = search(prob.space, prob.evaluate, prob.examples, storage=url, progress=False)
    assert len(prob.calls) == n_calls and set(prob.calls.values()) == {1}
    assert again.best.assignment == first.best.assignment
    assert again.extra["paid_this_run"] == 0


@pytest.mark.slow
def test_study_is_readable_by_optuna(tmp_path):
    url = f"sqlite:///{tmp_path / 'run.db'}"
    prob = Planted(SLOTS, BEST, n_items=40)
    result = search(prob.space, prob.evaluate, prob.examples, storage=url, strategy="brute_force",
                    progress=False)
    study = optuna.load_study(study_name="agentopt", storage=url)
    trials = study.get_trials()
    assert len(trials) == prob.space.size
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    best_trial = max(trials, key=lambda t: t.value)
    assert best_trial.params == result.best.assignment
    assert len(best_trial.intermediate_values) == 40


@pytest.mark.slow
def test_resuming_with_different_data_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'run.db'}"
    prob = Planted(SLOTS, BEST, n_items=20)
    search(prob.space, prob.evaluate, prob.examples, storage=url, progress=False)
    with pytest.raises(ValueError, match="different dataset"):
        search(prob.space, prob.evaluate, [x + 1000 for x in prob.examples], storage=url,
               progress=False)


def test_bad_storage_url_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot open storage"):
        search(SLOTS, lambda a, e: 1.0, [1], storage="nosuchdb://x", progress=False)


def test_trials_are_combinations_with_numeric_means_for_the_dashboard(tmp_path):
    url = f"sqlite:///{tmp_path / 'run.db'}"
    prob = Planted(SLOTS, BEST, n_items=30)
    result = search(prob.space, prob.evaluate, prob.examples, storage=url, strategy="brute_force",
                    progress=False)
    search(prob.space, prob.evaluate, prob.examples, storage=url, strategy="brute_force",
           progress=False)
    trials = optuna.load_study(study_name="agentopt", storage=url).get_trials()
    assert len(trials) == prob.space.size  # one trial per combination, however many runs
    for t in trials:
        row = result.get(t.params)
        attrs = t.user_attrs
        assert t.value == pytest.approx(row.mean_score) == pytest.approx(attrs["mean_score"])
        assert attrs["mean_cost_usd"] == pytest.approx(row.mean_cost_usd)
        assert attrs["mean_latency_s"] == pytest.approx(row.mean_latency_s)
        assert attrs["n_examples"] == 30
        assert all(isinstance(attrs[k], float)
                   for k in ("mean_score", "mean_cost_usd", "mean_latency_s"))


def test_no_thread_outlives_search(tmp_path):
    def ours():
        return {t for t in threading.enumerate() if t.name.startswith("agentopt")}

    url = f"sqlite:///{tmp_path / 'run.db'}"
    prob = Planted(SLOTS, BEST, n_items=20)
    before = ours()
    search(prob.space, prob.evaluate, prob.examples, storage=url, progress=False)
    assert ours() == before
    with pytest.raises(ValueError, match="not a number in"):
        search(prob.space, lambda a, e: Outcome(score=2.0), prob.examples, storage=url,
               study_name="bad", progress=False)
    assert ours() == before


def test_a_run_with_other_candidates_reuses_every_shared_cell(tmp_path):
    url = f"sqlite:///{tmp_path / 'run.db'}"
    small = {"planner": ["p1", "p2"], "solver": ["s1", "s2"]}
    big = {"planner": ["p1", "p2", "p3"], "solver": ["s1", "s2"]}
    full = Planted(big, {"planner": "p3", "solver": "s1"}, n_items=40)

    def evaluate(a, ex):
        return full.evaluate(a, ex)

    first = search(small, evaluate, full.examples, storage=url, strategy="brute_force",
                   progress=False)
    assert first.n_paid == 4 * 40 and first.n_reused == 0
    paid_before = dict(full.calls)
    grown = search(big, evaluate, full.examples, storage=url, strategy="brute_force",
                   progress=False)
    new = {k: v for k, v in full.calls.items() if k not in paid_before}
    assert set(full.calls.values()) == {1}
    assert grown.n_reused == 4 * 40
    assert grown.n_paid == len(new) == 2 * 40
    assert {full.space.assignment(c)["planner"] for c, _ in new} == {"p3"}
    assert grown.spent_usd == pytest.approx(sum(full.price[c] for c, _ in new))
    fresh = Planted(big, {"planner": "p3", "solver": "s1"}, n_items=40)
    ref = search(big, fresh.evaluate, fresh.examples, strategy="brute_force", progress=False)
    assert grown.best.assignment == ref.best.assignment == {"planner": "p3", "solver": "s1"}

    shrunk = search({"planner": ["p2", "p3"], "solver": ["s1", "s2"]}, evaluate, full.examples,
                    storage=url, strategy="brute_force", progress=False)
    assert shrunk.n_paid == 0 and shrunk.n_reused == 4 * 40
    run = read_run(url)
    assert len(run.cells) == 6 * 40 and run.slots == {"planner": ["p2", "p3"],
                                                      "solver": ["s1", "s2"]}


def test_other_slots_or_examples_are_refused_with_one_clear_error(tmp_path):
    url = f"sqlite:///{tmp_path / 'run.db'}"
    search(SLOTS, lambda a, e: 1.0, list(range(5)), storage=url, progress=False)
    with pytest.raises(ValueError,
                       match=r"slots \['planner', 'solver'\].*same slots or pass another study"):
        search({"planner": ["p1"]}, lambda a, e: 1.0, list(range(5)), storage=url, progress=False)
    with pytest.raises(ValueError, match="different dataset"):
        search(SLOTS, lambda a, e: 1.0, list(range(6)), storage=url, progress=False)


def test_read_run_returns_cells_usage_anchors_and_metadata(tmp_path):
    url = f"sqlite:///{tmp_path / 'run.db'}"
    own = {"planner": "app", "solver": "app"}

    def evaluate(a, ex):
        rows = [(slot, model, 1, 10 * (ex + 1), 3, 0.001) for slot, model in a.items()]
        rows.append((None, "judge", 2, 5, 1, None))
        return Outcome(score=0.5, cost_usd=0.002, latency_s=0.2, usage=rows)

    with OptunaStore(url, "run-1") as store:
        store.metadata["objective"] = "score"
        store.metadata["baseline"] = own
        result = search(SLOTS, evaluate, list(range(4)), storage=store, anchors={"baseline": own},
                        strategy="brute_force", progress=False)
        assert store.metadata["objective"] == "score"
        run = read_run(store)
    assert run.study_name == "run-1" and run.n_examples == 4 and run.slots == SLOTS
    assert run.anchors == {"baseline": own}
    assert run.metadata["objective"] == "score" and run.metadata["baseline"] == own
    assert run.metadata["search"]["strategy"] == result.strategy
    assert run.metadata["search"]["seed"] == 0
    assert len(run.cells) == result.n_paid == (6 + 1) * 4
    by_key = {(tuple(c.assignment.values()), c.example): c for c in run.cells}
    cell = by_key[(("app", "app"), 2)]
    assert cell.outcome.usage == (("planner", "app", 1, 30, 3, 0.001),
                                  ("solver", "app", 1, 30, 3, 0.001),
                                  (None, "judge", 2, 5, 1, None))
    again = search(SLOTS, evaluate, list(range(4)), storage=url, study_name="run-1",
                   anchors={"baseline": own}, strategy="brute_force", progress=False)
    # usage comes back with the cells
    assert again.n_paid == 0 and again.usage(own)[2] == cell.outcome.usage
    assert set(again.usage({"planner": "p1", "solver": "s2"})) == {0, 1, 2, 3}
    rows, anchor_rows = rows_from_cells(run.cells, list(run.slots), run.anchors, run.n_examples)
    assert {r.key: (r.mean_score, r.mean_cost_usd, r.n) for r in rows} == {
        r.key: (r.mean_score, r.mean_cost_usd, r.n) for r in result.leaderboard}
    assert anchor_rows["baseline"].n == 4 and anchor_rows["baseline"].status == "anchor"
    assert read_run(url).study_name == "run-1"  # the only run: no name needed
    with pytest.raises(ValueError, match="no study 'nope'"):
        read_run(url, "nope")
    with pytest.raises(ValueError, match="no such run database"):
        read_run(str(tmp_path / "missing.db"))


def test_anchor_and_shared_cells_resume_without_paying_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'run.db'}"
    calls = []

    def evaluate(a, ex):
        calls.append((a["planner"], a["solver"], ex))
        return Outcome(score=float(ex % 2), cost_usd=0.01,
                       usage=[("planner", a["planner"], 1, 5, 5, 0.01)])

    space = {"planner": ["p1", "p2"], "solver": ["s1", "s2", "s3"]}
    own = {"planner": "own", "solver": "own"}
    with pytest.raises(Killed):
        search(space, evaluate, list(range(20)), storage=url, anchors={"own": own},
               strategy="brute_force", max_concurrency=1, progress=False, on_record=_die_after(15))
    paid = list(calls)
    again = search(space, evaluate, list(range(20)), storage=url, anchors={"own": own},
                   strategy="brute_force", progress=False)
    assert len(calls) == len(set(calls))  # nothing paid twice
    assert again.n_reused == len(paid)
    assert again.n_paid == len(calls) - len(paid) == 3 * 20 - len(paid)
    assert again.anchors["own"].n == 20 and again.idle_slots == ["solver"]
    assert all(s.n == 20 for s in again.leaderboard)


def test_bad_storage_is_a_clear_error():
    with pytest.raises(ValueError, match="storage must be an Optuna storage URL"):
        search(SLOTS, lambda a, e: 1.0, [1], storage=42, progress=False)


@pytest.mark.slow
def test_kill_9_keeps_what_was_flushed_and_resume_repays_none_of_it(tmp_path):
    from agentopt_search.bench.storage import kill_and_resume_counts

    evaluated, stored, resumed, _ = kill_and_resume_counts(tmp_path, size=64, n_items=20,
                                                           kill_after=300)
    assert stored and stored <= set(evaluated)  # what was flushed before the kill survived it
    assert resumed.n_reused == len(stored) and resumed.n_paid == 64 * 20 - len(stored)
    assert resumed.extra["repaid_stored"] == 0


def test_a_format_1_study_is_read_and_resumed(tmp_path):
    """Studies written before cells were keyed by assignment (cells as user attributes)
    still resume."""
    from agentopt_search.storage import dataset_fingerprint

    url = f"sqlite:///{tmp_path / 'old.db'}"
    prob = Planted(SLOTS, BEST, n_items=10)
    study = optuna.create_study(study_name="agentopt", storage=url, direction="maximize")
    study.set_user_attr("agentopt",
                        {"space": SLOTS, "n_examples": 10,
                         "fingerprint": dataset_fingerprint(prob.examples)})
    dists = {k: optuna.distributions.CategoricalDistribution(v) for k, v in SLOTS.items()}
    for c in range(prob.space.size):
        attrs = {f"cell:{ex}": [prob.score(c, ex), float(prob.price[c]), 0.01, None]
                 for ex in range(10)}
        study.add_trial(optuna.trial.create_trial(params=prob.space.assignment(c),
                                                  distributions=dists, value=0.5,
                                                  user_attrs=attrs))
    result = search(prob.space, prob.evaluate, prob.examples, storage=url, strategy="brute_force",
                    progress=False)
    assert result.n_reused == prob.space.size * 10 and result.n_paid == 0 and not prob.calls
    assert len(read_run(url).cells) == prob.space.size * 10
