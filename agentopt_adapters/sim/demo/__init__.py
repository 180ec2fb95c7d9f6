"""The bundled demo: a LangGraph planner + solver agent and a DSPy multi-hop program, optimized
end to end on the simulated model zoo by ``agentopt demo`` (see ``run.py``)."""

from __future__ import annotations

from typing import Any

__all__ = ["run_demo"]


def run_demo(*args: Any, **kwargs: Any) -> Any:
    """See :func:`agentopt_adapters.sim.demo.run.run_demo`."""
    from .run import run_demo as _run_demo

    return _run_demo(*args, **kwargs)
