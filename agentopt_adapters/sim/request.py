"""Reading a chat request: which bundled item it is about, which role the model plays (planner,
solver, critic, ReAct step) and what shape the reply must take (plain text, DSPy ChatAdapter
fields, a JSON object of a schema, tool calls)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .contract import Params
from .mind import norm
from .schema import json_type

__all__ = ["Request", "Field", "read_request", "find_item", "content_text", "message_text",
           "as_message", "role_for", "judged_answers", "ANSWER_F", "PLAN_F", "REASON_F",
           "CRITIC_F", "ANY_SCALAR"]

PLAN_F = {"plan", "steps", "subquestions", "sub_questions", "decomposition", "outline", "approach",
          "strategy", "subgoals", "step_by_step_plan"}
ANSWER_F = {"answer", "final_answer", "result", "solution", "output", "response", "value",
            "number"}
REASON_F = {"reasoning", "rationale", "thought", "thoughts", "explanation", "work", "next_thought",
            "justification"}
CRITIC_F = {"verdict", "is_correct", "correct", "approved", "feedback", "critique", "judgement",
            "judgment", "assessment"}
ANY_SCALAR = {"type": ["integer", "number", "string"]}
_PLANNER_RE = re.compile(
    r"you are (?:a|an|the) (?:\w+ )?planner|\b(?:write|make|create|produce|draft|give|devise) "
    r"(?:a|the) (?:\w+[ -])*plan\b|\bdecompose\b|\bbreak (?:\w+ ){0,3}(?:down|into "
    r"(?:steps|sub-?questions))|\bplanning (?:agent|step|assistant)", re.I)
_JUDGE_RE = re.compile(r"\bpick the best (?:one|answer)\b|\breply with the number of the best "
                       r"answer\b", re.I)
_CANDIDATE_RE = re.compile(r"^\[(\d+)\]\n(.*?)(?=\n\n\[\d+\]\n|\n\nReply with|\Z)", re.M | re.S)
_CRITIC_RE = re.compile(
    r"you are (?:a|an|the) (?:\w+ )?(?:critic|verifier|reviewer|checker)|\bcheck (?:whether|if) "
    r"|\bverify (?:whether|if|the (?:answer|solution))|\breview the (?:answer|solution)", re.I)


# --------------------------------------------------------------------------- messages

def content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "\n".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content)


def as_message(m: Any) -> dict[str, Any]:
    if isinstance(m, dict):
        return m
    if hasattr(m, "model_dump"):
        return m.model_dump()
    return {"role": getattr(m, "role", "user"), "content": getattr(m, "content", str(m))}


def message_text(m: dict[str, Any]) -> str:
    text = content_text(m.get("content"))
    for tc in m.get("tool_calls") or []:
        fn = tc.get("function", {}) if isinstance(tc, dict) else {}
        text += f"\n{fn.get('name', '')}({fn.get('arguments', '')})"
    return text


# --------------------------------------------------------------------------- bundled task items

@lru_cache(maxsize=1)
def _index() -> dict[str, tuple[str, dict[str, Any]]]:
    from .tasks import load_task

    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for name in ("arithmetic", "multihop"):
        for item in load_task(name).items:
            out[norm(item["question"])] = (name, item)
    return out


def find_item(text: str) -> tuple[str, dict[str, Any]] | None:
    """The bundled (task, item) whose question occurs in ``text``."""
    normed = norm(text)
    if not normed:
        return None
    for q, hit in _index().items():
        if q in normed:
            return hit
    return None


# --------------------------------------------------------------------------- the reply's shape

@dataclass(frozen=True)
class Field:
    """One output field: its name, its JSON schema and the schema's main JSON type."""

    name: str
    schema: dict[str, Any]
    kind: str


@dataclass
class Request:
    """What the conversation asks for."""

    messages: list[dict[str, Any]]
    fmt: str  # "plain" | "chat" (DSPy ChatAdapter) | "json" (a JSON object of out_schema)
    fields: list[Field]  # the reply's top-level fields (DSPy output fields or schema properties)
    out_schema: dict[str, Any] | None  # the root schema of a JSON / DSPy reply
    params: Params
    react_tools: dict[str, list[str]]  # DSPy ReAct tools in the prompt: name -> arg names
    role: str  # "planner" | "solver" | "critic" | "react"
    task: str | None
    item: dict[str, Any] | None
    evidence: str  # conversation text after the question (plans, claims, tool results)
    tool_result: str | None
    last_user: str
    system: str = ""
    dspy: bool = False  # DSPy adapter format (fields from its prompt)

    @property
    def tools(self) -> tuple[dict[str, Any], ...]:
        return self.params.tools

    @property
    def names(self) -> set[str]:
        return {f.name for f in self.fields}


