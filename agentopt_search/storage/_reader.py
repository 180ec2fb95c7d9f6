"""Reads a study's cells incrementally: each read returns only cells stored since the previous one.

Cells are ``cell:<example>`` system attributes of the trial whose params are the assignment (user
attributes in format-1 studies). Every writer inserts cells while holding the study lock, so
attribute ids grow in commit order and "id greater than the last one read" is exactly what changed
(see ``OptunaStore``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import sqlalchemy as sa

from . import _sql
from .base import CellKey, StoredCell, Values, decode_cell

log = logging.getLogger("agentopt_search.storage")


class Sums:
    """Running totals of one assignment's stored cells (for the numeric trial attributes)."""

    __slots__ = ("cost", "latency", "n", "n_cost", "n_errors", "score")

    def __init__(self) -> None:
        self.n = self.n_cost = self.n_errors = 0
        self.score = self.cost = self.latency = 0.0

    def add(self, cell: StoredCell) -> None:
        o = cell.outcome
        self.n += 1
        self.score += o.score
        self.latency += o.latency_s
        if o.cost_usd is not None:
            self.cost += o.cost_usd
            self.n_cost += 1
        self.n_errors += bool(o.error)

    def copy(self) -> Sums:
        new = Sums()
        for k in self.__slots__:
            setattr(new, k, getattr(self, k))
        return new

    def summary(self) -> dict[str, Any]:
        """What optuna-dashboard tables and plots per combination trial (value = mean score)."""
        n = max(self.n, 1)
        return {"mean_score": self.score / n,
                "mean_cost_usd": self.cost / self.n_cost if self.n_cost else None,
                "mean_latency_s": self.latency / n, "n_examples": self.n,
                "n_errors": self.n_errors}


class CellReader:
    """The cells of one study, read in increments; knows which trial holds which assignment."""

    def __init__(self, study_id: int, slots: tuple[str, ...], legacy: bool = False) -> None:
        self.study_id = study_id
        self.slots = slots
        # per table: last attribute id read
        self.cursors = {False: 0, True: 0} if legacy else {False: 0}
        # assignment -> its trial (the oldest, for format-1 studies)
        self.trial_of: dict[Values, int] = {}
        # trial -> assignment (None: not a cell trial of these slots)
        self.values_of: dict[int, Values | None] = {}
        self.known: set[CellKey] = set()
        self.sums: dict[Values, Sums] = {}

    def read(self, conn: sa.Connection) -> list[StoredCell]:
        """Cells stored since the previous read (each cell once, whoever stored it)."""
        out: list[StoredCell] = []
        for legacy in self.cursors:
            rows = _sql.read_cells(conn, self.study_id, self.cursors[legacy], legacy)
            if rows:
                self.cursors[legacy] = rows[-1][0]
                out += self._cells(conn, rows)
        return out

    def _cells(self, conn: sa.Connection,
               rows: list[tuple[int, int, str, str]]) -> list[StoredCell]:
        self._learn_trials(conn, {tid for _, tid, _, _ in rows if tid not in self.values_of})
        out: list[StoredCell] = []
        for _, tid, key, value_json in rows:
            values = self.values_of.get(tid)
            cell = self._parse(values, key, value_json, tid)
            if cell is None or (values, cell.example) in self.known:
                continue
            self.add(values, cell)  # type: ignore[arg-type]
            out.append(cell)
        return out

    def add(self, values: Values, cell: StoredCell) -> None:
        self.known.add((values, cell.example))
        self.sums.setdefault(values, Sums()).add(cell)

    def _learn_trials(self, conn: sa.Connection, trial_ids: set[int]) -> None:
        params = _sql.read_params(conn, trial_ids)
        for tid in sorted(trial_ids):
            p = params.get(tid, {})
            if set(p) != set(self.slots):
                self.values_of[tid] = None
                continue
            values = tuple(str(p[s]) for s in self.slots)
            self.values_of[tid] = values
            self.trial_of[values] = min(tid, self.trial_of.get(values, tid))

    def _parse(self, values: Values | None, key: str, value_json: str,
               tid: int) -> StoredCell | None:
        if values is None:
            return None
        try:
            outcome, shared = decode_cell(json.loads(value_json))
            example = int(key[5:])
            outcome.check("a stored cell")
        except (TypeError, ValueError, IndexError) as exc:
            # not a cell agentopt wrote: never trust it
            log.warning("ignoring malformed %s=%r in trial %s (%s)", key, value_json[:200], tid,
                        exc)
            return None
        return StoredCell(dict(zip(self.slots, values)), example, outcome, shared)
