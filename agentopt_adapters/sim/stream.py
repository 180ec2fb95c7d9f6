"""A simulated completion as OpenAI ``chat.completion.chunk`` objects (what ``stream: true``
sends): a role delta, the content a few words at a time, tool-call deltas (name first, then the
arguments in pieces), a finish chunk per choice, and a final usage chunk when
``stream_options.include_usage``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from .engine import SimChoice, SimResult

__all__ = ["chunks", "usage_of", "completion_json"]

_WORDS_PER_CHUNK = 3
_ARG_CHARS_PER_CHUNK = 24


def usage_of(res: SimResult) -> dict[str, int]:
    return {"prompt_tokens": res.input_tokens, "completion_tokens": res.output_tokens,
            "total_tokens": res.input_tokens + res.output_tokens}


def _message(choice: SimChoice) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": choice.content}
    if choice.tool_calls:
        message["tool_calls"] = choice.tool_calls
    return message


def completion_json(res: SimResult, created: int, rid: str) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` object."""
    return {
        "id": rid, "object": "chat.completion", "created": created, "model": res.model,
        "system_fingerprint": "agentopt-sim",
        "choices": [{"index": i, "message": _message(c), "finish_reason": c.finish_reason,
                     "logprobs": None}
                    for i, c in enumerate(res.choices)],
        "usage": usage_of(res),
    }


def _pieces(text: str, size: int) -> list[str]:
    """``text`` in consecutive pieces of ``size`` words (whitespace kept,
    so they join back exactly)."""
    words = re.findall(r"\s*\S+\s*", text) or [text]
    return ["".join(words[i:i + size]) for i in range(0, len(words), size)]


def _deltas(choice: SimChoice) -> Iterator[dict[str, Any]]:
    yield {"role": "assistant", "content": ""}
    for piece in _pieces(choice.content, _WORDS_PER_CHUNK) if choice.content else []:
        yield {"content": piece}
    for j, tc in enumerate(choice.tool_calls):
        fn = tc["function"]
        yield {"tool_calls": [{"index": j, "id": tc["id"], "type": "function",
                               "function": {"name": fn["name"], "arguments": ""}}]}
        args = fn["arguments"]
        for k in range(0, len(args), _ARG_CHARS_PER_CHUNK):
            yield {"tool_calls": [{"index": j,
                                   "function": {"arguments": args[k:k + _ARG_CHARS_PER_CHUNK]}}]}


def chunks(res: SimResult, created: int, rid: str,
           include_usage: bool) -> Iterator[dict[str, Any]]:
    """Every chunk of the stream, in order (choices one after another)."""
    base: dict[str, Any] = {"id": rid, "object": "chat.completion.chunk", "created": created,
                            "model": res.model, "system_fingerprint": "agentopt-sim"}
    if include_usage:
        base["usage"] = None
    for i, choice in enumerate(res.choices):
        for delta in _deltas(choice):
            yield {**base,
                   "choices": [{"index": i, "delta": delta, "logprobs": None,
                                "finish_reason": None}]}
        yield {**base,
               "choices": [{"index": i, "delta": {}, "logprobs": None,
                            "finish_reason": choice.finish_reason}]}
    if include_usage:
        yield {**base, "choices": [], "usage": usage_of(res)}