def fields_of(schema: dict[str, Any]) -> list[Field]:
    """The top-level properties of an object schema, as fields."""
    from .schema import _Doc

    root = _Doc(schema).resolve(schema)
    return [Field(k, v, json_type(v, schema)) for k, v in (root.get("properties") or {}).items()]


_NOTE_RE = re.compile(r"\{(\w+)\}\s+# note: the value you produce (.+)$")


def _dspy_notes(system: str) -> dict[str, str]:
    """``{field: note}`` from DSPy's field structure
    (ChatAdapter lines or JSONAdapter's JSON strings)."""
    notes: dict[str, str] = {}
    for line in system.splitlines():
        quoted = re.match(r'^\s*"(\w+)": (".*")\s*,?\s*$', line)
        if quoted:
            try:
                line = json.loads(quoted.group(2))
            except ValueError:
                continue
        m = _NOTE_RE.search(line.strip())
        if m:
            notes[m.group(1)] = m.group(2).strip()
    return notes


def _note_schema(type_name: str, note: str | None) -> dict[str, Any]:
    """The JSON schema DSPy asks a field's value to follow (from its note, else its type name)."""
    if note:
        m = re.match(r"must (?:be one of|exactly match \(no extra characters\) one of): (.*)$",
                     note)
        if m:
            return {"type": "string", "enum": [o.strip() for o in m.group(1).split(";")]}
        m = re.match(r"must adhere to the JSON schema: (.*)$", note)
        if m:
            try:
                schema = json.loads(m.group(1))
                return schema if isinstance(schema, dict) else {}
            except ValueError:
                return {}
        if note.startswith("must be a single int"):
            return {"type": "integer"}
        if note.startswith("must be a single float"):
            return {"type": "number"}
        if note.startswith("must be True or False"):
            return {"type": "boolean"}
    simple = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
    if type_name in simple:
        return {"type": simple[type_name]}
    if re.match(r"(?:list|List|tuple|set)\b", type_name):
        return {"type": "array"}
    if re.match(r"(?:dict|Dict)\b", type_name):
        return {"type": "object"}
    return {"type": "string"}


