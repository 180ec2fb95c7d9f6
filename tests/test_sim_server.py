"""HTTP way in: OpenAI-compatible server used by the openai SDK, litellm and LangChain; faults;
CLI."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import json
import re
from collections.abc import Iterator

import httpx
import litellm
import openai
import pytest
from typer.testing import CliRunner

from agentopt_adapters.cli import app
from agentopt_adapters.errors import AgentOptError
from agentopt_adapters.models import chat_model, pricing
from agentopt_adapters.sim import ZOO, simulate
from agentopt_adapters.sim.server import FAULTS, SimServer, serve_in_thread
from agentopt_adapters.sim.tasks import load_task

ITEM = load_task("arithmetic").items[2]


@pytest.fixture(scope="module")
def server() -> Iterator[SimServer]:
    srv = serve_in_thread(port=0)
    yield srv
    srv.stop()


def test_models_endpoint(server: SimServer) -> None:
    client = openai.OpenAI(base_url=server.url, api_key="unused")
    assert [m.id for m in client.models.list().data] == list(ZOO)


def test_openai_sdk_gets_the_same_answer_as_in_process(server: SimServer) -> None:
    client = openai.OpenAI(base_url=server.url, api_key="unused")
    msgs = [{"role": "user", "content": ITEM["question"]}]
    r = client.chat.completions.create(model="sim/medium", messages=msgs, seed=5)
    local = simulate("sim/medium", msgs, seed=5)
    assert r.choices[0].message.content == local.content
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (local.input_tokens,
                                                                  local.output_tokens)


def test_litellm_over_http_with_usage_and_price(server: SimServer) -> None:
    r = litellm.completion(model="openai/sim/small", api_base=server.url, api_key="unused",
                           messages=[{"role": "user", "content": "What is 8 * 7?"}])
    assert "56" in r.choices[0].message.content and r.usage.completion_tokens > 0
    cost = pricing.cost_usd("openai/sim/small", r.usage.prompt_tokens, r.usage.completion_tokens)
    spec = ZOO["sim/small"]
    assert cost == pytest.approx(r.usage.prompt_tokens * spec.input_cost_per_token
                                 + r.usage.completion_tokens * spec.output_cost_per_token)


def test_langchain_over_http_incl_tools_and_streaming(server: SimServer) -> None:
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI

    @tool
    def calculator(expression: str) -> str:
        """Evaluate an arithmetic expression."""
        return "0"

    native = ChatOpenAI(model="sim/large", base_url=server.url, api_key="unused")
    ai = native.bind_tools([calculator]).invoke(ITEM["question"])
    assert ai.tool_calls[0]["name"] == "calculator" and ai.usage_metadata["total_tokens"] > 0
    streamed = ChatOpenAI(model="sim/large", base_url=server.url, api_key="unused", streaming=True,
                          stream_usage=True).invoke("What is 9 + 9?")
    assert "18" in streamed.content and streamed.usage_metadata["output_tokens"] > 0
    via_factory = chat_model("openai/sim/nano", api_base=server.url).invoke("What is 2 + 5?")
    assert "7" in via_factory.content and via_factory.usage_metadata["input_tokens"] > 0


def test_request_log_and_stats(server: SimServer) -> None:
    before = server.request_count
    usage_before = server.usage_by_model().get("sim/xl", {"requests": 0, "output_tokens": 0})
    client = openai.OpenAI(base_url=server.url, api_key="unused")
    rs = [client.chat.completions.create(model="sim/xl",
                                         messages=[{"role": "user", "content": f"q{i}"}])
          for i in range(3)]
    assert server.request_count == before + 3
    usage = server.usage_by_model()["sim/xl"]
    assert usage["requests"] == usage_before["requests"] + 3
    added = usage["output_tokens"] - usage_before["output_tokens"]
    assert added == sum(r.usage.completion_tokens for r in rs)
    stats = httpx.get(f"{server.base_url}/sim/stats").json()
    assert stats["requests"] == server.request_count


def test_unknown_model_is_404_listing_models(server: SimServer) -> None:
    client = openai.OpenAI(base_url=server.url, api_key="unused")
    with pytest.raises(openai.NotFoundError, match="available: sim/nano"):
        client.chat.completions.create(model="sim/gpt-9",
                                       messages=[{"role": "user", "content": "x"}])


def test_port_in_use_is_a_clear_error(server: SimServer) -> None:
    with pytest.raises(AgentOptError,
                       match=f"port {server.port} .* already in use; pick another with --port"):
        serve_in_thread(port=server.port)
    result = CliRunner().invoke(app, ["sim-server", "--port", str(server.port)])
    assert result.exit_code == 2 and "already in use" in result.output


def _outcomes(fail_rate: float, faults: tuple[str, ...],
              seed: int) -> tuple[list[str], list[str | None]]:
    """(what the client saw, the fault the server injected) for 12 sequential requests."""
    with serve_in_thread(port=0, fail_rate=fail_rate, faults=faults, seed=seed,
                         timeout_s=3.0) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="unused", max_retries=0, timeout=1.0)
        out = []
        for i in range(12):
            try:
                client.chat.completions.create(model="sim/mini",
                                               messages=[{"role": "user", "content": f"q{i}"}])
                out.append("ok")
            except openai.RateLimitError:
                out.append("429")
            except openai.InternalServerError:
                out.append("500")
            except openai.APITimeoutError:
                out.append("timeout")
            except json.JSONDecodeError:
                out.append("malformed")
        return out, [r.fault for r in sorted(srv.log.snapshot(), key=lambda r: r.n)]


@pytest.mark.slow
def test_fault_injection_is_deterministic_and_covers_all_kinds() -> None:
    """Random faults are a function of (seed, request body, repeat): the same requests,
    the same faults."""
    seen, injected = _outcomes(0.6, FAULTS, seed=0)
    _, again = _outcomes(0.6, FAULTS, seed=0)
    assert injected == again and len(injected) == 12
    assert set(FAULTS) <= set(injected), injected
    # every injected fault reached the client as that fault (a slow ok reply is not asserted on)
    assert all(seen[i] == fault for i, fault in enumerate(injected)
               if fault is not None), (seen, injected)


def test_retry_of_a_failed_request_can_succeed() -> None:
    with serve_in_thread(port=0, fail_rate=0.5, faults=("429",), seed=0) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="unused", max_retries=6)
        for i in range(6):
            client.chat.completions.create(model="sim/mini",
                                           messages=[{"role": "user", "content": f"r{i}"}])
        assert srv.request_count > 6 and srv.usage_by_model()["sim/mini"]["requests"] == 6


def test_bad_fault_options() -> None:
    with pytest.raises(AgentOptError, match="unknown fault kind"):
        serve_in_thread(port=0, fail_rate=0.1, faults=("boom",))
    result = CliRunner().invoke(app, ["sim-server", "--fail-rate", "0.1", "--faults", "429,boom"])
    assert result.exit_code == 2 and "choose from 429, 500, timeout, malformed" in result.output


def test_cli_models_lists_prices_and_latency() -> None:
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0
    for key in ZOO:
        assert key in result.output
    assert "75" in result.output and "p95" in result.output
    data = json.loads(CliRunner().invoke(app, ["models", "--json"]).output)
    assert data[0]["name"] == "sim/nano" and data[0]["input_usd_per_mtok"] == 0.05


def test_fault_schedule_fixes_kinds_by_request_number() -> None:
    from agentopt_adapters.sim.faults import FAULTS, FaultPlan

    plan = FaultPlan(0.0, FAULTS, 0, "every:3")
    assert [plan.fault_for(n, "any body", 0) for n in range(1, 13)] == [
        None, None, "429", None, None, "500", None, None, "timeout", None, None, "malformed"]
    assert plan.expected(14) == {"429": 1, "500": 1, "timeout": 1, "malformed": 1}
    exact = FaultPlan(0.0, FAULTS, 0, "2:timeout, 5:429")
    assert [exact.fault_for(n, "", 0) for n in range(1, 7)] == [None, "timeout", None, None, "429",
                                                                None]
    assert FaultPlan(0.0, FAULTS, 0, {4: "malformed"}).expected(10) == {"malformed": 1}
    # the server applies it by arrival number, whatever the requests say
    with serve_in_thread(port=0, fault_schedule="every:2", faults=("429", "500")) as srv:
        client = openai.OpenAI(base_url=srv.url, api_key="unused", max_retries=0)
        out = []
        for _ in range(6):
            try:
                client.chat.completions.create(model="sim/mini",
                                               messages=[{"role": "user", "content": "same"}])
                out.append("ok")
            except openai.RateLimitError:
                out.append("429")
            except openai.InternalServerError:
                out.append("500")
        assert out == ["ok", "429", "ok", "500", "ok", "429"]
        assert [r.fault for r in srv.log.records] == [None, "429", None, "500", None, "429"]


@pytest.mark.parametrize("args, message", [
    (["--faults-schedule", "every:0"], "needs K >= 1"),
    (["--faults-schedule", "3:boom"], "unknown fault kind 'boom'"),
    (["--faults-schedule", "three"], "is not 'N:kind'"),
    (["--faults-schedule", "every:4", "--fail-rate", "0.1"], "either a fault schedule"),
])
def test_bad_fault_schedules_are_clear_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["sim-server", "--port", "0", *args])
    assert result.exit_code == 2 and message in result.output, result.output
    with pytest.raises(AgentOptError, match=re.escape(message)):
        serve_in_thread(port=0, fault_schedule=args[1],
                        fail_rate=0.1 if "--fail-rate" in args else 0.0)
