"""The claim protocol of a shared study, two stores (workers) in one process on one SQLite file."""

from __future__ import annotations

import optuna
import pytest

from agentopt_search import SearchSpace
from agentopt_search.storage import OptunaStore

SPACE = SearchSpace({"a": ["a1", "a2"], "b": ["b1"]})
CELLS = [(c, e) for c in range(SPACE.size) for e in range(5)]


@pytest.fixture()
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'run.db'}"


def store(url: str) -> OptunaStore:
    return OptunaStore(url, SPACE, n_examples=5, fingerprint="f", study_name="s")


def test_claims_are_exclusive_and_stored_cells_are_shared(url):
    a, b = store(url), store(url)
    try:
        _, mine_a = a.claim(CELLS, limit=4)
        _, mine_b = b.claim(CELLS, limit=100)
        assert mine_a == CELLS[:4] and mine_b == CELLS[4:]
        a.save(0, 0, 1.0, 0.01, 0.1, None)
        stored, again = b.claim(CELLS, limit=100)
        assert [(c, e) for c, e, *_ in stored] == [(0, 0)]
        assert again == CELLS[4:]  # its own unfinished claims, nothing of a's
        _, mine_a2 = a.claim(CELLS, limit=100)
        assert mine_a2 == CELLS[1:4]  # a keeps what it holds and does not take b's
    finally:
        a.finish({})
        b.finish({})


def test_finished_worker_releases_its_unstored_claims(url):
    a, b = store(url), store(url)
    _, mine_a = a.claim(CELLS, limit=3)
    a.save(0, 0, 1.0, 0.01, 0.1, None)
    a.finish({0: 1.0})
    try:
        stored, mine_b = b.claim(CELLS, limit=100)
        assert [(c, e) for c, e, *_ in stored] == [(0, 0)]
        assert mine_b == CELLS[1:]  # (0, 1) and (0, 2) were claimed by a, never stored: free again
    finally:
        b.finish({})


def test_worker_whose_trial_was_failed_keeps_its_cells_but_not_its_claims(url):
    """Another worker judged a's heartbeat stale and failed its trial: b may take a's cells; a cell a
    finishes anyway is stored (in a new trial), and a does not claim what b now holds."""
    a, b = store(url), store(url)
    try:
        _, mine_a = a.claim(CELLS, limit=3)
        failed = a._open[0]
        a.storage.set_trial_state_values(failed, state=optuna.trial.TrialState.FAIL)  # as fail_stale_trials does
        _, mine_b = b.claim(CELLS, limit=2)
        assert mine_b == CELLS[:2]
        _, mine_a1 = a.claim(CELLS, limit=4)  # its claims are void: it claims afresh, in a new trial
        assert mine_a1 == CELLS[2:6] and a._open[0] != failed
        a.save(0, 2, 0.5, 0.01, 0.1, None)
        stored, mine_a2 = a.claim(CELLS, limit=100)
        assert (0, 2) in [(c, e) for c, e, *_ in stored]
        assert not set(mine_a2) & set(mine_b) and (0, 2) not in mine_a2 and set(mine_a2) >= set(CELLS[3:6])
        trials = {t._trial_id: t for t in optuna.load_study(study_name="s", storage=url).get_trials()}
        assert trials[failed].state == optuna.trial.TrialState.FAIL
        assert trials[a._open[0]].state == optuna.trial.TrialState.RUNNING and "cell:2" in trials[a._open[0]].user_attrs
    finally:
        a.finish({})
        b.finish({})
