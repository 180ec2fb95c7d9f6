"""The OpenAI chat-completions request contract, as both faces of the zoo check it.

``parse_params(...)`` validates the parameters real SDKs send (``tools``, ``tool_choice``,
``parallel_tool_calls``, ``response_format``, ``n``, ``seed``, ``max_tokens``, ``messages``) and
returns them normalised; a bad one raises ``SimRequestError`` with the status, message and
``param`` the real API gives.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import SimRequestError
from .schema import SchemaError, check_schema

__all__ = ["Params", "parse_params", "check_messages", "check_stream_options", "request_params",
           "MAX_N"]

MAX_N = 128
_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ROLES = ("system", "developer", "user", "assistant", "tool", "function")


@dataclass(frozen=True)
class Params:
    """A checked request: what to answer with and how many answers."""

    # the function definitions ({"name", "parameters", ...})
    tools: tuple[dict[str, Any], ...] = ()
    # "auto" | "required" | "none" | "function" (then forced_tool names it)
    tool_choice: str = "auto"
    forced_tool: str | None = None
    parallel_tool_calls: bool = True
    json_mode: bool = False  # response_format json_object or json_schema
    schema: dict[str, Any] | None = None  # response_format json_schema's schema
    n: int = 1
    seed: int | None = None
    max_tokens: int | None = None
    raw_tools: list[dict[str, Any]] = field(default_factory=list)  # as sent (for token counts)

    def tool(self, name: str) -> dict[str, Any]:
        return next(t for t in self.tools if t["name"] == name)


def _type_name(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
            dict: "object", type(None): "null"}.get(type(value), type(value).__name__)


def _bad_type(param: str, expected: str, value: Any) -> SimRequestError:
    return SimRequestError(f"Invalid type for '{param}': expected {expected}, but got "
                           f"{_type_name(value)} instead.",
                           param=param, code="invalid_type")


def _int(value: Any, param: str, lo: int, hi: int | None = None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad_type(param, "an integer", value)
    if value < lo:
        raise SimRequestError(f"Invalid '{param}': integer below minimum value. Expected a value "
                              f">= {lo}, but got {value} instead.", param=param,
                              code="integer_below_min_value")
    if hi is not None and value > hi:
        raise SimRequestError(f"Invalid '{param}': integer above maximum value. Expected a value "
                              f"<= {hi}, but got {value} instead.", param=param,
                              code="integer_above_max_value")
    return value


def _tools(tools: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if tools is None:
        return [], []
    if not isinstance(tools, list):
        raise _bad_type("tools", "an array", tools)
    out = []
    for i, t in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(t, dict):
            raise _bad_type(where, "an object", t)
        if t.get("type", "function") != "function":
            raise SimRequestError(f"Invalid value: '{t.get('type')}'. Supported values are: "
                                  "'function'.",
                                  param=f"{where}.type", code="invalid_value")
        fn = t.get("function")
        if not isinstance(fn, dict) or "name" not in fn:
            raise SimRequestError(f"Missing required parameter: '{where}.function.name'.",
                                  param=f"{where}.function.name",
                                  code="missing_required_parameter")
        if not isinstance(fn["name"], str) or not _NAME_RE.match(fn["name"]):
            raise SimRequestError(f"Invalid '{where}.function.name': string does not match "
                                  "pattern. Expected a string that matches the pattern "
                                  "'^[a-zA-Z0-9_-]+$'.",
                                  param=f"{where}.function.name", code="invalid_value")
        params = fn.get("parameters", {"type": "object", "properties": {}})
        try:
            check_schema(params, strict=bool(fn.get("strict")))
        except SchemaError as exc:
            raise SimRequestError(f"Invalid schema for function '{fn['name']}': {exc}",
                                  param=f"{where}.function.parameters",
                                  code="invalid_function_parameters") from None
        out.append({"name": fn["name"], "description": fn.get("description") or "",
                    "parameters": params})
    return out, tools


def _tool_choice(choice: Any, tools: list[dict[str, Any]]) -> tuple[str, str | None]:
    if choice is None:
        return ("auto" if tools else "none"), None
    if not tools:
        raise SimRequestError("Invalid value for 'tool_choice': 'tool_choice' is only allowed "
                              "when 'tools' are specified.", param="tool_choice", code=None)
    if isinstance(choice, str):
        if choice not in ("none", "auto", "required"):
            raise SimRequestError(f"Invalid value: '{choice}'. Supported values are: 'none', "
                                  "'auto', and 'required'.",
                                  param="tool_choice", code="invalid_value")
        return choice, None
    if not isinstance(choice, dict) or choice.get("type") != "function":
        raise SimRequestError("Invalid value for 'tool_choice': expected 'none', 'auto', "
                              "'required' or {'type': 'function', 'function': {'name': ...}}.",
                              param="tool_choice", code="invalid_value")
    name = (choice.get("function") or {}).get("name") if isinstance(choice.get("function"),
                                                                    dict) else None
    if not isinstance(name, str):
        raise SimRequestError("Missing required parameter: 'tool_choice.function.name'.",
                              param="tool_choice.function.name", code="missing_required_parameter")
    if name not in {t["name"] for t in tools}:
        raise SimRequestError(f"Invalid value for 'tool_choice': no function named '{name}' was "
                              "specified in the 'tools' parameter.", param="tool_choice",
                              code="invalid_value")
    return "function", name


def _response_format(fmt: Any) -> tuple[bool, dict[str, Any] | None]:
    if fmt is None:
        return False, None
    if hasattr(fmt, "model_json_schema"):  # a pydantic class handed to litellm in-process
        fmt = {"type": "json_schema",
               "json_schema": {"name": fmt.__name__, "schema": fmt.model_json_schema()}}
    if not isinstance(fmt, dict):
        raise _bad_type("response_format", "an object", fmt)
    kind = fmt.get("type")
    if kind == "text":
        return False, None
    if kind == "json_object":
        return True, None
    if kind != "json_schema":
        raise SimRequestError(f"Invalid value: '{kind}'. Supported values are: 'json_object', "
                              "'json_schema', and 'text'.", param="response_format.type",
                              code="invalid_value")
    spec = fmt.get("json_schema")
    if not isinstance(spec, dict):
        raise SimRequestError("Missing required parameter: 'response_format.json_schema'.",
                              param="response_format.json_schema",
                              code="missing_required_parameter")
    name = spec.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise SimRequestError("Missing required parameter: 'response_format.json_schema.name'."
                              if name is None else
                              "Invalid 'response_format.json_schema.name': string does not match "
                              "pattern. Expected a string that matches the pattern "
                              "'^[a-zA-Z0-9_-]+$'.",
                              param="response_format.json_schema.name", code="invalid_value")
    schema = spec.get("schema", {"type": "object"})
    try:
        check_schema(schema, strict=bool(spec.get("strict")))
    except SchemaError as exc:
        raise SimRequestError(f"Invalid schema for response_format '{name}': {exc}",
                              param="response_format", code="invalid_json_schema") from None
    return True, schema


def check_messages(messages: Any) -> None:
    """The message list a chat completion needs (roles,
    tool results answering earlier tool calls)."""
    if not isinstance(messages, list):
        raise _bad_type("messages", "an array", messages)
    if not messages:
        raise SimRequestError("Invalid 'messages': empty array. Expected an array with minimum "
                              "length 1, but got an empty array instead.", param="messages",
                              code="empty_array")
    call_ids: set[str] = set()
    for i, m in enumerate(messages):
        _check_message(i, m, call_ids)


def _check_message(i: int, m: Any, call_ids: set[str]) -> None:
    """Message ``i``; ``call_ids``: the ids of the tool calls made so far
    (this message's added)."""
    if not isinstance(m, dict) and not hasattr(m, "role"):
        raise _bad_type(f"messages[{i}]", "an object", m)
    role = m.get("role") if isinstance(m, dict) else getattr(m, "role", None)
    if role not in _ROLES:
        raise SimRequestError(f"Invalid value: '{role}'. Supported values are: 'system', "
                              "'assistant', 'user', 'function', 'tool', and 'developer'.",
                              param=f"messages[{i}].role", code="invalid_value")
    if not isinstance(m, dict):
        return
    for tc in m.get("tool_calls") or []:
        tc_id = tc.get("id") if isinstance(tc, dict) else getattr(tc, "id", None)
        if tc_id:
            call_ids.add(str(tc_id))
    if role == "tool" and str(m.get("tool_call_id")) not in call_ids:
        raise SimRequestError("Invalid parameter: messages with role 'tool' must be a response to "
                              "a preceeding message with 'tool_calls'.",
                              param=f"messages.[{i}].role", code=None)
    if not isinstance(m.get("content"), (str, list, type(None))):
        raise _bad_type(f"messages[{i}].content", "one of a string or array of objects",
                        m.get("content"))


def check_stream_options(stream: Any, stream_options: Any) -> bool:
    """Whether a final usage chunk is wanted; 400 for stream options without streaming."""
    if stream_options is None:
        return False
    if not stream:
        raise SimRequestError("The 'stream_options' parameter is only allowed when 'stream' is "
                              "enabled.",
                              param="stream_options", code=None)
    if not isinstance(stream_options, dict):
        raise _bad_type("stream_options", "an object", stream_options)
    return bool(stream_options.get("include_usage"))


def parse_params(*, tools: Sequence[dict[str, Any]] | None = None, tool_choice: Any = None,
                 parallel_tool_calls: Any = None, response_format: Any = None, n: Any = None,
                 seed: Any = None, max_tokens: Any = None, max_completion_tokens: Any = None,
                 **_: Any) -> Params:
    """Check the request parameters; ``SimRequestError`` (400, naming the parameter)
    when one is bad."""
    fns, raw = _tools(list(tools) if isinstance(tools, tuple) else tools)
    choice, forced = _tool_choice(tool_choice, fns)
    if parallel_tool_calls is not None and not isinstance(parallel_tool_calls, bool):
        raise _bad_type("parallel_tool_calls", "a boolean", parallel_tool_calls)
    json_mode, schema = _response_format(response_format)
    if isinstance(seed, bool) or (seed is not None and not isinstance(seed, int)):
        raise _bad_type("seed", "an integer", seed)
    limit = _int(max_completion_tokens, "max_completion_tokens", 1) or \
        _int(max_tokens, "max_tokens", 1)
    return Params(tools=tuple(fns) if choice != "none" else (), tool_choice=choice,
                  forced_tool=forced, parallel_tool_calls=parallel_tool_calls is not False,
                  json_mode=json_mode, schema=schema, n=_int(n, "n", 1, MAX_N) or 1, seed=seed,
                  max_tokens=limit, raw_tools=raw if choice != "none" else [])


def request_params(body: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of a request body (or litellm optional params) that shape the answer."""
    keys = ("tools", "tool_choice", "parallel_tool_calls", "response_format", "n", "seed",
            "max_tokens", "max_completion_tokens")
    return {k: body[k] for k in keys if body.get(k) is not None}
