"""One search cell: run the app under one assignment on one example, score it, report an Outcome.

Each assignment is bound once (``adapter.bind``) and reused for every example. Sync apps and sync
metrics run on a thread pool owned by the run and sized to ``max_concurrency`` (it is also the
run's default executor, so libraries that hand work to ``asyncio.to_thread`` get the same
threads); async apps and metrics are awaited. App failures and unparseable answers are failed
cells (score 0, real cost kept); a metric that raises or returns a value outside [0, 1] makes an
error cell naming the combination and example (``strict_metric=True``: the run stops instead, as
it does when the metric fails on ``METRIC_FAILURES_TO_STOP`` different examples before it ever
succeeds — a broken metric must not spend the budget).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import inspect
import math
import numbers
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from agentopt_search import Outcome
from agentopt_search.outcome import UsageRow

from ..errors import AgentOptError, MetricError
from ..protocol import Adapter, Runner
from ..redaction import redact
from ..usage import Usage, is_failed
from .candidates import CURRENT, SpacePlan
from .dataset import Item

__all__ = ["CellEvaluator", "Abort", "METRIC_FAILURES_TO_STOP"]

#: The run stops (MetricError) when the metric fails on this many examples before it ever succeeds.
METRIC_FAILURES_TO_STOP = 5

#: An async client (httpx pool of ChatOpenAI & co.) keeps connections of the event loop it last ran
#: on; after that loop closed (an earlier asyncio.run, an earlier optimize) the first request on
#: each such connection raises "Event loop is closed" and drops it. Such a run is not the app
#: failing: it runs again, at most this many times.
STALE_LOOP_RETRIES = 3


class Abort(BaseException):
    """Carries a user-input error (binding, model, strict metric) through the search loop, which
    records ordinary exceptions as failed cells."""

    def __init__(self, error: AgentOptError) -> None:
        super().__init__(str(error))
        self.error = error


class CellEvaluator:
    """``await evaluator(assignment, item) -> Outcome``;
    ``close()`` releases bindings and threads."""

    def __init__(self, adapter: Adapter, app: Any, metric: Callable[[Any, Any], Any],
                 plan: SpacePlan, *, max_concurrency: int, strict_metric: bool = False,
                 run_options: Mapping[str, Any] | None = None,
                 bind_options: Mapping[str, Any] | None = None) -> None:
        self.adapter, self.app, self.metric, self.plan = adapter, app, metric, plan
        self.strict_metric = strict_metric
        self.run_options = dict(run_options or {})
        self.bind_options = dict(bind_options or {})
        self.metric_errors: list[str] = []
        self._metric_ok = 0
        # examples the metric failed on before it ever succeeded
        self._failed_examples: set[int] = set()
        self.max_concurrency = max_concurrency  # checked by the search before any cell runs
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._runners: dict[str, Runner] = {}
        self._bindings: list[Any] = []
        self._lock = threading.Lock()

    # -- the cell ------------------------------------------------------------------------------
    async def __call__(self, assignment: dict[str, str], item: Item) -> Outcome:
        started = time.perf_counter()
        try:
            out, usage = await self._run_app(self._runner(assignment), item,
                                             self._options(assignment, item))
        except AgentOptError as exc:
            # binding / slot / model errors are the user's input: stop ...
            if not all(v == CURRENT for v in assignment.values()):
                raise Abort(exc) from None
            # ... except the app's own setup, which is what it is: the baseline fails, the search
            # goes on
            return Outcome.failed(redact(f"the app as it is: {type(exc).__name__}: {exc}"))
        except Exception as exc:  # noqa: BLE001 - the app failed on this example: a failed outcome
            usage = getattr(exc, "agentopt_usage", None) or Usage()
            # usage=None: the call that failed may be in no record, so which slots called is
            # unknown (an empty table would say "no slot called" and lend this failure to other
            # combinations)
            return Outcome.failed(redact(_error_text(exc)), cost_usd=usage.cost_usd or 0.0,
                                  latency_s=_latency(usage, started))
        rows = self._rows(usage)
        if is_failed(out):
            return Outcome(0.0, usage.cost_usd, _latency(usage, started),
                           redact(f"{out.kind}: {out.error}"))
        score, error = await self._score(assignment, item, out)
        return Outcome(score, usage.cost_usd, _latency(usage, started), error, usage=rows)

    async def _run_app(self, runner: Runner, item: Item,
                       options: Mapping[str, Any]) -> tuple[Any, Usage]:
        """One run of the app; a run broken by a client left
        from a closed event loop runs again."""
        paid: list[Any] = []  # calls of the attempts a stale event loop broke (real calls, kept)
        retries = 0
        while True:
            try:
                if getattr(runner, "prefers_async", False):
                    out, usage = await runner.acall(item.input, **options)
                else:
                    out, usage = await self._in_thread(functools.partial(runner, item.input,
                                                                         **options))
            except Exception as exc:
                lost = getattr(exc, "agentopt_usage", None)
                if retries == STALE_LOOP_RETRIES or not _stale_loop(exc):
                    if lost is not None:
                        lost.extend(paid)
                    raise
                retries += 1
                paid.extend(lost or ())
                continue
            usage.extend(paid)
            return out, usage

    def _options(self, assignment: Mapping[str, str], item: Item) -> Mapping[str, Any]:
        """The run options of one evaluation: a run config (LangGraph) also names the evaluation in
        its metadata, ``agentopt_combination`` (``slot=model|...``, as in ``cell_usage``) and
        ``agentopt_example`` (the dataset index), so tracing tools can group search traffic."""
        config = self.run_options.get("config")
        if config is None:
            return self.run_options
        metadata = {**(config.get("metadata") or {}), "agentopt_combination": _key(assignment),
                    "agentopt_example": item.index}
        return {**self.run_options, "config": {**config, "metadata": metadata}}

    async def _in_thread(self, fn: Callable[[], Any]) -> Any:
        loop = asyncio.get_running_loop()
        if self._pool is None:
            # app + metric per cell in flight, and the libraries' own to_thread calls
            threads = 2 * self.max_concurrency + 4
            self._pool = concurrent.futures.ThreadPoolExecutor(threads,
                                                               thread_name_prefix="agentopt-app")
            loop.set_default_executor(self._pool)
        return await loop.run_in_executor(self._pool, contextvars.copy_context().run, fn)

    # -- the metric ----------------------------------------------------------------------------
    async def _score(self, assignment: Mapping[str, str], item: Item,
                     out: Any) -> tuple[float, str | None]:
        where = f"combination {_key(assignment)} on example #{item.index}"
        try:
            if inspect.iscoroutinefunction(self.metric) or inspect.iscoroutinefunction(
                    getattr(self.metric, "__call__", None)):  # noqa: B004 - is the method async
                value = await self.metric(item.example, out)
            else:
                value = await self._in_thread(functools.partial(self.metric, item.example, out))
        except Exception as exc:  # noqa: BLE001 - a failing metric scores 0 and is reported
            return self._metric_failed(f"metric raised {type(exc).__name__}: {exc} for {where}",
                                       item)
        if isinstance(value, bool):
            value = float(value)
        if (not isinstance(value, numbers.Real) or math.isnan(float(value))
                or not 0.0 <= float(value) <= 1.0):
            return self._metric_failed(f"metric returned {value!r} for {where}; it must return a "
                                       "float in [0, 1]", item)
        with self._lock:
            self._metric_ok += 1
        return float(value), None

    def metric_never_worked(self) -> MetricError | None:
        """The error to raise when the metric failed on every example it scored
        (None otherwise)."""
        if self._metric_ok or not self.metric_errors:
            return None
        return MetricError(f"{self.metric_errors[0]}. The metric failed on all "
                           f"{len(self.metric_errors)} evaluations it scored; fix the metric")

    def _metric_failed(self, message: str, item: Item) -> tuple[float, str]:
        with self._lock:
            self.metric_errors.append(message)
            if self._metric_ok == 0:
                self._failed_examples.add(item.index)
            broken = self._metric_ok == 0 and len(self._failed_examples) >= METRIC_FAILURES_TO_STOP
        if self.strict_metric or broken:
            why = ("strict_metric=True" if self.strict_metric else
                   f"the metric failed on each of the first {len(self._failed_examples)} "
                   "examples it saw")
            raise Abort(MetricError(f"{message}. Stopped ({why}); fix the metric"))
        return 0.0, message

    # -- bindings, usage, cleanup ------------------------------------------------------------
    def _runner(self, assignment: Mapping[str, str]) -> Runner:
        key = _key(assignment)
        with self._lock:
            runner = self._runners.get(key)
            if runner is None:
                binding = self.adapter.bind(self.app, self.plan.binding(assignment),
                                            **self.bind_options)
                runner = binding.__enter__()
                self._bindings.append(binding)
                self._runners[key] = runner
        return runner

    def _rows(self, usage: Usage) -> tuple[UsageRow, ...]:
        """Calls, tokens and dollars per (slot, model), slots named as in the space."""
        groups: dict[tuple[str | None, str], list[Any]] = {}
        for c in usage.calls:
            row = groups.setdefault((self.plan.app_slot(c.slot), c.model), [0, 0, 0, 0.0])
            row[0] += 1
            row[1] += c.input_tokens
            row[2] += c.output_tokens
            row[3] = None if row[3] is None or c.cost_usd is None else row[3] + c.cost_usd
        return tuple(UsageRow(slot, model, *vals) for (slot, model), vals in groups.items())

    def close(self) -> None:
        while self._bindings:
            with contextlib.suppress(Exception):  # releasing a binding is best effort
                self._bindings.pop().__exit__(None, None, None)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _key(assignment: Mapping[str, str]) -> str:
    return "|".join(f"{k}={v}" for k, v in assignment.items())


def _error_text(exc: BaseException) -> str:
    """``Type: message``, with the notes the adapters add to an exception
    (e.g. a missing runtime context)."""
    notes = [str(n) for n in getattr(exc, "__notes__", None) or ()
             if str(n).startswith("agentopt:")]
    return "; ".join([f"{type(exc).__name__}: {exc}", *notes])


def _stale_loop(exc: BaseException) -> bool:
    """The run failed on a resource of an event loop that has been closed
    (not the loop running it)."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        if isinstance(e, RuntimeError) and str(e) == "Event loop is closed":
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _latency(usage: Usage, started: float) -> float:
    """Model seconds of the example (``Usage.latency_s``: its calls added up, side-by-side samples
    counted as their slowest), or the wall clock when no call reported any."""
    model_time = usage.latency_s
    return model_time if model_time > 0 else time.perf_counter() - started
