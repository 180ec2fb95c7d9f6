"""The deterministic answering logic shared by the litellm provider and the HTTP server.

``simulate(model, messages, tools=..., seed=...)`` reads the conversation, recognises a bundled
task item (by its question), the role asked (planner / solver / critic, from the system prompt or
DSPy output field names) and the output format (plain text, DSPy ChatAdapter ``[[ ## f ## ]]``
sections, DSPy JSONAdapter object, OpenAI tool calls), then answers. Skill decides how often each
step is right, and a solver's chance depends on the plan it was given, so slot choices interact.
All randomness comes from a hash of (model, messages, tools, seed).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Sequence

from ..errors import ModelError
from .zoo import ZOO, SimModelSpec, get_spec

__all__ = ["SimResult", "simulate", "count_tokens", "prompt_tokens", "find_item", "SimContextWindowError"]


class SimContextWindowError(ModelError):
    """The prompt does not fit the simulated model's context window."""


@dataclass
class SimResult:
    """One simulated completion."""

    model: str
    content: str | None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    finish_reason: str = "stop"
    info: dict[str, Any] = field(default_factory=dict)  # role/format/item id, for debugging


# --------------------------------------------------------------------------- tokens, hashing

def count_tokens(text: str) -> int:
    """Approximate BPE token count (~4 characters per token, at least one per word-ish chunk)."""
    if not text:
        return 0
    return max(1, math.ceil(len(text) / 4), math.ceil(len(text.split()) * 0.75))


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "\n".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content)


def _msg(m: Any) -> dict[str, Any]:
    if isinstance(m, dict):
        return m
    if hasattr(m, "model_dump"):
        return m.model_dump()
    return {"role": getattr(m, "role", "user"), "content": getattr(m, "content", str(m))}


def _message_text(m: dict[str, Any]) -> str:
    text = _content_text(m.get("content"))
    for tc in m.get("tool_calls") or []:
        fn = tc.get("function", {}) if isinstance(tc, dict) else {}
        text += f"\n{fn.get('name', '')}({fn.get('arguments', '')})"
    return text


def prompt_tokens(messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] | None = None) -> int:
    """Input tokens: message texts plus a few tokens of chat framing, plus tool schemas."""
    n = 3 + sum(4 + count_tokens(_message_text(m)) for m in messages)
    if tools:
        n += count_tokens(json.dumps(tools, sort_keys=True))
    return n


def _rng(model: str, messages: Sequence[dict[str, Any]], tools: Any, seed: int | None) -> random.Random:
    blob = json.dumps(
        [model, [[m.get("role"), _message_text(m)] for m in messages],
         sorted(t.get("function", {}).get("name", "") for t in tools or []), seed],
        sort_keys=True, default=str,
    )
    return random.Random(int.from_bytes(hashlib.sha256(blob.encode()).digest()[:8], "big"))


# --------------------------------------------------------------------------- bundled task items

def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


@lru_cache(maxsize=1)
def _index() -> dict[str, tuple[str, dict[str, Any]]]:
    from .tasks import load_task

    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for name in ("arithmetic", "multihop"):
        for item in load_task(name).items:
            out[_norm(item["question"])] = (name, item)
    return out


def find_item(text: str) -> tuple[str, dict[str, Any]] | None:
    """The bundled (task, item) whose question occurs in ``text``."""
    norm = _norm(text)
    if not norm:
        return None
    for q, hit in _index().items():
        if q in norm:
            return hit
    return None


def _task_module(task: str) -> Any:
    from .tasks import arithmetic, multihop

    return arithmetic if task == "arithmetic" else multihop


# --------------------------------------------------------------------------- request parsing

_PLAN_F = {"plan", "steps", "subquestions", "sub_questions", "decomposition", "outline", "approach",
           "strategy", "subgoals", "step_by_step_plan"}
