"""The in-process way in: a litellm custom provider ``sim`` backed by the simulator engine."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, AsyncIterator, Iterator

import litellm
from litellm.llms.custom_llm import CustomLLM, CustomLLMError
from litellm.types.utils import GenericStreamingChunk, ModelResponse

from ..errors import ModelError
from .engine import SimResult, simulate
from .zoo import PROVIDER

__all__ = ["SimLLM", "time_scale", "to_model_response"]

_PASS = ("tools", "tool_choice", "response_format", "seed", "max_tokens", "max_completion_tokens")


def time_scale() -> float:
    """Real seconds slept per simulated second (env AGENTOPT_SIM_TIME_SCALE, default 0.001)."""
    try:
        return float(os.environ.get("AGENTOPT_SIM_TIME_SCALE", "0.001"))
    except ValueError:
        return 0.001


def _run(model: str, messages: list, optional_params: dict) -> SimResult:
    kwargs = {k: optional_params[k] for k in _PASS if optional_params.get(k) is not None}
    if "max_completion_tokens" in kwargs:
        kwargs.setdefault("max_tokens", kwargs.pop("max_completion_tokens"))
    try:
        return simulate(f"{PROVIDER}/{model.split('/')[-1]}", messages, **kwargs)
    except ModelError as exc:
        raise CustomLLMError(status_code=400, message=str(exc)) from None


def to_model_response(res: SimResult, model_response: ModelResponse | None = None) -> ModelResponse:
    """Fill a litellm ModelResponse (content or tool calls, usage, simulated latency)."""
    message: dict[str, Any] = {"role": "assistant", "content": res.content}
    if res.tool_calls:
        message["tool_calls"] = res.tool_calls
    resp = ModelResponse(
        model=res.model,
        choices=[{"index": 0, "message": message, "finish_reason": res.finish_reason}],
        usage={"prompt_tokens": res.input_tokens, "completion_tokens": res.output_tokens,
               "total_tokens": res.input_tokens + res.output_tokens},
    )
    if model_response is not None:
        model_response.choices = resp.choices
        model_response.model = res.model
        setattr(model_response, "usage", resp.usage)  # type: ignore[attr-defined]
        resp = model_response
    resp._hidden_params = {**getattr(resp, "_hidden_params", {}), "sim_latency_s": res.latency_s,
                           "sim_info": res.info}
    return resp


class SimLLM(CustomLLM):
    """litellm handler: ``litellm.completion(model="sim/<name>", ...)``; sleeps the scaled latency."""

    def completion(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict,
                   model_response: ModelResponse, print_verbose: Any, encoding: Any, api_key: Any,
                   logging_obj: Any, optional_params: dict, *args: Any, **kwargs: Any) -> ModelResponse:
        res = _run(model, messages, optional_params)
        time.sleep(res.latency_s * time_scale())
        return to_model_response(res, model_response)

    async def acompletion(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict,
                          model_response: ModelResponse, print_verbose: Any, encoding: Any, api_key: Any,
                          logging_obj: Any, optional_params: dict, *args: Any, **kwargs: Any) -> ModelResponse:
        res = _run(model, messages, optional_params)
        await asyncio.sleep(res.latency_s * time_scale())
        return to_model_response(res, model_response)

    def _chunk(self, res: SimResult) -> GenericStreamingChunk:
        tool_use = None
        if res.tool_calls:
            tc = res.tool_calls[0]
            tool_use = {"id": tc["id"], "type": "function", "index": 0,
                        "function": {"name": tc["function"]["name"], "arguments": tc["function"]["arguments"]}}
        return {"text": res.content or "", "tool_use": tool_use, "is_finished": True,
                "finish_reason": res.finish_reason, "index": 0,
                "usage": {"prompt_tokens": res.input_tokens, "completion_tokens": res.output_tokens,
                          "total_tokens": res.input_tokens + res.output_tokens}}

    def streaming(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict,
                  model_response: ModelResponse, print_verbose: Any, encoding: Any, api_key: Any,
                  logging_obj: Any, optional_params: dict, *args: Any, **kwargs: Any) -> Iterator[GenericStreamingChunk]:
        res = _run(model, messages, optional_params)
        time.sleep(res.latency_s * time_scale())
        yield self._chunk(res)

    async def astreaming(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict,
                         model_response: ModelResponse, print_verbose: Any, encoding: Any, api_key: Any,
                         logging_obj: Any, optional_params: dict, *args: Any, **kwargs: Any) -> AsyncIterator[GenericStreamingChunk]:
        res = _run(model, messages, optional_params)
        await asyncio.sleep(res.latency_s * time_scale())
        yield self._chunk(res)


_HANDLER = SimLLM()


def install() -> None:
    """Add the ``sim`` provider to litellm (idempotent) and register the zoo's prices."""
    from .zoo import ZOO

    if not any(p.get("provider") == PROVIDER for p in litellm.custom_provider_map):
        litellm.custom_provider_map = [*litellm.custom_provider_map,
                                       {"provider": PROVIDER, "custom_handler": _HANDLER}]
        from litellm.utils import custom_llm_setup

        custom_llm_setup()
    litellm.register_model({
        key: {"input_cost_per_token": spec.input_cost_per_token,
              "output_cost_per_token": spec.output_cost_per_token,
              "cache_creation_input_token_cost": 0.0, "cache_read_input_token_cost": 0.0,
              "litellm_provider": PROVIDER, "mode": "chat",
              "max_input_tokens": spec.context_window, "max_tokens": spec.max_output_tokens,
              "max_output_tokens": spec.max_output_tokens,
              "supports_function_calling": True, "supports_tool_choice": True,
              "supports_response_schema": False}
        for key, spec in ZOO.items()
    })
