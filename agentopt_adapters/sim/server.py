"""The HTTP way in: an OpenAI-compatible server for the simulated zoo (loopback only).

``POST /v1/chat/completions`` and ``GET /v1/models`` work with the openai SDK, litellm
(``openai/sim/<name>`` + ``api_base``), LangChain and DSPy: the whole request contract (tools,
tool_choice, response_format, n, stream with usage) is answered by the same engine as the
in-process provider, and bad requests get the API's 400/404 error bodies. Optional fault injection
(429, 500, timeout, malformed), random or scheduled by request number (``faults.py``), for
reliability tests. ``GET /sim/stats`` and the in-process ``SimServer.log`` give the server's own
request count and per-model usage; ``GET /sim/requests`` lists every request (model, status,
tokens, and the first ``[tag:...]`` marker found in its messages, so a caller can tell which of its
runs sent it).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from ..errors import AgentOptError
from .contract import check_stream_options, request_params
from .engine import SimResult, simulate
from .errors import SimRequestError
from .faults import FAULTS, FaultPlan
from .stream import chunks, completion_json
from .zoo import ZOO, get_spec

__all__ = ["FAULTS", "ServerOptions", "RequestRecord", "SimServer", "create_app",
           "serve_in_thread", "run_server", "bind_socket"]


@dataclass
class ServerOptions:
    """Server behaviour: latency scale, fault injection (random: rate, kinds, seed; or a schedule
    by request number, see ``faults.py``), timeout fault length."""

    time_scale: float = 0.001
    fail_rate: float = 0.0
    faults: tuple[str, ...] = ("429", "500")
    seed: int = 0
    timeout_s: float = 30.0
    fault_schedule: str | dict[int, str] | None = None
    plan: FaultPlan = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        bad = [f for f in self.faults if f not in FAULTS]
        if bad:
            raise AgentOptError(f"unknown fault kind(s) {bad}; choose from {', '.join(FAULTS)} "
                                "(e.g. --faults 429,500)")
        if not 0.0 <= self.fail_rate <= 1.0:
            raise AgentOptError(f"fail rate must be between 0 and 1, got {self.fail_rate}")
        if self.time_scale < 0:
            raise AgentOptError(f"time scale must be >= 0, got {self.time_scale}")
        if self.fail_rate > 0 and not self.faults:
            raise AgentOptError("--fail-rate > 0 needs at least one fault kind, e.g. --faults "
                                "429,500")
        self.plan = FaultPlan(self.fail_rate, tuple(self.faults), self.seed, self.fault_schedule)


@dataclass
class RequestRecord:
    """One request as the server saw it."""

    n: int
    model: str | None
    status: int
    fault: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    sim_latency_s: float = 0.0
    t: float = field(default_factory=time.time)
    key: str | None = None  # sha256 of the request body: retries of one request share it
    tag: str | None = None


class RequestLog:
    """Thread-safe request log with per-model usage totals."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: list[RequestRecord] = []
        self._seen: dict[str, int] = {}
        self._arrivals = 0

    def next_n(self) -> int:
        """A 1-based arrival number for the next request."""
        with self._lock:
            self._arrivals += 1
            return self._arrivals

    def occurrence(self, key: str) -> int:
        """How many times this exact request body was seen before (retries differ by this)."""
        with self._lock:
            k = self._seen.get(key, 0)
            self._seen[key] = k + 1
            return k

    def add(self, rec: RequestRecord) -> None:
        with self._lock:
            self.records.append(rec)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.records)

    def usage_by_model(self, only_ok: bool = True) -> dict[str, dict[str, int]]:
        """{model: {"requests", "input_tokens", "output_tokens"}} over answered (200) requests."""
        out: dict[str, dict[str, int]] = {}
        with self._lock:
            for r in self.records:
                if r.model is None or (only_ok and r.status != 200):
                    continue
                u = out.setdefault(r.model, {"requests": 0, "input_tokens": 0, "output_tokens": 0})
                u["requests"] += 1
                u["input_tokens"] += r.input_tokens
                u["output_tokens"] += r.output_tokens
        return out

    def snapshot(self) -> list[RequestRecord]:
        with self._lock:
            return list(self.records)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            by_status: dict[str, int] = {}
            for r in self.records:
                by_status[str(r.status)] = by_status.get(str(r.status), 0) + 1
            n = len(self.records)
        return {"requests": n, "by_status": by_status, "usage_by_model": self.usage_by_model()}


