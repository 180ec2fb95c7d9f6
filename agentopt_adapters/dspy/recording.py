"""Usage recording for DSPy: a per-run callback that attributes every LM call to its predictor.

Every run installs, through ``dspy.context`` (per thread / task, so concurrent runs never see each
other), a ``RunRecorder`` callback that sees every LM call of the run, attributes it to the innermost
``dspy.Predict`` in ``settings.caller_modules`` and times it, and a history sink that receives the
call's history entry (DSPy writes each entry to every ``caller_modules`` owner), keyed by the
callback call id -- so tokens come from the entry of exactly that call. The record itself is built
by ``usage.call_record`` (priced there; latency as reported by the provider, else wall clock).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Mapping

import dspy
import dspy.utils.callback_context as _callback_context
from dspy.utils.callback import BaseCallback

from ..models import model_name
from ..usage import CallUsage, Usage, call_record, reported_latency

__all__ = ["RunRecorder", "model_label"]


def model_label(lm: Any) -> str:
    """The model string of an LM (its class name when it has none)."""
    return model_name(lm) or type(lm).__name__


class _HistorySink:
    """Placed first in ``settings.caller_modules``: DSPy appends every call's history entry here."""

    def __init__(self, recorder: "RunRecorder") -> None:
        self.history = self
        self._recorder = recorder

    def __len__(self) -> int:  # record_history trims owners at max_history_size; never trim us
        return 0

    def pop(self, index: int = -1) -> None:
        return None

    def append(self, entry: Any) -> None:
        call_id = _callback_context.ACTIVE_CALL_ID.get()
        if call_id is not None and isinstance(entry, dict):
            self._recorder._entry(call_id, entry)


def _tokens(usage: Any) -> tuple[int, int]:
    if not isinstance(usage, Mapping):
        return 0, 0
    inp = usage.get("prompt_tokens", usage.get("input_tokens")) or 0
    out = usage.get("completion_tokens", usage.get("output_tokens")) or 0
    try:
        return int(inp), int(out)
    except (TypeError, ValueError):
        return 0, 0


def _response(entry: Mapping[str, Any]) -> list[Any]:
    responses = entry.get("response")
    return list(responses) if isinstance(responses, (list, tuple)) else [responses]


def signature_text(pred: dspy.Predict) -> str:
    """``"question -> answer"`` for a predictor (its signature class name if that fails)."""
    sig = getattr(pred, "signature", None)
    try:
        return str(sig.signature)  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001 - a description only
        return type(sig).__name__


class RunRecorder(BaseCallback):
    """Per-run: every LM call, attributed to its slot, with tokens, cost and latency."""

    def __init__(self, slot_by_pred: Mapping[int, str]) -> None:
        self._slot_by_pred = slot_by_pred
        self._lock = threading.Lock()
        self._calls: list[CallUsage | None] = []  # in call order; None while the call runs
        self._open: dict[str, tuple[int, str | None, str, float]] = {}  # call id -> (index, slot, model, start)
        self._entries: dict[str, dict[str, Any]] = {}
        self.unexplained: list[tuple[str, str]] = []  # (description, model)
        self.sink = _HistorySink(self)

    # DSPy callback hooks ---------------------------------------------------------------
    def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        slot, chain = self._attribute()
        model = model_label(instance)
        with self._lock:
            self._open[call_id] = (len(self._calls), slot, model, time.perf_counter())
            self._calls.append(None)
            if slot is None:
                self.unexplained.append((chain, model))

    def on_lm_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None:
        end = time.perf_counter()
        with self._lock:
            opened = self._open.pop(call_id, None)
            entry = self._entries.pop(call_id, None) or {}
        if opened is None:
            return
        index, slot, model, start = opened
        in_tok, out_tok = _tokens(entry.get("usage"))
        reported = reported_latency(*_response(entry))
        cost = entry.get("cost")
        call = call_record(slot, model, input_tokens=in_tok, output_tokens=out_tok,
                           latency_s=end - start if reported is None else reported,
                           reported_cost_usd=float(cost) if isinstance(cost, (int, float)) else None,
                           error=None if exception is None else f"{type(exception).__name__}: {exception}"[:500])
        with self._lock:
            self._calls[index] = call

    def _entry(self, call_id: str, entry: dict[str, Any]) -> None:
        with self._lock:
            if call_id in self._open:
                self._entries[call_id] = entry

    # helpers --------------------------------------------------------------------------
    def _attribute(self) -> tuple[str | None, str]:
        mods = [m for m in (dspy.settings.caller_modules or []) if m is not self.sink]
        for mod in reversed(mods):
            if isinstance(mod, dspy.Predict):
                slot = self._slot_by_pred.get(id(mod))
                if slot is not None:
                    return slot, ""
                break
        chain = " > ".join(type(m).__name__ for m in mods) or "(no module)"
        last = next((m for m in reversed(mods) if isinstance(m, dspy.Predict)), None)
        if last is not None:
            chain += f" [Predict '{signature_text(last)}' is not a slot]"
        else:
            chain += " [LM called directly, not through a dspy.Predict]"
        return None, chain

    def usage(self) -> Usage:
        now = time.perf_counter()
        with self._lock:
            calls = list(self._calls)
            running = list(self._open.values())
        for index, slot, model, start in running:
            calls[index] = call_record(slot, model, latency_s=now - start, error="call did not finish",
                                       finished=False)
        return Usage(calls=[c for c in calls if c is not None])

    def last_slot(self) -> str | None:
        with self._lock:
            done = [c for c in self._calls if c is not None]
        return done[-1].slot if done else None
