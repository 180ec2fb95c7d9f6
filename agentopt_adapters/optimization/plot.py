"""The accuracy-vs-cost plot of a run (offline plotly HTML): every tried combination with its
interval, the Pareto front, the combinations that draw samples (best-of-n, ringed), the baseline
and the pick."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentopt_search import CombinationStats, SearchResult, pareto_front

from ._format import as_number
from ._format import usd as _usd

__all__ = ["plot_result"]


def plot_result(result: SearchResult, path: str | Path) -> Path:
    """Write a self-contained (offline) plotly HTML scatter of the tried combinations."""
    import plotly.graph_objects as go

    rows = [s for s in result.leaderboard if _plottable(s)]
    pf = sorted(pareto_front(rows), key=lambda s: s.mean_cost_usd)
    trace = _Traces(max([as_number(s.mean_latency_s) or 0.0 for s in rows], default=0.0) or 1.0)
    fig = go.Figure()
    fig.add_trace(trace([s for s in rows if s not in pf], "combination", color="lightsteelblue"))
    fig.add_trace(trace(pf, "Pareto front", color="crimson"))
    fig.add_trace(go.Scatter(x=[s.mean_cost_usd for s in pf], y=[s.mean_score for s in pf],
                             mode="lines", line=dict(color="crimson", dash="dot"),
                             showlegend=False, hoverinfo="skip"))
    sampled = _sampled(result, rows)
    if sampled:
        fig.add_trace(trace(sampled, "uses samples (best-of-n)", color="rgba(0,0,0,0)",
                            symbol="diamond-open", line=dict(color="darkgreen", width=2)))
    base = getattr(result, "baseline", None)
    if base is not None and _plottable(base):
        fig.add_trace(trace([base], "baseline (the app as it is)", color="black", symbol="square"))
    if result.best is not None:
        fig.add_trace(trace([result.best], "best", color="gold", symbol="star",
                            line=dict(color="black", width=1)))
    fig.update_layout(title="agentopt: accuracy vs cost per example (marker size ~ latency; bars "
                            "= CI)",
                      xaxis_title="cost per example (USD, log)", yaxis_title="score",
                      xaxis_type="log", template="plotly_white")
    path = Path(path)
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)
    return path


def _sampled(result: SearchResult, rows: list[CombinationStats]) -> list[CombinationStats]:
    """The rows whose combination draws several samples in some slot."""
    plan = getattr(result, "_plan", None)
    return [s for s in rows if plan is not None and plan.uses_samples(s.assignment)]


def _plottable(s: CombinationStats) -> bool:
    return s.n > 0 and s.status != "failed" and as_number(s.mean_cost_usd) is not None


class _Traces:
    """One scatter trace of combinations: cost vs score, interval bars, marker size ~ latency."""

    def __init__(self, longest_latency: float) -> None:
        self.longest = longest_latency

    def __call__(self, sel: list[CombinationStats], name: str, **marker: Any) -> Any:
        import plotly.graph_objects as go

        return go.Scatter(
            x=[s.mean_cost_usd for s in sel], y=[s.mean_score for s in sel], mode="markers",
            name=name,
            error_y=dict(type="data", symmetric=False, array=[s.ci[1] - s.mean_score for s in sel],
                         arrayminus=[s.mean_score - s.ci[0] for s in sel], thickness=1),
            marker=dict(size=[8 + 14 * (as_number(s.mean_latency_s) or 0) / self.longest
                              for s in sel], **marker),
            text=[_hover(s) for s in sel], hoverinfo="text")


def _hover(s: CombinationStats) -> str:
    return (f"{s.key}<br>score {s.mean_score:.3f} [{s.ci[0]:.3f}, {s.ci[1]:.3f}]<br>"
            f"cost {_usd(s.mean_cost_usd)}/example<br>latency {s.mean_latency_s:.2f}s<br>n={s.n} "
            f"({s.status})")
