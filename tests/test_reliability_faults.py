"""Faults: transient failures (429, 500, timeout, malformed reply) are retried with backoff by the
model factory's tenacity policy; permanent ones are recorded with their message and summarized."""

from __future__ import annotations

import io
import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import litellm
import openai
import pytest
from rich.console import Console

import agentopt_adapters as aa
from agentopt_adapters.callable import acompletion, completion
from agentopt_adapters.errors import ModelError
from agentopt_adapters.models import chat_model, dspy_lm
from agentopt_adapters.models.retry import RetryPolicy, is_transient, retry_policy
from agentopt_adapters.settings import settings
from agentopt_adapters.sim.server import FAULTS, SimServer, serve_in_thread
from agentopt_adapters.sim.tasks import load_task

TASK = load_task("arithmetic")
DATA = TASK.items[:12]
CANDIDATES = ["openai/sim/nano", "openai/sim/small", "openai/sim/medium"]


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Short backoff and client timeout for tests: configuration, not sleeps (settings are read
    once: reloaded after the environment changes, and again after the test)."""
    monkeypatch.setenv("AGENTOPT_RETRIES", "6")
    monkeypatch.setenv("AGENTOPT_RETRY_BACKOFF", "0.01")
    monkeypatch.setenv("AGENTOPT_RETRY_MAX_BACKOFF", "0.05")
    monkeypatch.setenv("AGENTOPT_TIMEOUT", "0.5")
    settings.reload()
    yield
    monkeypatch.undo()
    settings.reload()


def _client_timeout(seconds: float) -> None:
    """Set the client timeout for the rest of the test
    (``fast_retries`` restores the environment)."""
    os.environ["AGENTOPT_TIMEOUT"] = str(seconds)
    settings.reload()


# the faulty server fails requests 8, 16, 24, ... with 429, 500, timeout, malformed in turn
EVERY = 8


@pytest.fixture()
def faulty() -> Iterator[SimServer]:
    # faults fixed by request number (not by content or timing): of N requests, N // EVERY fail
    with serve_in_thread(port=0, fault_schedule=f"every:{EVERY}", faults=FAULTS,
                         timeout_s=2.0) as srv:
        yield srv


def make_app(default_base: str, bases: dict[str, str] | None = None) -> Any:
    """A one-slot callable app calling the sim server over HTTP
    (``openai/<sim model>`` + api_base)."""

    def app(models: dict[str, str], ex: dict[str, Any]) -> str:
        model = models["solve"]
        r = completion(models, "solve", messages=[{"role": "user", "content": ex["question"]}],
                       api_base=(bases or {}).get(model, default_base), api_key="unused")
        return r.choices[0].message.content

    app.agentopt_slots = {"solve": "openai/sim/large"}  # type: ignore[attr-defined]
    return app


def fault_figures(srv: SimServer) -> dict[str, Any]:
    """Faults injected (by kind) and how many of them a later
    attempt of the same request survived."""
    recs = srv.log.records
    answered = {r.key for r in recs if r.status == 200 and r.fault is None}
    faulted = [r for r in recs if r.fault is not None]
    return {"injected": len(faulted), "by_kind": dict(Counter(r.fault for r in faulted)),
            "survived": sum(1 for r in faulted if r.key in answered), "requests": len(recs),
            "answered_keys": answered}


# ---- the policy --------------------------------------------------------------------------------

def _status_error(cls: type[openai.APIStatusError], code: int,
                  headers: dict[str, str] | None = None) -> Exception:
    resp = httpx.Response(code, headers=headers,
                          request=httpx.Request("POST", "http://127.0.0.1/v1/chat/completions"))
    return cls("boom", response=resp, body=None)


def test_transient_vs_permanent_classification() -> None:
    assert is_transient(_status_error(openai.RateLimitError, 429))
    assert is_transient(_status_error(openai.InternalServerError, 500))
    assert is_transient(litellm.Timeout("slow", model="m", llm_provider="openai"))
    assert is_transient(openai.APIConnectionError(request=httpx.Request("POST", "http://x")))
    try:
        import json
        json.loads('{"broken": "')
    except ValueError as exc:
        assert is_transient(RuntimeError("wrapped")) is False
        wrapped = RuntimeError("malformed reply")
        wrapped.__cause__ = exc
        assert is_transient(wrapped)
    for cls, code in ((openai.NotFoundError, 404), (openai.BadRequestError, 400),
                      (openai.AuthenticationError, 401)):
        assert not is_transient(_status_error(cls, code))
    assert not is_transient(ValueError("app bug"))


def test_policy_defaults_env_and_override(monkeypatch: pytest.MonkeyPatch) -> None:
    p = retry_policy()
    assert (p.retries, p.backoff_s, p.max_backoff_s, p.timeout_s) == (6, 0.01, 0.05, 0.5)
    assert retry_policy(2).retries == 2 and retry_policy(2).backoff_s == 0.01
    custom = RetryPolicy(retries=1, backoff_s=0.0)
    assert retry_policy(custom) is custom
    for var in ("AGENTOPT_RETRIES", "AGENTOPT_RETRY_BACKOFF", "AGENTOPT_RETRY_MAX_BACKOFF",
                "AGENTOPT_TIMEOUT"):
        monkeypatch.delenv(var)
    settings.reload()
    assert retry_policy() == RetryPolicy(retries=3, backoff_s=0.5, max_backoff_s=20.0,
                                         timeout_s=60.0)
    with pytest.raises(ModelError, match="retries must be a non-negative integer"):
        retry_policy(-1)
    monkeypatch.setenv("AGENTOPT_RETRIES", "many")
    with pytest.raises(ModelError, match="AGENTOPT_RETRIES='many' is not a valid int"):
        settings.reload()
    monkeypatch.delenv("AGENTOPT_RETRIES")
    settings.reload()
    # the wait honours a provider's Retry-After hint, capped by max_backoff_s
    import tenacity

    state = tenacity.RetryCallState(None, None, (), {})
    state.attempt_number = 1
    state.set_exception((openai.RateLimitError,
                         _status_error(openai.RateLimitError, 429, {"retry-after-ms": "300"}),
                         None))
    assert RetryPolicy(backoff_s=0.0, max_backoff_s=5.0)._wait(state) == pytest.approx(0.3)
    assert RetryPolicy(backoff_s=0.0, max_backoff_s=0.1)._wait(state) == pytest.approx(0.1)


@pytest.mark.slow
def test_every_factory_path_survives_all_fault_kinds() -> None:
    """completion / acompletion / chat_model (LangChain) / dspy_lm (DSPy) against a server failing
    every 4th request (16 requests to answer, so at least 4 faults: each kind at least once)."""
    with serve_in_thread(port=0, fault_schedule="every:4", faults=FAULTS, timeout_s=2.0) as srv:
        kw = dict(api_base=srv.url, api_key="unused")
        for i in range(4):
            r = completion({"s": "openai/sim/small"}, "s",
                           messages=[{"role": "user", "content": f"What is {i} + 2?"}], **kw)
            assert str(i + 2) in r.choices[0].message.content

        async def many() -> list[Any]:
            return await asyncio.gather(*[
                acompletion({"s": "openai/sim/small"}, "s",
                            messages=[{"role": "user", "content": f"What is {i} + 3?"}], **kw)
                for i in range(4)])

        for i, r in enumerate(asyncio.run(many())):
            assert str(i + 3) in r.choices[0].message.content
        llm = chat_model("openai/sim/small", api_base=srv.url)
        for i in range(4):
            assert str(i + 4) in llm.invoke(f"What is {i} + 4?").content
        lm = dspy_lm("openai/sim/small", **kw)
        for i in range(4):
            assert str(i + 5) in lm(f"What is {i} + 5?")[0]
        figs = fault_figures(srv)
        # exactly the scheduled faults ...
        assert figs["by_kind"] == srv.plan.expected(srv.request_count)
        # ... so every kind (>= 16 requests)
        assert set(figs["by_kind"]) == set(FAULTS), figs["by_kind"]
        # and every faulted request was later answered
        assert figs["survived"] == figs["injected"] >= 4
        assert len(figs["answered_keys"]) == 16
        # a permanent error (unknown model: 404) is not retried; no timeout fault is expected from
        # here on, so the client waits long enough that a slow reply on a busy machine is not
        # retried either
        _client_timeout(60)
        before = srv.request_count
        with pytest.raises(openai.NotFoundError, match="unknown simulated model 'sim/bogus'"):
            chat_model("openai/sim/bogus", api_base=srv.url).invoke("hi")
        assert srv.request_count == before + 1


def test_retries_are_bounded_by_the_policy() -> None:
    with serve_in_thread(port=0, fail_rate=1.0, faults=("500",)) as srv:
        with pytest.raises(openai.InternalServerError, match="simulated internal server error"):
            completion({"s": "openai/sim/mini"}, "s",
                       messages=[{"role": "user", "content": "1 + 1?"}], api_base=srv.url,
                       api_key="unused", retries=2)
        assert srv.request_count == 3  # 1 attempt + 2 retries, then the error is raised
        lm = dspy_lm("openai/sim/mini", api_base=srv.url, api_key="unused", retries=1)
        with pytest.raises(Exception, match="simulated internal server error"):
            lm("1 + 1?")
        assert srv.request_count == 5


# ---- optimize against the faulty server
# -----------------------------------------------------------

@pytest.mark.slow
def test_optimize_under_faults_matches_the_fault_free_pick(faulty: SimServer) -> None:
    common = dict(seed=7, max_concurrency=4, progress=False)
    with serve_in_thread(port=0) as clean:
        ref = aa.optimize(make_app(clean.url), DATA, TASK.metric, CANDIDATES, **common)
        ref_keys = fault_figures(clean)["answered_keys"]
    # must not crash
    res = aa.optimize(make_app(faulty.url), DATA, TASK.metric, CANDIDATES, **common)

    figs = fault_figures(faulty)
    print(f"\nfaults injected {figs['injected']} {figs['by_kind']}, survived {figs['survived']}, "
          f"requests {figs['requests']} (fault-free run: {clean.request_count})")
    # every request is answered at least once, so the faulty server saw N >= the fault-free count
    # of requests, and exactly the scheduled faults among N: N // EVERY of them, the kinds in turn
    assert clean.request_count >= len(FAULTS) * EVERY  # so all four kinds are guaranteed
    assert figs["requests"] >= clean.request_count
    assert figs["by_kind"] == faulty.plan.expected(figs["requests"]), figs["by_kind"]
    assert figs["injected"] == figs["requests"] // EVERY and set(figs["by_kind"]) == set(FAULTS)
    assert figs["survived"] == figs["injected"]
    assert figs["answered_keys"] == ref_keys  # exactly the same requests were answered
    assert res.best is not None and ref.best is not None
    assert res.best.assignment == ref.best.assignment
    assert all(s.n_errors == 0 for s in res.leaderboard)
    same = {s.key: (s.n, round(s.mean_score, 9), round(s.mean_cost_usd, 12))
            for s in res.leaderboard if s.n}
    want = {s.key: (s.n, round(s.mean_score, 9), round(s.mean_cost_usd, 12))
            for s in ref.leaderboard if s.n}
    assert same == want


@pytest.mark.slow
def test_permanent_failures_are_recorded_with_their_message_and_summarized() -> None:
    # no timeout faults here: requests are counted exactly, a slow reply must not be retried
    _client_timeout(60)
    with serve_in_thread(port=0) as good, serve_in_thread(port=0, fail_rate=1.0,
                                                          faults=("500",)) as broken:
        app = make_app(good.url, bases={"openai/sim/mini": broken.url})
        res = aa.optimize(app, DATA[:4], TASK.metric,
                          ["openai/sim/small", "openai/sim/mini", "openai/sim/bogus"],
                          strategy="brute_force", max_concurrency=2, progress=False)
        bogus = res.get({"solve": "openai/sim/bogus"})
        mini = res.get({"solve": "openai/sim/mini"})
        assert bogus.status == "failed" and bogus.n_errors == bogus.n == 4
        assert "NotFoundError" in bogus.first_error
        assert "unknown simulated model 'sim/bogus'" in bogus.first_error
        assert mini.status == "failed" and mini.n_errors == 4
        assert "InternalServerError" in mini.first_error
        assert "simulated internal server error" in mini.first_error
        # permanent errors are not retried; a persistent transient fault is retried up to the
        # policy, then kept
        assert sum(1 for r in good.log.records if r.model == "sim/bogus") == 4
        assert broken.request_count == 4 * (retry_policy().retries + 1)
        assert res.best is not None
        assert res.best.assignment["solve"] in ("openai/sim/small", "openai/sim/large")
        out = io.StringIO()
        res.print_summary(console=Console(file=out, width=200))
        text = out.getvalue()
        assert "2 combination(s) failed on every example" in text
        assert "solve=openai/sim/bogus" in text and "unknown simulated model 'sim/bogus'" in text
        assert "solve=openai/sim/mini" in text and "simulated internal server error" in text
