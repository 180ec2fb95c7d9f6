"""Persistence of observations in an Optuna study (SQLite, PostgreSQL, ... by URL).

A study holds one search. Each trial is a combination: its ``params`` are the slot -> model choice
(categorical distributions over the candidates, so optuna-dashboard shows them), each evaluated
example is stored as a user attribute ``cell:<example index>`` = ``[score, cost, latency, error]``
and as the intermediate value at step ``example index``. A finished run sets the trial's value to
the combination's mean score. Resuming reads every cell of every trial (any state), so nothing
that was paid for is paid again; a combination evaluated again after its trial was completed gets
a new trial.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Sequence

from .space import SearchSpace

__all__ = ["CellRecord", "MemoryStore", "OptunaStore", "open_store", "dataset_fingerprint"]

CellRecord = tuple[int, int, float, float | None, float, str | None]  # combo, example, score, cost, latency, error


def dataset_fingerprint(examples: Sequence[Any]) -> str:
    """A short hash of the examples' text, to refuse resuming a run on different data."""
    h = hashlib.sha256()
    for ex in examples:
        h.update(repr(ex).encode("utf-8", "replace"))
        h.update(b"\x00")
    return h.hexdigest()[:16]


class MemoryStore:
    """Default: observations live in the search state only."""

    url = None

    def load(self) -> list[CellRecord]:
        return []

    def save(self, combo: int, example: int, score: float, cost: float | None, latency: float, error: str | None) -> None:
        pass

    def finish(self, means: dict[int, float]) -> None:
        pass


class OptunaStore:
    """Observations in an Optuna study; works with any Optuna storage URL."""

    def __init__(self, url: str, space: SearchSpace, n_examples: int, fingerprint: str, study_name: str | None = None) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.url = url
        self.space = space
        self.study_name = study_name or "agentopt"
        self._optuna = optuna
        try:
            self.storage = optuna.storages.get_storage(url)
        except Exception as exc:  # bad URL, missing driver, server down
            raise ValueError(f"cannot open storage {url!r}: {type(exc).__name__}: {exc}. "
                             "Use e.g. 'sqlite:///run.db' or 'postgresql://user:pass@host/db'") from None
        self.study = optuna.create_study(storage=self.storage, study_name=self.study_name,
                                         direction="maximize", load_if_exists=True)
        self.distributions = {
            slot: optuna.distributions.CategoricalDistribution(list(cands)) for slot, cands in space.slots.items()
        }
        meta = {"space": {k: list(v) for k, v in space.slots.items()}, "n_examples": n_examples,
                "fingerprint": fingerprint}
        attrs = self.study.user_attrs
        if "agentopt" in attrs:
            old = attrs["agentopt"]
            for key, what in (("space", "slots/candidates"), ("n_examples", "number of examples"),
                              ("fingerprint", "dataset")):
                if old.get(key) != meta[key]:
                    raise ValueError(
                        f"study {self.study_name!r} in {url} was run with a different {what}; "
                        "resume with the same inputs or pass another study name"
                    )
        else:
            self.study.set_user_attr("agentopt", meta)
        self._open: dict[int, int] = {}  # combo -> trial id open in this process

    def load(self) -> list[CellRecord]:
        out: list[CellRecord] = []
        for t in self.study.get_trials(deepcopy=False):
            try:
                combo = self.space.index({k: t.params[k] for k in self.space.names})
            except (KeyError, ValueError):
                continue
            for key, value in t.user_attrs.items():
                if key.startswith("cell:"):
                    s, c, l, e = value
                    out.append((combo, int(key[5:]), float(s), c, float(l), e))
        return out

    def _trial(self, combo: int) -> int:
        tid = self._open.get(combo)
        if tid is None:
            frozen = self._optuna.trial.create_trial(
                state=self._optuna.trial.TrialState.RUNNING,
                params=self.space.assignment(combo),
                distributions=self.distributions,
            )
            tid = self.storage.create_new_trial(self.study._study_id, template_trial=frozen)
            self.storage.set_trial_user_attr(tid, "combination", self.space.key(combo))
            self._open[combo] = tid
        return tid

    def save(self, combo: int, example: int, score: float, cost: float | None, latency: float, error: str | None) -> None:
        tid = self._trial(combo)
        cost_v = None if cost is None or (isinstance(cost, float) and math.isnan(cost)) else float(cost)
        self.storage.set_trial_user_attr(tid, f"cell:{example}", [float(score), cost_v, float(latency), error])
        self.storage.set_trial_intermediate_value(tid, example, float(score))

    def finish(self, means: dict[int, float]) -> None:
        """Complete this process's trials with the combination's mean score as value."""
        for combo, tid in self._open.items():
            value = means.get(combo)
            state = self._optuna.trial.TrialState.COMPLETE if value is not None and not math.isnan(value) \
                else self._optuna.trial.TrialState.FAIL
            self.storage.set_trial_state_values(tid, state=state, values=[value] if state.name == "COMPLETE" else None)
        self._open.clear()


def open_store(storage: Any, space: SearchSpace, examples: Sequence[Any], study_name: str | None) -> MemoryStore | OptunaStore:
    if storage is None:
        return MemoryStore()
    if isinstance(storage, str):
        return OptunaStore(storage, space, len(examples), dataset_fingerprint(examples), study_name)
    raise ValueError(f"storage must be an Optuna storage URL such as 'sqlite:///run.db' or None, got {storage!r}")

