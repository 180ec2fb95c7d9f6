"""The zoo's JSON Schema support: every value it produces validates (a hypothesis property test
over a realistic subset of schemas), meant values are kept where the schema allows, bad schemas are
refused."""

from __future__ import annotations

import random
import re
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentopt_adapters.sim.schema import MISSING, SchemaError, Shaper, check_schema

NAMES = st.sampled_from(["answer", "reasoning", "steps", "title", "name", "score", "tags", "items",
                         "city", "email", "id", "value", "notes", "confidence", "kind", "query",
                         "url", "created"])


def _scalar() -> st.SearchStrategy[dict[str, Any]]:
    def string(lo: int, span: int, fmt: str | None) -> dict[str, Any]:
        s: dict[str, Any] = {"type": "string"}
        if fmt:
            s["format"] = fmt
        elif lo or span:
            s.update(minLength=lo, maxLength=lo + span)
        return s

    def number(kind: str, lo: int | None, span: int, excl: bool, step: Any) -> dict[str, Any]:
        s: dict[str, Any] = {"type": kind}
        if kind == "integer" and isinstance(step, float):
            step = None  # whole-number steps only for integers (a range may then hold no integer)
        if lo is not None:
            if excl:  # open bounds half a step around a run of multiples
                s.update(exclusiveMinimum=(lo - 0.5) * (step or 1),
                         exclusiveMaximum=(lo + span + 0.5) * (step or 1))
            else:  # a satisfiable range: it starts on a multiple of the step
                s.update(minimum=lo * (step or 1), maximum=(lo + span) * (step or 1))
        if step:
            s["multipleOf"] = step
        return s

    return st.one_of(
        st.builds(string, st.integers(0, 5), st.integers(0, 20),
                  st.sampled_from([None, None, None, "date", "date-time", "email", "uri",
                                   "uuid"])),
        st.builds(number, st.sampled_from(["integer", "number"]),
                  st.one_of(st.none(), st.integers(-50, 50)), st.integers(0, 40), st.booleans(),
                  st.sampled_from([None, None, 2, 5, 0.5, 0.25])),
        st.just({"type": "boolean"}),
        st.lists(st.text("abcdefgh xyz", min_size=1, max_size=8), min_size=1, max_size=5,
                 unique=True)
        .map(lambda opts: {"type": "string", "enum": opts}),
        st.lists(st.integers(-5, 50), min_size=1, max_size=4, unique=True)
        .map(lambda o: {"enum": o}),
        st.sampled_from(["fixed", 3, True]).map(lambda c: {"const": c}),
    )


