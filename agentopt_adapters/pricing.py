"""USD cost of model calls, from litellm's model cost map plus user overrides.

Prices live in litellm only: the bundled cost map (offline with LITELLM_LOCAL_MODEL_COST_MAP=True),
the simulated zoo (``sim.register()``) and ``set_prices`` overrides, all via ``litellm.register_model``.
An unpriced model gives one warning and cost None, never a silent 0.
"""

from __future__ import annotations

import os
import threading
import warnings
from typing import Mapping

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402

from .errors import ModelError  # noqa: E402

__all__ = ["cost_usd", "set_prices", "price_per_mtok", "UnpricedModelWarning"]

litellm.suppress_debug_info = True
_WARNED: set[str] = set()
_LOCK = threading.Lock()


class UnpricedModelWarning(UserWarning):
    """A model has no price in litellm's cost map and no override."""


def _sim_alias(model: str) -> str | None:
    """``sim/x`` for ``sim/x``, ``openai/sim/x`` or ``openai/x`` naming a simulated model (HTTP server)."""
    from .sim.zoo import PROVIDER, ZOO

    parts = model.split("/")
    for cand in (model, "/".join(parts[1:]), f"{PROVIDER}/{parts[-1]}"):
        if cand in ZOO and (cand == model or parts[0] in ("openai", "hosted_vllm", PROVIDER)):
            return cand
    return None


def _entry(model: str) -> dict | None:
    """litellm's cost-map entry for ``model`` (exact key), registering the sim zoo on demand."""
    if _sim_alias(model):
        from . import sim

        sim.register()
        model = _sim_alias(model) or model
    entry = litellm.model_cost.get(model)
    if entry and entry.get("input_cost_per_token") is not None:
        return entry
    return None


def price_per_mtok(model: str) -> tuple[float, float] | None:
    """(input, output) USD per million tokens, or None when litellm has no price."""
    entry = _entry(model)
    if entry is None:
        try:
            info = litellm.get_model_info(model)
        except Exception:
            return None
        entry = dict(info)
        if entry.get("input_cost_per_token") is None:
            return None
    return entry["input_cost_per_token"] * 1e6, (entry.get("output_cost_per_token") or 0.0) * 1e6


def _warn_once(model: str, why: str) -> None:
    with _LOCK:
        if model in _WARNED:
            return
        _WARNED.add(model)
    warnings.warn(
        f"no price for model {model!r} ({why}); its cost is reported as None. "
        f"Fix: pass prices={{{model!r}: (usd_in_per_mtok, usd_out_per_mtok)}}",
        UnpricedModelWarning, stacklevel=3,
    )


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float | None:
    """USD for one call, from litellm's cost functions; None (one warning per model) if unpriced."""
    entry = _entry(model)
    try:
        if entry is not None:  # registered key (sim zoo, overrides, exact cost-map key)
            cin, cout = litellm.cost_per_token(
                model=model, prompt_tokens=input_tokens, completion_tokens=output_tokens,
                custom_cost_per_token={"input_cost_per_token": entry["input_cost_per_token"],
                                       "output_cost_per_token": entry.get("output_cost_per_token") or 0.0},
            )
        else:
            cin, cout = litellm.cost_per_token(model=model, prompt_tokens=input_tokens,
                                               completion_tokens=output_tokens)
    except Exception as exc:  # litellm raises for unmapped models / unknown providers
        _warn_once(model, f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
        return None
    return float(cin + cout)


def set_prices(prices: Mapping[str, tuple[float, float]]) -> None:
    """Override / add prices: ``{"my/model": (usd_in_per_mtok, usd_out_per_mtok)}``; registered with litellm."""
    entries = {}
    for model, pair in prices.items():
        try:
            pin, pout = (float(x) for x in pair)
        except (TypeError, ValueError):
            raise ModelError(
                f"prices[{model!r}] must be a pair (usd_in_per_mtok, usd_out_per_mtok), got {pair!r}"
            ) from None
        if pin < 0 or pout < 0:
            raise ModelError(f"prices[{model!r}] must be non-negative, got {pair!r}")
        provider = model.split("/", 1)[0] if "/" in model else "openai"
        entries[model] = {"input_cost_per_token": pin / 1e6, "output_cost_per_token": pout / 1e6,
                          "cache_creation_input_token_cost": 0.0, "cache_read_input_token_cost": 0.0,
                          "litellm_provider": provider, "mode": "chat"}
    if entries:
        litellm.register_model(entries)
        with _LOCK:
            _WARNED.difference_update(entries)
