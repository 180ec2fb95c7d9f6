"""The typer app every ``agentopt`` command registers on, and the one way a command fails."""

from __future__ import annotations

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="agentopt: find the cheapest model combination for your LangGraph graph or "
                       "DSPy program.")

__all__ = ["app", "fail"]


def fail(exc: Exception) -> None:
    """Print ``error: <message>`` (one line) and exit with code 2."""
    msg = " ".join(line.strip() for line in str(exc).strip().splitlines() if line.strip())
    typer.secho(f"error: {msg}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)
