"""Running one scaled step (``scaling.Scaling``): draw the samples side by side, keep one.

Framework-free: an adapter says how to draw sample ``i`` (``draw(i)``, sync or async), how to read
one output (``key``: its vote key; ``text``: what the judge reads) and how to ask the judge model
(``judge(prompt) -> reply text``). Sync and async share everything but the concurrency primitive
(threads, each in a copy of the caller's context / ``asyncio.gather``).

* Sample ``i > 0`` is drawn with ``seed = i`` (plus the seed the call already had) where the model
  takes a seed, so providers that honour it (and the simulated zoo) give reproducible, independent
  samples; the first sample is the plain call. A model set to a temperature of 0.15 or less draws
  its samples at 0.7 (DSPy's rule for ``n > 1``): at temperature 0 samples agree and voting changes
  nothing.
* A sample that fails is left out of the choice (its cost is still recorded); when every sample
  fails, the first failure is raised as it is.
* ``vote``: the most frequent key, ties to the earliest sample. ``judge``: asked only when the kept
  samples disagree (same key: nothing to choose); a judge that fails is a ``ModelError`` naming it.
  A function ``select(outputs) -> index`` must return an index into ``outputs``.
* Every sample runs with ``SAMPLE_GROUP`` set to one id per step; recorders put it in the call
  record (``CallUsage.sample_group``) so the step's latency is its slowest sample (plus the judge).
"""

from __future__ import annotations

import asyncio
import contextvars
import uuid
from collections.abc import Awaitable, Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from .errors import ModelError
from .scaling import Scaling, judge_choice, judge_prompt, vote

__all__ = ["SAMPLE_GROUP", "Step", "sample_seed", "sample_temperature"]

T = TypeVar("T")

#: The sample group of the model call running in this context (None: not a sample).
SAMPLE_GROUP: contextvars.ContextVar[str | None] = contextvars.ContextVar("agentopt_sample_group",
                                                                          default=None)


@lru_cache(maxsize=256)
def _takes_seed(model: str) -> bool:
    import litellm

    try:
        name, provider, _, _ = litellm.get_llm_provider(model)
        return "seed" in (litellm.get_supported_openai_params(model=name,
                                                              custom_llm_provider=provider) or [])
    except Exception:  # noqa: BLE001 - a model litellm does not know: send no seed
        return False


def sample_seed(i: int, model: str | None, given: Any = None) -> int | None:
    """The seed sample ``i`` is drawn with: None for the first sample (the plain call) and for
    models that take no seed; else ``given`` (0 when it is not an int) + ``i``."""
    if i == 0 or not model or not _takes_seed(model):
        return None
    base = given if isinstance(given, int) and not isinstance(given, bool) else 0
    return base + i


def sample_temperature(current: Any) -> float | None:
    """The temperature samples are drawn at when the model's own (``current``) is too low to vary
    them (<= 0.15); None: keep the model's own."""
    low = isinstance(current, (int, float)) and not isinstance(current, bool) and current <= 0.15
    return 0.7 if low else None


@dataclass(frozen=True)
class Step:
    """One scaled model call of ``slot``: how its outputs are compared and shown to the judge."""

    scaling: Scaling
    slot: str
    key: Callable[[Any], Hashable]
    text: Callable[[Any], str]

    # -- sync ------------------------------------------------------------------------------------
    def run(self, draw: Callable[[int], T], task: Callable[[], str],
            judge: Callable[[str], str]) -> T:
        """Draw the samples on threads, keep one (asking ``judge`` when the choice needs it)."""
        group = uuid.uuid4().hex[:12]

        def one(i: int) -> T:
            SAMPLE_GROUP.set(group)
            return draw(i)

        n = self.scaling.samples
        with ThreadPoolExecutor(n, thread_name_prefix="agentopt-sample") as pool:
            futures = [pool.submit(contextvars.copy_context().run, one, i) for i in range(n)]
            drawn = [_outcome(f.result) for f in futures]
        outs = self._kept(drawn)
        prompt = self._judge_prompt(outs, task)
        return outs[self._choose(outs, None if prompt is None else self._ask(judge, prompt))]

    # -- async -----------------------------------------------------------------------------------
    async def arun(self, draw: Callable[[int], Awaitable[T]], task: Callable[[], str],
                   judge: Callable[[str], Awaitable[str]]) -> T:
        """``run`` for async calls: the samples as concurrent tasks."""
        group = uuid.uuid4().hex[:12]

        async def one(i: int) -> T:
            SAMPLE_GROUP.set(group)  # in the task's own copy of the context
            return await draw(i)

        drawn = await asyncio.gather(*(one(i) for i in range(self.scaling.samples)),
                                     return_exceptions=True)
        outs = self._kept(list(drawn))
        prompt = self._judge_prompt(outs, task)
        reply = None
        if prompt is not None:
            try:
                reply = await judge(prompt)
            except Exception as exc:  # named below
                raise self._judge_failed(exc) from exc
        return outs[self._choose(outs, reply)]

    # -- the choice (shared) ---------------------------------------------------------------------
    @staticmethod
    def _kept(drawn: Sequence[Any]) -> list[Any]:
        """The samples that succeeded; the first failure when none did."""
        for x in drawn:
            if isinstance(x, BaseException) and not isinstance(x, Exception):
                raise x  # cancelled / interrupted: not a failed sample
        kept = [x for x in drawn if not isinstance(x, BaseException)]
        if not kept:
            raise drawn[0]
        return kept

    def _judge_prompt(self, outs: Sequence[Any], task: Callable[[], str]) -> str | None:
        """The judge's prompt, or None when no judge is asked (not judge, or the samples agree)."""
        if self.scaling.select != "judge" or len({self.key(o) for o in outs}) < 2:
            return None
        return judge_prompt(task(), [self.text(o) for o in outs])

    def _ask(self, judge: Callable[[str], str], prompt: str) -> str:
        try:
            return judge(prompt)
        except Exception as exc:  # named below
            raise self._judge_failed(exc) from exc

    def _judge_failed(self, exc: Exception) -> ModelError:
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        return ModelError(f"slot {self.slot!r}: the judge model {self.scaling.judge!r} failed "
                          f"({type(exc).__name__}: {first}); fix or change the judge "
                          "(select='judge', judge=<model string>) or use select='vote'")

    def _choose(self, outs: Sequence[Any], judge_reply: str | None) -> int:
        select = self.scaling.select
        if judge_reply is not None:
            return judge_choice(judge_reply, len(outs))
        if callable(select):
            return self._by_function(select, outs)
        return vote([self.key(o) for o in outs])

    def _by_function(self, select: Callable[[Sequence[Any]], int], outs: Sequence[Any]) -> int:
        name = getattr(select, "__name__", repr(select))
        try:
            index = select(list(outs))
        except Exception as exc:  # the user's function: named
            raise ModelError(f"slot {self.slot!r}: select function {name} raised "
                             f"{type(exc).__name__}: {exc}") from exc
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(outs):
            raise ModelError(f"slot {self.slot!r}: select function {name} returned {index!r}; it "
                             f"must return the index (0 to {len(outs) - 1}) of the output to keep")
        return index


def _outcome(result: Callable[[], T]) -> T | BaseException:
    try:
        return result()
    except BaseException as exc:  # noqa: BLE001 - sorted out by Step._kept
        return exc