def _extend(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    def obj(props: dict[str, Any], req_mask: list[bool], closed: bool) -> dict[str, Any]:
        s: dict[str, Any] = {"type": "object", "properties": props,
                             "required": [k for k, r in zip(props, req_mask) if r]}
        if closed:
            s["additionalProperties"] = False
        return s

    def arr(items: dict[str, Any], lo: int, span: int) -> dict[str, Any]:
        return {"type": "array", "items": items, "minItems": lo, "maxItems": lo + span}

    return st.one_of(
        st.builds(obj, st.dictionaries(NAMES, children, max_size=5),
                  st.lists(st.booleans(), min_size=5, max_size=5), st.booleans()),
        st.builds(arr, children, st.integers(0, 2), st.integers(0, 3)),
        # Optional[...] as pydantic writes it
        children.map(lambda c: {"anyOf": [c, {"type": "null"}]}),
        children.map(lambda c: {**c, "type": [c["type"], "null"]} if isinstance(c.get("type"), str)
                     else {"anyOf": [c, {"type": "null"}]}),  # Optional[...] as a type list
        st.lists(children, min_size=2, max_size=3).map(lambda cs: {"anyOf": cs}),
    )


SCHEMAS = st.recursive(_scalar(), _extend, max_leaves=12)


def _with_defs(schema: dict[str, Any], shared: dict[str, Any]) -> dict[str, Any]:
    """Move a sub-schema under $defs and point at it (twice),
    as pydantic does for nested models."""
    return {"type": "object", "$defs": {"Shared": shared},
            "properties": {"main": schema, "first": {"$ref": "#/$defs/Shared"},
                           "more": {"type": "array", "items": {"$ref": "#/$defs/Shared"}}},
            "required": ["main", "first", "more"], "additionalProperties": False}


@settings(max_examples=150, deadline=None, derandomize=True,  # the same examples every run
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(schema=SCHEMAS, shared=SCHEMAS, seed=st.integers(0, 2**32),
       meant=st.sampled_from([MISSING, 42, "Paris", ["a", "b"], True, None]))
def test_every_produced_value_validates(schema: dict[str, Any], shared: dict[str, Any], seed: int,
                                        meant: Any) -> None:
    root = _with_defs(schema, shared)
    check_schema(root)  # a valid schema (jsonschema's meta-schema) with resolvable refs
    shaper = Shaper(root, random.Random(seed),
                    meaning=lambda name: meant if name == "answer" else MISSING,
                    topic="plan a trip to the coast")
    validator = jsonschema.Draft202012Validator(root)
    validator.validate(shaper.make(root))
    validator.validate(shaper.shape({"main": meant, "first": meant}, root))
    jsonschema.Draft202012Validator(schema).validate(shaper.shape(meant, schema))


def test_recursive_refs_terminate_and_validate() -> None:
    tree = {"$defs": {"Node": {"type": "object", "additionalProperties": False,
                               "required": ["label", "children"],
                               "properties": {"label": {"type": "string"},
                                              "children": {"type": "array",
                                                           "items": {"$ref": "#/$defs/Node"}}}}},
            "$ref": "#/$defs/Node"}
    for seed in range(20):
        jsonschema.validate(Shaper(tree, random.Random(seed)).make(tree), tree)


def test_meant_values_are_kept_when_the_schema_allows() -> None:
    schema = {"type": "object", "properties": {
        "answer": {"type": "integer"}, "city": {"type": "string", "enum": ["Paris", "Lima"]},
        "steps": {"type": "array", "items": {
            "type": "object", "required": ["title", "minutes"],
            "properties": {"title": {"type": "string"}, "minutes": {"type": "integer"}}}},
        "maybe": {"anyOf": [{"type": "number"}, {"type": "null"}]}},
        "required": ["answer", "city", "steps", "maybe"]}
    shaper = Shaper(schema, random.Random(0))
    out = shaper.shape({"answer": "42", "city": "paris", "steps": "Step 1: go\nStep 2: eat",
                        "maybe": 3}, schema)
    assert out["answer"] == 42 and out["city"] == "Paris" and out["maybe"] == 3.0
    assert [s["title"] for s in out["steps"]] == ["Step 1: go", "Step 2: eat"]
    jsonschema.validate(out, schema)
    assert shaper.fit("x", {"type": "integer"}) is MISSING
    assert shaper.fit(150, {"type": "integer", "maximum": 100}) is MISSING


@pytest.mark.parametrize("schema, strict, message", [
    ({"type": "objectx"}, False, "'objectx' is not valid"),
    ({"type": "object", "properties": {"a": {"$ref": "#/$defs/Missing"}}}, False,
     "'#/$defs/Missing' cannot be resolved"),
    ({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}, True,
     "'additionalProperties' is required to be supplied and to be false"),
    ({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
      "required": ["a"], "additionalProperties": False}, True, "Missing 'b'"),
    ({"type": "array", "items": {"type": "string"}}, True,
     "must be a JSON Schema of 'type: \"object\"'"),
    ([1, 2], False, "must be a JSON object"),
])
def test_bad_schemas_are_refused_with_the_place(schema: Any, strict: bool, message: str) -> None:
    with pytest.raises(SchemaError, match=re.escape(message)):
        check_schema(schema, strict=strict)
