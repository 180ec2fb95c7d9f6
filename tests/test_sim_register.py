"""``agentopt_adapters.sim.register()`` on its own:
the litellm provider and prices under every alias."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from agentopt_adapters import sim

SCRIPT = r"""
import json, sys, threading
import agentopt_adapters.sim as s
threads = [threading.Thread(target=s.register) for _ in range(8)]
[t.start() for t in threads]; [t.join() for t in threads]
s.register()
import litellm, dspy
out = {"providers": sum(p["provider"] == "sim" for p in litellm.custom_provider_map), "costs": {}}
for name in s.ZOO:
    for alias in s.aliases(name):
        out["costs"][alias] = litellm.cost_per_token(model=alias, prompt_tokens=10**6,
                                                     completion_tokens=10**6)
lm = dspy.LM("sim/small", cache=False)
u = lm.history[-1]["usage"] if lm("What is 2 + 3?") else {}
out["dspy"] = [lm.history[-1]["outputs"][0], lm.history[-1]["cost"], u["prompt_tokens"],
               u["completion_tokens"]]
out["agentopt_modules"] = sorted(m for m in sys.modules if m.startswith("agentopt_adapters")
                                 and not m.startswith("agentopt_adapters.sim"))
print(json.dumps(out))
"""


@pytest.mark.slow
def test_register_alone_prices_every_alias_and_serves_dspy() -> None:
    """A fresh interpreter: register() from 8 threads at once,
    then litellm and DSPy need nothing else."""
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["providers"] == 1
    for name, spec in sim.ZOO.items():
        for alias in sim.aliases(name):
            assert out["costs"][alias] == pytest.approx([spec.input_usd_per_mtok,
                                                         spec.output_usd_per_mtok]), alias
    assert set(out["costs"]) >= {"sim/small", "openai/sim/small", "hosted_vllm/sim/small"}
    text, cost, prompt_tokens, completion_tokens = out["dspy"]
    spec = sim.ZOO["sim/small"]
    assert "5" in text and completion_tokens > 0
    assert cost == pytest.approx(prompt_tokens * spec.input_cost_per_token + completion_tokens
                                 * spec.output_cost_per_token)
    # nothing of the library beyond the sim leaf (and the package's own light modules) was needed
    assert "agentopt_adapters.pricing" not in out["agentopt_modules"]
    assert "agentopt_adapters.models" not in out["agentopt_modules"]


def test_aliases_and_server_reported_model_are_priced() -> None:
    import litellm

    sim.register()
    spec = sim.ZOO["sim/medium"]
    assert sim.aliases("medium") == ["sim/medium", "openai/sim/medium", "hosted_vllm/sim/medium",
                                     "litellm_proxy/sim/medium"]
    for alias in sim.aliases("sim/medium"):
        cost = litellm.cost_per_token(model=alias, prompt_tokens=1000, completion_tokens=500)
        assert cost == pytest.approx((1000 * spec.input_cost_per_token,
                                      500 * spec.output_cost_per_token))


def test_completion_cost_of_a_server_reply() -> None:
    """litellm prices what the server returns (model id ``sim/<name>`` in the reply)."""
    import litellm

    from agentopt_adapters.sim.server import serve_in_thread

    sim.register()
    with serve_in_thread(port=0) as srv:
        for model in ("openai/sim/small", "hosted_vllm/sim/small"):
            r = litellm.completion(model=model, api_base=srv.url, api_key="unused",
                                   messages=[{"role": "user", "content": "What is 4 * 4?"}])
            spec = sim.ZOO["sim/small"]
            assert r.model.endswith("sim/small")
            assert litellm.completion_cost(r) == pytest.approx(
                r.usage.prompt_tokens * spec.input_cost_per_token + r.usage.completion_tokens
                * spec.output_cost_per_token)


@pytest.mark.slow
def test_importing_the_provider_module_first_registers_it() -> None:
    """``import agentopt_adapters.sim.provider`` before litellm: litellm's plugin hook fires while
    the module is half imported; the provider is installed once the module is done."""
    code = ("import warnings; warnings.simplefilter('error', RuntimeWarning)\n"
            "import agentopt_adapters.sim.provider, litellm\n"
            "r = litellm.completion(model='sim/small',"
            " messages=[{'role': 'user', 'content': 'hi'}])\n"
            "print(sum(p['provider'] == 'sim' for p in litellm.custom_provider_map),"
            " litellm.completion_cost(r) > 0)")
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["1", "True"]
