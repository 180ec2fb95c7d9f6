"""Usage recording: a LangChain callback handler that attributes
every chat-model call to a slot."""

from __future__ import annotations

import threading
import time
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult

from ..sampling import SAMPLE_GROUP
from ..usage import CallUsage, Usage, call_record, reported_latency
from .discovery import SlotTable, path_from_metadata
from .routing import ROUTED, SLOTS, Route

__all__ = ["SlotRecorder"]


def _invoked_model(serialized: dict[str, Any] | None, params: dict[str, Any] | None) -> str | None:
    params = params or {}
    for key in ("model", "model_name", "model_id"):
        value = params.get(key)
        if isinstance(value, str) and value:
            return value
    kwargs = (serialized or {}).get("kwargs") or {}
    for key in ("model", "model_name"):
        value = kwargs.get(key)
        if isinstance(value, str) and value:
            return value
    return None


class SlotRecorder(BaseCallbackHandler):
    """Records one run's chat-model calls: slot, model, tokens, USD cost, latency.

    The slot comes from the router's tag in the call metadata (the name this recorder's route
    gave the call); calls the router did not see (e.g. ``llm.generate``) are attributed from
    LangGraph's node path, and calls no slot explains are kept with ``slot=None`` (a discovery
    gap), never dropped.
    """

    raise_error = False
    run_inline = True

    def __init__(self, table: SlotTable, route: Route | None = None) -> None:
        super().__init__()
        self.table = table
        self.agentopt_route = route  # read by the router when the context variable is absent
        self._key = route.key if route is not None else None
        self._lock = threading.Lock()
        self._seq = 0
        self._pending: dict[UUID, tuple[int, str | None, str | None, float, str | None]] = {}
        self._done: list[tuple[int, CallUsage]] = []

    # -- events -------------------------------------------------------------------------------
    def _start(self, serialized: dict[str, Any], run_id: UUID, metadata: dict[str, Any] | None,
               kwargs: dict[str, Any]) -> None:
        metadata = metadata or {}
        model = _invoked_model(serialized, kwargs.get("invocation_params"))
        slot = (metadata.get(SLOTS) or {}).get(self._key) if metadata.get(ROUTED) else None
        if slot is None:  # not seen by the router, or the router could not tell: use the node path
            info = self.table.resolve(path_from_metadata(metadata), None, model)
            slot = info.name if info is not None else None
        with self._lock:
            self._seq += 1
            self._pending[run_id] = (self._seq, slot, model, time.perf_counter(),
                                     SAMPLE_GROUP.get())

    def on_chat_model_start(self, serialized: dict[str, Any], messages: Any, *, run_id: UUID,
                            parent_run_id: UUID | None = None, tags: list[str] | None = None,
                            metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self._start(serialized, run_id, metadata, kwargs)

    def on_llm_start(self, serialized: dict[str, Any], prompts: list[str], *, run_id: UUID,
                     parent_run_id: UUID | None = None, tags: list[str] | None = None,
                     metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        self._start(serialized, run_id, metadata, kwargs)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, parent_run_id: UUID | None = None,
                   **kwargs: Any) -> None:
        with self._lock:
            pending = self._pending.pop(run_id, None)
        if pending is None:
            return
        seq, slot, model, t0, group = pending
        wall = time.perf_counter() - t0
        in_tok, out_tok, served = _tokens(response)
        reported = reported_latency(*_messages(response), response.llm_output or {})
        call = call_record(slot, model or served or "unknown", input_tokens=in_tok,
                           output_tokens=out_tok, latency_s=wall if reported is None else reported,
                           sample_group=group)
        with self._lock:
            self._done.append((seq, call))

    def on_llm_error(self, error: BaseException, *, run_id: UUID,
                     parent_run_id: UUID | None = None, **kwargs: Any) -> None:
        with self._lock:
            pending = self._pending.pop(run_id, None)
        if pending is None:
            return
        seq, slot, model, t0, group = pending
        call = call_record(slot, model or "unknown", latency_s=time.perf_counter() - t0,
                           error=f"{type(error).__name__}: {error}", sample_group=group)
        with self._lock:
            self._done.append((seq, call))

    # -- result -------------------------------------------------------------------------------
    def usage(self) -> Usage:
        with self._lock:
            done = list(self._done)
            pending = list(self._pending.values())
        calls = [c for _, c in sorted(done, key=lambda item: item[0])]
        for _seq, slot, model, t0, group in sorted(pending, key=lambda item: item[0]):
            calls.append(call_record(slot, model or "unknown", latency_s=time.perf_counter() - t0,
                                     error="call did not finish", finished=False,
                                     sample_group=group))
        return Usage(calls=calls)


def _messages(response: LLMResult) -> list[Any]:
    return [getattr(gen, "message", None) for gens in response.generations or [] for gen in gens]


def _tokens(response: LLMResult) -> tuple[int, int, str | None]:
    """(input tokens, output tokens, the model name the provider reported) of one response."""
    in_tok = out_tok = 0
    served: str | None = None
    found = False
    for message in (getattr(g, "message", None) for gens in response.generations or []
                    for g in gens):
        usage = getattr(message, "usage_metadata", None) if message is not None else None
        if usage:
            in_tok += int(usage.get("input_tokens", 0) or 0)
            out_tok += int(usage.get("output_tokens", 0) or 0)
            found = True
        meta = getattr(message, "response_metadata", None) or {}
        served = served or meta.get("model_name") or meta.get("model")
    if not found:
        in_tok, out_tok = _llm_output_tokens(response)
    return in_tok, out_tok, served


def _llm_output_tokens(response: LLMResult) -> tuple[int, int]:
    """Tokens from ``llm_output["token_usage"]`` (models that report no usage_metadata)."""
    token_usage = (response.llm_output or {}).get("token_usage") or {}
    get = (token_usage.get if isinstance(token_usage, dict)
           else (lambda k, d=None: getattr(token_usage, k, d)))
    return int(get("prompt_tokens", 0) or 0), int(get("completion_tokens", 0) or 0)
