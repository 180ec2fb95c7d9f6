"""``agentopt models`` / ``sim-server`` / ``demo``: the simulated zoo from the command line."""

from __future__ import annotations

import json

import typer

from ..errors import AgentOptError
from .app import app, fail

__all__ = ["models_cmd", "sim_server_cmd", "demo_cmd"]


@app.command("models")
def models_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List the simulated models with price (USD per million tokens),
    latency and context window."""
    from ..sim import ZOO

    if as_json:
        typer.echo(json.dumps([spec.to_dict() for spec in ZOO.values()], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Simulated models (agentopt sim-server / litellm 'sim/<name>')")
    for col, justify in [("model", "left"), ("skill", "right"), ("$ in /M", "right"),
                         ("$ out /M", "right"), ("latency p50", "right"), ("p95", "right"),
                         ("tok/s", "right"), ("context", "right"), ("notes", "left")]:
        table.add_column(col, justify=justify, no_wrap=col != "notes")  # type: ignore[arg-type]
    for key, s in ZOO.items():
        table.add_row(key, f"{s.skill:.2f}", f"{s.input_usd_per_mtok:g}",
                      f"{s.output_usd_per_mtok:g}", f"{s.latency_median_s:.2f}s",
                      f"{s.latency_p95_s:.2f}s", f"{s.tokens_per_s:g}", f"{s.context_window:,}",
                      s.description)
    Console(width=max(150, Console().width)).print(table)


@app.command("sim-server")
def sim_server_cmd(
    port: int = typer.Option(8765, help="Port on 127.0.0.1."),
    host: str = typer.Option("127.0.0.1", help="Loopback address to bind."),
    time_scale: float = typer.Option(0.001, "--time-scale",
                                     help="Real seconds slept per simulated second."),
    fail_rate: float = typer.Option(0.0, "--fail-rate",
                                    help="Fraction of requests that fail (0..1)."),
    faults: str = typer.Option("429,500", "--faults",
                               help="Fault kinds: 429,500,timeout,malformed."),
    seed: int = typer.Option(0, help="Seed of the (deterministic) fault injection."),
    timeout_s: float = typer.Option(30.0, "--timeout-s",
                                    help="How long a 'timeout' fault hangs (seconds)."),
    faults_schedule: str = typer.Option(
        "", "--faults-schedule",
        help="Faults fixed by request number instead of --fail-rate: 'every:5' fails requests 5, "
             "10, 15, ... with the --faults kinds in turn; '3:429,8:timeout' fails exactly those "
             "requests."),
) -> None:
    """Serve the simulated models as an OpenAI-compatible API (/v1/chat/completions,
    /v1/models)."""
    from ..sim.server import ServerOptions, bind_socket, create_app

    try:
        opts = ServerOptions(time_scale=time_scale, fail_rate=fail_rate,
                             faults=tuple(f.strip() for f in faults.split(",") if f.strip()),
                             seed=seed, timeout_s=timeout_s,
                             fault_schedule=faults_schedule or None)
        sock = bind_socket(host, port)
    except AgentOptError as exc:
        fail(exc)
        return
    import uvicorn

    port = sock.getsockname()[1]  # the bound port (--port 0 picks a free one)
    typer.echo(f"agentopt sim-server: http://{host}:{port}/v1 (models: GET /v1/models; stats: GET "
               f"/sim/stats); time scale {time_scale:g}; fail rate {fail_rate:g} "
               f"{list(opts.faults) if fail_rate else ''}"
               + (f"; fault schedule {faults_schedule} {list(opts.faults)}" if faults_schedule
                  else ""))
    config = uvicorn.Config(create_app(opts), log_level="warning", lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


@app.command("demo")
def demo_cmd(
    dspy: bool = typer.Option(False, "--dspy",
                              help="Optimize the bundled DSPy multi-hop program instead of the "
                                   "LangGraph agent."),
    out: str = typer.Option(".", "--out",
                            help="Directory for pareto.html, agentopt.json and summary.json."),
    examples: int = typer.Option(60, "--examples", min=2,
                                 help="How many task examples to evaluate on."),
    seed: int = typer.Option(0, "--seed", help="Search seed."),
) -> None:
    """Optimize a bundled agent on a bundled task with the simulated models (offline,
    about a minute)."""
    from ..sim.demo.run import run_demo

    try:
        run_demo(dspy=dspy, out_dir=out, n_examples=examples, seed=seed)
    except AgentOptError as exc:
        fail(exc)