_ANSWER_F = {"answer", "final_answer", "result", "solution", "output", "response", "value", "number"}
_REASON_F = {"reasoning", "rationale", "thought", "thoughts", "explanation", "work", "next_thought"}
_CRITIC_F = {"verdict", "is_correct", "correct", "approved", "feedback", "critique", "judgement",
             "judgment", "assessment"}
_PLANNER_RE = re.compile(
    r"you are (?:a|an|the) (?:\w+ )?planner|\b(?:write|make|create|produce|draft|give|devise) "
    r"(?:a|the) (?:\w+[ -])*plan\b|\bdecompose\b|\bbreak (?:\w+ ){0,3}(?:down|into (?:steps|sub-?questions))"
    r"|\bplanning (?:agent|step|assistant)", re.I)
_CRITIC_RE = re.compile(
    r"you are (?:a|an|the) (?:\w+ )?(?:critic|verifier|reviewer|checker)|\bcheck (?:whether|if) "
    r"|\bverify (?:whether|if|the (?:answer|solution))|\breview the (?:answer|solution)", re.I)


@dataclass
class Request:
    """What the conversation asks for."""

    messages: list[dict[str, Any]]
    fmt: str  # "plain" | "chat" (DSPy ChatAdapter) | "json"
    fields: list[tuple[str, str]]  # DSPy output fields (name, type)
    tools: list[dict[str, Any]]
    react_tools: dict[str, list[str]]  # ReAct tools in the prompt: name -> arg names
    role: str  # "planner" | "solver" | "critic" | "react"
    task: str | None
    item: dict[str, Any] | None
    evidence: str  # conversation text after the question (plans, claims, tool results)
    tool_result: str | None
    last_user: str


def _output_fields(system: str) -> list[tuple[str, str]]:
    m = re.search(r"Your output fields are:\n(.*?)(?:\nAll interactions|\Z)", system, re.S)
    if not m:
        return []
    return [(f, t.strip()) for f, t in re.findall(r"^\d+\. `(\w+)` \((.+?)\):", m.group(1), re.M)]


