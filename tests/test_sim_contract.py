"""The zoo answers what real apps ask, through the real clients, on both faces (HTTP server and the
in-process ``sim/<name>`` provider): structured output (json_schema and function calling) with
nested Pydantic models, forced tool calls with typed arguments, streaming (LangChain, LangGraph,
DSPy), DSPy typed output fields under both adapters, ``n`` samples, and the API's errors for bad
requests."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import asyncio
import json
import re
from collections.abc import Callable, Iterator
from enum import Enum
from typing import Any, Literal

import dspy
import jsonschema
import litellm
import openai
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from agentopt_adapters import sim
from agentopt_adapters.models import chat_model
from agentopt_adapters.sim import ZOO, simulate
from agentopt_adapters.sim.server import ServerOptions, SimServer, serve_in_thread
from agentopt_adapters.sim.tasks import load_task

sim.register()
ARITH = load_task("arithmetic")
HOP = load_task("multihop")
FACES = ["server", "inproc"]


@pytest.fixture(scope="module")
def server() -> Iterator[SimServer]:
    with serve_in_thread(port=0) as srv:
        yield srv


@pytest.fixture(params=FACES)
def lc(request: pytest.FixtureRequest, server: SimServer) -> Callable[..., Any]:
    """A LangChain chat model for ``sim/<name>``: ChatOpenAI on the server,
    or the in-process provider."""
    if request.param == "server":
        return lambda name, **kw: ChatOpenAI(model=f"sim/{name}", base_url=server.url,
                                             api_key="unused", **kw)
    return lambda name, **kw: chat_model(f"sim/{name}", **kw)


@pytest.fixture(params=FACES)
def lm(request: pytest.FixtureRequest, server: SimServer) -> Callable[[str], dspy.LM]:
    """A dspy.LM for ``sim/<name>``: ``openai/sim/<name>`` at the server,
    or ``sim/<name>`` in-process."""
    if request.param == "server":
        return lambda name: dspy.LM(f"openai/sim/{name}", api_base=server.url, api_key="unused",
                                    cache=False)
    return lambda name: dspy.LM(f"sim/{name}", cache=False)


# ---- LangChain: structured output and tools ----------------------------------------------------

class Step(pydantic.BaseModel):
    title: str
    minutes: int


class Plan(pydantic.BaseModel):
    """A plan for the problem."""

    steps: list[Step]
    owner: str | None
    kind: Literal["quick", "thorough"]


class Solution(pydantic.BaseModel):
    """The solved problem."""

    reasoning: str
    answer: int


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_structured_output_nested_pydantic(lc: Callable[..., Any], method: str) -> None:
    item = ARITH.items[5]
    planner = lc("large").with_structured_output(Plan, method=method)
    plan = planner.invoke(f"Make a plan: {item['question']}")
    assert isinstance(plan, Plan) and plan.steps and all(isinstance(s, Step) for s in plan.steps)
    assert [s.title.split(":")[0] for s in plan.steps] == [f"Step {i}"
                                                           for i in range(1, len(plan.steps) + 1)]
    # task-aware: the answer field carries the model's answer, right as often as its skill allows
    def accuracy(name: str) -> float:
        solver = lc(name).with_structured_output(Solution, method=method)
        return sum(solver.invoke(it["question"]).answer == it["answer"]
                   for it in ARITH.items[:20]) / 20

    strong, weak = accuracy("frontier"), accuracy("nano")
    assert strong >= 0.8 and strong > weak + 0.2, (strong, weak)


class Color(str, Enum):
    red = "red"
    blue = "blue"


class Place(pydantic.BaseModel):
    street: str
    floor: int


@tool
def paint(colors: list[Color], sizes: list[int], where: Place, note: str | None = None) -> str:
    """Paint the given sizes in the given colours at a place."""
    return "done"


@tool
def weather(city: str) -> str:
    """Current weather in a city."""
    return "sunny"


@pytest.mark.parametrize("choice",
                         ["paint", "required",
                          {"type": "function", "function": {"name": "paint"}}])
def test_forced_tool_call_has_typed_arguments(lc: Callable[..., Any], choice: Any) -> None:
    llm = lc("medium").bind_tools([weather, paint], tool_choice=choice)
    ai = llm.invoke("Please paint the fence blue, two coats")
    assert [c["name"] for c in ai.tool_calls] == ["paint"] and not ai.invalid_tool_calls
    args = ai.tool_calls[0]["args"]
    jsonschema.validate(args, paint.tool_call_schema.model_json_schema())
    parsed = paint.args_schema.model_validate(args)
    assert parsed.colors and all(isinstance(c, Color) for c in parsed.colors)
    assert isinstance(parsed.where, Place) and all(isinstance(s, int) for s in parsed.sizes)


def test_parallel_tool_calls_when_asked_for_several(lc: Callable[..., Any]) -> None:
    prompt = "Use weather for Lisbon and paint for the gate"
    both = lc("medium").bind_tools([weather, paint], tool_choice="required").invoke(prompt)
    assert sorted(c["name"] for c in both.tool_calls) == ["paint", "weather"]
    weather_call = next(c for c in both.tool_calls if c["name"] == "weather")
    assert weather_call["args"] == {"city": "Lisbon"}
    one = lc("medium").bind_tools([weather, paint], tool_choice="required",
                                  parallel_tool_calls=False).invoke(prompt)
    assert len(one.tool_calls) == 1


def test_langgraph_stream_messages_yields_token_chunks(lc: Callable[..., Any]) -> None:
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph

    class State(TypedDict, total=False):
        question: str
        answer: str

    llm = lc("large")

    def answer(state: State) -> dict[str, str]:
        return {"answer": llm.invoke(state["question"]).content}

    graph = StateGraph(State)
    graph.add_node("answer", answer)
    graph.add_edge(START, "answer")
    graph.add_edge("answer", END)
    app = graph.compile()
    question = HOP.items[3]["question"]
    stream = app.stream({"question": question}, stream_mode="messages")
    parts = [(msg.content, meta["langgraph_node"]) for msg, meta in stream]
    assert len(parts) >= 5 and {node for _, node in parts} == {"answer"}
    assert "".join(text for text, _ in parts) == app.invoke({"question": question})["answer"]


def test_streamed_tool_call_deltas_assemble(lc: Callable[..., Any]) -> None:
    chunks = list(lc("medium").bind_tools([paint], tool_choice="paint").stream("paint the shed"))
    assert len(chunks) >= 3
    whole = chunks[0]
    for c in chunks[1:]:
        whole = whole + c
    assert whole.tool_calls[0]["name"] == "paint"
    paint.args_schema.model_validate(whole.tool_calls[0]["args"])


# ---- DSPy: typed output fields, both adapters, streaming ---------------------------------------

class Item(pydantic.BaseModel):
    name: str
    qty: int


class Tone(Enum):
    CALM = "calm"
    URGENT = "urgent"


class Typed(dspy.Signature):
    """Solve the problem and describe it."""

    question: str = dspy.InputField()
    tone: Tone = dspy.OutputField()
    kind: Literal["math", "facts"] = dspy.OutputField()
    parts: list[Item] = dspy.OutputField()
    maybe: int | None = dspy.OutputField()
    confidence: float = dspy.OutputField()
    checked: bool = dspy.OutputField()
    answer: int = dspy.OutputField()


@pytest.mark.parametrize("adapter", [dspy.ChatAdapter, dspy.JSONAdapter], ids=["chat", "json"])
@pytest.mark.parametrize("module", [dspy.Predict, dspy.ChainOfThought], ids=["predict", "cot"])
def test_dspy_typed_fields_parse(lm: Callable[[str], dspy.LM], adapter: type,
                                 module: type) -> None:
    prog = module(Typed)
    with dspy.context(lm=lm("large"), adapter=adapter()):
        outs = [prog(question=it["question"]) for it in ARITH.items[:8]]
    for o in outs:
        assert isinstance(o.tone, Tone) and o.kind in ("math", "facts")
        assert o.parts and all(isinstance(i, Item) for i in o.parts)
        assert o.maybe is None or isinstance(o.maybe, int)
        assert isinstance(o.confidence, float)
        assert isinstance(o.checked, bool)
        assert isinstance(o.answer, int)
    assert sum(o.answer == it["answer"] for o, it in zip(outs, ARITH.items)) >= 5


def test_dspy_streamify_yields_chunks(lm: Callable[[str], dspy.LM]) -> None:
    listener = dspy.streaming.StreamListener(signature_field_name="reasoning")
    prog = dspy.streamify(dspy.ChainOfThought("question -> answer"), stream_listeners=[listener])

    async def run() -> tuple[list[str], Any]:
        chunks, final = [], None
        with dspy.context(lm=lm("large")):
            async for x in prog(question=HOP.items[1]["question"]):
                if isinstance(x, dspy.streaming.StreamResponse):
                    chunks.append(x.chunk)
                elif isinstance(x, dspy.Prediction):
                    final = x
        return chunks, final

    chunks, final = asyncio.run(run())
    assert len(chunks) >= 3 and final is not None
    assert "".join(chunks).strip() == final.reasoning.strip()


# ---- samples, usage and malformed JSON ----------------------------------------------------------

def test_n_choices_are_independent_reproducible_samples(server: SimServer) -> None:
    msgs = [{"role": "user", "content": ARITH.items[7]["question"]}]
    local = litellm.completion(model="sim/nano", messages=msgs, n=8)
    texts = [c.message.content for c in local.choices]
    assert len(texts) == 8
    assert len({t.rsplit("Answer:", 1)[-1] for t in texts}) >= 2  # samples differ
    local = litellm.completion(model="sim/nano", messages=msgs)
    assert texts[0] == local.choices[0].message.content
    remote = openai.OpenAI(base_url=server.url, api_key="unused").chat.completions.create(
        model="sim/nano", messages=msgs, n=8)
    assert [c.message.content for c in remote.choices] == texts  # same engine, same samples
    one = simulate("sim/nano", msgs)
    assert remote.usage.prompt_tokens == one.input_tokens
    assert remote.usage.completion_tokens == sum(c.output_tokens
                                                 for c in simulate("sim/nano", msgs, n=8).choices)
    by_seed = {simulate("sim/nano", msgs, seed=s).content for s in range(8)}
    assert len(by_seed) >= 2  # a distinct seed per request is another way to draw samples


def test_streamed_n_choices_match_the_completion(server: SimServer) -> None:
    msgs = [{"role": "user", "content": ARITH.items[9]["question"]}]
    whole = simulate("sim/mini", msgs, n=3)
    local = litellm.stream_chunk_builder(list(litellm.completion(
        model="sim/mini", messages=msgs, n=3, stream=True,
        stream_options={"include_usage": True})))
    assert [c.message.content for c in local.choices] == [c.content for c in whole.choices]
    assert local.usage.prompt_tokens == whole.input_tokens
    assert local.usage.completion_tokens == whole.output_tokens
    client = openai.OpenAI(base_url=server.url, api_key="unused")
    texts = ["", "", ""]
    for chunk in client.chat.completions.create(model="sim/mini", messages=msgs, n=3, stream=True):
        for ch in chunk.choices:
            texts[ch.index] += ch.delta.content or ""
    assert texts == [c.content for c in whole.choices]


def test_stream_usage_chunk_and_content_match_the_completion(server: SimServer) -> None:
    client = openai.OpenAI(base_url=server.url, api_key="unused")
    msgs = [{"role": "user", "content": HOP.items[0]["question"]}]
    chunks = list(client.chat.completions.create(model="sim/small", messages=msgs, stream=True,
                                                 stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert all(c.usage is None for c in chunks[:-1]) and len(chunks) >= 5
    whole = client.chat.completions.create(model="sim/small", messages=msgs)
    text = whole.choices[0].message.content
    assert "".join(c.choices[0].delta.content or "" for c in chunks[:-1]) == text
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    local = list(litellm.completion(model="sim/small", messages=msgs, stream=True,
                                    stream_options={"include_usage": True}))
    assert "".join(c.choices[0].delta.content or "" for c in local if c.choices) == text
    assert local[-1].usage.completion_tokens == whole.usage.completion_tokens


def test_weak_models_write_malformed_json_at_their_documented_rate() -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}},
              "required": ["answer"], "additionalProperties": False}
    fmt = {"type": "json_schema", "json_schema": {"name": "A", "schema": schema, "strict": True}}
    for name in ("sim/nano", "sim/mini", "sim/large"):
        bad = 0
        for it in ARITH.items[:100] + HOP.items[:100]:
            out = simulate(name, [{"role": "user", "content": it["question"]}],
                           response_format=fmt).content
            try:
                jsonschema.validate(json.loads(out), schema)
            except (ValueError, jsonschema.ValidationError):
                bad += 1
        rate = ZOO[name].malformed_json_rate
        assert (rate == 0 and bad == 0) or 0.3 * rate * 200 <= bad <= 2.0 * rate * 200, (name, bad)


# ---- errors: the API's status and body, never a 500 ---------------------------------------------

OBJ = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"],
       "additionalProperties": False}


@pytest.mark.parametrize("kwargs, param, message", [
    ({"response_format": {"type": "json_schema",
                          "json_schema": {"name": "P", "strict": True, "schema": {
        "type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}},
        "required": ["a"], "additionalProperties": False}}}}, "response_format", "Missing 'b'"),
    ({"response_format": {"type": "json_schema",
                          "json_schema": {"name": "P", "schema": {"type": "objekt"}}}},
     "response_format", "Invalid schema for response_format 'P'"),
    ({"response_format": {"type": "xml"}}, "response_format.type", "Invalid value: 'xml'"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": OBJ}}],
      "tool_choice": {"type": "function", "function": {"name": "g"}}}, "tool_choice",
     "no function named 'g'"),
    ({"tools": [{"type": "function", "function": {"name": "bad name"}}]}, "tools[0].function.name",
     "pattern"),
    ({"tool_choice": "required"}, "tool_choice", "only allowed when 'tools' are specified"),
    ({"n": 0}, "n", "Expected a value >= 1"),
    ({"stream_options": {"include_usage": True}}, "stream_options",
     "only allowed when 'stream' is enabled"),
    ({"messages": []}, "messages", "empty array"),
    ({"messages": [{"role": "tool", "content": "4", "tool_call_id": "x"}]}, "messages.[0].role",
     "role 'tool'"),
])
def test_bad_requests_get_400_naming_the_field(server: SimServer, kwargs: dict[str, Any],
                                               param: str, message: str) -> None:
    body = {"model": "sim/small", "messages": [{"role": "user", "content": "hi"}], **kwargs}
    client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(**body)
    assert err.value.status_code == 400
    assert err.value.body["param"] == param
    assert message in err.value.body["message"]
    if "stream_options" not in kwargs:
        # in-process: litellm raises its BadRequestError with the same message
        with pytest.raises(litellm.BadRequestError, match=re.escape(message)):
            litellm.completion(**{**body, "model": "sim/small"})


def test_unknown_model_is_404_on_both_faces(server: SimServer) -> None:
    client = openai.OpenAI(base_url=server.url, api_key="unused", max_retries=0)
    with pytest.raises(openai.NotFoundError, match="unknown simulated model 'sim/gpt-9'"):
        client.chat.completions.create(model="sim/gpt-9",
                                       messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("sim/gpt-9")
    assert client.models.retrieve("sim/small").id == "sim/small"
    with pytest.raises(litellm.NotFoundError, match="available: sim/nano"):
        litellm.completion(model="sim/gpt-9", messages=[{"role": "user", "content": "x"}])


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-3, 200) | st.text(max_size=6),
                           lambda c: st.lists(c, max_size=3)
                           | st.dictionaries(st.text(max_size=5), c, max_size=3),
                           max_leaves=6)
FIELDS = {
    "model": st.sampled_from(["sim/small", "small", "sim/nope", None, 3]),
    "messages": st.one_of(JSON_VALUES, st.just([{"role": "user", "content": "What is 2 + 3?"}]),
                          st.lists(st.fixed_dictionaries(
                              {"role": st.sampled_from(["user", "tool", "bot", "assistant"]),
                               "content": JSON_VALUES}), max_size=2)),
    "tools": st.one_of(JSON_VALUES,
                       st.just([{"type": "function",
                                 "function": {"name": "f", "parameters": OBJ}}])),
    "tool_choice": st.one_of(JSON_VALUES, st.sampled_from(["auto", "required", "none"]),
                             st.just({"type": "function", "function": {"name": "f"}})),
    "response_format": st.one_of(JSON_VALUES, st.fixed_dictionaries({
        "type": st.sampled_from(["json_schema", "json_object", "text"]),
        "json_schema": st.fixed_dictionaries({"name": st.sampled_from(["A", "b c"]),
                                              "schema": st.one_of(JSON_VALUES, st.just(OBJ))})})),
    "n": JSON_VALUES, "seed": JSON_VALUES, "max_tokens": JSON_VALUES,
    "parallel_tool_calls": JSON_VALUES, "stream": st.booleans(), "stream_options": JSON_VALUES,
}


BASE = {"model": "sim/small", "messages": [{"role": "user", "content": "What is 2 + 3?"}]}
CHANGES = st.lists(st.sampled_from(sorted(FIELDS)), min_size=1, max_size=3, unique=True).flatmap(
    lambda keys: st.fixed_dictionaries({k: FIELDS[k] for k in keys}))


@pytest.fixture(scope="module")
def asgi() -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from agentopt_adapters.sim.server import create_app

    with TestClient(create_app(ServerOptions(time_scale=0.0))) as client:
        yield client


@settings(max_examples=200, deadline=None, derandomize=True,  # the same bodies every run
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(change=CHANGES)
def test_any_request_body_gets_an_answer_or_a_4xx_never_a_500(asgi: Any,
                                                              change: dict[str, Any]) -> None:
    resp = asgi.post("/v1/chat/completions", json={**BASE, **change})
    assert resp.status_code in (200, 400, 404), (resp.status_code, resp.text[:300])
    if resp.status_code != 200:
        err = resp.json()["error"]
        assert err["message"] and err["type"] == "invalid_request_error"
