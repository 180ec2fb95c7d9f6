"""The few statements the Optuna store runs on Optuna's own tables, batched (SQLAlchemy Core).

Optuna's public storage API writes one attribute per transaction and reads whole trials; a search
stores thousands of cells a second and reads only what changed, so these statements work on the
same tables (Optuna's schema, read by Optuna and optuna-dashboard as usual) in one transaction per
flush. Every function takes an open connection inside a transaction; nothing here commits.
"""

from __future__ import annotations

import datetime
import importlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

__all__ = ["db_now", "read_cells", "read_params", "read_agentopt_trials", "count_trials",
           "create_trial", "insert_cells", "write_summaries", "set_states", "read_system_attrs",
           "put_system_attr", "delete_system_attrs"]


def _models() -> Any:
    from optuna.storages._rdb import models

    return models


def _t(name: str) -> sa.Table:
    m = _models()
    return {"trials": m.TrialModel, "attrs": m.TrialUserAttributeModel,
            "cells": m.TrialSystemAttributeModel, "params": m.TrialParamModel,
            "values": m.TrialValueModel, "inter": m.TrialIntermediateValueModel,
            "system": m.StudySystemAttributeModel}[name].__table__


def _utcnow() -> datetime.datetime:
    """A timestamp as Optuna stores it: naive UTC since Optuna 4.5, naive local time before."""
    if hasattr(_models().TrialModel, "_datetime_start_utc"):
        return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    return datetime.datetime.now()


def db_now(conn: sa.Connection) -> float:
    """The database's clock in seconds since the epoch
    (one clock for every worker of a database)."""
    dialect = conn.dialect.name
    expr = {"sqlite": "(julianday('now') - 2440587.5) * 86400.0",
            "postgresql": "EXTRACT(EPOCH FROM clock_timestamp())",
            "mysql": "UNIX_TIMESTAMP(NOW(6))"}.get(dialect)
    if expr is None:
        return time.time()
    return float(conn.execute(sa.text(f"SELECT {expr}")).scalar_one())


def read_cells(conn: sa.Connection, study_id: int, after: int,
               legacy: bool = False) -> list[tuple[int, int, str, str]]:
    """(attribute id, trial id, key, value json) of the study's ``cell:*`` trial system attributes
    (``legacy``: user attributes, where format-1 studies kept them) with id > ``after``."""
    a, t = _t("attrs" if legacy else "cells"), _t("trials")
    id_col = a.c.trial_user_attribute_id if legacy else a.c.trial_system_attribute_id
    q = (sa.select(id_col, a.c.trial_id, a.c.key, a.c.value_json)
         .select_from(a.join(t, a.c.trial_id == t.c.trial_id))
         .where(t.c.study_id == study_id, id_col > after, a.c.key.like("cell:%"))
         .order_by(id_col))
    return [tuple(r) for r in conn.execute(q)]