_TAG = re.compile(r"\[tag:([^\]\s]{1,200})\]")


def _tag(messages: Any) -> str | None:
    """The first ``[tag:...]`` marker in the messages' text (None if there is none)."""
    for m in messages if isinstance(messages, list) else []:
        content = m.get("content") if isinstance(m, dict) else None
        parts = content if isinstance(content, list) else [content]
        for part in parts:
            text = part.get("text") if isinstance(part, dict) else part
            found = _TAG.search(text) if isinstance(text, str) else None
            if found:
                return found.group(1)
    return None


def _error(status: int, message: str, kind: str, code: str | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": code, "param": None}},
                        status_code=status, headers=headers)


def _sse(res: SimResult, created: int, rid: str, include_usage: bool) -> Iterable[str]:
    for chunk in chunks(res, created, rid, include_usage):
        yield "data: " + json.dumps(chunk) + "\n\n"
    yield "data: [DONE]\n\n"


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise SimRequestError("We could not parse the JSON body of your request. The request body "
                              "must be a JSON object.", param=None)
    return body


def _complete(body: dict[str, Any]) -> tuple[SimResult, bool]:
    """The simulated completion of a request body and whether a usage chunk is wanted
    (or the 4xx)."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise SimRequestError("you must provide a model parameter", param="model",
                              code="missing_required_parameter")
    spec = get_spec(model)
    include_usage = check_stream_options(body.get("stream"), body.get("stream_options"))
    messages: Any = body.get("messages")  # simulate checks them (a 400 when missing or malformed)
    return simulate(spec.name, messages, **request_params(body)), include_usage


async def _fault_reply(rec: RequestRecord, opts: ServerOptions, log: RequestLog) -> JSONResponse:
    """The reply of an injected 429 / 500 / timeout (the request is logged with its fault)."""
    if rec.fault == "429":
        rec.status = 429
        log.add(rec)
        return _error(429, "simulated rate limit; retry after a moment", "rate_limit_error",
                      "rate_limit_exceeded", headers={"retry-after": "1", "retry-after-ms": "20"})
    if rec.fault == "500":
        rec.status = 500
        log.add(rec)
        return _error(500, "simulated internal server error", "server_error")
    rec.status = 504
    log.add(rec)
    with contextlib.suppress(asyncio.CancelledError):  # server shutting down: end quietly
        await asyncio.sleep(opts.timeout_s)
    return _error(504, "simulated timeout", "server_error", "timeout")


async def _chat(request: Request, opts: ServerOptions, log: RequestLog) -> Any:
    """``POST /v1/chat/completions``: the completion (or stream), a 4xx for a bad request,
    or a fault."""
    rec = RequestRecord(log.next_n(), None, 400)
    raw = await request.body()
    try:
        body = _body(raw)
        rec.model, rec.tag = str(body.get("model")), _tag(body.get("messages"))
        res, include_usage = _complete(body)
    except SimRequestError as exc:
        rec.status = exc.status
        log.add(rec)
        return JSONResponse(exc.body(), status_code=exc.status)
    rec.model, rec.key = res.model, hashlib.sha256(raw).hexdigest()
    rec.fault = opts.plan.fault_for(rec.n, rec.key, log.occurrence(rec.key))
    if rec.fault in ("429", "500", "timeout"):
        return await _fault_reply(rec, opts, log)
    await asyncio.sleep(res.latency_s * opts.time_scale)
    rec.status, rec.input_tokens, rec.output_tokens, rec.sim_latency_s = \
        200, res.input_tokens, res.output_tokens, res.latency_s
    log.add(rec)
    if rec.fault == "malformed":
        return PlainTextResponse('{"id": "chatcmpl-broken", "choices": [{"index": 0, "message": '
                                 '{"role": "assis',
                                 media_type="application/json")
    created, rid = int(time.time()), f"chatcmpl-sim{rec.n:08d}"
    headers = {"x-sim-latency-s": f"{res.latency_s:.4f}"}
    if body.get("stream"):
        return StreamingResponse(_sse(res, created, rid, include_usage),
                                 media_type="text/event-stream", headers=headers)
    return JSONResponse(completion_json(res, created, rid), headers=headers)


def create_app(opts: ServerOptions | None = None, log: RequestLog | None = None) -> Any:
    """The FastAPI app (``app.state.log`` is the request log)."""
    opts = opts or ServerOptions()
    log = log or RequestLog()
    app = FastAPI(title="agentopt simulated models", version="1")
    app.state.log = log
    app.state.opts = opts

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [
            {"id": key, "object": "model", "created": 0, "owned_by": "agentopt-sim",
             "input_usd_per_mtok": s.input_usd_per_mtok,
             "output_usd_per_mtok": s.output_usd_per_mtok, "context_window": s.context_window,
             "latency_median_s": s.latency_median_s, "latency_p95_s": s.latency_p95_s}
            for key, s in ZOO.items()]}

    @app.get("/sim/stats")
    async def stats() -> dict[str, Any]:
        return log.stats()

    @app.get("/sim/requests")
    async def requests() -> list[dict[str, Any]]:
        return [asdict(r) for r in log.snapshot()]

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models/{model_id:path}")
    async def model(model_id: str) -> Any:
        try:
            spec = get_spec(model_id)
        except SimRequestError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)
        return {"id": spec.name, "object": "model", "created": 0, "owned_by": "agentopt-sim"}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        return await _chat(request, opts, log)

    return app


def bind_socket(host: str = "127.0.0.1", port: int = 8765) -> socket.socket:
    """A listening socket on ``host:port``; a clear AgentOptError when the port is taken."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise AgentOptError("the simulator serves loopback only; use --host 127.0.0.1 (got "
                            f"{host!r})")
    family = socket.AF_INET6 if host == "::1" else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio then sets TCP_NODELAY on accepted connections; without it every
    # keep-alive response waits ~40 ms (Nagle holds the body until the client's delayed ACK)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            raise AgentOptError(
                f"port {port} on {host} is already in use; pick another with --port (e.g. --port "
                f"{port + 1}) or stop the process using it"
            ) from None
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class SimServer:
    """A running server (in a background thread): ``.url`` (ends in /v1), ``.log``, ``.stop()``."""

    def __init__(self, server: Any, thread: threading.Thread, host: str, port: int,
                 log: RequestLog, opts: ServerOptions | None = None) -> None:
        self._server, self._thread = server, thread
        self.host, self.port, self.log = host, port, log
        self.opts = opts or ServerOptions()

    @property
    def plan(self) -> FaultPlan:
        """The server's fault plan (``plan.expected(n)``: scheduled faults among n requests)."""
        return self.opts.plan

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def request_count(self) -> int:
        return self.log.count

    def usage_by_model(self) -> dict[str, dict[str, int]]:
        return self.log.usage_by_model()

    def stop(self, timeout: float = 5.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> SimServer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve_in_thread(port: int = 0, host: str = "127.0.0.1", **options: Any) -> SimServer:
    """Start the server on a background thread (``port=0``: a free port);
    returns when it accepts."""
    import uvicorn

    opts = ServerOptions(**options)
    log = RequestLog()
    sock = bind_socket(host, port)
    real_port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(opts, log), log_level="warning", access_log=False,
                            lifespan="off", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name=f"agentopt-sim-server:{real_port}")
    thread.start()
    deadline = time.time() + 10
    while not server.started and time.time() < deadline and thread.is_alive():
        time.sleep(0.01)
    if not server.started:
        raise AgentOptError(f"simulated model server did not start on {host}:{real_port}")
    return SimServer(server, thread, host, real_port, log, opts)


def run_server(port: int = 8765, host: str = "127.0.0.1", **options: Any) -> None:
    """Serve in the foreground until Ctrl-C (the ``agentopt sim-server`` command)."""
    import uvicorn

    opts = ServerOptions(**options)
    sock = bind_socket(host, port)
    config = uvicorn.Config(create_app(opts), log_level="info", lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


def options_dict(opts: ServerOptions) -> dict[str, Any]:
    return {k: v for k, v in asdict(opts).items() if k != "plan"}
