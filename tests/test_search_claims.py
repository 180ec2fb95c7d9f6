"""The claim protocol of a shared study: two stores (workers) in one process on one SQLite file."""

from __future__ import annotations

import threading

import pytest

from agentopt_search import Outcome
from agentopt_search.storage import OptunaStore, RunSpec, StoredCell, _sql, read_run

RUN = RunSpec({"a": ("a1", "a2"), "b": ("b1",)}, n_examples=5, fingerprint="f")
KEYS = [((a, "b1"), e) for a in ("a1", "a2") for e in range(5)]


@pytest.fixture()
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'run.db'}"


def worker(url: str) -> OptunaStore:
    store = OptunaStore(url, "s")
    store.load(RUN)
    return store


def cell(key, score=1.0) -> StoredCell:
    (a, b), e = key
    return StoredCell({"a": a, "b": b}, e, Outcome(score, 0.01, 0.1))


def test_claims_are_exclusive_and_stored_cells_are_shared(url):
    with worker(url) as a, worker(url) as b:
        _, mine_a = a.claim(KEYS, limit=4)
        _, mine_b = b.claim(KEYS, limit=100)
        assert mine_a == KEYS[:4] and mine_b == KEYS[4:]
        a.save(cell(KEYS[0]))
        a.flush()
        stored, again = b.claim(KEYS, limit=100)
        assert [c.key(("a", "b")) for c in stored] == [KEYS[0]]
        assert again == KEYS[4:]  # its own unfinished claims, nothing of a's
        _, mine_a2 = a.claim(KEYS, limit=100)
        assert mine_a2 == KEYS[1:4]  # a keeps what it holds and does not take b's


def test_finished_worker_releases_its_unstored_claims(url):
    a = worker(url)
    a.claim(KEYS, limit=3)
    a.save(cell(KEYS[0]))
    a.close()
    with OptunaStore(url, "s") as b:
        stored = b.load(RUN)
        assert [c.key(("a", "b")) for c in stored] == [KEYS[0]]
        _, mine_b = b.claim(KEYS, limit=100)
        # KEYS[1] and KEYS[2] were claimed by a, never stored: free again
        assert mine_b == KEYS[1:]


def test_stale_worker_loses_its_claims_and_a_cell_is_stored_once(url):
    """b judges a's heartbeat stale and takes a's cells; a (alive after all) claims afresh without
    taking what b holds, and the cell both evaluated is stored once."""
    with worker(url) as a, worker(url) as b:
        _, _mine_a = a.claim(KEYS, limit=3)
        with a._engine.begin() as conn:  # a's last heartbeat, long ago
            _sql.put_system_attr(conn, a.study_id, f"agentopt:beat:{a.worker}", 0.0)
        _, mine_b = b.claim(KEYS, limit=2)
        assert mine_b == KEYS[:2]
        _, mine_a1 = a.claim(KEYS, limit=4)  # its claims are void: it claims afresh
        assert mine_a1 == KEYS[2:6] and not set(mine_a1) & set(mine_b)
        a.save(cell(KEYS[0], score=1.0))  # a finished a cell it had lost to b anyway
        b.save(cell(KEYS[0], score=0.0))
        a.flush()
        b.flush()
    cells = read_run(url, "s").cells
    assert [c.key(("a", "b")) for c in cells] == [KEYS[0]] and cells[0].outcome.score == 1.0


def test_threads_live_from_load_to_finish_only(url):
    before = {t for t in threading.enumerate() if t.name.startswith("agentopt")}
    store = OptunaStore(url, "s")
    assert {t for t in threading.enumerate() if t.name.startswith("agentopt")} == before
    store.load(RUN)
    started = {t.name for t in threading.enumerate() if t.name.startswith("agentopt")}
    started -= {t.name for t in before}
    assert started == {"agentopt-store-writer", "agentopt-store-heartbeat"}
    store.close()
    assert {t for t in threading.enumerate() if t.name.startswith("agentopt")} == before
