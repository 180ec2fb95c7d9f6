"""Simulated models: a zoo of 8 deterministic models, usable in-process (litellm provider
``sim/<name>``) or over HTTP (``agentopt sim-server``), both backed by one engine.

``register()`` is all a program needs: it installs the litellm provider and registers the zoo's
prices under every name a sim model is reached by (``ALIASES``), so
``litellm.completion("sim/small")``, ``litellm.cost_per_token(model="openai/sim/small", ...)`` and
``dspy.LM("sim/small")`` work.

Independent samples: an identical request gets an identical reply. Ask for ``n`` choices (each
drawn on its own: choice ``i`` is seeded by the request and ``i``), or send requests that differ in
``seed`` (e.g. ``seed=sample_index``), to get samples that differ as a real model's would.
"""

from __future__ import annotations

import os
import sys
import threading

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from .engine import SimResult, simulate
from .zoo import PROVIDER, ZOO, SimModelSpec, get_spec

__all__ = ["register", "ZOO", "SimModelSpec", "SimResult", "simulate", "get_spec", "PROVIDER",
           "model_names", "ALIAS_PREFIXES", "aliases"]

# litellm prefixes under which a sim model is priced: in-process (``sim/x``) and the HTTP server
# reached through litellm's OpenAI-compatible routes (``openai/sim/x``, ``hosted_vllm/sim/x``,
# ``litellm_proxy/sim/x``)
ALIAS_PREFIXES = ("", "openai/", "hosted_vllm/", "litellm_proxy/")

_LOCK = threading.Lock()
_DONE = False


def aliases(name: str) -> list[str]:
    """Every model string priced as zoo model ``name`` (``sim/<name>``): ``sim/x``,
    ``openai/sim/x``, ..."""
    key = get_spec(name).name
    return [f"{prefix}{key}" for prefix in ALIAS_PREFIXES]


def _price_entry(spec: SimModelSpec, provider: str) -> dict[str, object]:
    return {"input_cost_per_token": spec.input_cost_per_token,
            "output_cost_per_token": spec.output_cost_per_token,
            "cache_creation_input_token_cost": 0.0, "cache_read_input_token_cost": 0.0,
            "litellm_provider": provider, "mode": "chat", "max_input_tokens": spec.context_window,
            "max_tokens": spec.max_output_tokens, "max_output_tokens": spec.max_output_tokens,
            "supports_function_calling": True, "supports_tool_choice": True,
            "supports_parallel_function_calling": True, "supports_response_schema": True,
            "supports_system_messages": True}


def register() -> None:
    """Install the litellm custom provider ``sim`` and register the zoo's prices under every alias
    (idempotent, thread-safe)."""
    global _DONE
    import litellm  # first: importing it runs the provider-plugin hook, which calls us)

    with _LOCK:
        if _DONE:
            return
        import litellm

        half_loaded = sys.modules.get(f"{__name__}.provider")
        if half_loaded is not None and not hasattr(half_loaded, "install"):
            # it is importing litellm, which called us: it calls us again when it is loaded
            setattr(half_loaded, "REGISTER_WHEN_LOADED", True)  # noqa: B010 - a module flag
            return
        from .provider import install

        install()
        for prefix in reversed(ALIAS_PREFIXES):
            # one provider at a time, each alias its own row; sim/x last
            provider = prefix.rstrip("/") or PROVIDER
            litellm.register_model({f"{prefix}{key}": _price_entry(spec, provider)
                                    for key, spec in ZOO.items()},
                                   custom_llm_provider=provider)
        _DONE = True


def model_names() -> list[str]:
    """``["sim/nano", ..., "sim/maverick"]``, cheapest first."""
    return list(ZOO)
