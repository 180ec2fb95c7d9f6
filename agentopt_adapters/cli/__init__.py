"""The ``agentopt`` command line: ``app`` (the typer app), ``sim_commands`` (models, sim-server,
demo), ``run_commands`` (optimize, show, dashboard), ``loading`` (app / metric / data files)."""

from __future__ import annotations

import os

from . import run_commands, sim_commands  # noqa: F401  (register their commands on ``app``)
from .app import app

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point. A program, unlike the library, may set its process's
    environment: litellm uses its bundled price map instead of fetching one at import."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    app(args=argv)
