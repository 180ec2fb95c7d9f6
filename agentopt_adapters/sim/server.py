"""The HTTP way in: an OpenAI-compatible server for the simulated zoo (loopback only).

``POST /v1/chat/completions`` and ``GET /v1/models`` work with the openai SDK, litellm
(``openai/sim/<name>`` + ``api_base``) and LangChain. Optional deterministic fault injection
(429, 500, timeout, malformed) for reliability tests. ``GET /sim/stats`` and the in-process
``SimServer.log`` give the server's own request count and per-model usage; ``GET /sim/requests``
lists every request (model, status, tokens, and the first ``[tag:...]`` marker found in its
messages, so a caller can tell which of its runs sent it).
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import random
import re
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse

from ..errors import AgentOptError, ModelError
from .engine import simulate
from .zoo import ZOO, get_spec

__all__ = ["FAULTS", "ServerOptions", "RequestRecord", "SimServer", "create_app", "serve_in_thread", "run_server",
           "bind_socket"]

FAULTS = ("429", "500", "timeout", "malformed")


@dataclass
class ServerOptions:
    """Server behaviour: latency scale, fault injection (rate, kinds, seed), timeout fault length."""

    time_scale: float = 0.001
    fail_rate: float = 0.0
    faults: tuple[str, ...] = ("429", "500")
    seed: int = 0
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        bad = [f for f in self.faults if f not in FAULTS]
        if bad:
            raise AgentOptError(f"unknown fault kind(s) {bad}; choose from {', '.join(FAULTS)} (e.g. --faults 429,500)")
        if not 0.0 <= self.fail_rate <= 1.0:
            raise AgentOptError(f"fail rate must be between 0 and 1, got {self.fail_rate}")
        if self.time_scale < 0:
            raise AgentOptError(f"time scale must be >= 0, got {self.time_scale}")
        if self.fail_rate > 0 and not self.faults:
            raise AgentOptError("--fail-rate > 0 needs at least one fault kind, e.g. --faults 429,500")


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


def _error(status: int, message: str, kind: str, code: str | None = None, headers: dict[str, str] | None = None):
    return JSONResponse({"error": {"message": message, "type": kind, "code": code, "param": None}},
                        status_code=status, headers=headers)


def _fault_for(opts: ServerOptions, body_key: str, occurrence: int) -> str | None:
    if opts.fail_rate <= 0:
        return None
    h = hashlib.sha256(f"{opts.seed}|{body_key}|{occurrence}".encode()).digest()
    rng = random.Random(int.from_bytes(h[:8], "big"))
    if rng.random() >= opts.fail_rate:
        return None
    return rng.choice(list(opts.faults))


def _completion_json(res: Any, created: int, rid: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": res.content}
    if res.tool_calls:
        message["tool_calls"] = res.tool_calls
    return {
        "id": rid, "object": "chat.completion", "created": created, "model": res.model,
        "system_fingerprint": "agentopt-sim",
        "choices": [{"index": 0, "message": message, "finish_reason": res.finish_reason, "logprobs": None}],
        "usage": {"prompt_tokens": res.input_tokens, "completion_tokens": res.output_tokens,
                  "total_tokens": res.input_tokens + res.output_tokens},
    }


def _stream_chunks(res: Any, created: int, rid: str, include_usage: bool) -> Iterable[str]:
    base = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": res.model}
    delta: dict[str, Any] = {"role": "assistant", "content": res.content or ""}
    if res.tool_calls:
        delta["tool_calls"] = [{"index": i, **tc} for i, tc in enumerate(res.tool_calls)]
    yield "data: " + json.dumps({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}) + "\n\n"
    yield "data: " + json.dumps({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": res.finish_reason}]}) + "\n\n"
    if include_usage:
        usage = {"prompt_tokens": res.input_tokens, "completion_tokens": res.output_tokens,
                 "total_tokens": res.input_tokens + res.output_tokens}
        yield "data: " + json.dumps({**base, "choices": [], "usage": usage}) + "\n\n"
    yield "data: [DONE]\n\n"


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
             "input_usd_per_mtok": s.input_usd_per_mtok, "output_usd_per_mtok": s.output_usd_per_mtok,
             "context_window": s.context_window, "latency_median_s": s.latency_median_s,
             "latency_p95_s": s.latency_p95_s} for key, s in ZOO.items()]}

    @app.get("/sim/stats")
    async def stats() -> dict[str, Any]:
        return log.stats()

    @app.get("/sim/requests")
    async def requests() -> list[dict[str, Any]]:
        return [asdict(r) for r in log.snapshot()]

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        n = log.next_n()
        raw = await request.body()
        try:
            body = json.loads(raw)
            assert isinstance(body, dict)
        except (ValueError, AssertionError):
            log.add(RequestRecord(n, None, 400))
            return _error(400, "request body must be a JSON object", "invalid_request_error")
        model = body.get("model")
        tag = _tag(body.get("messages"))
        try:
            spec = get_spec(str(model))
        except ModelError as exc:
            log.add(RequestRecord(n, str(model), 404, tag=tag))
            return _error(404, str(exc), "invalid_request_error", "model_not_found")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            log.add(RequestRecord(n, spec.name, 400, tag=tag))
            return _error(400, "'messages' must be a non-empty list", "invalid_request_error")
        key = hashlib.sha256(raw).hexdigest()
        fault = _fault_for(opts, key, log.occurrence(key))
        if fault == "429":
            log.add(RequestRecord(n, spec.name, 429, fault, key=key, tag=tag))
            return _error(429, "simulated rate limit; retry after a moment", "rate_limit_error", "rate_limit_exceeded",
                          headers={"retry-after": "1", "retry-after-ms": "20"})
        if fault == "500":
            log.add(RequestRecord(n, spec.name, 500, fault, key=key, tag=tag))
            return _error(500, "simulated internal server error", "server_error")
        if fault == "timeout":
            log.add(RequestRecord(n, spec.name, 504, fault, key=key, tag=tag))
            try:
                await asyncio.sleep(opts.timeout_s)
            except asyncio.CancelledError:  # server shutting down: end quietly
                pass
            return _error(504, "simulated timeout", "server_error", "timeout")
        kwargs = {k: body[k] for k in ("tools", "tool_choice", "response_format", "seed") if body.get(k) is not None}
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        try:
            res = simulate(spec.name, body["messages"], max_tokens=max_tokens, **kwargs)
        except ModelError as exc:
            log.add(RequestRecord(n, spec.name, 400, tag=tag))
            return _error(400, str(exc), "invalid_request_error", "context_length_exceeded")
        await asyncio.sleep(res.latency_s * opts.time_scale)
        log.add(RequestRecord(n, spec.name, 200, fault, res.input_tokens, res.output_tokens, res.latency_s, key=key, tag=tag))
        if fault == "malformed":
            return PlainTextResponse('{"id": "chatcmpl-broken", "choices": [{"index": 0, "message": {"role": "assis',
                                     media_type="application/json")
        created, rid = int(time.time()), f"chatcmpl-sim{n:08d}"
        headers = {"x-sim-latency-s": f"{res.latency_s:.4f}"}
        if body.get("stream"):
            include = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(_stream_chunks(res, created, rid, include), media_type="text/event-stream",
                                     headers=headers)
        return JSONResponse(_completion_json(res, created, rid), headers=headers)

    return app


def bind_socket(host: str = "127.0.0.1", port: int = 8765) -> socket.socket:
    """A listening socket on ``host:port``; a clear AgentOptError when the port is taken."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise AgentOptError(f"the simulator serves loopback only; use --host 127.0.0.1 (got {host!r})")
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
                f"port {port} on {host} is already in use; pick another with --port (e.g. --port {port + 1}) "
                "or stop the process using it"
            ) from None
        raise
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


