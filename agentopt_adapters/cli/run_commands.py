"""``agentopt optimize`` / ``show`` / ``dashboard``: search, re-print and inspect a stored run."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from ..errors import AgentOptError
from .app import app, fail
from .loading import dataset_for, first_line, load_data, load_object, parse_candidates, parse_json, storage_url

__all__ = ["load_stored_run", "dashboard_command"]


@app.command("optimize")
def optimize_cmd(
    app_spec: str = typer.Argument(..., metavar="APP", help="The app: 'path/to/app.py:graph' or 'module:name'."),
    data: str = typer.Option(..., "--data", help="Dataset: .jsonl (one example per line) or .json list."),
    metric: str = typer.Option(..., "--metric", help="Metric 'module:fn' or 'file.py:fn'; fn(example, output) -> [0, 1]."),
    candidates: list[str] = typer.Option(..., "--candidates", help="'a,b,c' for every slot, or repeat 'slot=a,b'."),
    slots: Optional[str] = typer.Option(None, "--slots", help="Comma list of slots to search (default: all)."),
    storage: Optional[str] = typer.Option(None, "--storage", help="Optuna URL or .db path; makes the run resumable."),
    study: Optional[str] = typer.Option(None, "--study", help="Study name in --storage (default: agentopt); "
                                        "workers started with the same --storage and --study share the work."),
    budget_usd: Optional[float] = typer.Option(None, "--budget-usd", help="Stop the search after this many USD."),
    strategy: str = typer.Option("auto", "--strategy", help="auto, arm_elimination, epsilon_lucb, threshold_se (with --min-score), hill_climbing, bayesian, pareto, lm_proposal, brute_force, random."),
    seed: int = typer.Option(0, "--seed", help="Seed of the example order and strategy."),
    max_concurrency: int = typer.Option(8, "--max-concurrency", help="Examples evaluated at once."),
    max_cost_per_example: Optional[float] = typer.Option(None, "--max-cost-per-example", help="Constraint (USD)."),
    max_latency_s: Optional[float] = typer.Option(None, "--max-latency-s", help="Constraint (seconds)."),
    min_score: Optional[float] = typer.Option(None, "--min-score", help="Constraint on the mean score."),
    objective: str = typer.Option("score", "--objective", help="score (the best) or cost (the cheapest within "
                                  "--tolerance of the best)."),
    tolerance: Optional[float] = typer.Option(None, "--tolerance", help="Accept any combination this close to "
                                              "the best score (default 0.01)."),
    baseline: bool = typer.Option(True, "--baseline/--no-baseline", help="Also measure the app as it is."),
    context: Optional[str] = typer.Option(None, "--context", help="LangGraph runtime context for every run (JSON)."),
    strict_metric: bool = typer.Option(False, "--strict-metric", help="Stop when the metric fails or returns a "
                                       "value outside [0, 1] (default: that example scores 0 and the run goes on)."),
    out: str = typer.Option("agentopt.json", "--out", help="Where to write the winning assignment/v1 file."),
    plot: Optional[str] = typer.Option(None, "--plot", help="Also write the accuracy-vs-cost plot (HTML)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show the live progress bar."),
) -> None:
    """Search the cheapest model combination for APP on --data scored by --metric."""
    from ..optimization import optimize as _optimize

    try:
        for opt, target in (("--out", out), ("--plot", plot)):
            if target and not Path(target).resolve().parent.is_dir():
                raise AgentOptError(f"{opt} {target!r}: directory {str(Path(target).parent)!r} does not exist")
        app_obj = load_object(app_spec, "app")
        metric_fn = load_object(metric, "metric")
        dataset = dataset_for(app_obj, load_data(data))
        result = _optimize(
            app_obj, dataset, metric_fn, parse_candidates(candidates),
            slots=[s.strip() for s in slots.split(",") if s.strip()] if slots else None,
            strategy=strategy, budget_usd=budget_usd, seed=seed, max_concurrency=max_concurrency,
            max_cost_per_example=max_cost_per_example, max_latency_s=max_latency_s, min_score=min_score,
            objective=objective, tolerance=tolerance, baseline=baseline, strict_metric=strict_metric,
            context=parse_json(context, "--context") if context else None,
            storage=storage_url(storage) if storage else None, study_name=study, progress=progress,
        )
    except AgentOptError as exc:
        fail(exc)
        return
    except ValueError as exc:  # search-level input errors (storage URL, budget, ...)
        fail(exc)
        return
    result.print_summary()
    try:
        if result.best is not None:
            path = result.export(out)
            typer.echo(f"wrote {path} ({result.best.key}); use it with agentopt_adapters.apply(app, {str(path)!r})")
        else:
            typer.secho("no combination to export", fg=typer.colors.YELLOW)
        if plot:
            typer.echo(f"wrote {result.plot(plot)}")
    except OSError as exc:
        kept = f"; the results are kept in {storage_url(storage)} (agentopt show)" if storage else ""
        fail(AgentOptError(f"cannot write {exc.filename or out}: {exc.strerror or exc}{kept}"))
        return
    if storage:
        again = f" --study {study}" if study else ""
        typer.echo(f"stored in {storage_url(storage)}; re-print with: agentopt show {storage}{again}")


def load_stored_run(url: str, study_name: str | None = None) -> tuple[Any, dict[str, Any]]:
    """Rebuild a SearchResult (and the optimize metadata) from an Optuna storage written by optimize."""
    try:
        return _load_stored_run(url, study_name)
    except AgentOptError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise AgentOptError(f"{url}: the study is not a readable agentopt run ({type(exc).__name__}: {exc}); "
                            "agentopt show reads studies written by agentopt optimize") from None


def _load_stored_run(url: str, study_name: str | None) -> tuple[Any, dict[str, Any]]:
    import optuna

    from agentopt_search import CombinationStats, SearchResult
    from agentopt_search.stats import mean_ci

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        raise AgentOptError(f"no such run database {url[len('sqlite:///'):]!r}")
    try:
        names = [s.study_name for s in optuna.get_all_study_summaries(storage=url)]
    except Exception as exc:
        raise AgentOptError(f"cannot read storage {url!r}: {type(exc).__name__}: {first_line(exc)}") from None
    mains = [n for n in names if not n.endswith("-baseline")]
    if study_name is None:
        if not mains:
            raise AgentOptError(f"{url} holds no agentopt study")
        study_name = "agentopt" if "agentopt" in mains else mains[0]
    elif study_name not in names:
        raise AgentOptError(f"{url} has no study {study_name!r}; studies: {names}")

    def stats(name: str) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
        st = optuna.load_study(study_name=name, storage=url)
        meta = st.user_attrs.get("agentopt")
        if not isinstance(meta, dict):
            raise AgentOptError(f"study {name!r} in {url} was not written by agentopt optimize (no 'agentopt' record); "
                                "pass the study name of an agentopt run with --study")
        conf = float(st.user_attrs.get("agentopt_optimize", {}).get("confidence", 0.95))
        cells: dict[str, dict[int, list[Any]]] = {}
        assign: dict[str, dict[str, str]] = {}
        for t in st.get_trials(deepcopy=False):
            key = "|".join(f"{k}={v}" for k, v in t.params.items())
            assign[key] = dict(t.params)
            for k, v in t.user_attrs.items():
                if k.startswith("cell:"):
                    cells.setdefault(key, {})[int(k[5:])] = v
        rows = []
        for i, (key, by_ex) in enumerate(sorted(cells.items())):
            vals = list(by_ex.values())
            scores = [float(v[0]) for v in vals]
            costs = [v[1] for v in vals if v[1] is not None]
            lats = [float(v[2]) for v in vals]
            errs = [v[3] for v in vals if v[3]]
            n = len(vals)
            rows.append(CombinationStats(
                index=i, assignment=assign[key], mean_score=sum(scores) / n,
                ci=mean_ci(scores, conf), mean_cost_usd=(sum(costs) / len(costs)) if costs else float("nan"),
                mean_latency_s=sum(lats) / n, n=n, n_errors=len(errs),
                status="failed" if len(errs) == n else "stored", first_error=errs[0] if errs else None))  # type: ignore[arg-type]
        rows.sort(key=lambda s: (s.status == "failed", -s.mean_score, s.mean_cost_usd))
        total = sum(sum(v[1] or 0.0 for v in by.values()) for by in cells.values())
        return rows, meta, {"spent": total, "n": sum(len(by) for by in cells.values())}

    rows, meta, tot = stats(study_name)
    st = optuna.load_study(study_name=study_name, storage=url)
    opt_meta = dict(st.user_attrs.get("agentopt_optimize", {}))
    base_rows: list[Any] = []
    if f"{study_name}-baseline" in names:
        base_rows, _, btot = stats(f"{study_name}-baseline")
        opt_meta.setdefault("baseline", base_rows[0].assignment if base_rows else None)
    best_assign = opt_meta.get("best")
    best = next((s for s in rows if s.assignment == best_assign), None) if best_assign else None
    if best is None and not best_assign:
        best = next((s for s in rows if s.status != "failed"), None)
    # the baseline pass saw every example: show its fuller evidence in the leaderboard
    base = base_rows[0] if base_rows else None
    if base is not None:
        rows = [base if s.assignment == base.assignment and s.n <= base.n else s for s in rows]
        if best is not None and best.assignment == base.assignment:
            best = base
    n_items = int(meta.get("n_examples", 0))
    result = SearchResult(best=best, leaderboard=rows, spent_usd=float(opt_meta.get("spent_usd", tot["spent"])),
                          n_evaluations=int(opt_meta.get("n_evaluations", tot["n"])), n_items=n_items,
                          strategy=str(opt_meta.get("strategy", "stored run")),
                          stop_reason=opt_meta.get("stop_reason", "done"),
                          confidence=float(opt_meta.get("confidence", 0.95)), epsilon=float(opt_meta.get("epsilon", 0.01)),
                          storage=url, brute_force_usd=float(opt_meta.get("brute_force_usd") or float("nan")))
    result.extra.update(baseline=base, study=study_name, space=meta.get("space"))
    return result, opt_meta


@app.command("show")
def show_cmd(
    run: str = typer.Argument(..., metavar="RUN", help="The run database (run.db) or an Optuna storage URL."),
    study: Optional[str] = typer.Option(None, "--study", help="Study name (default: agentopt)."),
    top: int = typer.Option(10, "--top", help="Leaderboard rows to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Re-print the summary of a stored optimize run (leaderboard, Pareto front, baseline comparison)."""
    from ..optimization import baseline_sentence

    try:
        result, meta = load_stored_run(storage_url(run), study)
    except AgentOptError as exc:
        fail(exc)
        return
    base = result.extra.get("baseline")
    sentence = baseline_sentence(result.best, base, result.epsilon)
    if as_json:
        d = result.to_dict()
        d.update(baseline=base.to_dict() if base else None, comparison=sentence, study=result.extra["study"])
        typer.echo(json.dumps(d, indent=2, default=lambda x: None if isinstance(x, float) and math.isnan(x) else str(x)))
        return
    from rich.console import Console

    console = Console()
    console.print(f"[bold]Run[/bold] {result.storage} (study {result.extra['study']}, {result.n_items} examples, "
                  f"slots {list((result.extra.get('space') or {}).keys())})")
    result.print_summary(console=console, top=top)
    console.print(sentence)


def dashboard_command(url: str, port: int = 8080, host: str = "127.0.0.1") -> list[str]:
    """The optuna-dashboard command line for ``url``."""
    exe = shutil.which("optuna-dashboard") or str(Path(sys.executable).with_name("optuna-dashboard"))
    if not Path(exe).exists():
        raise AgentOptError("optuna-dashboard is not installed; pip install optuna-dashboard")
    return [exe, url, "--port", str(port), "--host", host]


@app.command("dashboard")
def dashboard_cmd(
    run: str = typer.Argument(..., metavar="RUN", help="The run database (run.db) or an Optuna storage URL."),
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
