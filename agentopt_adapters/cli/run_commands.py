"""``agentopt optimize`` / ``show`` / ``dashboard``: search, re-print and inspect a stored run."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import typer

from ..errors import AgentOptError
from .app import app, fail
from .loading import dataset_for, load_data, load_object, parse_candidates, parse_json, storage_url

__all__ = ["dashboard_command"]


# the options of `agentopt optimize` (module constants keep the command short to read)
_APP_SPEC = typer.Argument(..., metavar="APP",
                           help="The app: 'path/to/app.py:graph' or 'module:name'.")
_DATA = typer.Option(..., "--data", help="Dataset: .jsonl (one example per line) or .json list.")
_METRIC = typer.Option(..., "--metric",
                       help="Metric 'module:fn' or 'file.py:fn'; fn(example, output) -> [0, 1].")
_CANDIDATES = typer.Option(..., "--candidates",
                           help="'a,b,c' for every slot, or repeat 'slot=a,b'.")
_SLOTS = typer.Option(None, "--slots", help="Comma list of slots to search (default: all).")
_STORAGE = typer.Option(None, "--storage", help="Optuna URL or .db path; makes the run resumable.")
_STUDY = typer.Option(None, "--study",
                      help="Study name in --storage (default: agentopt); workers started with the "
                           "same --storage and --study share the work.")
_BUDGET_USD = typer.Option(None, "--budget-usd", help="Stop the search after this many USD.")
_STRATEGY = typer.Option("auto", "--strategy",
                         help="auto, arm_elimination, epsilon_lucb, threshold_se (with "
                              "--min-score), hill_climbing, bayesian, pareto, lm_proposal, "
                              "brute_force, random.")
_SEED = typer.Option(0, "--seed", help="Seed of the example order and strategy.")
_MAX_CONCURRENCY = typer.Option(8, "--max-concurrency", help="Examples evaluated at once.")
_MAX_COST_PER_EXAMPLE = typer.Option(None, "--max-cost-per-example", help="Constraint (USD).")
_MAX_LATENCY_S = typer.Option(None, "--max-latency-s", help="Constraint (seconds).")
_MIN_SCORE = typer.Option(None, "--min-score", help="Constraint on the mean score.")
_OBJECTIVE = typer.Option("score", "--objective",
                          help="score (the best) or cost (the cheapest within --tolerance of the "
                               "best).")
_TOLERANCE = typer.Option(None, "--tolerance",
                          help="Accept any combination this close to the best score (default "
                               "0.01).")
_BASELINE = typer.Option(True, "--baseline/--no-baseline", help="Also measure the app as it is.")
_CONTEXT = typer.Option(None, "--context", help="LangGraph runtime context for every run (JSON).")
_CONFIG = typer.Option(None, "--config",
                       help="LangGraph run config for every run (JSON), e.g. "
                            "'{\"recursion_limit\": 50}'.")
_STRICT_METRIC = typer.Option(False, "--strict-metric",
                              help="Stop when the metric fails or returns a value outside [0, 1] "
                                   "(default: that example scores 0 and the run goes on).")
_OUT = typer.Option("agentopt.json", "--out",
                    help="Where to write the winning assignment/v1 file.")
_PLOT = typer.Option(None, "--plot", help="Also write the accuracy-vs-cost plot (HTML).")
_PROGRESS = typer.Option(True, "--progress/--no-progress", help="Show the live progress bar.")
_TRACING = typer.Option(True, "--tracing/--no-tracing",
                        help="LangChain / LangSmith tracing of the search's runs (LangGraph).")


@app.command("optimize")
def optimize_cmd(
    app_spec: str = _APP_SPEC,
    data: str = _DATA,
    metric: str = _METRIC,
    candidates: list[str] = _CANDIDATES,
    slots: str | None = _SLOTS,
    storage: str | None = _STORAGE,
    study: str | None = _STUDY,
    budget_usd: float | None = _BUDGET_USD,
    strategy: str = _STRATEGY,
    seed: int = _SEED,
    max_concurrency: int = _MAX_CONCURRENCY,
    max_cost_per_example: float | None = _MAX_COST_PER_EXAMPLE,
    max_latency_s: float | None = _MAX_LATENCY_S,
    min_score: float | None = _MIN_SCORE,
    objective: str = _OBJECTIVE,
    tolerance: float | None = _TOLERANCE,
    baseline: bool = _BASELINE,
    context: str | None = _CONTEXT,
    config: str | None = _CONFIG,
    strict_metric: bool = _STRICT_METRIC,
    out: str = _OUT,
    plot: str | None = _PLOT,
    progress: bool = _PROGRESS,
    tracing: bool = _TRACING,
) -> None:
    """Search the cheapest model combination for APP on --data scored by --metric."""
    from ..optimization import optimize as _optimize

    try:
        _check_writable(out=out, plot=plot)
        app_obj = load_object(app_spec, "app")
        result = _optimize(
            app_obj, dataset_for(app_obj, load_data(data)), load_object(metric, "metric"),
            parse_candidates(candidates),
            slots=[s.strip() for s in slots.split(",") if s.strip()] if slots else None,
            strategy=strategy, budget_usd=budget_usd, seed=seed, max_concurrency=max_concurrency,
            max_cost_per_example=max_cost_per_example, max_latency_s=max_latency_s,
            min_score=min_score, objective=objective, tolerance=tolerance, baseline=baseline,
            strict_metric=strict_metric,
            context=parse_json(context, "--context") if context else None,
            config=parse_json(config, "--config") if config else None,
            storage=storage_url(storage) if storage else None, study_name=study, progress=progress,
            tracing=tracing,
        )
    except ValueError as exc:
        # AgentOptError, and search-level input errors (storage URL, budget, ...)
        fail(exc)
        return
    result.print_summary()
    _write_outputs(result, out, plot, storage)
    if storage:
        again = f" --study {study}" if study else ""
        typer.echo(f"stored in {storage_url(storage)}; re-print with: agentopt show "
                   f"{storage}{again}")


def _check_writable(**targets: str | None) -> None:
    for opt, target in targets.items():
        if target and not Path(target).resolve().parent.is_dir():
            raise AgentOptError(f"--{opt} {target!r}: directory {str(Path(target).parent)!r} does "
                                "not exist")


def _write_outputs(result: Any, out: str, plot: str | None, storage: str | None) -> None:
    """The pick's assignment file and the plot;
    a write error keeps the stored results and says so."""
    try:
        if result.best is not None:
            path = result.export(out)
            slots = json.loads(path.read_text()).get("slots", {})
            written = (", ".join(f"{k}={v['model']}" for k, v in slots.items())
                       or "no slot changes model")
            typer.echo(f"wrote {path} ({written}); use it with agentopt_adapters.apply(app, "
                       f"{str(path)!r})")
        else:
            typer.secho("no combination to export", fg=typer.colors.YELLOW)
        if plot:
            typer.echo(f"wrote {result.plot(plot)}")
    except OSError as exc:
        kept = (f"; the results are kept in {storage_url(storage)} (agentopt show)"
                if storage else "")
        fail(AgentOptError(f"cannot write {exc.filename or out}: {exc.strerror or exc}{kept}"))


@app.command("show")
def show_cmd(
    run: str = typer.Argument(..., metavar="RUN",
                              help="The run database (run.db) or an Optuna storage URL."),
    study: str | None = typer.Option(None, "--study",
                                     help="Study name (default: agentopt, or the only one)."),
    prices: str | None = typer.Option(
        None, "--prices", help='JSON file {"model": [usd_in_per_mtok, usd_out_per_mtok]}: re-rank '
        "the stored run at these prices (no model call)."),
    top: int = typer.Option(10, "--top", help="Leaderboard rows to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    out: str | None = typer.Option(None, "--out",
                                   help="Also write the pick's assignment/v1 file here."),
) -> None:
    """Re-print a stored optimize run (leaderboard, Pareto front, baseline comparison),
    optionally at new prices."""
    from ..optimization import load_result

    try:
        result = load_result(storage_url(run), study, prices=prices)
        path = result.export(out) if out and result.best is not None else None
    except AgentOptError as exc:
        fail(exc)
        return
    if as_json:
        d = result.to_dict()
        d.update(study=result.extra.get("study"),
                 needs_evaluations=result.extra.get("needs_evaluations"))
        typer.echo(json.dumps(d, indent=2,
                              default=_json_value))
        return
    from rich.console import Console

    console = Console()
    priced = f", re-priced with {prices}" if prices else ""
    console.print(f"[bold]Run[/bold] {result.storage} (study {result.extra.get('study')}, "
                  f"{result.n_items} examples, slots {list(result.baseline_models)}{priced}; no "
                  "model called)")
    result.print_summary(console=console, top=top)
    if result.extra.get("needs_evaluations"):
        console.print("[yellow]The stored evidence does not settle the pick under these "
                      "settings[/yellow]: the pick is the search's best guess. Run optimize again "
                      "with the same --storage and --study to pay for the cells it asks for "
                      "(stored cells are reused).")
    if path is not None and result.best is not None:  # a path is written only for a pick
        console.print(f"wrote {path} ({result.best.key})")


def _json_value(x: Any) -> Any:
    return None if isinstance(x, float) and math.isnan(x) else str(x)


def dashboard_command(url: str, port: int = 8080, host: str = "127.0.0.1") -> list[str]:
    """The optuna-dashboard command line for ``url``."""
    exe = (shutil.which("optuna-dashboard")
           or str(Path(sys.executable).with_name("optuna-dashboard")))
    if not Path(exe).exists():
        raise AgentOptError("optuna-dashboard is not installed; pip install optuna-dashboard")
    return [exe, url, "--port", str(port), "--host", host]


@app.command("dashboard")
def dashboard_cmd(
    run: str = typer.Argument(..., metavar="RUN",
                              help="The run database (run.db) or an Optuna storage URL."),
    port: int = typer.Option(8080, "--port", help="Port of the dashboard."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
    browser: bool = typer.Option(True, "--browser/--no-browser", help="Open a browser tab."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only print the command."),
) -> None:
    """Open optuna-dashboard on a stored run (trials = combinations, cells in user attributes)."""
    url = storage_url(run)
    try:
        if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
            raise AgentOptError(f"no such run database {url[len('sqlite:///'):]!r}")
        cmd = dashboard_command(url, port, host)
    except AgentOptError as exc:
        fail(exc)
        return
    typer.echo(" ".join(cmd))
    if dry_run:
        return
    proc = subprocess.Popen(cmd)
    if browser:
        import webbrowser

        webbrowser.open(f"http://{host}:{port}/")
    try:
        proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
