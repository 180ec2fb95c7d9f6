"""JSON Schema for the simulated zoo: check a caller's schema the way the OpenAI API does, and
produce values that validate against it, carrying what the model means to say where a field asks
for it.

Supported when producing values: ``type`` (also lists), ``properties``/``required``/
``additionalProperties``/``minProperties``, ``items``/``prefixItems``/``minItems``/``maxItems``/
``uniqueItems``, ``enum``, ``const``, ``anyOf``/``oneOf``/``allOf``, ``$ref`` into ``$defs`` /
``definitions`` (recursion included), string ``minLength``/``maxLength``/``format`` (date,
date-time, time, email, uri, uuid), numeric bounds and ``multipleOf``. ``pattern`` is honoured only
when the value happens to match (values for fields with a pattern may not validate).
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any, Final
from urllib.parse import unquote

__all__ = ["MISSING", "SchemaError", "check_schema", "is_valid", "Shaper", "json_type"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
_MAX_REF_HOPS = 32


class SchemaError(ValueError):
    """A schema the API would refuse; the message says where."""


# --------------------------------------------------------------------------- checking

def check_schema(schema: Any, *, strict: bool = False) -> None:
    """Raise SchemaError if ``schema`` is not a usable JSON Schema
    (or breaks OpenAI's strict rules)."""
    import jsonschema

    if not isinstance(schema, dict):
        raise SchemaError(f"schema must be a JSON object, got {type(schema).__name__}")
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        raise SchemaError(f"{exc.message}" + (f" (at '{where}')" if where else "")) from None
    for ref in _refs(schema):
        try:
            _pointer(schema, ref)
        except SchemaError:
            raise SchemaError(f"reference '{ref}' cannot be resolved; only local refs such as "
                              "'#/$defs/Name' are supported") from None
    if strict:
        root = _Doc(schema).resolve(schema)
        if "object" not in _types(root):
            raise SchemaError(f"schema must be a JSON Schema of 'type: \"object\"', got 'type: "
                              f"\"{_types(root)[0]}\"'.")
        _check_strict(schema, ())


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        out = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return out + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _check_strict(node: Any, ctx: tuple[str, ...]) -> None:
    """OpenAI's structured-output rules:
    every object closes its properties and requires them all."""
    if isinstance(node, list):
        for i, v in enumerate(node):
            _check_strict(v, (*ctx, str(i)))
        return
    if not isinstance(node, dict):
        return
    if _is_object_schema(node) and "$ref" not in node:
        _check_closed(node, ctx)
    for sub, where in _subschemas(node, ctx):
        _check_strict(sub, where)


def _is_object_schema(node: dict[str, Any]) -> bool:
    t = node.get("type")
    return t == "object" or (isinstance(t, list) and "object" in t) or "properties" in node


def _check_closed(node: dict[str, Any], ctx: tuple[str, ...]) -> None:
    if node.get("additionalProperties") is not False:
        raise SchemaError(f"In context={ctx}, 'additionalProperties' is required to be supplied "
                          "and to be false.")
    missing = [k for k in node.get("properties", {}) if k not in (node.get("required") or [])]
    if missing:
        raise SchemaError(f"In context={ctx}, 'required' is required to be supplied and to be an "
                          f"array including every key in properties. Missing '{missing[0]}'.")


def _subschemas(node: dict[str, Any],
                ctx: tuple[str, ...]) -> Iterator[tuple[Any, tuple[str, ...]]]:
    """(sub-schema, its context) for the schemas ``node`` holds."""
    for key in ("properties", "$defs", "definitions"):
        for name, sub in (node.get(key) or {}).items():
            yield sub, (*ctx, key, name)
    for key in ("items", "anyOf", "allOf", "oneOf", "prefixItems", "additionalProperties"):
        if isinstance(node.get(key), (dict, list)):
            yield node[key], (*ctx, key)


@lru_cache(maxsize=256)
def _validator(blob: str) -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(json.loads(blob))


def is_valid(value: Any, schema: dict[str, Any]) -> bool:
    """Does ``value`` validate against ``schema`` (jsonschema, Draft 2020-12)?"""
    return _validator(json.dumps(schema, sort_keys=True)).is_valid(value)


# --------------------------------------------------------------------------- resolving

def _pointer(root: dict[str, Any], ref: str) -> Any:
    if not ref.startswith("#"):
        raise SchemaError(ref)
    node: Any = root
    for part in [p for p in ref[1:].split("/") if p]:
        part = unquote(part).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise SchemaError(ref)
    return node


class _Doc:
    """A root schema that resolves ``$ref`` and merges ``allOf`` into one node."""

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def resolve(self, node: Any) -> dict[str, Any]:
        if node is True or node is None:
            return {}
        if node is False:
            return {"not": {}}
        node = dict(node)
        for _ in range(_MAX_REF_HOPS):
            ref = node.pop("$ref", None)
            if not isinstance(ref, str):
                break
            node = {**_pointer(self.root, ref), **node}
        if isinstance(node.get("allOf"), list):
            parts = [self.resolve(p) for p in node.pop("allOf")]
            for part in parts:
                node = _merge(node, part)
        return node


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = {**b, **a}
    if "properties" in a or "properties" in b:
        out["properties"] = {**b.get("properties", {}), **a.get("properties", {})}
    if "required" in a or "required" in b:
        out["required"] = list(dict.fromkeys([*b.get("required", []), *a.get("required", [])]))
    return out


def _types(s: dict[str, Any]) -> list[str]:
    t = s.get("type")
    if isinstance(t, str):
        return [t]
    if isinstance(t, list) and t:
        return list(t)
    if any(k in s for k in ("properties", "required", "additionalProperties", "minProperties")):
        return ["object"]
    if any(k in s for k in ("items", "prefixItems", "minItems", "maxItems")):
        return ["array"]
    if any(k in s
           for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")):
        return ["number"]
    return ["string"]


def json_type(schema: dict[str, Any], root: dict[str, Any] | None = None) -> str:
    """The main JSON type a schema asks for ("string", "array", ...; "enum" for enums)."""
    s = _Doc(root or schema).resolve(schema)
    if "enum" in s or "const" in s:
        return "enum"
    for key in ("anyOf", "oneOf"):
        branches = [b for b in s.get(key) or []
                    if _Doc(root or schema).resolve(b).get("type") != "null"]
        if branches:
            return json_type(branches[0], root or schema)
    return next((t for t in _types(s) if t != "null"), "null")


# --------------------------------------------------------------------------- producing values

_NAMES = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Edsger Dijkstra",
          "Barbara Liskov"]
_PERSON_KEYS = ("author", "person", "people", "scientist", "owner", "assignee", "member",
                "employee", "speaker", "first_name", "last_name", "full_name", "username",
                "user_name", "contact", "participant")
_TITLES = ["{T}", "Overview of {T}", "Key ideas: {T}", "{T} in practice", "Open questions on {T}"]
_CITIES = ["Lisbon", "Nairobi", "Osaka", "Toronto", "Lima", "Oslo"]
_SENTENCES = ["A short note on {t}.", "The key point about {t}.", "{T}, in brief.",
              "What matters most for {t}.", "A practical take on {t}."]
_QUERY_NAMES = {"query", "q", "question", "search", "search_query", "input", "text", "prompt",
                "topic", "keywords", "request", "task", "objective", "goal", "message",
                "user_query"}
_FORMATS = {"date": "2024-05-17", "date-time": "2024-05-17T09:30:00Z", "time": "09:30:00",
            "email": "alex@example.com", "uri": "https://example.com/notes",
            "url": "https://example.com/notes", "hostname": "example.com", "ipv4": "192.0.2.7"}
_FORMAT_RE = {"date": r"\d{4}-\d{2}-\d{2}",
              "date-time": r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
              "time": r"\d{2}:\d{2}:\d{2}", "email": r"[^@\s]+@[^@\s]+\.[^@\s]+",
              "uri": r"[a-z][a-z0-9+.-]*:\S+",
              "uuid": r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"}


def _norm(text: Any) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", str(text).lower()).split())


class Shaper:
    """Produces schema-valid values for one root schema.

    ``meaning(name)`` returns what the model means to put into a property of that name (or
    MISSING); ``topic`` is a few words of the prompt for plausible filler; ``context`` is the
    conversation (an enum option or a listed choice it mentions is preferred, as a model would);
    ``null_rate`` is how often an optional (nullable) value is null; ``optional_rate`` how often a
    non-required property is sent.
    """

    def __init__(self, root: dict[str, Any], rng: random.Random, *,
                 meaning: Callable[[str], Any] | None = None, topic: str = "the question",
                 context: str = "", null_rate: float = 0.1, optional_rate: float = 0.8,
                 max_depth: int = 5) -> None:
        self.doc, self.rng = _Doc(root), rng
        self.meaning = meaning or (lambda name: MISSING)
        self.topic = " ".join(topic.split()[:8]).rstrip("?.!") or "the question"
        self.context = f" {_norm(context)} "
        self.null_rate, self.optional_rate, self.max_depth = null_rate, optional_rate, max_depth

    # ---- entry points ------------------------------------------------------------------------
    def shape(self, value: Any, schema: Any, name: str = "", depth: int = 0) -> Any:
        """``value`` fitted to ``schema`` when it can be, else a fresh value for ``schema``."""
        fitted = self.fit(value, schema, name, depth)
        return fitted if fitted is not MISSING else self.make(schema, name, depth)

    def make(self, schema: Any, name: str = "", depth: int = 0, label: str = "") -> Any:
        """A fresh valid value (what the model means for ``name``, when it means something);
        ``label`` names the value for plausible filler when it has no name (an array item)."""
        s = self.doc.resolve(schema)
        if name:
            meant = self.meaning(name)
            if meant is not MISSING:
                fitted = self.fit(meant, s, "", depth)
                if fitted is not MISSING:
                    return fitted
        if "const" in s:
            return s["const"]
        if isinstance(s.get("enum"), list) and s["enum"]:
            return self._choose(s["enum"])
        branches = s.get("anyOf") or s.get("oneOf")
        if isinstance(branches, list) and branches:
            return self.make(self._pick_branch(branches, depth), name, depth, label)
        kind = self._pick_type(_types(s), depth)
        return getattr(self, f"_make_{kind}", self._make_string)(s, name or label, depth)

    def fit(self, value: Any, schema: Any, name: str = "", depth: int = 0) -> Any:
        """``value`` shaped into ``schema`` (coerced, clipped, completed),
        or MISSING if it cannot be."""
        if value is MISSING:
            return MISSING
        s = self.doc.resolve(schema)
        if "const" in s:
            return s["const"] if _norm(value) == _norm(s["const"]) else MISSING
        if isinstance(s.get("enum"), list):
            return _match_enum(value, s["enum"])
        branches = s.get("anyOf") or s.get("oneOf")
        if isinstance(branches, list):
            ordered = sorted(branches,
                             key=lambda b: (value is None) != (self.doc.resolve(b).get("type")
                                                               == "null"))
            for b in ordered:
                got = self.fit(value, b, name, depth)
                if got is not MISSING:
                    return got
            return MISSING
        types = _types(s)
        if value is None:
            return None if "null" in types else MISSING
        for kind in [t for t in types if t != "null"]:
            got = getattr(self, f"_fit_{kind}", lambda *a: MISSING)(value, s, name, depth)
            if got is not MISSING:
                return got
        return MISSING

    # ---- choices -----------------------------------------------------------------------------
    def _pick_type(self, types: list[str], depth: int) -> str:
        real = [t for t in types if t != "null"]
        if not real or ("null" in types
                        and (depth >= self.max_depth or self.rng.random() < self.null_rate)):
            return "null"
        return real[0]

    def _pick_branch(self, branches: list[Any], depth: int) -> Any:
        nulls = [b for b in branches if self.doc.resolve(b).get("type") == "null"]
        real = [b for b in branches if b not in nulls]
        if not real or (nulls and (depth >= self.max_depth or self.rng.random() < self.null_rate)):
            return nulls[0] if nulls else branches[0]
        if depth >= self.max_depth:  # prefer a branch that ends the recursion
            flat = [b for b in real if _types(self.doc.resolve(b))[0] not in ("object", "array")]
            real = flat or real
        return self.rng.choice(real)

    # ---- fresh values ------------------------------------------------------------------------
    def _make_null(self, s: dict[str, Any], name: str, depth: int) -> None:
        return None

    def _make_boolean(self, s: dict[str, Any], name: str, depth: int) -> bool:
        return self.rng.random() < 0.7

    def _make_integer(self, s: dict[str, Any], name: str, depth: int) -> int:
        return int(self._number(s, integer=True))

    def _make_number(self, s: dict[str, Any], name: str, depth: int) -> float:
        return self._number(s, integer=False)

    def _number(self, s: dict[str, Any], integer: bool) -> float:
        lo, hi = _bounds(s, integer)
        step = s.get("multipleOf")
        if isinstance(step, (int, float)) and not isinstance(step, bool) and step > 0:
            k_lo, k_hi = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
            start = self.rng.randint(k_lo, max(k_lo, k_hi))
            for k in [start, *range(k_lo, min(k_hi, k_lo + 200) + 1), 0]:
                v = k * step
                if float(v).is_integer():
                    v = round(v)
                if (not integer or isinstance(v, int)) and _in_bounds(v, s):
                    return v
            return int(lo) if integer else lo
        if integer:
            return self.rng.randint(int(lo), max(int(lo), int(hi)))
        if hi <= lo:
            return lo
        v = lo + (hi - lo) * (0.1 + 0.8 * self.rng.random())
        return round(v, 2) if _in_bounds(round(v, 2), s) else v

    def _make_string(self, s: dict[str, Any], name: str, depth: int) -> str:
        fmt = s.get("format")
        if fmt == "uuid":
            bits = self.rng.getrandbits  # drawn left to right
            text = f"{bits(32):08x}-{bits(16):04x}-4{bits(12):03x}-a{bits(12):03x}-{bits(48):012x}"
        elif fmt in _FORMATS:
            text = _FORMATS[fmt]
        else:
            text = self._text_for(name, str(s.get("description") or ""))
        return _clip_string(text, s)

    def _choose(self, options: list[Any]) -> Any:
        """One of ``options``: those the conversation mentions first, else any."""
        mentioned = [o for o in options if _norm(o) and f" {_norm(o)} " in self.context]
        return self.rng.choice(mentioned or options)

    def _text_for(self, name: str, description: str = "") -> str:
        n = name.lower()
        text = self._described_text(description)
        if text is None:
            text = self._identifier_text(n)
        return text if text is not None else self._prose_text(n, description)

    def _described_text(self, description: str) -> str | None:
        """A value the field's description spells out (a listed choice, true / false), or None."""
        listed = re.search(r"\b(\w+(?:\s*\|\s*\w+)+)\b", description)  # "home|gym|hotel or null"
        if listed:
            options = [o.strip() for o in listed.group(1).split("|")]
            return self._choose([o for o in options if o not in ("null", "none")])
        if re.search(r"^\s*(?:true|false)\b|\btrue or false\b|\byes or no\b|^\s*whether\b",
                     description, re.I):
            return "true" if self.rng.random() < 0.7 else "false"
        return None

    def _identifier_text(self, n: str) -> str | None:
        """An email, link, date or id for a field named like one (``n`` lower case), or None."""
        if "email" in n:
            return "alex@example.com"
        if n.endswith("url") or "link" in n or n in ("uri", "website", "homepage", "source"):
            return "https://example.com/" + "-".join(_norm(self.topic).split()[:4])
        if "date" in n:
            return "2024-05-17"
        if n == "id" or n.endswith("_id"):
            return f"{n}-{self.rng.randint(100, 999)}"
        return None

    def _prose_text(self, n: str, description: str) -> str:
        """A person, title, place, the topic or a sentence about it, by the field's name."""
        t = self.topic
        capital = t[:1].upper() + t[1:]
        if any(k in n for k in _PERSON_KEYS) or ("name" in n and re.search(
                r"person|people|author|user|who", description, re.I)):
            return self.rng.choice(_NAMES)
        if "name" in n:
            return self.rng.choice(_TITLES).format(T=capital)
        if n in ("city", "location", "place", "country"):
            return self.rng.choice(_CITIES)
        if n in _QUERY_NAMES:
            return t
        if "title" in n or "heading" in n or "subject" in n:
            return capital
        return self.rng.choice(_SENTENCES).format(t=t, T=capital)

    def _make_array(self, s: dict[str, Any], name: str, depth: int) -> list[Any]:
        prefix = _prefix(s)
        lo, hi = int(s.get("minItems", 0)), s.get("maxItems")
        hi = int(hi) if hi is not None else max(lo, 3)
        n = lo if depth >= self.max_depth else min(hi, max(lo, self.rng.randint(1, 3)))
        if s.get("items") is False:
            n = min(n, len(prefix))
        out: list[Any] = []
        for i in range(n):
            out.append(self._fresh_item(_item(s, prefix, i), out, bool(s.get("uniqueItems")), name,
                                        depth))
        if s.get("uniqueItems"):
            out = _unique(out)
        return out

    def _fresh_item(self, sub: Any, taken: list[Any], unique: bool, name: str, depth: int) -> Any:
        value = self.make(sub, "", depth + 1, label=name)
        tries = 0
        while unique and _key(value) in {_key(v) for v in taken} and tries < 20:
            value, tries = self.make(sub, "", depth + 1, label=name), tries + 1
        return value

    def _make_object(self, s: dict[str, Any], name: str, depth: int) -> dict[str, Any]:
        props = s.get("properties") or {}
        required = set(s.get("required") or [])
        out: dict[str, Any] = {}
        for key, sub in props.items():
            if key in required or (depth < self.max_depth
                                   and self.rng.random() < self.optional_rate):
                out[key] = self.make(sub, key, depth + 1)
        extra = s.get("additionalProperties", True)
        while len(out) < int(s.get("minProperties", 0)) and extra is not False:
            key = next(k for k in (f"key{i}" for i in range(1, 1000)) if k not in out)
            out[key] = self.make(extra if isinstance(extra, dict) else {"type": "string"}, key,
                                 depth + 1)
        return out

    # ---- fitting a meant value -----------------------------------------------------------------
    def _fit_string(self, value: Any, s: dict[str, Any], name: str, depth: int) -> Any:
        if isinstance(value, list):
            text = "\n".join(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
                             for v in value)
        elif isinstance(value, dict):
            text = json.dumps(value, ensure_ascii=False)
        else:
            text = str(value)
        fmt = s.get("format")
        if fmt in _FORMAT_RE and not re.fullmatch(_FORMAT_RE[fmt], text):
            return MISSING
        text = _clip_string(text, s)
        if isinstance(s.get("pattern"), str) and not _search(s["pattern"], text):
            return MISSING
        return text

    def _fit_integer(self, value: Any, s: dict[str, Any], name: str, depth: int) -> Any:
        number = _as_number(value)
        if number is MISSING or not float(number).is_integer():
            return MISSING
        return int(number) if _in_bounds(int(number), s) else MISSING

    def _fit_number(self, value: Any, s: dict[str, Any], name: str, depth: int) -> Any:
        number = _as_number(value)
        if number is MISSING:
            return MISSING
        return float(number) if _in_bounds(float(number), s) else MISSING

    def _fit_boolean(self, value: Any, s: dict[str, Any], name: str, depth: int) -> Any:
        if isinstance(value, bool):
            return value
        text = _norm(value)
        if text in ("true", "yes", "correct"):
            return True
        return False if text in ("false", "no", "incorrect") else MISSING

    def _fit_null(self, value: Any, s: dict[str, Any], name: str, depth: int) -> Any:
        return MISSING

    def _fit_array(self, value: Any, s: dict[str, Any], name: str, depth: int) -> Any:
        if isinstance(value, dict):
            return MISSING
        prefix = _prefix(s)
        out = [self.shape(v, _item(s, prefix, i), "", depth + 1)
               for i, v in enumerate(_as_items(value))]
        if s.get("uniqueItems"):
            out = _unique(out)
        hi = s.get("maxItems")
        if s.get("items") is False:
            hi = min(len(prefix), hi if hi is not None else len(prefix))
        out = out[: int(hi)] if hi is not None else out
        while len(out) < int(s.get("minItems", 0)):
            sub = _item(s, prefix, len(out))
            out.append(self._fresh_item(sub, out, bool(s.get("uniqueItems")), name, depth))
        return out

    def _fit_object(self, value: Any, s: dict[str, Any], name: str, depth: int) -> Any:
        props = s.get("properties") or {}
        if not isinstance(value, dict):
            return self._object_around(value, s, depth)
        extra = s.get("additionalProperties", True)
        out: dict[str, Any] = {}
        for key, v in value.items():
            if key in props:
                out[key] = self.shape(v, props[key], key, depth + 1)
            elif isinstance(extra, dict):
                out[key] = self.shape(v, extra, key, depth + 1)
            elif extra is not False:
                out[key] = v
        for key in s.get("required") or []:
            if key not in out and key in props:
                out[key] = self.make(props[key], key, depth + 1)
        return out if len(out) >= int(s.get("minProperties", 0)) else MISSING

    def _object_around(self, value: Any, s: dict[str, Any], depth: int) -> Any:
        """An object whose main property carries a scalar meant value
        (e.g. a plan step's title)."""
        props = s.get("properties") or {}
        required = list(s.get("required") or [])
        order = sorted(props, key=lambda k: (k not in required, _main_rank(k)))
        for key in order:
            got = self.fit(value, props[key], key, depth + 1)
            if got is not MISSING:
                obj = self._make_object(s, "", depth)
                obj[key] = got
                return obj
        return MISSING


def _prefix(s: dict[str, Any]) -> list[Any]:
    """The schemas of an array's first items (``prefixItems``)."""
    prefix = s.get("prefixItems")
    return prefix if isinstance(prefix, list) else []


def _item(s: dict[str, Any], prefix: list[Any], i: int) -> Any:
    """The schema of item ``i`` of an array."""
    return prefix[i] if i < len(prefix) else s.get("items", {})


def _as_items(value: Any) -> list[Any]:
    """A meant value as array items: a list as it is, text line by line, anything else alone."""
    if isinstance(value, str):
        return [line for line in value.splitlines() if line.strip()] or [value]
    return list(value) if isinstance(value, (list, tuple)) else [value]


_MAIN_NAMES = ("answer", "response", "result", "text", "content", "value", "title", "description",
               "step", "name", "summary")


def _main_rank(key: str) -> int:
    k = key.lower()
    return next((i for i, m in enumerate(_MAIN_NAMES) if m in k), len(_MAIN_NAMES))


def _bounds(s: dict[str, Any], integer: bool) -> tuple[float, float]:
    """The inclusive range a fresh number is drawn from (integers: whole bounds)."""
    lo, hi, ex_lo, ex_hi = (_bound(s, k) for k in
                            ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"))
    if integer:
        lo = _tighter(None if lo is None else math.ceil(lo),
                      None if ex_lo is None else math.floor(ex_lo) + 1, max)
        hi = _tighter(None if hi is None else math.floor(hi),
                      None if ex_hi is None else math.ceil(ex_hi) - 1, min)
    else:
        lo, hi = _tighter(lo, ex_lo, max), _tighter(hi, ex_hi, min)
    if lo is None:
        return (1.0, 100.0) if hi is None else (float(hi - 100), float(hi))
    if hi is None:
        return float(lo), float(lo + 100)
    return float(lo), float(max(lo, hi))


def _bound(s: dict[str, Any], key: str) -> float | None:
    v = s.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _tighter(a: float | None, b: float | None,
             pick: Callable[[float, float], float]) -> float | None:
    """``pick(a, b)`` of the bounds that are set (None if neither is)."""
    if a is None or b is None:
        return b if a is None else a
    return pick(a, b)


def _in_bounds(x: float, s: dict[str, Any]) -> bool:
    """``x`` within the schema's bounds and ``multipleOf``
    (checked the way jsonschema checks it)."""
    checks = [("minimum", lambda b: x >= b), ("maximum", lambda b: x <= b),
              ("exclusiveMinimum", lambda b: x > b), ("exclusiveMaximum", lambda b: x < b)]
    for key, ok in checks:
        b = s.get(key)
        if isinstance(b, (int, float)) and not isinstance(b, bool) and not ok(b):
            return False
    step = s.get("multipleOf")
    if isinstance(step, (int, float)) and not isinstance(step, bool) and step > 0:
        if isinstance(step, float):
            q = x / step
            return math.isfinite(q) and int(q) == q
        return x % step == 0
    return True


def _as_number(value: Any) -> Any:
    if isinstance(value, bool):
        return MISSING
    if isinstance(value, (int, float)):
        return value if math.isfinite(value) else MISSING
    m = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?)\s*", str(value))
    if not m:
        return MISSING
    x = float(m.group(1))
    return int(x) if x.is_integer() and "." not in m.group(1) else x


def _match_enum(value: Any, options: list[Any]) -> Any:
    for opt in options:
        if opt == value and type(opt) is type(value):
            return opt
    norm = _norm(value)
    for opt in options:
        if _norm(opt) == norm and norm:
            return opt
    hits = [opt for opt in options if _norm(opt) and f" {_norm(opt)} " in f" {norm} "]
    return hits[0] if len(hits) == 1 else MISSING


def _clip_string(text: str, s: dict[str, Any]) -> str:
    hi, lo = s.get("maxLength"), s.get("minLength")
    if isinstance(hi, int):
        text = text[:hi]
    if isinstance(lo, int) and len(text) < lo:
        text = text + "." * (lo - len(text))
    return text


def _search(pattern: str, text: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return True


def _key(v: Any) -> str:
    return json.dumps(v, sort_keys=True, default=str)


def _unique(values: list[Any]) -> list[Any]:
    seen: set[str] = set()
    out = []
    for v in values:
        if _key(v) not in seen:
            seen.add(_key(v))
            out.append(v)
    return out
