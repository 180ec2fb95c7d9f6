"""Usage recording for DSPy without a DSPy callback: every LM call attributed to its slot.

A DSPy callback costs about as much as DSPy itself on a fast model (``with_callbacks`` inspects
the arguments of every module, adapter and LM call once any callback is set), so recording uses two
hooks DSPy already has:

* **The history entry.** DSPy appends each finished call's history entry (usage, cost, model,
  response) to every module in ``settings.caller_modules``. A run puts its ``RunLog`` first in that
  list (one ``dspy.context`` per run; DSPy's thread pools copy it into their workers), so the log
  receives the entry of every call of the run, from any LM, while the calling modules are still
  in ``caller_modules``: the innermost ``dspy.Predict`` names the slot (bound predictors carry
  their slot name in ``SLOT_ATTR``, which survives the deep copies BestOfN / Refine make).
* **The call's wall clock.** LMs a binding owns (every LM the bound program can reach, copied
  uncached) are re-classed once to a subclass whose ``__call__`` / ``acall`` note the start time in
  a ContextVar and record a failed call; a directly called LM that is a slot carries ``SLOT_ATTR``.

Records are built by ``usage.call_record`` (priced there; latency as reported by the provider,
else wall clock). A call from an LM the binding does not own (made in ``forward``, a global) has
no wall clock: its latency is the provider's report or 0.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
import time
import warnings
from collections.abc import Callable, Collection, Mapping
from contextvars import ContextVar
from typing import Any

import dspy

from ..models import model_name
from ..sampling import SAMPLE_GROUP
from ..usage import CallUsage, Usage, call_record, reported_latency
from ._classes import same_name_subclass

__all__ = ["RunLog", "UnattributedCallWarning", "SLOT_ATTR", "FEEDBACK_ATTR", "caller_slot",
           "owned_lm", "is_owned", "model_label", "signature_text"]

SLOT_ATTR = "_agentopt_slot"  # on bound predictors and on LMs that are slots of their own
# on a bound Refine: the slot of the predictor it makes for advice
FEEDBACK_ATTR = "_agentopt_feedback_slot"


class _Mark:
    """The LM call running in this context: which LM, since when, whether its entry arrived."""

    __slots__ = ("lm", "recorded", "start")

    def __init__(self, lm: Any) -> None:
        self.lm, self.start, self.recorded = lm, time.perf_counter(), False


_OPEN: ContextVar[_Mark | None] = ContextVar("agentopt_dspy_open_call", default=None)


def model_label(lm: Any) -> str:
    """The model string of an LM (its class name when it has none)."""
    return model_name(lm) or type(lm).__name__


def signature_text(pred: Any) -> str:
    """``"question -> answer"`` for a predictor (its signature class name if that fails)."""
    sig = getattr(pred, "signature", None)
    try:
        return str(sig.signature)  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001 - a description only
        return type(sig).__name__


def caller_slot(mods: list[Any]) -> str | None:
    """The slot of the innermost calling predictor (``mods``: ``settings.caller_modules``): its
    tag, or for the advice predictor a bound Refine creates (OfferFeedback, called by the Refine
    itself) the Refine's feedback slot."""
    inner = mods[-1] if mods else None
    if not isinstance(inner, dspy.Predict):
        return None
    slot = inner.__dict__.get(SLOT_ATTR)
    if slot is None and len(mods) > 1 and getattr(inner.signature, "__name__",
                                                  "") == "OfferFeedback":
        slot = mods[-2].__dict__.get(FEEDBACK_ATTR)
    return slot


def _run_log() -> RunLog | None:
    mods = dspy.settings.caller_modules
    return mods[0] if mods and isinstance(mods[0], RunLog) else None


class UnattributedCallWarning(UserWarning):
    """An LM call at run time that no slot explains (recorded with ``slot=None``), or that ran
    outside the run's DSPy context and could not be recorded at all."""


def _finish(mark: _Mark, exc: BaseException | None) -> None:
    """After an owned LM call: record it if it failed or left no history entry (history off)."""
    if mark.recorded:
        return
    log = _run_log()
    if log is not None:
        log.add_unrecorded(mark, exc)
        return
    if not mark.lm.__dict__.get("_agentopt_warned_outside"):  # once per bound LM
        mark.lm.__dict__["_agentopt_warned_outside"] = True
        warnings.warn(
            f"an LM call to {model_label(mark.lm)} ran outside the DSPy context of its run (in a "
            "plain threading.Thread or ThreadPoolExecutor started in forward?): it is not "
            "recorded, so its cost is missing from usage. Use dspy.Parallel, or run the worker "
            "with contextvars.copy_context().run(...)",
            UnattributedCallWarning, stacklevel=3)


def _timed_sync(call: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call)
    def __call__(self: Any, *args: Any, **kwargs: Any) -> Any:
        mark = _Mark(self)
        token = _OPEN.set(mark)
        try:
            out = call(self, *args, **kwargs)
        except BaseException as exc:
            _finish(mark, exc)
            raise
        finally:
            _OPEN.reset(token)
        _finish(mark, None)
        return out

    return __call__


