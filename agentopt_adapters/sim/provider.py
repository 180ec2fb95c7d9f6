"""The in-process way in: a litellm custom provider ``sim`` backed by the simulator engine.

``litellm.completion(model="sim/<name>", ...)`` takes the same request parameters as the HTTP
server (tools, tool_choice, response_format, n, seed, stream with usage); bad requests raise
litellm's BadRequestError / NotFoundError with the API's message.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import litellm
from litellm.llms.custom_llm import CustomLLM, CustomLLMError
from litellm.types.utils import ModelResponse, ModelResponseStream

from .contract import request_params
from .engine import SimResult, simulate
from .errors import SimRequestError
from .stream import chunks, usage_of
from .zoo import PROVIDER

__all__ = ["SimLLM", "time_scale", "to_model_response", "install"]


def time_scale() -> float:
    """Real seconds slept per simulated second (env AGENTOPT_SIM_TIME_SCALE, default 0.001)."""
    try:
        return float(os.environ.get("AGENTOPT_SIM_TIME_SCALE", "0.001"))
    except ValueError:
        return 0.001


def _run(model: str, messages: list, optional_params: dict) -> SimResult:
    try:
        return simulate(f"{PROVIDER}/{model.split('/')[-1]}", messages,
                        **request_params(optional_params))
    except SimRequestError as exc:
        raise CustomLLMError(status_code=exc.status, message=exc.message) from None


def to_model_response(res: SimResult,
                      model_response: ModelResponse | None = None) -> ModelResponse:
    """Fill a litellm ModelResponse (``n`` choices of content or tool calls, usage,
    simulated latency)."""
    choices = []
    for i, c in enumerate(res.choices):
        message: dict[str, Any] = {"role": "assistant", "content": c.content}
        if c.tool_calls:
            message["tool_calls"] = c.tool_calls
        choices.append({"index": i, "message": message, "finish_reason": c.finish_reason})
    resp = ModelResponse(model=res.model, choices=choices, usage=usage_of(res))
    if model_response is not None:
        model_response.choices = resp.choices
        model_response.model = res.model
        model_response.usage = resp.usage  # type: ignore[attr-defined]
        resp = model_response
    resp._hidden_params = {**getattr(resp, "_hidden_params", {}), "sim_latency_s": res.latency_s,
                           "sim_info": res.info}
    # the simulated latency where LangChain passes response fields on (its llm_output), as DSPy
    # reads the hidden params: every framework records the same latency for the same call
    resp.provider_specific_fields = {"sim_latency_s": res.latency_s}  # type: ignore[attr-defined]
    return resp


def _stream(res: SimResult) -> Iterator[ModelResponseStream]:
    """The stream as litellm takes it from a custom provider: every choice's deltas, the last one
    carrying the finish reason and the usage (litellm drops chunks without content after a
    finish)."""
    deltas = [c for c in chunks(res, 0, "", False) if c["choices"]]
    body = [c for c in deltas if not c["choices"][0]["finish_reason"]]
    finish = [c["choices"][0]["finish_reason"] for c in deltas
              if c["choices"][0]["finish_reason"]][-1]
    for c in body[:-1]:
        yield ModelResponseStream(**c)
    last = body[-1]
    yield ModelResponseStream(**{**last,
                                 "choices": [{**last["choices"][0], "finish_reason": finish}],
                                 "usage": usage_of(res)})


class SimLLM(CustomLLM):
    """litellm handler: ``litellm.completion(model="sim/<name>", ...)``;
    sleeps the scaled latency."""

    def completion(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict,
                   model_response: ModelResponse, print_verbose: Any, encoding: Any, api_key: Any,
                   logging_obj: Any, optional_params: dict, *args: Any,
                   **kwargs: Any) -> ModelResponse:
        res = _run(model, messages, optional_params)
        time.sleep(res.latency_s * time_scale())
        return to_model_response(res, model_response)

    async def acompletion(self, model: str, messages: list, api_base: str,
                          custom_prompt_dict: dict, model_response: ModelResponse,
                          print_verbose: Any, encoding: Any, api_key: Any, logging_obj: Any,
                          optional_params: dict, *args: Any, **kwargs: Any) -> ModelResponse:
        res = _run(model, messages, optional_params)
        await asyncio.sleep(res.latency_s * time_scale())
        return to_model_response(res, model_response)

    # litellm's CustomLLM declares GenericStreamingChunk; its stream wrapper takes these too
    def streaming(  # type: ignore[override]
            self, model: str, messages: list, api_base: str, custom_prompt_dict: dict,
            model_response: ModelResponse, print_verbose: Any, encoding: Any, api_key: Any,
            logging_obj: Any, optional_params: dict, *args: Any,
            **kwargs: Any) -> Iterator[ModelResponseStream]:
        res = _run(model, messages, optional_params)
        time.sleep(res.latency_s * time_scale())
        yield from _stream(res)

    async def astreaming(  # type: ignore[override]
            self, model: str, messages: list, api_base: str, custom_prompt_dict: dict,
            model_response: ModelResponse, print_verbose: Any, encoding: Any, api_key: Any,
            logging_obj: Any, optional_params: dict, *args: Any,
            **kwargs: Any) -> AsyncIterator[ModelResponseStream]:
        res = _run(model, messages, optional_params)
        await asyncio.sleep(res.latency_s * time_scale())
        for chunk in _stream(res):
            yield chunk


_HANDLER = SimLLM()


def install() -> None:
    """Add the ``sim`` provider to litellm (idempotent;
    prices are registered by ``sim.register``)."""
    if not any(p.get("provider") == PROVIDER for p in litellm.custom_provider_map):
        litellm.custom_provider_map = [*litellm.custom_provider_map,
                                       {"provider": PROVIDER, "custom_handler": _HANDLER}]
        from litellm.utils import custom_llm_setup

        custom_llm_setup()


if globals().get("REGISTER_WHEN_LOADED"):
    # this module was imported before litellm: litellm's plugin hook asked ``sim.register`` for a
    # provider that was not defined yet
    from . import register

    register()