def _react_tools(system: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, args in re.findall(r"\(\d+\) (\w+), whose description is <desc>.*?</desc>\. It takes arguments (\{.*?\})\.?\n",
                                 system + "\n", re.S):
        out[name] = re.findall(r"'(\w+)': \{", args)
    return out


def _parse_request(messages: list[dict[str, Any]], tools: list[dict[str, Any]], response_format: Any) -> Request:
    system = "\n".join(_content_text(m.get("content")) for m in messages if m.get("role") in ("system", "developer"))
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    last_user = _content_text(messages[users[-1]].get("content")) if users else ""
    fields = _output_fields(system)
    if fields and "[[ ## completed ## ]]" in last_user:
        fmt = "chat"
    elif fields and "Respond with a JSON object" in last_user:
        fmt = "json"
    elif isinstance(response_format, dict) and response_format.get("type") in ("json_object", "json_schema"):
        fmt = "json"
    else:
        fmt = "plain"
    if fmt == "plain" and fields and "[[ ## " in last_user:
        fmt = "chat"

    # the item: last user message first (DSPy demos come earlier), then anything, newest first
    task = item = None
    q_at = None
    order = ([users[-1]] if users else []) + [i for i in reversed(range(len(messages)))
                                             if messages[i].get("role") not in ("system", "developer")]
    for i in order:
        hit = find_item(_message_text(messages[i]))
        if hit:
            (task, item), q_at = hit, i
            break
    later = messages[q_at:] if q_at is not None else [m for m in messages if m.get("role") not in ("system", "developer")]
    evidence = "\n".join(_message_text(m) for m in later)
    if item is not None:
        evidence = re.sub(re.escape(item["question"]), " ", evidence)
    tool_msgs = [_content_text(m.get("content")) for m in later if m.get("role") == "tool"]
    observations = re.findall(r"\[\[ ## observation_\d+ ## \]\]\n(.*?)(?=\n\n\[\[ ## |\n*\Z)", last_user, re.S)
    tool_result = tool_msgs[-1] if tool_msgs else (observations[-1].strip() if observations else None)

    names = {f for f, _ in fields}
    react = _react_tools(system)
    if "next_tool_name" in names:
        role = "react"
    elif names & _CRITIC_F:
        role = "critic"
    elif names & _PLAN_F and not names & _ANSWER_F:
        role = "planner"
    elif names:
        role = "solver"
    else:
        role_text = system or last_user
        if item is not None:
            role_text = role_text.replace(item["question"], " ")
        role = ("planner" if _PLANNER_RE.search(role_text) else
                "critic" if _CRITIC_RE.search(role_text) else "solver")
    return Request(messages, fmt, fields, tools, react, role, task, item, evidence, tool_result, last_user)


# --------------------------------------------------------------------------- the model's reasoning

def _p_plan(s: float, d: int) -> float:
    """Chance of a fully correct worked plan of ``d`` steps."""
    return s ** (0.5 * d)


def _p_follow(s: float) -> float:
    """Chance of executing a correct plan without slipping."""
    return 1 - 0.35 * (1 - s)


def _p_recover(s: float, same_family: bool) -> float:
    """Chance of spotting and fixing a flawed plan (models miss their own kind of mistakes)."""
    return s * s * (0.15 if same_family else 0.7)


class _Mind:
    """One model working one item."""

    def __init__(self, spec: SimModelSpec, req: Request, rng: random.Random) -> None:
        self.spec, self.req, self.rng = spec, req, rng
        self.s = spec.skill
        self.item = req.item
        self.mod = _task_module(req.task) if req.task else None
        self.d = int(self.item.get("difficulty", 3)) if self.item else 0

    # values ---------------------------------------------------------------
    def gold_chain(self) -> list[dict[str, Any]]:
        return self.mod.chain(self.item)

    def wrong(self, value: Any, relation: str | None = None) -> Any:
        if isinstance(value, int):
            delta = self.rng.choice([-10, -6, -4, -3, -2, -1, 1, 2, 3, 5, 7, 10])
            return value + delta if value + delta != value else value + 1
        options = [e for e in self.mod.entities_of(relation) if e != value] if relation else []
        return self.rng.choice(options) if options else f"{value} (unsure)"

    def flawed_chain(self) -> tuple[list[dict[str, Any]], dict[int, Any]]:
        gold = self.gold_chain()
        i = self.rng.randint(1, len(gold) - 1)
        rel = self.item["meta"]["relations"][i - 1] if self.req.task == "multihop" else None
        override = {i: self.wrong(gold[i]["value"], rel)}
        return self.mod.chain(self.item, override), override

    def answer_relation(self) -> str | None:
        return self.item["meta"]["relations"][-1] if self.req.task == "multihop" else None

    def values_in(self, text: str) -> list[Any]:
        """Candidate answer values mentioned in ``text``, in order of appearance."""
        if self.req.task == "arithmetic":
            return [int(x) for x in re.findall(r"(?<![\w.])-?\d+(?![\w.]\d)", text)]
        found = []
        low = text.lower()
        for e in self.mod.entities_of(self.answer_relation()):
            for m in re.finditer(re.escape(e.lower()), low):
                found.append((m.start(), e))
        return [e for _, e in sorted(found)]

    # reading the evidence --------------------------------------------------
    def assess(self) -> tuple[str, Any, dict[int, Any] | None]:
        """('good'|'flawed'|'claim'|'none', claimed value, override reproducing a flawed plan)."""
        ev = self.req.evidence
        gold = self.gold_chain()
        ev_norm = f" {_norm(ev)} "
        values = self.values_in(ev)
        claimed = values[-1] if values else None
        steps_like = bool(re.search(r"(?im)^\s*(?:[-*]\s*)?(?:step\s*\d+[:.)]?|\d+[.)])\s", ev))
        has_all = all(f" {_norm(str(st['value']))} " in ev_norm for st in gold[1:])
        if steps_like and has_all and claimed == gold[-1]["value"]:
            return "good", claimed, None
        if steps_like:
            override = None
            if self.req.task == "arithmetic":
                plan_vals = [int(x) for x in re.findall(r"=\s*(-?\d+)", ev)]
                for i, st in enumerate(gold[1:], start=1):
                    if i - 1 < len(plan_vals) and plan_vals[i - 1] != st["value"]:
                        override = {i: plan_vals[i - 1]}
                        break
            else:
                for i, st in enumerate(gold[1:], start=1):
                    if f" {_norm(str(st['value']))} " not in ev_norm:
                        rel = self.item["meta"]["relations"][i - 1]
                        cands = [e for e in self.values_in_rel(ev, rel)]
                        if cands:
                            override = {i: cands[0]}
                        break
            if claimed is None and override:
                claimed = self.mod.chain(self.item, override)[-1]["value"]
            return "flawed", claimed, override
        if claimed is not None and re.search(r"answer|result|\bis\b", ev, re.I):
            return "claim", claimed, None
        return "none", None, None

    def values_in_rel(self, text: str, relation: str) -> list[Any]:
        low = text.lower()
        return [e for e in self.mod.entities_of(relation) if e.lower() in low]

    def same_family(self) -> bool:
        return self.spec.plan_header.lower() in self.req.evidence.lower()

    def solve(self, cot: bool = True) -> tuple[Any, list[dict[str, Any]], dict[int, Any] | None, str]:
        """(final value, the steps it worked through, override used, how) for a solver."""
        gold = self.gold_chain()
        r = self.rng.random
        if self.req.tool_result is not None:
            got = self.values_in(self.req.tool_result)
            if got and r() < 0.97 + 0.03 * self.s:
                return got[0], gold, None, "tool"
        kind, claimed, override = self.assess()
        if kind == "good":
            if r() < _p_follow(self.s):
                return gold[-1]["value"], gold, None, "followed plan"
            return self.slip(gold)
        if kind == "flawed":
            if r() < _p_recover(self.s, self.same_family()):
                return gold[-1]["value"], gold, None, "fixed flawed plan"
            chain = self.mod.chain(self.item, override) if override else gold[:-1] + [
                {"text": gold[-1]["text"], "value": claimed}]
            return claimed, chain, override, "followed flawed plan"
        if kind == "claim" and r() < 0.9 - 0.4 * self.s:
            return claimed, gold[:1], None, "copied claimed answer"
        # on its own: write its own plan (chain of thought) or answer directly
        p = _p_plan(self.s, self.d) if cot else _p_plan(self.s, int(self.d * 1.6))
        if r() < p:
            if r() < _p_follow(self.s):
                return gold[-1]["value"], gold, None, "solved alone"
            return self.slip(gold)
        chain, override = self.flawed_chain()
        if r() < _p_recover(self.s, True):
            return gold[-1]["value"], gold, None, "solved alone (self-corrected)"
        return chain[-1]["value"], chain, override, "solved alone (wrong)"

    def slip(self, gold: list[dict[str, Any]]) -> tuple[Any, list[dict[str, Any]], None, str]:
        bad = self.wrong(gold[-1]["value"], self.answer_relation())
        return bad, gold[:-1] + [{"text": gold[-1]["text"], "value": bad}], None, "slipped"

    def plan(self) -> tuple[str, list[str], Any]:
        """(plan text, step lines, final value) for a planner; an over-capable model may just answer."""
        if self.spec.direct_answer_rate and self.rng.random() < self.spec.direct_answer_rate:
            ok = self.rng.random() < _p_plan(self.s, int(self.d * 3))
            value = self.gold_chain()[-1]["value"] if ok else self.wrong(self.gold_chain()[-1]["value"],
                                                                         self.answer_relation())
            text = f"No plan needed - this is straightforward. The answer is {value}."
            return text, [text], value
        chain = self.gold_chain() if self.rng.random() < _p_plan(self.s, self.d) else self.flawed_chain()[0]
        lines = [f"Step {i}: {st['text'][0].upper()}{st['text'][1:]}" for i, st in enumerate(chain[1:], start=1)]
        tail = ["Check each intermediate result before moving on."] * (self.spec.verbosity >= 2)
        final = chain[-1]["value"]
        text = "\n".join([self.spec.plan_header, *lines, *tail, f"This gives {final}."])
        return text, lines, final

    def critique(self) -> tuple[bool, Any]:
        """(says correct?, corrected value) for a critic reviewing a proposed answer."""
        gold = self.gold_chain()[-1]["value"]
        values = self.values_in(self.req.evidence)
        proposed = values[-1] if values else None
        if proposed == gold:
            return (True, gold) if self.rng.random() < 0.7 + 0.3 * self.s else (False, self.wrong(gold, self.answer_relation()))
        if self.rng.random() < self.s ** 1.5:
            fixed = gold if self.rng.random() < _p_plan(self.s, self.d) else self.wrong(gold, self.answer_relation())
            return False, fixed
        return True, proposed


# --------------------------------------------------------------------------- rendering

def _calc_tool(tools: list[dict[str, Any]]) -> tuple[str, str] | None:
    """(tool name, expression argument) of a calculator-like tool, if any."""
    for t in tools:
        fn = t.get("function", t)
        name = fn.get("name", "")
        props = list((fn.get("parameters") or {}).get("properties", {}) or {})
        blob = f"{name} {fn.get('description', '')} {' '.join(props)}".lower()
        if re.search(r"calc|math|arith|evaluat|comput|expression", blob):
            return name, (props[0] if props else "expression")
    return None


def _tool_call(name: str, args: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    return {"id": f"call_{rng.getrandbits(48):012x}", "type": "function",
            "function": {"name": name, "arguments": json.dumps(args)}}


def _field_value(name: str, typ: str, text_value: Any, rng: random.Random) -> Any:
    """A generic value of DSPy type ``typ``."""
    t = typ.lower()
    if t.startswith("literal["):
        opts = re.findall(r"'([^']*)'|\"([^\"]*)\"", typ)
        return next((a or b for a, b in opts), "")
    if t in ("int",):
        return int(text_value) if isinstance(text_value, int) else rng.randint(1, 100)
    if t in ("float",):
        return float(text_value) if isinstance(text_value, (int, float)) else round(rng.random() * 10, 2)
    if t == "bool":
        return True
    if t.startswith("list"):
        return [str(text_value)] if text_value is not None else []
    if t.startswith("dict"):
        return {}
    return str(text_value) if text_value is not None else ""


def _coerce(value: Any, typ: str) -> Any:
    t = typ.lower()
    if t == "int":
        try:
            return int(float(str(value)))
        except ValueError:
            return 0
    if t == "float":
        try:
            return float(str(value))
        except ValueError:
            return 0.0
    if t == "bool":
        return bool(value)
    if t.startswith("list") and not isinstance(value, list):
        return [line for line in str(value).splitlines() if line.strip()]
    if t == "str" and not isinstance(value, str):
        return str(value) if not isinstance(value, list) else "\n".join(map(str, value))
    return value


def _render_fields(req: Request, values: dict[str, Any]) -> str:
    typed = {f: _coerce(values.get(f, ""), t) for f, t in req.fields}
    if req.fmt == "json":
        return json.dumps(typed, ensure_ascii=False)
    parts = []
    for f, t in req.fields:
        v = typed[f]
        if isinstance(v, (list, dict)):
            v = json.dumps(v, ensure_ascii=False)
        parts.append(f"[[ ## {f} ## ]]\n{v}")
    return "\n\n".join(parts) + "\n\n[[ ## completed ## ]]"


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


def _reasoning(spec: SimModelSpec, chain: list[dict[str, Any]], value: Any) -> str:
    lines = [f"{st['text'][0].upper()}{st['text'][1:]}." for st in chain[1:]] if len(chain) > 1 else []
    lines += _FILLER[: spec.verbosity]
    lines.append(f"So the answer is {value}.")
    return " ".join(lines)


def _answer_item(spec: SimModelSpec, req: Request, rng: random.Random) -> tuple[str | None, list[dict[str, Any]], str]:
    mind = _Mind(spec, req, rng)
    names = {f for f, _ in req.fields}
    calc = _calc_tool(req.tools) if req.tools else None
    if req.role == "planner":
        text, lines, _ = mind.plan()
        if req.fields:
            values = {f: (lines if t.lower().startswith("list") else text) for f, t in req.fields}
            return _render_fields(req, values), [], "planned"
        return text, [], "planned"

    if req.role == "critic":
        ok, fixed = mind.critique()
        if req.fields:
            values = {}
            for f, t in req.fields:
                if t.lower() == "bool" or f in ("is_correct", "correct", "approved"):
                    values[f] = ok
                elif f in _ANSWER_F:
                    values[f] = fixed
                else:
                    values[f] = "The proposed answer is correct." if ok else f"Incorrect; it should be {fixed}."
            return _render_fields(req, values), [], "critiqued"
        text = "VERDICT: CORRECT" if ok else f"VERDICT: INCORRECT. The answer should be {fixed}."
        return text, [], "critiqued"

    if req.role == "react":
        tool_names = list(req.react_tools) or ["finish"]
        calc_names = [n for n in tool_names if re.search(r"calc|math|arith|eval|comput", n, re.I)]
        observed = req.tool_result is not None
        if req.task == "arithmetic" and calc_names and not observed and rng.random() < min(1.0, 0.45 + spec.skill):
            value, chain, override, how = mind.solve(cot=True)
            name = calc_names[0]
            arg = (req.react_tools.get(name) or ["expression"])[0]
            expr = mind.mod.expression(req.item, override) if how != "copied claimed answer" else str(value)
            values = {"next_thought": f"I should compute {expr} with the {name} tool.",
                      "next_tool_name": name, "next_tool_args": {arg: expr}}
            return _render_fields(req, values), [], "react: tool"
        value, chain, _, how = mind.solve(cot=True)
        finish = "finish" if "finish" in tool_names else tool_names[-1]
        values = {"next_thought": f"I now know the answer: {value}.", "next_tool_name": finish, "next_tool_args": {}}
        return _render_fields(req, values), [], f"react: finish ({how})"

    # solver
    if calc and req.task == "arithmetic" and req.tool_result is None and rng.random() < min(1.0, 0.45 + spec.skill):
        value, chain, override, how = mind.solve(cot=True)
        expr = mind.mod.expression(req.item, override)
        return None, [_tool_call(calc[0], {calc[1]: expr}, rng)], f"tool call ({how})"
    cot = not req.fields or bool(names & (_REASON_F | _PLAN_F))
    value, chain, _, how = mind.solve(cot=cot)
    if req.fields:
        values: dict[str, Any] = {}
        answer_fields = [f for f, _ in req.fields if f in _ANSWER_F] or [
            [f for f, _ in req.fields if f not in _REASON_F | _PLAN_F] or [req.fields[-1][0]]][0][-1:]
        for f, t in req.fields:
            if f in answer_fields:
                values[f] = value
            elif f in _PLAN_F:
                values[f] = [st["text"] for st in chain[1:]] if t.lower().startswith("list") else _reasoning(spec, chain, value)
            else:
                values[f] = _reasoning(spec, chain, value)
        return _render_fields(req, values), [], how
    return _reasoning(spec, chain, value) + f"\nAnswer: {value}", [], how


def _answer_generic(spec: SimModelSpec, req: Request, rng: random.Random) -> tuple[str | None, list[dict[str, Any]], str]:
    from .tasks.arithmetic import calculator

    prompt = req.last_user.strip() or req.evidence.strip()
    expr = re.search(r"(?<![\w.])[-(]*\d[\d\s.+\-*/()]*[+\-*/]\s*[(\d][\d\s.+\-*/()]*", prompt)
    computed = calculator(expr.group(0).strip()) if expr else None
    if computed is not None and computed.startswith("error"):
        computed = None
    if req.tools and req.tool_result is None:
        calc = _calc_tool(req.tools)
        if calc and expr:
            return None, [_tool_call(calc[0], {calc[1]: expr.group(0).strip()}, rng)], "generic tool call"
        if not calc:
            fn = req.tools[0].get("function", req.tools[0])
            props = (fn.get("parameters") or {}).get("properties", {}) or {}
            args = {k: (1 if v.get("type") in ("integer", "number") else True if v.get("type") == "boolean"
                        else prompt[:80]) for k, v in props.items()}
            return None, [_tool_call(fn.get("name", "tool"), args, rng)], "generic tool call"
    if req.tool_result is not None:
        base = f"Based on the tool result, the answer is {req.tool_result.strip()[:200]}."
    elif computed is not None:
        base = f"The answer is {computed}."
    else:
        topic = " ".join(prompt.split()[:12])
        base = f"Here is a short answer about \"{topic}\": it depends on the details, but the key point is clear."
    text = " ".join([base, *_GENERIC_FILLER[: spec.verbosity]])
    if req.fields:
        values = {f: _field_value(f, t, computed if computed is not None else text, rng) for f, t in req.fields}
        if req.role == "react":
            values.update(next_thought=text, next_tool_name="finish" if "finish" in req.react_tools or not req.react_tools
                          else list(req.react_tools)[-1], next_tool_args={})
        return _render_fields(req, values), [], "generic fields"
    if req.fmt == "json":
        return json.dumps({"answer": computed if computed is not None else text}), [], "generic json"
    return text, [], "generic"


def _latency(spec: SimModelSpec, output_tokens: int, rng: random.Random) -> float:
    overhead = spec.latency_median_s * math.exp(spec.latency_sigma * rng.gauss(0.0, 1.0))
    return overhead + output_tokens / spec.tokens_per_s


def simulate(
    model: str,
    messages: Sequence[Any],
    *,
    tools: Sequence[dict[str, Any]] | None = None,
    tool_choice: Any = None,
    response_format: Any = None,
    seed: int | None = None,
    max_tokens: int | None = None,
    **_: Any,
) -> SimResult:
    """Answer ``messages`` as simulated ``model`` would; deterministic in (model, messages, tools, seed)."""
    spec = get_spec(model)
    msgs = [_msg(m) for m in messages]
    if not msgs:
        raise ModelError(f"{spec.name}: messages is empty; pass at least one user message")
    tool_list = [] if tool_choice == "none" else list(tools or [])
    n_in = prompt_tokens(msgs, tool_list)
    if n_in > spec.context_window:
        raise SimContextWindowError(
            f"{spec.name}: prompt has {n_in} tokens but the context window is {spec.context_window}; "
            "shorten the prompt or pick a model with a larger window"
        )
    rng = _rng(spec.name, msgs, tool_list, seed)
    req = _parse_request(msgs, tool_list, response_format)
    if req.item is not None:
        content, tool_calls, how = _answer_item(spec, req, rng)
    else:
        content, tool_calls, how = _answer_generic(spec, req, rng)
    out_text = (content or "") + "".join(json.dumps(tc["function"]) for tc in tool_calls)
    n_out = count_tokens(out_text) + 1
    finish = "tool_calls" if tool_calls else "stop"
    limit = min(spec.max_output_tokens, max_tokens or spec.max_output_tokens)
    if n_out > limit and content:
        content = content[: limit * 4]
        n_out, finish = limit, "length"
    return SimResult(
        model=spec.name, content=content, tool_calls=tool_calls, input_tokens=n_in, output_tokens=n_out,
        latency_s=_latency(spec, n_out, rng), finish_reason=finish,
        info={"role": req.role, "format": req.fmt, "item": req.item["id"] if req.item else None, "how": how},
    )