def _timed_async(call: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(call)
    async def acall(self: Any, *args: Any, **kwargs: Any) -> Any:
        mark = _Mark(self)
        token = _OPEN.set(mark)
        try:
            out = await call(self, *args, **kwargs)
        except BaseException as exc:
            _finish(mark, exc)
            raise
        finally:
            _OPEN.reset(token)
        _finish(mark, None)
        return out

    return acall


def _timed_class(cls: type) -> type:
    """``cls`` with timed ``__call__`` / ``acall`` (same name and import path,
    so saved state is unchanged)."""
    return same_name_subclass(cls, "_agentopt_timed", _timed_members)


def _timed_members(cls: type[Any]) -> dict[str, Any]:
    members: dict[str, Any] = {"__call__": _timed_sync(cls.__call__)}
    if inspect.iscoroutinefunction(getattr(cls, "acall", None)):
        members["acall"] = _timed_async(cls.acall)
    return members


def owned_lm(lm: Any, slot: str | None = None) -> Any:
    """An uncached, timed copy of ``lm`` for a binding (``slot``: an LM that is a slot of its own).

    Only DSPy's cache is turned off; class, endpoint, key, headers and client are the user's."""
    new = lm.copy(cache=False) if hasattr(lm, "cache") else lm.copy()
    with contextlib.suppress(TypeError):  # an LM class whose layout forbids it: no wall clock
        new.__class__ = _timed_class(type(new))
    if slot is not None:
        setattr(new, SLOT_ATTR, slot)
    return new


def is_owned(lm: Any) -> bool:
    return type(lm).__dict__.get("_agentopt_timed", False) is True


def _tokens(usage: Any) -> tuple[int, int]:
    if not isinstance(usage, Mapping):
        return 0, 0
    inp = usage.get("prompt_tokens", usage.get("input_tokens")) or 0
    out = usage.get("completion_tokens", usage.get("output_tokens")) or 0
    try:
        return int(inp), int(out)
    except (TypeError, ValueError):
        return 0, 0


def _responses(entry: Mapping[str, Any]) -> list[Any]:
    responses = entry.get("response")
    return list(responses) if isinstance(responses, (list, tuple)) else [responses]


class RunLog:
    """One run's LM calls, in the order they finished. DSPy
    treats it as a calling module's history."""

    def __init__(self, slots: Collection[str]) -> None:
        self.history = self  # record_history appends to ``owner.history``
        self._slots = slots
        self._lock = threading.Lock()
        self._calls: list[CallUsage] = []
        self.unexplained: list[tuple[str, str]] = []  # (why, model) of calls no slot explains

    # the part of a list DSPy's record_history uses ------------------------------------
    def __len__(self) -> int:  # never "full": record_history would pop
        return 0

    def pop(self, index: int = -1) -> None:
        return None

    def append(self, entry: Any) -> None:
        """One finished LM call's history entry."""
        if not isinstance(entry, Mapping):
            return
        mark = _OPEN.get()
        if mark is not None:
            mark.recorded = True
        now = time.perf_counter()
        slot = self._attribute(mark.lm if mark else None, entry.get("model"))
        in_tok, out_tok = _tokens(entry.get("usage"))
        reported = reported_latency(*_responses(entry))
        wall = now - mark.start if mark is not None else 0.0
        cost = entry.get("cost")
        call = call_record(slot,
                           str(entry.get("model")
                               or (model_label(mark.lm) if mark else "(unknown)")),
                           input_tokens=in_tok, output_tokens=out_tok,
                           latency_s=wall if reported is None else reported,
                           reported_cost_usd=float(cost) if isinstance(cost, (int, float))
                           else None, sample_group=SAMPLE_GROUP.get())
        with self._lock:
            self._calls.append(call)

    # calls without an entry ----------------------------------------------------------
    def add_unrecorded(self, mark: _Mark, exc: BaseException | None) -> None:
        """An owned LM call that failed (cost 0 before any response) or left no entry
        (history off)."""
        mark.recorded = True
        slot = self._attribute(mark.lm, None)
        error = None if exc is None else f"{type(exc).__name__}: {exc}"[:500]
        unfinished = exc is not None and not isinstance(exc, Exception)  # cancelled / interrupted
        call = call_record(slot, model_label(mark.lm), latency_s=time.perf_counter() - mark.start,
                           error="call did not finish" if unfinished else error,
                           finished=not unfinished, sample_group=SAMPLE_GROUP.get())
        if exc is None:
            call.cost_usd = None  # finished, but its usage is unknown: never a silent 0
        with self._lock:
            self._calls.append(call)

    # attribution ---------------------------------------------------------------------
    def _attribute(self, lm: Any, model: Any) -> str | None:
        mods = dspy.settings.caller_modules or []
        inner = mods[-1] if mods else None
        if isinstance(inner, dspy.Predict):
            slot = caller_slot(mods)
            if slot in self._slots:
                return slot
            why = f"{_chain(mods)} [Predict '{signature_text(inner)}' is not a slot]"
        else:
            slot = getattr(lm, SLOT_ATTR, None) if lm is not None else None
            if slot in self._slots:
                return slot
            why = f"{_chain(mods)} [LM called directly, not through a dspy.Predict]"
        with self._lock:
            self.unexplained.append((why,
                                     str(model
                                         or (model_label(lm) if lm is not None else "(unknown)"))))
        return None

    def usage(self) -> Usage:
        with self._lock:
            return Usage(calls=list(self._calls))

    def last_slot(self) -> str | None:
        with self._lock:
            return self._calls[-1].slot if self._calls else None


def _chain(mods: list[Any]) -> str:
    return " > ".join(type(m).__name__ for m in mods if not isinstance(m, RunLog)) or "(no module)"
