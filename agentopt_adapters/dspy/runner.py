"""Running a bound DSPy program: inputs from examples / dataset rows, sync and async, usage per
run.

``run(x)`` and ``await run.acall(x)`` work for every module: a module with only ``aforward`` runs
on a private event loop when called synchronously, a module without ``aforward`` runs in a thread
when awaited. ``runner.prefers_async`` is True only for async-only modules (an evaluator then
awaits ``acall``; otherwise it calls ``run`` from its own thread pool).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
import warnings
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dspy
from dspy.utils.exceptions import AdapterParseError

from ..errors import AgentOptError
from ..protocol import Runner
from ..usage import FailedRun, Usage
from .recording import RunLog, UnattributedCallWarning, is_owned, owned_lm

__all__ = ["DSPyRunner", "UnattributedCallWarning", "input_fields", "example_from_row",
           "is_async_only"]


def _defines(cls: type, name: str) -> bool:
    """True when ``cls`` has a ``name`` method
    (dspy.Module itself defines neither forward nor aforward)."""
    return callable(getattr(cls, name, None))


def is_async_only(program: dspy.Module) -> bool:
    """A module with ``aforward`` and no ``forward``: it must be awaited."""
    return _defines(type(program), "aforward") and not _defines(type(program), "forward")


def _forward_params(program: dspy.Module) -> tuple[list[inspect.Parameter], bool]:
    """(named parameters of forward/aforward after self, whether it also takes **kwargs)."""
    method = getattr(type(program), "aforward" if is_async_only(program) else "forward", None)
    try:
        sig = inspect.signature(method)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return [], True
    params = [p for p in list(sig.parameters.values())[1:]
              if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return params, any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())


def input_fields(program: dspy.Module) -> tuple[list[str], list[str]] | None:
    """(input fields, required ones) of a program;
    None when ``forward(**kwargs)`` accepts anything."""
    params, var_kw = _forward_params(program)
    signature = getattr(program, "signature", None)
    preds = program.named_predictors() if signature is None else []
    # ChainOfThought: its one Predict
    signature = preds[0][1].signature if len(preds) == 1 else signature
    if var_kw and not params and signature is not None:  # Predict, ChainOfThought, ReAct, ...
        names = list(signature.input_fields)
        return names, names
    if var_kw:
        return None
    return [p.name for p in params], [p.name for p in params
                                      if p.default is inspect.Parameter.empty]


def example_from_row(program: dspy.Module, row: Mapping[str, Any]) -> dspy.Example:
    """A dataset row (plain dict) as ``dspy.Example(**row).with_inputs(<the
    program's input fields>)``."""
    if isinstance(row, dspy.Example):
        return row
    if not isinstance(row, Mapping):
        raise AgentOptError("a dataset row for a DSPy program must be a dict of fields, got "
                            f"{type(row).__name__}")
    fields = input_fields(program)
    if fields is None:
        raise AgentOptError(f"cannot tell the input fields of {type(program).__name__} "
                            "(forward(**kwargs)); pass dspy.Example(...).with_inputs(...) rows")
    names, required = fields
    missing = [k for k in required if k not in row]
    if missing:
        raise AgentOptError(f"dataset row has no field(s) {missing} needed by "
                            f"{type(program).__name__}.forward; it has {sorted(row)}")
    return dspy.Example(**row).with_inputs(*[k for k in names if k in row])


def _input_kwargs(program: dspy.Module, example: Any,
                  fields: tuple[list[str], list[str]] | None) -> dict[str, Any]:
    """Keyword arguments for the program from a dspy.Example, a dict or a single value
    (``fields``: ``input_fields(program)``)."""
    if isinstance(example, dspy.Example):
        try:
            data: dict[str, Any] | None = dict(example.inputs())
        except ValueError:  # no .with_inputs(...): use every field the program accepts
            data = dict(example.toDict())
    else:
        data = dict(example) if isinstance(example, Mapping) else None
    if data is None:
        if fields is not None and len(fields[0]) == 1:
            return {fields[0][0]: example}
        raise AgentOptError(
            f"cannot call {type(program).__name__} with a {type(example).__name__}; pass a "
            "dspy.Example (.with_inputs(...)) or a dict of its input fields "
            f"{fields[0] if fields else '(keyword arguments)'}")
    if fields is None:
        return data
    names, required = fields
    missing = [k for k in required if k not in data]
    if missing:
        raise AgentOptError(
            f"example has no input field(s) {missing} needed by {type(program).__name__}; it has "
            f"{sorted(data)}. Use dspy.Example(...).with_inputs({', '.join(map(repr, required))}) "
            "or a dict with those keys")
    return {k: v for k, v in data.items() if k in names}


class DSPyRunner(Runner):
    """Runs one bound copy of the program. ``run(x)`` / ``await run.acall(x)`` -> (output, Usage).

    ``output`` is the program's ``dspy.Prediction``, or a ``FailedRun`` when DSPy could not parse a
    model reply. Safe to call from many threads and tasks at once.
    """

    def __init__(self, program: dspy.Module, slots: Collection[str],
                 lms: Mapping[str, dspy.BaseLM], assignment: Mapping[str, str],
                 judges: Mapping[str, str] | None = None) -> None:
        super().__init__(self._run, self._arun)
        self.program = program
        self.slots = frozenset(slots)
        self.lms = dict(lms)                # slot -> the LM instance bound to it (assigned slots)
        self.assignment = dict(assignment)  # slot -> model string (assigned slots only)
        # slot -> its judge model (scaled slots with select="judge")
        self.judges = dict(judges or {})
        self.prefers_async = is_async_only(program)
        self._fields = input_fields(program)
        # id(configured LM) -> (it, its owned copy)
        self._defaults: dict[int, tuple[Any, Any]] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    def _default_lm(self, lm: Any) -> Any:
        """The configured LM, owned (uncached, timed) -- copied once per binding, not per run."""
        if not isinstance(lm, dspy.BaseLM) or is_owned(lm):
            return lm
        with self._lock:
            known = self._defaults.get(id(lm))
            if known is None or known[0] is not lm:
                known = self._defaults[id(lm)] = (lm, owned_lm(lm))
        return known[1]

    def _context(self, log: RunLog) -> dict[str, Any]:
        settings = dspy.settings
        over: dict[str, Any] = {"caller_modules": [log, *(settings.caller_modules or [])],
                                # the history entry carries each call's usage
                                "disable_history": False}
        if not settings.max_history_size:
            over["max_history_size"] = 1
        if settings.lm is not None:
            over["lm"] = self._default_lm(settings.lm)
        return over

    def _warn_once(self, key: str, message: str) -> None:
        with self._lock:
            if key in self._warned:
                return
            self._warned.add(key)
        warnings.warn(message, UnattributedCallWarning, stacklevel=5)

    def _usage(self, log: RunLog) -> Usage:
        for why, model in log.unexplained:
            self._warn_once(f"{why}|{model}",
                            f"LM call to {model} is not explained by any DSPy slot: {why}. It is "
                            "recorded with slot=None (usage.unattributed); make that predictor a "
                            "direct module attribute to optimize it.")
        usage = log.usage()
        for call in usage:
            if call.slot is None:
                continue  # unattributed: no assignment to check against
            wanted = self.assignment.get(call.slot)
            if (wanted is not None and call.model not in (wanted, self.judges.get(call.slot))
                    and call.error is None):
                self._warn_once(f"{call.slot}|{call.model}",
                                f"slot {call.slot!r} was assigned {wanted} but called "
                                f"{call.model}: its forward passes lm= to the predictor or sets "
                                "its LM at run time, which overrides the assignment")
        return usage

    def _run(self, example: Any) -> tuple[Any, Usage]:
        if self.prefers_async:
            return _run_coroutine(self._arun(example))
        kwargs = _input_kwargs(self.program, example, self._fields)
        log = RunLog(self.slots)
        with dspy.context(**self._context(log)):
            try:
                out: Any = self.program(**kwargs)
            except BaseException as exc:  # noqa: BLE001 - _on_error re-raises all but parse errors
                out = self._on_error(exc, log)
        return out, self._usage(log)

    async def _arun(self, example: Any) -> tuple[Any, Usage]:
        if not _defines(type(self.program), "aforward"):
            # no aforward: the sync module in a thread
            return await asyncio.to_thread(self._run, example)
        kwargs = _input_kwargs(self.program, example, self._fields)
        log = RunLog(self.slots)
        with dspy.context(**self._context(log)):
            try:
                out: Any = await self.program.acall(**kwargs)
            except BaseException as exc:  # noqa: BLE001 - _on_error re-raises all but parse errors
                out = self._on_error(exc, log)
        return out, self._usage(log)

    def _on_error(self, exc: BaseException, log: RunLog) -> Any:
        """A parse failure becomes a FailedRun output; anything else re-raises with its usage."""
        if isinstance(exc, AdapterParseError):
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return FailedRun(error=f"{type(exc).__name__}: {first}"[:500], kind="parse_error",
                             slot=log.last_slot())
        with contextlib.suppress(Exception):  # some exception types refuse attributes
            exc.agentopt_usage = self._usage(log)  # type: ignore[attr-defined]
        raise exc


def _run_coroutine(coro: Any) -> Any:
    """Run ``coro`` to completion from sync code: here if no event loop runs in this thread, else
    on a private loop in a helper thread (``run(x)`` called from inside async code)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(1, thread_name_prefix="agentopt-dspy-async") as pool:
        return pool.submit(asyncio.run, coro).result()
