"""``load_result``: a stored optimize run as an ``OptimizeResult`` again, at new prices if asked.

The run's cells hold tokens per (slot, model), so new prices re-cost every cell and the search
decides again on the stored evidence (``agentopt_search.replay``): front, operating points and
pick follow the prices, with no model call.
"""

from __future__ import annotations

from typing import Any

from agentopt_search import read_run, replay

from ..errors import AgentOptError, ConfigError
from ..models.pricing import pricer
from ..scaling import Scaling
from ..usage import Slot
from .candidates import Candidate, SpacePlan
from .result import OptimizeResult

__all__ = ["load_result"]


def load_result(storage: str, study_name: str | None = None, prices: Any = None) -> OptimizeResult:
    """The result of a stored ``optimize`` run (``storage``: ``run.db`` or an Optuna URL;
    ``study_name``: default the only / the ``agentopt`` study). ``prices``: ``{"model":
    [usd_in_per_mtok, usd_out_per_mtok]}`` or a JSON file of it; models it does not name keep their
    current price. Export works without the app (the candidates' own settings; ``apply`` merges
    them into the app)."""
    price = pricer(prices) if prices is not None else None
    try:
        run = read_run(storage, study_name)
    except ValueError as exc:
        raise AgentOptError(str(exc)) from None
    meta = run.metadata
    if "framework" not in meta:
        raise ConfigError(f"study {run.study_name!r} in {run.url} was not written by optimize (no "
                          "framework recorded); read its cells with agentopt_search.read_run")
    res = replay(run, pricer=price)
    plan = _plan(meta)
    return OptimizeResult.of(res, plan=plan, adapter=_Stored(meta["framework"]), app=None,
                             rule=dict(meta.get("rule") or {}),
                             baseline_wanted="baseline" in run.anchors)


def _plan(meta: dict[str, Any]) -> SpacePlan:
    """The SpacePlan of the stored run (candidates in their public form: no secret was stored)."""
    aliases = dict(meta.get("slots") or {})
    cands = {alias: [Candidate(label, spec["model"], dict(spec.get("kwargs") or {}),
                               _scaling(spec))
                     for label, spec in (meta.get("candidates") or {}).get(alias, {}).items()]
             for alias in aliases}
    slots = [Slot(s["name"], meta["framework"], s.get("default_model"), s.get("where", ""))
             for s in meta.get("discovered") or []]
    return SpacePlan(aliases, cands, slots)


def _scaling(spec: dict[str, Any]) -> Scaling:
    select = spec.get("select", "vote")
    return Scaling(int(spec.get("samples", 1)),
                   select if select in ("vote", "judge") else _stored_function(select),
                   spec.get("judge"))


def _stored_function(name: str) -> Any:
    """Stands in for a select function the run stored by name only (exporting it says so)."""

    def select(outputs: Any) -> int:
        raise AgentOptError(f"select function {name!r} was stored by name only; run optimize with "
                            "it to use it")

    select.__name__ = select.__qualname__ = str(name)
    return select


class _Stored:
    """Stands in for the adapter of a loaded result: its framework, and export without the app."""

    def __init__(self, framework: str) -> None:
        self.framework = framework

    def export_config(self, app: Any, assignment: dict[str, Any]) -> dict[str, Any]:
        from ..assignment_file import make_config

        return make_config(self.framework, assignment)
