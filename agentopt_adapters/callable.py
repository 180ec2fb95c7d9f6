"""Adapter for plain callables ``app(models: dict[str, str], example)`` (apps in any framework).

The callable receives the model string chosen for each slot and one example input. Slots cannot be
found by inspection, so they are declared: ``discover(app, slots=["plan", "solve"])`` (or a dict
``{slot: default_model}``), or an attribute ``app.agentopt_slots`` (list or dict), or, in
``optimize``, the keys of a ``candidates`` dict.

What the callable returns decides what is known about cost:

* ``(output, Usage)`` -> that usage;
* ``(output, {"cost_usd": x, "latency_s": y})`` -> one unattributed call with that cost;
* ``output`` alone -> the calls made through ``completion`` / ``acompletion`` below during the run;
  if there were none, the cost is unknown (one call with ``cost_usd=None``, never a silent 0).

``completion(models, slot, messages=...)`` is a thin litellm wrapper that calls ``models[slot]``,
retries transient failures (``retries=``, default from ``AGENTOPT_RETRIES``; see ``retry.py``) and
records tokens, cost and latency for that slot in the current run.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from .assignment_file import check_slot_names, make_config
from .errors import DiscoveryError, ModelError, SlotError
from .models import check_model_string, retry_policy
from .protocol import Adapter, Runner, framework_roots, no_options, register_adapter
from .redaction import remember_secrets
from .usage import Slot, Usage, call_record, reported_latency

__all__ = ["CallableAdapter", "CallableApp", "completion", "acompletion"]

_USAGE: contextvars.ContextVar[Usage | None] = contextvars.ContextVar("agentopt_callable_usage",
                                                                      default=None)


def _declared(app: Any, slots: Any = None) -> dict[str, str | None]:
    spec = slots if slots is not None else getattr(app, "agentopt_slots", None)
    if spec is None:
        raise DiscoveryError(
            "a plain callable app has no discoverable slots; declare them: discover(app, "
            "slots=['plan', 'solve']), set app.agentopt_slots = [...] (or {slot: default_model}), "
            "or pass candidates={slot: [models]} to optimize"
        )
    if isinstance(spec, str):
        spec = [spec]
    if isinstance(spec, Mapping):
        out = {str(k): (v if isinstance(v, str) and v else None) for k, v in spec.items()}
    else:
        try:
            out = {str(s): None for s in spec}
        except TypeError:
            raise DiscoveryError("slots must be a list of slot names or a dict slot -> default "
                                 f"model, got {spec!r}") from None
    if not out or any(not k for k in out):
        raise DiscoveryError(f"slots must name at least one non-empty slot, got {spec!r}")
    return out


def _usage_from(ret: Any, recorded: Usage) -> tuple[Any, Usage]:
    """Split the callable's return value into (output, Usage); see the module docstring."""
    if isinstance(ret, tuple) and len(ret) == 2:
        out, extra = ret
        if isinstance(extra, Usage):
            return out, extra
        if isinstance(extra, Mapping) and "cost_usd" in extra:
            cost = extra.get("cost_usd")
            return out, Usage.reported(None if cost is None else float(cost),
                                       float(extra.get("latency_s") or 0.0))
    if recorded.calls:
        return ret, recorded
    return ret, Usage.reported(None, 0.0)


class CallableApp:
    """``aa.apply`` result for a callable: ``tuned(example)`` calls ``app(models, example)``."""

    def __init__(self, app: Callable[..., Any], models: Mapping[str, str]) -> None:
        self.app = app
        self.models = dict(models)
        self.agentopt_slots = dict(models)

    def __call__(self, example: Any) -> Any:
        return self.app(dict(self.models), example)

    def __repr__(self) -> str:
        return f"CallableApp({getattr(self.app, '__name__', self.app)!r}, {self.models!r})"


