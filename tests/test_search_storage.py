"""Persistence in Optuna storage: a resumed run pays for nothing twice; dashboard-readable trials."""

import optuna
import pytest

from agentopt_search import search
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
        search(prob.space, prob.evaluate, prob.examples, seed=2, storage=url, max_concurrency=1, progress=False,
               strategy="brute_force", on_record=_die_after(150))
    paid_first = dict(prob.calls)
    assert 0 < len(paid_first) <= 150

    result = search(prob.space, prob.evaluate, prob.examples, seed=2, storage=url, max_concurrency=1,
                    progress=False, strategy="brute_force")
    assert set(prob.calls.values()) == {1}, "a cell was paid twice"
    assert result.extra["resumed"] == len(paid_first)
    assert result.n_evaluations == prob.space.size * len(prob.examples)

    uninterrupted = Planted(SLOTS, BEST, n_items=80)
    ref = search(uninterrupted.space, uninterrupted.evaluate, uninterrupted.examples, seed=2, progress=False,
                 strategy="brute_force")
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
    result = search(prob.space, prob.evaluate, prob.examples, storage=url, strategy="brute_force", progress=False)
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
        search(prob.space, prob.evaluate, [x + 1000 for x in prob.examples], storage=url, progress=False)


def test_bad_storage_url_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot open storage"):
        search(SLOTS, lambda a, e: 1.0, [1], storage="nosuchdb://x", progress=False)
