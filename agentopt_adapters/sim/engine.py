"""The deterministic answering logic shared by the litellm provider and the HTTP server.

``simulate(model, messages, tools=..., response_format=..., n=..., seed=...)`` checks the request
the way the OpenAI API does (``contract.py``), reads what it asks (``request.py``: the bundled task
item, the role, the reply's shape), lets the model reason (``mind.py``: skill decides how often
each step is right, and a solver's chance depends on the plan it was given, so slot choices
interact) and shapes the reply (``render.py``): plain text, DSPy fields, JSON valid against the
request's schema, or tool calls whose arguments validate against the tool's parameters.

Randomness: choice ``i`` of a request draws from a hash of (model, messages, tool names, seed, i),
so an identical request gets an identical reply, while ``n`` choices, or requests differing in
``seed``, are independent samples. Weak models write malformed JSON at
``SimModelSpec.malformed_json_rate``.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from .contract import check_messages, parse_params
from .errors import SimContextWindowError, SimRequestError
from .mind import Mind
from .render import malform, meaning_of, prompt_of, render_fields, shape_object, tool_call
from .request import (
    ANSWER_F,
    PLAN_F,
    REASON_F,
    Field,
    Request,
    as_message,
    fields_of,
    find_item,
    judged_answers,
    message_text,
    read_request,
    role_for,
)
from .schema import MISSING
from .zoo import SimModelSpec, get_spec

__all__ = ["SimResult", "SimChoice", "simulate", "count_tokens", "prompt_tokens", "find_item",
           "SimContextWindowError", "SimRequestError"]


@dataclass
class SimChoice:
    """One of the ``n`` answers of a completion."""

    content: str | None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    output_tokens: int = 0
    finish_reason: str = "stop"
    info: dict[str, Any] = field(default_factory=dict)  # role/format/item id/how, for debugging


@dataclass
class SimResult:
    """One simulated completion: ``choices`` (``n`` of them), usage and simulated latency."""

    model: str
    choices: list[SimChoice]
    input_tokens: int = 0
    latency_s: float = 0.0

    @property
    def content(self) -> str | None:
        return self.choices[0].content

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        return self.choices[0].tool_calls

    @property
    def finish_reason(self) -> str:
        return self.choices[0].finish_reason

    @property
    def info(self) -> dict[str, Any]:
        return self.choices[0].info

    @property
    def output_tokens(self) -> int:
        """Completion tokens over all choices (what the API bills)."""
        return sum(c.output_tokens for c in self.choices)


class _Reply(NamedTuple):
    content: str | None
    tool_calls: list[dict[str, Any]]
    how: str


# --------------------------------------------------------------------------- tokens, hashing

def count_tokens(text: str) -> int:
    """Approximate BPE token count (~4 characters per token, at least one per word-ish chunk)."""
    if not text:
        return 0
    return max(1, math.ceil(len(text) / 4), math.ceil(len(text.split()) * 0.75))


def prompt_tokens(messages: Sequence[dict[str, Any]],
                  tools: Sequence[dict[str, Any]] | None = None) -> int:
    """Input tokens: message texts plus a few tokens of chat framing, plus tool schemas."""
    n = 3 + sum(4 + count_tokens(message_text(m)) for m in messages)
    if tools:
        n += count_tokens(json.dumps(list(tools), sort_keys=True))
    return n


def _rng(model: str, messages: Sequence[dict[str, Any]], tools: Any, seed: int | None,
         sample: int = 0, salt: str = "") -> random.Random:
    parts: list[Any] = [model, [[m.get("role"), message_text(m)] for m in messages],
                        sorted(t.get("function", t).get("name", "") for t in tools or []), seed]
    if sample or salt:  # choice 0 of a request draws what a single answer always drew
        parts += [sample, salt]
    blob = json.dumps(parts, sort_keys=True, default=str)
    return random.Random(int.from_bytes(hashlib.sha256(blob.encode()).digest()[:8], "big"))


# --------------------------------------------------------------------------- tools

def _calc_tool(tools: Sequence[dict[str, Any]]) -> tuple[str, str] | None:
    """(tool name, expression argument) of a calculator-like tool, if any."""
    for t in tools:
        fn = t.get("function", t)
        name = fn.get("name", "")
        props = list((fn.get("parameters") or {}).get("properties", {}) or {})
        blob = f"{name} {fn.get('description', '')} {' '.join(props)}".lower()
        if re.search(r"calc|math|arith|evaluat|comput|expression", blob):
            return name, (props[0] if props else "expression")
    return None


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if len(w) > 2}


def _tools_to_call(req: Request) -> list[str]:
    """Which tools a call names: every tool the user names (parallel calls allowed),
    else the most relevant."""
    if req.params.forced_tool:
        return [req.params.forced_tool]
    tools = list(req.tools)
    named = [t["name"] for t in tools
             if re.search(rf"(?<![\w]){re.escape(t['name'])}(?![\w])", req.last_user, re.I)]
    if len(named) >= 2 and req.params.parallel_tool_calls:
        return named
    if named:
        return named[:1]
    asked = _words(req.last_user)
    scores = [len(asked & _words(f"{t['name'].replace('_', ' ')} {t['description']}"))
              for t in tools]
    return [tools[scores.index(max(scores))]["name"]]


def _expression(text: str) -> str | None:
    m = re.search(r"(?<![\w.])[-(]*\d[\d\s.+\-*/()]*[+\-*/]\s*[(\d][\d\s.+\-*/()]*", text)
    return m.group(0).strip() if m else None


# --------------------------------------------------------------------------- values by role

def _reasoning(spec: SimModelSpec, chain: list[dict[str, Any]], value: Any) -> str:
    lines = [f"{st['text'][0].upper()}{st['text'][1:]}." for st in chain[1:]]  # none without steps
    lines += _FILLER[: spec.verbosity]
    lines.append(f"So the answer is {value}.")
    return " ".join(lines)


_FILLER = [
    "I double-checked each intermediate value.",
    "Each step uses only the result of the previous one.",
    "The units stay consistent throughout.",
    "No other interpretation of the question seems plausible.",
]

_GENERIC_FILLER = [
    "Let me know if you would like more detail.",
    "I kept the answer short on purpose.",
    "Other readings of the question are possible, but this is the most likely one.",
]


def _answer_fields(fields: list[Field]) -> list[str]:
    """The field(s) that carry the answer: answer-like names,
    else the last field that is not reasoning."""
    named = [f.name for f in fields if f.name in ANSWER_F]
    if named:
        return named
    rest = [f.name for f in fields if f.name not in REASON_F | PLAN_F]
    return (rest or [fields[-1].name])[-1:]


def _planner_values(fields: list[Field], text: str, lines: list[str]) -> dict[str, Any]:
    return {f.name: (lines if f.kind == "array" else text) for f in fields}


def _critic_values(fields: list[Field], ok: bool, fixed: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in fields:
        if f.kind == "boolean" or f.name in ("is_correct", "correct", "approved"):
            values[f.name] = ok
        elif f.name in ANSWER_F:
            values[f.name] = fixed
        else:
            values[f.name] = "The proposed answer is correct." if ok else \
                f"Incorrect; it should be {fixed}."
    return values


def _solver_values(spec: SimModelSpec, fields: list[Field], value: Any,
                   chain: list[dict[str, Any]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    answer_fields = _answer_fields(fields)
    for f in fields:
        if f.name in answer_fields:
            values[f.name] = value
        elif f.name in PLAN_F:
            values[f.name] = [st["text"] for st in chain[1:]] if f.kind == "array" else \
                _reasoning(spec, chain, value)
        elif f.kind in ("string", "enum") or f.name in REASON_F:
            values[f.name] = _reasoning(spec, chain, value)
    return values


# --------------------------------------------------------------------------- a bundled item

def _answer_item(spec: SimModelSpec, req: Request, rng: random.Random,
                 aux: random.Random) -> _Reply:
    mind = Mind(spec, req, rng)
    if req.role == "planner":
        text, lines, final = mind.plan()
        if req.fields:
            values = _planner_values(req.fields, text, lines)
            return _Reply(render_fields(req, values, aux, meaning_of(final, text, lines)), [],
                          "planned")
        return _Reply(text, [], "planned")
    if req.role == "critic":
        ok, fixed = mind.critique()
        if req.fields:
            return _Reply(render_fields(req, _critic_values(req.fields, ok, fixed), aux,
                                        meaning_of(fixed)), [],
                          "critiqued")
        text = "VERDICT: CORRECT" if ok else f"VERDICT: INCORRECT. The answer should be {fixed}."
        return _Reply(text, [], "critiqued")
    if req.role == "react":
        return _react_step(spec, req, mind, rng, aux)
    return _solve_item(spec, req, mind, rng, aux)


def _react_step(spec: SimModelSpec, req: Request, mind: Mind, rng: random.Random,
                aux: random.Random) -> _Reply:
    tool_names = list(req.react_tools) or ["finish"]
    calc_names = [n for n in tool_names if re.search(r"calc|math|arith|eval|comput", n, re.I)]
    observed = req.tool_result is not None
    if req.task == "arithmetic" and calc_names and not observed \
            and rng.random() < min(1.0, 0.45 + spec.skill):
        value, _, override, how = mind.solve(cot=True)
        name = calc_names[0]
        arg = (req.react_tools.get(name) or ["expression"])[0]
        copied = how == "copied claimed answer"
        expr = str(value) if copied else mind.mod.expression(req.item, override)
        values = {"next_thought": f"I should compute {expr} with the {name} tool.",
                  "next_tool_name": name, "next_tool_args": {arg: expr}}
        return _Reply(render_fields(req, values, aux), [], "react: tool")
    value, _, _, how = mind.solve(cot=True)
    finish = "finish" if "finish" in tool_names else tool_names[-1]
    values = {"next_thought": f"I now know the answer: {value}.", "next_tool_name": finish,
              "next_tool_args": {}}
    return _Reply(render_fields(req, values, aux), [], f"react: finish ({how})")


def _solve_item(spec: SimModelSpec, req: Request, mind: Mind, rng: random.Random,
                aux: random.Random) -> _Reply:
    calc = _calc_tool(req.tools) if req.tools else None
    if calc and req.task == "arithmetic" and req.tool_result is None \
            and rng.random() < min(1.0, 0.45 + spec.skill):
        value, chain, override, how = mind.solve(cot=True)
        expr = mind.mod.expression(req.item, override)
        return _Reply(None, [tool_call(calc[0], {calc[1]: expr}, rng)], f"tool call ({how})")
    cot = not req.fields or bool(req.names & (REASON_F | PLAN_F))
    value, chain, _, how = mind.solve(cot=cot)
    if req.fields:
        values = _solver_values(spec, req.fields, value, chain)
        steps = [st["text"] for st in chain[1:]]
        return _Reply(render_fields(req, values, aux,
                                    meaning_of(value, _reasoning(spec, chain, value), steps)), [],
                      how)
    return _Reply(_reasoning(spec, chain, value) + f"\nAnswer: {value}", [], how)


# --------------------------------------------------------------------------- anything else

_QUERY_ARGS = {"query", "q", "question", "search", "search_query", "input", "text", "prompt",
               "topic", "keywords", "request", "user_query"}
_PLACE_ARGS = {"location", "city", "place", "country", "destination"}


def _generic_values(req: Request, text: str, computed: str | None, prompt: str) -> dict[str, Any]:
    """What a model means for each field of a request it does not recognise."""
    # e.g. "Add 3 and 4" -> a=3, b=4
    numbers = re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.]\d)", prompt)
    answer_fields = _answer_fields(req.fields) if req.fields else []
    values: dict[str, Any] = {}
    for f in req.fields:
        value = _generic_value(f, f.name in answer_fields, req.role, text, computed, prompt,
                               numbers)
        if value is not MISSING:
            values[f.name] = value
    return values


def _generic_value(f: Field, is_answer: bool, role: str, text: str, computed: str | None,
                   prompt: str, numbers: list[str]) -> Any:
    """What a model means for field ``f`` (MISSING: nothing, the schema's filler decides)."""
    value = _read_value(f, is_answer, role, computed, prompt, numbers)
    return value if value is not MISSING else _written_value(f, is_answer, text, computed, prompt)


def _read_value(f: Field, is_answer: bool, role: str, computed: str | None, prompt: str,
                numbers: list[str]) -> Any:
    """A value taken from the prompt: its next number, steps for a plan, a place name."""
    if f.kind in ("integer", "number") and numbers and not (is_answer and computed is not None):
        return numbers.pop(0)
    if f.name in PLAN_F and (role == "planner" or f.kind == "array"):
        steps = _generic_steps(prompt)
        return steps if f.kind == "array" else "\n".join(steps)
    if f.name.lower() in _PLACE_ARGS and f.kind == "string":
        return _place(prompt)
    return MISSING


def _written_value(f: Field, is_answer: bool, text: str, computed: str | None, prompt: str) -> Any:
    """The answer, the reasoning or the query, for a field that asks for one."""
    if is_answer and f.kind not in ("object", "array"):
        # a structured answer is left to the filler
        return computed if computed is not None else text
    if f.name in REASON_F:
        return text
    if f.name.lower() in _QUERY_ARGS and f.kind == "string":
        return prompt[:80]
    return MISSING


def _place(prompt: str) -> str:
    """The last capitalised name in the prompt that does not start a sentence (e.g. a city),
    else the prompt."""
    names = re.findall(r"(?<=[a-z,] )[A-Z][a-z]+(?: [A-Z][a-z]+)*", prompt)
    return names[-1] if names else prompt[:80]


def _generic_steps(prompt: str) -> list[str]:
    topic = " ".join(prompt.split()[:8]).rstrip("?.!") or "the task"
    return [f"Clarify what is needed for: {topic}", "Gather the facts or inputs it depends on",
            "Work through it one part at a time", "Check the result and summarise it"]


def _answer_generic(spec: SimModelSpec, req: Request, rng: random.Random,
                    aux: random.Random) -> _Reply:
    prompt = prompt_of(req)
    expr = _expression(prompt)
    computed = _computed(expr)
    if req.tools and req.tool_result is None:
        calls = _generic_tool_calls(req, expr, prompt, rng, aux)
        if calls is not None:
            return calls
    text = " ".join([_generic_base(req, computed, prompt), *_GENERIC_FILLER[: spec.verbosity]])
    if req.fields:
        values = _generic_values(req, text, computed, prompt)
        if req.role == "react":
            values.update(next_thought=text, next_tool_name=_finish_tool(req), next_tool_args={})
        answer = computed if computed is not None else text
        return _Reply(render_fields(req, values, aux, meaning_of(answer, text)), [],
                      "generic fields")
    return _Reply(text, [], "generic")


def _computed(expr: str | None) -> str | None:
    """The calculator's value of ``expr`` (None without one, or when it cannot be computed)."""
    from .tasks.arithmetic import calculator

    computed = calculator(expr) if expr else None
    return None if computed is not None and computed.startswith("error") else computed


def _generic_tool_calls(req: Request, expr: str | None, prompt: str, rng: random.Random,
                        aux: random.Random) -> _Reply | None:
    """The calls a model makes when offered tools (None: it answers without calling one)."""
    calc = _calc_tool(req.tools)
    if calc and expr:
        return _Reply(None, [tool_call(calc[0], {calc[1]: expr}, rng)], "generic tool call")
    if not calc:
        calls = [_generic_call(req, name, prompt, rng, aux) for name in _tools_to_call(req)]
        return _Reply(None, calls, "generic tool call")
    return None


def _generic_base(req: Request, computed: str | None, prompt: str) -> str:
    if req.tool_result is not None:
        return f"Based on the tool result, the answer is {req.tool_result.strip()[:200]}."
    if computed is not None:
        return f"The answer is {computed}."
    topic = " ".join(prompt.split()[:12])
    return (f"Here is a short answer about \"{topic}\": it depends on the details, but the key "
            "point is clear.")


def _finish_tool(req: Request) -> str:
    """The ReAct tool that ends the loop: ``finish`` if offered (or nothing is), else the last."""
    if "finish" in req.react_tools or not req.react_tools:
        return "finish"
    return list(req.react_tools)[-1]


def _generic_call(req: Request, name: str, prompt: str, rng: random.Random,
                  aux: random.Random) -> dict[str, Any]:
    sub = _as_tool_request(req, name)
    values = _generic_values(sub, prompt[:80], None, prompt)
    return tool_call(name, shape_object(sub, values, aux, meaning_of(prompt[:80])), rng)


# --------------------------------------------------------------------------- forced tool calls

def _as_tool_request(req: Request, name: str) -> Request:
    """The request as "answer with the arguments of tool ``name``"
    (a JSON object of its parameters)."""
    params = req.params.tool(name)["parameters"]
    fields = fields_of(params)
    role = role_for({f.name for f in fields}, req.system, req.last_user, req.item)
    return replace(req, fmt="json", fields=fields, out_schema=params, role=role, dspy=False,
                   params=replace(req.params, tools=(), tool_choice="none", forced_tool=None))


def _forced_calls(spec: SimModelSpec, req: Request, rng: random.Random,
                  aux: random.Random) -> _Reply:
    """``tool_choice`` "required" or a named function: the model must call (one or more) tools."""
    calc = _calc_tool(req.tools)
    if calc and req.task == "arithmetic" and req.params.forced_tool is None:
        names = [calc[0]]
    else:
        names = _tools_to_call(req)
    calls, hows = [], []
    for name in names:
        args, how = _forced_args(spec, req, name, calc, rng, aux)
        calls.append(tool_call(name, args, aux))
        hows.append(how)
    return _Reply(None, calls, "; ".join(hows))


def _forced_args(spec: SimModelSpec, req: Request, name: str, calc: tuple[str, str] | None,
                 rng: random.Random, aux: random.Random) -> tuple[dict[str, Any] | str, str]:
    """The arguments of a forced call of tool ``name`` (a dict,
    or the JSON text the model wrote)."""
    if calc and name == calc[0]:
        if req.task == "arithmetic":
            mind = Mind(spec, req, rng)
            _, _, override, how = mind.solve(cot=True)
            return {calc[1]: mind.mod.expression(req.item, override)}, f"forced tool call ({how})"
        expr = _expression(req.last_user)
        if expr:
            return {calc[1]: expr}, "forced tool call"
    sub = _as_tool_request(req, name)
    answer = _answer_item if sub.item is not None else _answer_generic
    reply = answer(spec, sub, rng, aux)
    return reply.content or "{}", f"forced {reply.how}"


# --------------------------------------------------------------------------- entry point

def _judge(spec: SimModelSpec, req: Request, rng: random.Random) -> _Reply:
    """A judge names the best of the numbered answers: on a bundled item it checks them
    (``Mind.judge``), otherwise it names the answer most of them agree with."""
    answers = judged_answers(req.last_user)
    if req.item is not None:
        return _Reply(str(Mind(spec, req, rng).judge(answers) + 1), [], "judged")
    keys = [" ".join(a.lower().split()) for a in answers]
    return _Reply(str(max(range(len(keys)), key=lambda i: (keys.count(keys[i]), -i)) + 1), [],
                  "judged (generic)")


def _answer(spec: SimModelSpec, req: Request, rng: random.Random, aux: random.Random) -> _Reply:
    if req.params.tool_choice in ("required", "function"):
        return _forced_calls(spec, req, rng, aux)
    if req.role == "judge" and req.fmt == "plain":
        return _judge(spec, req, rng)
    if req.item is not None:
        return _answer_item(spec, req, rng, aux)
    return _answer_generic(spec, req, rng, aux)


def _latency(spec: SimModelSpec, output_tokens: int, rng: random.Random) -> float:
    overhead = spec.latency_median_s * math.exp(spec.latency_sigma * rng.gauss(0.0, 1.0))
    return overhead + output_tokens / spec.tokens_per_s


def _choice(spec: SimModelSpec, req: Request, reply: _Reply, limit: int,
            bad: random.Random) -> SimChoice:
    content, calls = reply.content, reply.tool_calls
    if spec.malformed_json_rate and bad.random() < spec.malformed_json_rate:
        if req.fmt == "json" and content:
            content = malform(content, bad)
        elif calls and req.params.tool_choice in ("required", "function"):
            fn = calls[0]["function"]
            calls = [{**calls[0], "function": {**fn, "arguments": malform(fn["arguments"], bad)}},
                     *calls[1:]]
    n_out = count_tokens((content or "") + "".join(json.dumps(tc["function"]) for tc in calls)) + 1
    finish = "tool_calls" if calls else "stop"
    if n_out > limit and content:
        content = content[: limit * 4]
        n_out, finish = limit, "length"
    info = {"role": req.role, "format": req.fmt, "item": req.item["id"] if req.item else None,
            "how": reply.how, "malformed": content != reply.content or calls != reply.tool_calls}
    return SimChoice(content, calls, n_out, finish, info)


def simulate(
    model: str,
    messages: Sequence[Any],
    *,
    tools: Sequence[dict[str, Any]] | None = None,
    tool_choice: Any = None,
    response_format: Any = None,
    seed: int | None = None,
    max_tokens: int | None = None,
    n: int | None = None,
    parallel_tool_calls: bool | None = None,
    **_: Any,
) -> SimResult:
    """Answer ``messages`` as simulated ``model`` would (``n`` independent choices); deterministic
    in (model, messages, tool names, seed). Bad requests raise ``SimRequestError`` (status,
    param)."""
    spec = get_spec(model)
    check_messages(messages)
    msgs = [as_message(m) for m in messages]
    params = parse_params(tools=tools, tool_choice=tool_choice, response_format=response_format,
                          seed=seed, max_tokens=max_tokens, n=n,
                          parallel_tool_calls=parallel_tool_calls)
    n_in = prompt_tokens(msgs, params.raw_tools)
    if n_in > spec.context_window:
        raise SimContextWindowError(
            f"{spec.name}: prompt has {n_in} tokens but the context window is "
            f"{spec.context_window}; shorten the prompt or pick a model with a larger window",
            param="messages")
    req = read_request(msgs, params)
    limit = min(spec.max_output_tokens, params.max_tokens or spec.max_output_tokens)
    choices, rngs = [], []
    for i in range(params.n):
        rng = _rng(spec.name, msgs, params.raw_tools, params.seed, sample=i)
        aux = _rng(spec.name, msgs, params.raw_tools, params.seed, sample=i, salt="shape")
        bad = _rng(spec.name, msgs, params.raw_tools, params.seed, sample=i, salt="malformed")
        choices.append(_choice(spec, req, _answer(spec, req, rng, aux), limit, bad))
        rngs.append(rng)
    latency = _latency(spec, max(c.output_tokens for c in choices), rngs[0])
    return SimResult(model=spec.name, choices=choices, input_tokens=n_in, latency_s=latency)
