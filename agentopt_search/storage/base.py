"""What a store holds and the protocol every store follows; the one home of the stored-cell format.

A *cell* is one evaluation: an assignment (slot -> value, a combination of the space or an anchor),
an example index, and its ``Outcome`` (with the usage table when the evaluation gave one). Cells
are keyed by assignment, never by a combination's position in one space, so a run with another
candidate list (same slots, same examples) reuses every cell it shares with the stored ones.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..outcome import Outcome, UsageRow

__all__ = ["Store", "StoredCell", "StoredRun", "RunSpec", "CellKey", "dataset_fingerprint",
           "encode_cell", "decode_cell", "check_identity", "FORMAT"]

FORMAT = 2  # 1: cells keyed by combination, one trial per worker; 2: one trial per assignment

Values = tuple[str, ...]  # an assignment's values in slot order
CellKey = tuple[Values, int]  # (assignment values, example index)


@dataclass(frozen=True)
class StoredCell:
    """One stored evaluation. ``shared``: recorded from an evaluation of another assignment that
    differs only in slots that made no call on this example (paid once, never counted twice)."""

    assignment: dict[str, str]
    example: int
    outcome: Outcome
    shared: bool = False

    def key(self, slots: Sequence[str]) -> CellKey:
        return tuple(self.assignment[s] for s in slots), self.example


@dataclass(frozen=True)
class RunSpec:
    """What a run asks of a store: its space, anchors and examples (compatibility is checked)."""

    slots: dict[str, tuple[str, ...]]
    n_examples: int
    fingerprint: str
    anchors: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class StoredRun:
    """Everything a stored run holds (``read_run``): the latest space and anchors, every cell,
    metadata."""

    url: str
    study_name: str
    slots: dict[str, list[str]]
    anchors: dict[str, dict[str, str]]
    n_examples: int
    fingerprint: str
    cells: list[StoredCell]
    metadata: dict[str, Any]


@runtime_checkable
class Store(Protocol):
    """Where a search keeps its cells. ``shared``: other processes may write too, so cells are
    claimed before they are paid and ``poll`` brings what others stored."""

    @property
    def url(self) -> str | None:
        """Where the cells are kept (None: in this process only)."""

    @property
    def shared(self) -> bool:
        """Other processes may write the same run."""

    @property
    def metadata(self) -> MutableMapping[str, Any]:
        """The caller's facts about the run (objective, framework, baseline, ...): JSON values."""

    def load(self, run: RunSpec) -> list[StoredCell]:
        """Start a run: check the store fits it (same slots and examples),
        return every stored cell."""

    def poll(self) -> list[StoredCell]:
        """Cells others stored since the last ``load`` / ``poll`` / ``claim``
        (never blocks long)."""

    def claim(self, wanted: Sequence[CellKey], limit: int) -> tuple[list[StoredCell],
                                                                    list[CellKey]]:
        """Reserve up to ``limit`` of ``wanted`` that nobody stored or holds: (new cells,
        my claims)."""

    def save(self, cell: StoredCell) -> None:
        """Keep ``cell`` (may be buffered: durable within the store's flush interval)."""

    def finish(self) -> None:
        """End the run: write what is buffered, release claims, stop every thread. Idempotent."""


def dataset_fingerprint(examples: Sequence[Any]) -> str:
    """A short hash of the examples' text, to refuse resuming a run on different data."""
    h = hashlib.sha256()
    for ex in examples:
        h.update(repr(ex).encode("utf-8", "replace"))
        h.update(b"\x00")
    return h.hexdigest()[:16]


def encode_cell(outcome: Outcome, shared: bool = False) -> list[Any]:
    """``[score, cost, latency, error]``,
    then the usage rows and a shared flag when there are any."""
    cost = outcome.cost_usd
    cost = None if cost is None or (isinstance(cost, float) and math.isnan(cost)) else float(cost)
    out: list[Any] = [float(outcome.score), cost, float(outcome.latency_s), outcome.error]
    if outcome.usage is not None or shared:
        out.append(None if outcome.usage is None else [list(r) for r in outcome.usage])
    if shared:
        out.append(1)
    return out


def decode_cell(value: Any) -> tuple[Outcome, bool]:
    """Inverse of ``encode_cell`` (also reads format-1 cells);
    ValueError/TypeError if malformed."""
    score, cost, latency, error = value[:4]
    usage = value[4] if len(value) > 4 else None
    outcome = Outcome(float(score), None if cost is None else float(cost), float(latency),
                      None if error is None else str(error),
                      usage=None if usage is None else tuple(UsageRow(*r) for r in usage))
    return outcome, len(value) > 5 and bool(value[5])


def check_identity(old: Any, run: RunSpec, where: str) -> dict[str, Any]:
    """The identity record to store for ``run``; ValueError when ``old`` (the stored one) does not
    fit.

    Same slot names and the same examples are required; candidates and anchors may change.
    """
    new = {"format": FORMAT, "slots": list(run.slots), "n_examples": run.n_examples,
           "fingerprint": run.fingerprint, "space": {k: list(v) for k, v in run.slots.items()},
           "anchors": {**(old or {}).get("anchors", {}), **run.anchors} if isinstance(old, dict)
           else dict(run.anchors)}
    if old is None:
        return new
    if isinstance(old, dict) and (old.get("format", 1) < 2 or old.get("legacy_cells")):
        new["legacy_cells"] = True  # format-1 cells stay in trial user attributes
    if not isinstance(old, dict):
        raise ValueError(f"{where} was not written by agentopt; pass another study name")
    old_slots = old.get("slots") or list(old.get("space") or {})
    if old_slots != new["slots"]:
        raise ValueError(f"{where} was run with slots {old_slots}, this run has {new['slots']}; "
                         "resume with the same slots or pass another study name")
    if old.get("n_examples") != run.n_examples or old.get("fingerprint") != run.fingerprint:
        raise ValueError(f"{where} was run with a different dataset ({old.get('n_examples')} "
                         f"examples, this run {run.n_examples}); resume with the same examples or "
                         "pass another study name")
    return new