class SimServer:
    """A running server (in a background thread): ``.url`` (ends in /v1), ``.log``, ``.stop()``."""

    def __init__(self, server: Any, thread: threading.Thread, host: str, port: int, log: RequestLog) -> None:
        self._server, self._thread = server, thread
        self.host, self.port, self.log = host, port, log

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

    def __enter__(self) -> "SimServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve_in_thread(port: int = 0, host: str = "127.0.0.1", **options: Any) -> SimServer:
    """Start the server on a background thread (``port=0``: a free port); returns when it accepts."""
    import uvicorn

    opts = ServerOptions(**options)
    log = RequestLog()
    sock = bind_socket(host, port)
    real_port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(opts, log), log_level="warning", access_log=False, lifespan="off",
                            timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name=f"agentopt-sim-server:{real_port}")
    thread.start()
    deadline = time.time() + 10
    while not server.started and time.time() < deadline and thread.is_alive():
        time.sleep(0.01)
    if not server.started:
        raise AgentOptError(f"simulated model server did not start on {host}:{real_port}")
    return SimServer(server, thread, host, real_port, log)


def run_server(port: int = 8765, host: str = "127.0.0.1", **options: Any) -> None:
    """Serve in the foreground until Ctrl-C (the ``agentopt sim-server`` command)."""
    import uvicorn

    opts = ServerOptions(**options)
    sock = bind_socket(host, port)
    config = uvicorn.Config(create_app(opts), log_level="info", lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


def options_dict(opts: ServerOptions) -> dict[str, Any]:
    return asdict(opts)
