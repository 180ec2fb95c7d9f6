"""Inference-time scaling of a DSPy predictor slot: each call of the predictor draws ``samples``
predictions side by side and keeps one (``sampling.Step``).

The predictor is re-classed once to a subclass (same name and import path, so saved state is
unchanged) whose ``forward`` / ``aforward`` run the predictor's own ``forward`` once per sample, in
the caller's DSPy context (its calling modules, so every sample and the judge call are recorded
under the slot). Sample ``i > 0`` gets ``rollout_id=i`` (DSPy's cache key for distinct samples)
and a seed of its own where the model takes one; a low temperature is raised (``sampling``). The
vote key of a prediction is its output fields without DSPy's own thinking fields (``reasoning`` of
ChainOfThought, ``next_thought`` of ReAct), each normalised (text: whitespace and case; structured
values: the parsed object).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import dspy

from ..models import model_name
from ..sampling import Step, sample_seed, sample_temperature
from ..scaling import Scaling, normalize
from ._classes import same_name_subclass

__all__ = ["scale_predictor", "SCALING_ATTR"]

SCALING_ATTR = "_agentopt_scaling"
_THOUGHTS = frozenset({"reasoning", "next_thought"})


class _Setting:
    """What a scaled predictor carries: its step and judge LM
    (shared by the deep copies DSPy makes)."""

    def __init__(self, step: Step, judge: Any) -> None:
        self.step, self.judge = step, judge

    def __deepcopy__(self, memo: dict[int, Any]) -> _Setting:
        return self


def _fields(pred: Any) -> dict[str, Any]:
    return dict(pred.items()) if hasattr(pred, "items") else {"output": pred}


def _vote_key(pred: Any) -> Hashable:
    fields = _fields(pred)
    kept = {k: v for k, v in fields.items() if k not in _THOUGHTS} or fields
    return tuple((k, normalize(v)) for k, v in sorted(kept.items()))


def _judge_text(pred: Any) -> str:
    return "\n".join(f"{k}: {v}" for k, v in _fields(pred).items())


def _task(predictor: Any, kwargs: Mapping[str, Any]) -> str:
    sig = predictor.signature
    inputs = "\n".join(f"{k}: {v}" for k, v in kwargs.items() if k in sig.input_fields)
    return f"{sig.instructions}\n\n{inputs}".strip()


def _sample_kwargs(predictor: Any, kwargs: Mapping[str, Any], i: int) -> dict[str, Any]:
    """The predictor's keyword arguments for sample ``i`` (its own config: rollout id, seed,
    temperature)."""
    config = dict(kwargs.get("config") or {})
    lm = kwargs.get("lm") or predictor.lm or dspy.settings.lm
    own = {**(getattr(lm, "kwargs", None) or {}), **getattr(predictor, "config", {}), **config}
    extra = {"rollout_id": i or None, "seed": sample_seed(i, model_name(lm), own.get("seed")),
             "temperature": sample_temperature(own.get("temperature"))}
    config.update({k: v for k, v in extra.items() if v is not None})
    return {**kwargs, "config": config}


def _reply(outputs: Any) -> str:
    first = outputs[0] if isinstance(outputs, list) and outputs else outputs
    return str(first.get("text", "")) if isinstance(first, dict) else str(first)


def _judge_messages(prompt: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}]


def _scaled_class(cls: type[Any]) -> type[Any]:
    """``cls`` whose forward / aforward draw samples when the instance carries a setting."""
    return same_name_subclass(cls, "_agentopt_scaled", lambda c: {
        "forward": _forward(c.forward), "aforward": _aforward(c.aforward)})


def _forward(own: Any) -> Any:
    def forward(self: Any, **kwargs: Any) -> Any:
        setting = self.__dict__.get(SCALING_ATTR)
        if setting is None:
            return own(self, **kwargs)
        def judge(prompt: str) -> str:
            return _reply(setting.judge(messages=_judge_messages(prompt)))

        return setting.step.run(lambda i: own(self, **_sample_kwargs(self, kwargs, i)),
                                lambda: _task(self, kwargs), judge)

    return forward


def _aforward(own: Any) -> Any:
    async def aforward(self: Any, **kwargs: Any) -> Any:
        setting = self.__dict__.get(SCALING_ATTR)
        if setting is None:
            return await own(self, **kwargs)

        async def draw(i: int) -> Any:
            return await own(self, **_sample_kwargs(self, kwargs, i))

        async def judge(prompt: str) -> str:
            return _reply(await setting.judge.acall(messages=_judge_messages(prompt)))

        return await setting.step.arun(draw, lambda: _task(self, kwargs), judge)

    return aforward


def scale_predictor(pred: dspy.Predict, slot: str, scaling: Scaling, judge: Any = None) -> None:
    """Make each call of ``pred`` (a bound copy's predictor) draw ``scaling.samples`` predictions;
    ``judge``: the LM that picks one when ``scaling.select == "judge"``."""
    pred.__class__ = _scaled_class(type(pred))
    pred.__dict__[SCALING_ATTR] = _Setting(Step(scaling, slot, _vote_key, _judge_text), judge)