def _with_own_defs(name: str, schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Move a field schema's own ``$defs`` into the combined root's,
    renaming refs to stay unique."""
    own = schema.get("$defs") or {}
    if not own:
        return schema

    def rename(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: rename(v) for k, v in node.items() if k != "$defs"}
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in own:
                out["$ref"] = f"#/$defs/{name}__{ref[8:]}"
            return out
        if isinstance(node, list):
            return [rename(v) for v in node]
        return node

    for key, sub in own.items():
        defs[f"{name}__{key}"] = rename(sub)
    return rename(schema)


def _described(schema: dict[str, Any], description: str) -> dict[str, Any]:
    if description and "description" not in schema:
        return {**schema, "description": description}
    return schema


def dspy_fields(system: str) -> dict[str, Any] | None:
    """The combined object schema of a DSPy signature's output fields (None if it is not DSPy)."""
    m = re.search(r"Your output fields are:\n(.*?)(?:\nAll interactions|\Z)", system, re.S)
    if not m:
        return None
    typed = re.findall(r"^\d+\. `(\w+)` \((.+?)\):(.*)$", m.group(1), re.M)
    if not typed:
        return None
    notes = _dspy_notes(system)
    defs: dict[str, Any] = {}
    props = {f: _described(_with_own_defs(f, _note_schema(t.strip(), notes.get(f)), defs),
                           d.strip())
             for f, t, d in typed}
    root: dict[str, Any] = {"type": "object", "properties": props, "required": list(props)}
    if defs:
        root["$defs"] = defs
    return root


def embedded_schema(text: str) -> dict[str, Any] | None:
    """A JSON schema the prompt asks the reply to follow
    (e.g. LangChain's PydanticOutputParser)."""
    if not re.search(r"json schema|output schema|json instance", text, re.I):
        return None
    for block in re.findall(r"```(?:json)?\s*\n(\{.*?\})\s*\n```", text, re.S):
        try:
            schema = json.loads(block)
        except ValueError:
            continue
        if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
            return schema
    return None


def _default_schema(role: str) -> dict[str, Any]:
    """What a JSON-mode reply holds when nothing says which fields (role-dependent)."""
    if role == "planner":
        props: dict[str, Any] = {"steps": {"type": "array", "items": {"type": "string"}}}
    elif role == "critic":
        props = {"correct": {"type": "boolean"}, "answer": ANY_SCALAR}
    else:
        props = {"answer": ANY_SCALAR}
    return {"type": "object", "properties": props, "required": list(props)}


# --------------------------------------------------------------------------- role

def judged_answers(text: str) -> list[str]:
    """The numbered candidate answers (``[1]``, ``[2]``, ...) a judge prompt lists, in order."""
    return [body.strip() for _, body in _CANDIDATE_RE.findall(text)]


def role_for(names: set[str], system: str, last_user: str, item: dict[str, Any] | None) -> str:
    """planner / solver / critic / react / judge, from the field names, else from the instructions
    (a judge: asked to pick the best of several numbered answers)."""
    if "next_tool_name" in names:
        return "react"
    if names & CRITIC_F:
        return "critic"
    if names & PLAN_F and not names & ANSWER_F:
        return "planner"
    if names:
        return "solver"
    if _JUDGE_RE.search(last_user) and len(judged_answers(last_user)) >= 2:
        return "judge"
    role_text = system or last_user
    if item is not None:
        role_text = role_text.replace(item["question"], " ")
    if _PLANNER_RE.search(role_text):
        return "planner"
    return "critic" if _CRITIC_RE.search(role_text) else "solver"


def _react_tools(system: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, args in re.findall(r"\(\d+\) (\w+), whose description is <desc>.*?</desc>\. It "
                                 r"takes arguments (\{.*?\})\.?\n",
                                 system + "\n", re.S):
        out[name] = re.findall(r"'(\w+)': \{", args)
    return out


def _reply_shape(system: str, last_user: str,
                 params: Params) -> tuple[str, dict[str, Any] | None, bool]:
    """(fmt, schema of the reply or None, is DSPy)."""
    dspy_schema = dspy_fields(system)
    if dspy_schema is not None:
        if "[[ ## completed ## ]]" in last_user:
            return "chat", dspy_schema, True
        if "Respond with a JSON object" in last_user or params.json_mode:
            return "json", params.schema or dspy_schema, True
        return "chat", dspy_schema, True
    if params.schema is not None:
        return "json", params.schema, False
    embedded = embedded_schema(system + "\n" + last_user)
    if params.json_mode or embedded is not None:
        return "json", embedded, False
    return "plain", None, False


def _locate_item(messages: list[dict[str, Any]],
                 users: list[int]) -> tuple[str | None, dict[str, Any] | None, int | None]:
    # the item: last user message first (DSPy demos come earlier), then anything, newest first
    order = ([users[-1]] if users else []) + [i for i in reversed(range(len(messages)))
                                             if messages[i].get("role")
                                              not in ("system", "developer")]
    for i in order:
        hit = find_item(message_text(messages[i]))
        if hit:
            return hit[0], hit[1], i
    return None, None, None


def read_request(messages: list[dict[str, Any]], params: Params) -> Request:
    """What ``messages`` (with checked ``params``) ask of the model."""
    system = "\n".join(content_text(m.get("content")) for m in messages
                       if m.get("role") in ("system", "developer"))
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    last_user = content_text(messages[users[-1]].get("content")) if users else ""
    fmt, schema, is_dspy = _reply_shape(system, last_user, params)
    task, item, q_at = _locate_item(messages, users)
    later = messages[q_at:] if q_at is not None else \
        [m for m in messages if m.get("role") not in ("system", "developer")]
    fields = fields_of(schema) if schema is not None else []
    role = role_for({f.name for f in fields}, system, last_user, item)
    if fmt == "json" and schema is None:
        schema = _default_schema(role)
        fields = fields_of(schema)
    return Request(messages, fmt, fields, schema, params, _react_tools(system), role, task, item,
                   _evidence(later, item), _tool_result(later, last_user), last_user, system,
                   is_dspy)


def _evidence(later: list[dict[str, Any]], item: dict[str, Any] | None) -> str:
    """The text of the messages from the question on, without the question itself."""
    evidence = "\n".join(message_text(m) for m in later)
    return re.sub(re.escape(item["question"]), " ", evidence) if item is not None else evidence


def _tool_result(later: list[dict[str, Any]], last_user: str) -> str | None:
    """The newest tool result: a tool message,
    else a DSPy ReAct observation in the last user turn."""
    tool_msgs = [content_text(m.get("content")) for m in later if m.get("role") == "tool"]
    if tool_msgs:
        return tool_msgs[-1]
    observations = re.findall(r"\[\[ ## observation_\d+ ## \]\]\n(.*?)(?=\n\n\[\[ ## |\n*\Z)",
                              last_user, re.S)
    return observations[-1].strip() if observations else None
