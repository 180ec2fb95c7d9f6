"""Shaping what a simulated model means to say into the reply the request asks for: DSPy
ChatAdapter sections, a JSON object valid against the request's schema, or tool calls; plus the
malformed JSON a weak model sometimes writes."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from typing import Any

from .request import ANSWER_F, PLAN_F, REASON_F, Request
from .schema import MISSING, Shaper, is_valid

__all__ = ["render_fields", "shape_object", "tool_call", "malform", "topic_of", "prompt_of",
           "meaning_of"]


def prompt_of(req: Request) -> str:
    """The user's request as text (DSPy field markers and format instructions removed)."""
    text = req.last_user.strip() or req.evidence.strip()
    if req.dspy:
        text = re.split(r"\n\s*Respond with (?:the corresponding output fields|a JSON object)",
                        text)[0]
        text = re.sub(r"\[\[ ## \w+ ## \]\]\s*", "", text)
    return text.strip()


def topic_of(req: Request) -> str:
    """A few words of what the request is about (for plausible filler)."""
    if req.item is not None:
        return req.item["question"]
    return " ".join(prompt_of(req).split()[:8])


def meaning_of(answer: Any = MISSING, reasoning: Any = MISSING,
               steps: Any = MISSING) -> Callable[[str], Any]:
    """What nested fields named like an answer / reasoning / plan should hold."""

    def meaning(name: str) -> Any:
        n = name.lower()
        if n in ANSWER_F:
            return answer
        if n in REASON_F:
            return reasoning
        if n in PLAN_F:
            return steps
        return MISSING

    return meaning


def shape_object(req: Request, values: dict[str, Any], rng: random.Random,
                 meaning: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """The reply object: ``values`` (by top-level field) fitted to the request's schema,
    the rest filled."""
    schema = req.out_schema or {"type": "object"}
    shaper = Shaper(schema, rng, meaning=meaning, topic=topic_of(req), context=req.evidence,
                    null_rate=0.0 if req.dspy else 0.1)
    ordered = {f.name: values[f.name] for f in req.fields if f.name in values}
    obj = shaper.shape(ordered, schema)
    if not isinstance(obj, dict) or not is_valid(obj, schema):
        # e.g. a pattern the meant values miss: fall back to plain filler
        obj = shaper.make(schema)
    return obj


def render_fields(req: Request, values: dict[str, Any], rng: random.Random,
                  meaning: Callable[[str], Any] | None = None) -> str:
    """The reply text: DSPy ``[[ ## field ## ]]`` sections, or one JSON object."""
    obj = shape_object(req, values, rng, meaning)
    if req.fmt == "json":
        return json.dumps(obj, ensure_ascii=False)
    parts = []
    for f in req.fields:
        v = obj.get(f.name)
        if isinstance(v, (list, dict)):
            v = json.dumps(v, ensure_ascii=False)
        parts.append(f"[[ ## {f.name} ## ]]\n{v}")
    return "\n\n".join(parts) + "\n\n[[ ## completed ## ]]"


def tool_call(name: str, args: dict[str, Any] | str, rng: random.Random) -> dict[str, Any]:
    """An OpenAI tool call (``arguments`` is a JSON string)."""
    arguments = args if isinstance(args, str) else json.dumps(args)
    return {"id": f"call_{rng.getrandbits(48):012x}", "type": "function",
            "function": {"name": name, "arguments": arguments}}


def malform(text: str, rng: random.Random) -> str:
    """JSON as a weak model sometimes writes it: cut off before it closes."""
    cut = max(1, int(len(text) * (0.4 + 0.4 * rng.random())))
    return text[:cut].rstrip("}] ")
