"""Rich rendering of a SearchResult and the live progress bar of a search."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from .results import CombinationStats, SearchResult
    from .state import SearchState

__all__ = ["print_summary", "SearchProgress"]


def _usd(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"${v:,.4f}" if v < 1 else f"${v:,.2f}"


def _short(text: str | None, n: int = 300) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _combination(assignment: dict[str, str]) -> str:
    """One ``slot=model`` per line (a table cell folds a long one rather than cutting it)."""
    return escape("\n".join(f"{k}={v}" for k, v in assignment.items()))


def _row(s: CombinationStats) -> list[str]:
    ci = f"{s.ci[0]:.3f}-{s.ci[1]:.3f}" if s.n else ""
    score = f"{s.mean_score:.3f}" if s.n else "-"
    return [_combination(s.assignment), score, ci, _usd(s.mean_cost_usd),
            f"{s.mean_latency_s:.2f}s" if s.n else "-", str(s.n), s.status]


def _table(title: str, rows: list[CombinationStats]) -> Table:
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    t.add_column("combination", overflow="fold", min_width=16)  # long keys wrap, never cut
    for col in ("score", "interval", "$/example", "latency", "n"):
        t.add_column(col, justify="right", no_wrap=True)
    t.add_column("status", no_wrap=True, min_width=10)
    for s in rows:
        t.add_row(*_row(s))
    return t


def _operating_table(result: SearchResult) -> Table:
    """The cheapest combination certified within 1, 2.5 and 5 pp of the best, beside the best."""
    pct = 100 * result.confidence
    t = Table(title=f"Cheapest combination certified within tolerance of the best ({pct:.0f}% "
                    "confidence)",
              title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    t.add_column("within", justify="right", no_wrap=True)
    t.add_column("combination", overflow="fold", min_width=16)
    for col in ("score", "$/example", "cost vs best"):
        t.add_column(col, justify="right", no_wrap=True)
    for p in result.operating_points:
        c = p.combination
        within = f"{100 * p.tolerance:g} pp"
        if c is None:
            t.add_row(within, "[dim]none certified yet (more evidence needed)[/dim]", "", "", "")
            continue
        ratio = "n/a" if math.isnan(p.cost_ratio) else f"{p.cost_ratio:.2f}x"
        t.add_row(within, _combination(c.assignment), f"{c.mean_score:.3f}", _usd(c.mean_cost_usd),
                  ratio)
    return t


def _anchor_table(result: SearchResult) -> Table:
    """Assignments measured beside the search (e.g. the app as it is),
    and the pick against each."""
    t = Table(title="Measured beside the search, on the same examples (paired: pick - it)",
              title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    t.add_column("anchor", no_wrap=True)
    t.add_column("combination", overflow="fold", min_width=16)
    for col in ("score", "$/example", "n", "pick - it"):
        t.add_column(col, justify="right", no_wrap=True)
    for name, a in result.anchors.items():
        c = result.comparisons.get(name)
        paired = (f"{c.mean_difference:+.3f} [{c.ci[0]:+.3f}, {c.ci[1]:+.3f}]"
                  if c is not None and c.n else "-")
        score = f"{a.mean_score:.3f}" if a.n else "-"
        t.add_row(escape(name), _combination(a.assignment), score, _usd(a.mean_cost_usd), str(a.n),
                  paired)
    return t


def _spend_line(result: SearchResult) -> str:
    """What the search spent against brute force (anchors apart), and where the cells came from."""
    beside = sum(a.mean_cost_usd * a.n for a in result.anchors.values()
                 if a.n and not math.isnan(a.mean_cost_usd))
    searched = result.evidence_usd - beside
    bf = result.brute_force_usd
    share = (f" = {100 * searched / bf:.0f}% of brute force (~{_usd(bf)})"
             if bf and not math.isnan(bf) else "")
    line = f"The search's evidence cost {_usd(searched)}{share}"
    if result.anchors:
        line += f"; measuring {', '.join(result.anchors)} beside it {_usd(beside)}"
    line += f"; {result.n_evaluations} evaluations, strategy {result.strategy}"
    if result.n_reused and not result.extra.get("replayed"):
        line += f" ({result.n_reused} cells reused from storage)"
    line += f"; paid in this run {_usd(result.spent_usd)}"
    if result.extra.get("replayed"):
        line += " (decided again on the stored cells: no model called)"
    return line + ("; [yellow]stopped on budget[/yellow]" if result.stopped_on_budget else "")


def print_summary(result: SearchResult, console: Console | None = None, top: int = 10) -> None:
    console = console or Console()
    pct = 100 * result.confidence
    console.print(_table(f"Leaderboard (top {top}, {pct:.0f}% intervals, reported)",
                         result.leaderboard[:top]))
    console.print(_table("Pareto front (score max, cost min, latency min)", result.pareto()))
    if result.best:
        label = {"score": "Best", "cost": "Pick (cheapest within tolerance)"}.get(
            str(result.objective), "Pick")
        console.print(f"[bold]{label}:[/bold] {result.best.key}  score "
                      f"{result.best.mean_score:.3f} [{result.best.ci[0]:.3f}, "
                      f"{result.best.ci[1]:.3f}]  {_usd(result.best.mean_cost_usd)}/example")
    else:
        console.print("[bold red]No combination produced a usable result.[/bold red]")
    if result.operating_points:
        console.print(_operating_table(result))
    if result.extra.get("no_feasible"):
        console.print("[bold red]No combination meets the constraints[/bold red] (min_score / "
                      "max_cost_per_example / max_latency_s); the leaderboard shows what was "
                      "measured.")
    if result.anchors:
        console.print(_anchor_table(result))
    console.print(_spend_line(result))
    failed = result.failed
    if failed:
        console.print(f"[red]{len(failed)} combination(s) failed on every example:[/red]")
        for s in failed[:top]:
            console.print(f"  {escape(s.key)}: {escape(_short(s.first_error))}")
    errored = [s for s in result.leaderboard if s.n_errors and s.status != "failed"]
    if errored:
        n = sum(s.n_errors for s in errored)
        console.print(f"[yellow]{n} evaluation(s) raised errors (scored 0)[/yellow], e.g. "
                      f"{escape(errored[0].key)}: {escape(_short(errored[0].first_error))}")


class SearchProgress:
    """A rich progress bar (cells evaluated of brute force, combinations alive, dollars) above a
    live leaderboard of the top combinations so far."""

    def __init__(self, state: SearchState, enabled: bool = True, top: int = 5) -> None:
        self.state = state
        self.enabled = enabled
        self.top = top
        self._progress: Progress | None = None
        self._live: Any = None
        self._drawn = 0.0

    def __enter__(self) -> SearchProgress:
        if self.enabled:
            from rich.console import Group
            from rich.live import Live

            self._progress = Progress(
                TextColumn("[bold]search[/bold]"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
            )
            self._task = self._progress.add_task("search",
                                                 total=self.state.space.size * self.state.n_items,
                                                 info="")
            self._live = Live(Group(self._progress, self._leaderboard()), refresh_per_second=4,
                              transient=False)
            self._live.start()
        return self

    def _leaderboard(self) -> Table:
        s = self.state
        n = s.n_observed()
        means = s.means()
        costs = s.cost_per_item()
        tried = [c for c in s.alive if n[c] > 0]
        tried.sort(key=lambda c: -means[c])
        t = Table(title=f"live leaderboard (top {self.top} alive)", title_justify="left")
        for col in ("combination", "score", "cost/example", "n"):
            t.add_column(col, justify="left" if col == "combination" else "right")
        for c in tried[: self.top]:
            t.add_row(s.space.key(c), f"{means[c]:.3f}", _usd(float(costs[c])), str(int(n[c])))
        return t

    def update(self, leader: str | None = None) -> None:
        if not self._progress:
            return
        s = self.state
        info = f"alive {len(s.alive)}/{s.space.size}  spent {_usd(s.spent_usd)}"
        if leader:
            info += f"  leader {leader}"
        self._progress.update(self._task, completed=s.n_evaluations, info=info)
        now = time.monotonic()
        if self._live is not None and now - self._drawn >= 0.25:  # the table is O(cells): throttle
            from rich.console import Group

            self._drawn = now
            self._live.update(Group(self._progress, self._leaderboard()))

    def __exit__(self, *exc: Any) -> None:
        if self._progress:
            self._drawn = 0.0
            self.update()
            self._live.stop()