def read_params(conn: sa.Connection, trial_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """Each trial's params decoded with its own distribution
    (candidate lists may differ between runs)."""
    from optuna.distributions import json_to_distribution

    p = _t("params")
    out: dict[int, dict[str, str]] = {}
    ids = sorted(set(trial_ids))
    for i in range(0, len(ids), 500):
        q = sa.select(p.c.trial_id, p.c.param_name, p.c.param_value, p.c.distribution_json).where(
            p.c.trial_id.in_(ids[i:i + 500]))
        for tid, name, value, dist in conn.execute(q):
            out.setdefault(tid, {})[name] = json_to_distribution(dist).to_external_repr(value)
    return out


def read_agentopt_trials(conn: sa.Connection, study_id: int) -> list[tuple[int, str]]:
    """(trial id, state name) of every trial of the study."""
    t = _t("trials")
    rows = conn.execute(sa.select(t.c.trial_id, t.c.state).where(t.c.study_id == study_id))
    return [(tid, getattr(state, "name", str(state))) for tid, state in rows]


def count_trials(conn: sa.Connection, study_id: int) -> int:
    t = _t("trials")
    count = sa.select(sa.func.count()).select_from(t).where(t.c.study_id == study_id)
    return int(conn.execute(count).scalar_one())


def create_trial(conn: sa.Connection, study_id: int, number: int, assignment: Mapping[str, str],
                 choices: Mapping[str, Sequence[str]], attrs: Mapping[str, Any]) -> int:
    """Trial ``number`` of the study, RUNNING, params ``assignment``
    (categorical over ``choices``)."""
    from optuna.distributions import CategoricalDistribution, distribution_to_json
    from optuna.trial import TrialState

    t = _t("trials")
    insert = t.insert().values(number=number, study_id=study_id, state=TrialState.RUNNING,
                               datetime_start=_utcnow())
    tid = conn.execute(insert).inserted_primary_key[0]  # type: ignore[index]
    params = []
    for slot, value in assignment.items():
        dist = CategoricalDistribution(list(choices[slot]))
        params.append({"trial_id": tid, "param_name": slot,
                       "param_value": dist.to_internal_repr(value),
                       "distribution_json": distribution_to_json(dist)})
    conn.execute(_t("params").insert(), params)
    if attrs:
        conn.execute(_t("attrs").insert(),
                     [{"trial_id": tid, "key": k, "value_json": json.dumps(v)}
                                            for k, v in attrs.items()])
    return int(tid)


def insert_cells(conn: sa.Connection, rows: Sequence[tuple[int, int, str, float]]) -> None:
    """``cell:<example>`` trial system attributes (out of optuna-dashboard's attribute table) and
    intermediate values (its plots); a cell already stored is left as it is."""
    if not rows:
        return
    inter = _models().TrialIntermediateValueModel
    _insert_ignore(conn, _t("cells"), [{"trial_id": tid, "key": f"cell:{ex}", "value_json": value}
                                       for tid, ex, value, _ in rows], ["trial_id", "key"])
    values = []
    for tid, ex, _, score in rows:
        v, kind = inter.intermediate_value_to_stored_repr(score)
        values.append({"trial_id": tid, "step": ex, "intermediate_value": v,
                       "intermediate_value_type": kind})
    _insert_ignore(conn, _t("inter"), values, ["trial_id", "step"])


def write_summaries(conn: sa.Connection, summaries: dict[int, dict[str, Any]]) -> None:
    """Numeric user attributes per trial (mean score, cost, latency, n)
    and the mean score as value."""
    if not summaries:
        return
    vm = _models().TrialValueModel
    attrs = [{"trial_id": tid, "key": k, "value_json": json.dumps(v)}
             for tid, s in summaries.items() for k, v in s.items() if v is not None]
    _upsert(conn, _t("attrs"), attrs, ["trial_id", "key"], ["value_json"])
    values = []
    for tid, s in summaries.items():
        v, kind = vm.value_to_stored_repr(float(s["mean_score"]))
        values.append({"trial_id": tid, "objective": 0, "value": v, "value_type": kind})
    _upsert(conn, _t("values"), values, ["trial_id", "objective"], ["value", "value_type"])


def set_states(conn: sa.Connection, trial_ids: Iterable[int], complete: bool) -> None:
    """COMPLETE (every given trial must have a value) or RUNNING again (a later run adds cells)."""
    from optuna.trial import TrialState

    t = _t("trials")
    ids = sorted(set(trial_ids))
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        if complete:
            q = t.update().where(t.c.trial_id.in_(chunk), t.c.state != TrialState.COMPLETE).values(
                state=TrialState.COMPLETE, datetime_complete=_utcnow())
        else:
            q = t.update().where(t.c.trial_id.in_(chunk), t.c.state != TrialState.RUNNING).values(
                state=TrialState.RUNNING, datetime_complete=None)
        conn.execute(q)


def read_system_attrs(conn: sa.Connection, study_id: int, prefix: str) -> dict[str, Any]:
    s = _t("system")
    q = sa.select(s.c.key, s.c.value_json).where(s.c.study_id == study_id,
                                                 s.c.key.like(prefix + "%"))
    return {k: json.loads(v) for k, v in conn.execute(q)}


def put_system_attr(conn: sa.Connection, study_id: int, key: str, value: Any) -> None:
    _upsert(conn, _t("system"),
            [{"study_id": study_id, "key": key, "value_json": json.dumps(value)}],
            ["study_id", "key"], ["value_json"])


def delete_system_attrs(conn: sa.Connection, study_id: int, keys: Iterable[str]) -> None:
    keys = list(keys)
    if keys:
        s = _t("system")
        conn.execute(s.delete().where(s.c.study_id == study_id, s.c.key.in_(keys)))


def _dialect_insert(conn: sa.Connection, table: sa.Table) -> Any:
    name = conn.dialect.name
    if name in ("sqlite", "postgresql", "mysql"):
        return importlib.import_module(f"sqlalchemy.dialects.{name}").insert(table)
    return None


def _insert_ignore(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]],
                   unique: list[str]) -> None:
    if not rows:
        return
    stmt = _dialect_insert(conn, table)
    if stmt is None:  # other databases: look first (callers hold the study lock)
        for row in rows:
            cond = [table.c[k] == row[k] for k in unique]
            count = sa.select(sa.func.count()).select_from(table).where(*cond)
            if conn.execute(count).scalar() == 0:
                conn.execute(table.insert().values(**row))
        return
    if conn.dialect.name == "mysql":
        conn.execute(stmt.prefix_with("IGNORE"), rows)
    else:
        conn.execute(stmt.on_conflict_do_nothing(index_elements=unique), rows)


def _upsert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]], unique: list[str],
            update: list[str]) -> None:
    if not rows:
        return
    stmt = _dialect_insert(conn, table)
    if stmt is None:
        for row in rows:
            cond = [table.c[k] == row[k] for k in unique]
            if conn.execute(table.update().where(*cond).values({k: row[k]
                                                                for k in update})).rowcount == 0:
                conn.execute(table.insert().values(**row))
        return
    if conn.dialect.name == "mysql":
        conn.execute(stmt.on_duplicate_key_update({k: stmt.inserted[k] for k in update}), rows)
    else:
        conn.execute(stmt.on_conflict_do_update(index_elements=unique,
                                                set_={k: stmt.excluded[k] for k in update}),
                     rows)