@register_adapter
class CallableAdapter(Adapter):
    """Any callable that is not a LangGraph graph or a DSPy program."""

    framework = "callable"
    fallback = True  # a dspy.Module is callable too: the DSPy / LangGraph adapters come first

    @classmethod
    def handles(cls, app: Any) -> bool:
        if not callable(app) or inspect.isclass(app) or isinstance(app, CallableApp):
            return False
        return not framework_roots(app) & {"langgraph", "dspy", "langchain", "langchain_core"}

    def discover(self, app: Any, slots: Any = None, **options: Any) -> list[Slot]:
        """The declared slots (``slots=`` or ``app.agentopt_slots``)."""
        where = "declared: slots=" if slots is not None else "declared: app.agentopt_slots"
        return [Slot(name=n, framework=self.framework, default_model=d, where=where)
                for n, d in _declared(app, slots).items()]

    @contextmanager
    def bind(self, app: Any, assignment: Mapping[str, Any],
             **options: Any) -> Iterator[Runner]:
        no_options(options, "bind()", "no options for a plain callable")
        for slot, value in assignment.items():
            if isinstance(value, Mapping) and value.get("samples", 1) != 1:
                raise ModelError(f"slot {slot!r}: samples are drawn by the LangGraph and DSPy "
                                 "adapters; a plain callable app gets model strings and calls "
                                 "them itself")
        models = {str(k): str(v) for k, v in assignment.items()}
        if not models:
            raise SlotError("assignment is empty; map every slot of the app to a model")
        if getattr(app, "agentopt_slots", None) is not None:
            check_slot_names(models, _declared(app))
        is_async = inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(
            getattr(app, "__call__", None))  # noqa: B004 - the method, to ask if it is async

        def call(x: Any) -> tuple[Any, Usage]:
            rec = Usage()
            token = _USAGE.set(rec)
            try:
                ret = asyncio.run(app(dict(models), x)) if is_async else app(dict(models), x)
            finally:
                _USAGE.reset(token)
            return _usage_from(ret, rec)

        async def acall(x: Any) -> tuple[Any, Usage]:
            rec = Usage()
            token = _USAGE.set(rec)
            try:
                if is_async:
                    ret = await app(dict(models), x)
                else:  # the thread gets a copy of this context, so completion() records into rec
                    ret = await asyncio.to_thread(app, dict(models), x)
            finally:
                _USAGE.reset(token)
            return _usage_from(ret, rec)

        yield Runner(call, acall, prefers_async=is_async)  # an async app is awaited on the loop

    def export_config(self, app: Any, assignment: Mapping[str, Any]) -> dict[str, Any]:
        if getattr(app, "agentopt_slots", None) is not None:
            check_slot_names(assignment, _declared(app))
        return make_config(self.framework, assignment)

    def apply(self, app: Any, cfg: Mapping[str, Any]) -> Any:
        if cfg.get("framework") not in (None, self.framework):
            raise SlotError(f"config was exported for framework {cfg.get('framework')!r}, not a "
                            "plain callable")
        models = {name: spec["model"] for name, spec in cfg["slots"].items()}
        if getattr(app, "agentopt_slots", None) is not None:
            check_slot_names(models, _declared(app), what="config")
        for name, model in models.items():
            # fail now (unknown model / provider), not at the first call
            check_model_string(model, name)
        return CallableApp(app, models)


def _record(slot: str, model: str, resp: Any, latency: float) -> None:
    rec = _USAGE.get()
    if rec is None:
        return
    u = getattr(resp, "usage", None)
    reported = reported_latency(resp)
    rec.add(call_record(slot, model, input_tokens=int(getattr(u, "prompt_tokens", 0) or 0),
                        output_tokens=int(getattr(u, "completion_tokens", 0) or 0),
                        latency_s=latency if reported is None else reported))


def _model_for(models: Mapping[str, str], slot: str) -> str:
    if slot not in models:
        raise SlotError(f"slot {slot!r} is not in the assignment {sorted(models)}")
    return check_model_string(models[slot], slot)


def _call_kwargs(model: str, kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """(retry policy, litellm kwargs): litellm's and the SDK's own retries off,
    default timeout set."""
    remember_secrets(kwargs)
    policy = retry_policy(kwargs.pop("retries", None))
    kwargs.update(num_retries=0, max_retries=0)
    if policy.timeout_s is not None:
        kwargs.setdefault("timeout", policy.timeout_s)
    return policy, kwargs


def completion(models: Mapping[str, str], slot: str, **kwargs: Any) -> Any:
    """``litellm.completion(model=models[slot], **kwargs)`` with retries,
    recording the call for ``slot``."""
    import litellm

    model = _model_for(models, slot)
    policy, kwargs = _call_kwargs(model, kwargs)
    start = time.perf_counter()
    resp = policy.call(litellm.completion, model=model, **kwargs)
    _record(slot, model, resp, time.perf_counter() - start)
    return resp


async def acompletion(models: Mapping[str, str], slot: str, **kwargs: Any) -> Any:
    """Async ``completion``."""
    import litellm

    model = _model_for(models, slot)
    policy, kwargs = _call_kwargs(model, kwargs)
    start = time.perf_counter()
    resp = await policy.acall(litellm.acompletion, model=model, **kwargs)
    _record(slot, model, resp, time.perf_counter() - start)
    return resp
