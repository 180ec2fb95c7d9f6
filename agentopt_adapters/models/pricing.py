"""USD cost of model calls, from litellm's model cost map plus user overrides.

Prices live in litellm only: its bundled cost map, prices that provider plugins register (the
simulated zoo), and ``set_prices`` overrides, all through ``litellm.register_model``. A model's
per-token price is looked up once and cached (``set_prices`` clears the cache; register prices
through it, not ``litellm.register_model`` directly, once a model has been priced); models with
tiered prices (``..._above_128k_tokens``) are priced by litellm on every call. An unpriced model
gives one warning and cost None, never a silent 0.
"""

from __future__ import annotations

import json
import math
import os
import threading
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

from ..errors import ModelError

__all__ = ["cost_usd", "set_prices", "check_prices", "pricer", "price_per_mtok",
           "UnpricedModelWarning"]

_WARNED: set[str] = set()
_LOCK = threading.Lock()
_TIERED = object()  # cache marker: litellm prices each call
_CACHE: dict[str, tuple[float, float] | object | None] = {}


class UnpricedModelWarning(UserWarning):
    """A model has no price in litellm's cost map and no override."""


def _litellm():  # type: ignore[no-untyped-def]
    import litellm

    litellm.suppress_debug_info = True
    return litellm


def _lookup(model: str) -> tuple[float, float] | object | None:
    """(USD per input token, per output token), ``_TIERED``, or None when litellm has no price."""
    litellm = _litellm()
    entry = litellm.model_cost.get(model)
    if entry is None or entry.get("input_cost_per_token") is None:
        try:
            entry = dict(litellm.get_model_info(model))
        except Exception:  # noqa: BLE001 - litellm raises for unmapped models / unknown providers
            return None
    if entry.get("input_cost_per_token") is None:
        return None
    if any("_above_" in key and key.startswith(("input_cost_per_token", "output_cost_per_token"))
           for key in entry):
        return _TIERED
    return float(entry["input_cost_per_token"]), float(entry.get("output_cost_per_token") or 0.0)


def _price(model: str) -> tuple[float, float] | object | None:
    try:
        return _CACHE[model]
    except KeyError:
        found = _lookup(model)
        if found is not None:
            # an unpriced model is looked up again: a price may be registered later
            with _LOCK:
                _CACHE[model] = found
        return found


def price_per_mtok(model: str) -> tuple[float, float] | None:
    """(input, output) USD per million tokens at the base tier,
    or None when litellm has no price."""
    found = _price(model)
    if found is _TIERED:
        cin, cout = _litellm().cost_per_token(model=model, prompt_tokens=1_000_000,
                                              completion_tokens=1_000_000)
        return float(cin), float(cout)
    return None if found is None else (found[0] * 1e6, found[1] * 1e6)  # type: ignore[index]


def _warn_once(model: str, why: str) -> None:
    with _LOCK:
        if model in _WARNED:
            return
        _WARNED.add(model)
    warnings.warn(
        f"no price for model {model!r} ({why}); its cost is reported as None. "
        f"Fix: aa.set_prices({{{model!r}: (usd_in_per_mtok, usd_out_per_mtok)}})",
        UnpricedModelWarning, stacklevel=3,
    )


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float | None:
    """USD for one call; None (one warning per model) if unpriced."""
    found = _price(model)
    if found is None:
        _warn_once(model, "not in litellm's cost map")
        return None
    if found is _TIERED:
        cin, cout = _litellm().cost_per_token(model=model, prompt_tokens=input_tokens,
                                              completion_tokens=output_tokens)
        return float(cin + cout)
    pin, pout = cast(tuple[float, float], found)
    return input_tokens * pin + output_tokens * pout


def check_prices(prices: Any) -> dict[str, tuple[float, float]]:
    """``{"model string": (usd_in_per_mtok, usd_out_per_mtok)}`` from a mapping or a JSON file
    path; one clear ``ModelError`` otherwise."""
    if isinstance(prices, (str, os.PathLike)):
        try:
            prices = json.loads(Path(prices).read_text())
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read prices from {str(prices)!r}: {exc}") from None
    if not isinstance(prices, Mapping):
        raise ModelError(f'prices must be {{"model": [usd_in_per_mtok, usd_out_per_mtok]}}, got '
                         f'{type(prices).__name__}')
    out = {}
    for model, pair in prices.items():
        try:
            pin, pout = (float(x) for x in pair)
        except (TypeError, ValueError):
            raise ModelError(
                f"prices[{model!r}] must be a pair (usd_in_per_mtok, usd_out_per_mtok), got "
                f"{pair!r}"
            ) from None
        if not (0 <= pin < math.inf and 0 <= pout < math.inf):
            raise ModelError(f"prices[{model!r}] must be non-negative numbers, got {pair!r}")
        out[str(model)] = (pin, pout)
    return out


def pricer(prices: Any = None) -> Callable[[str, int, int], float | None]:
    """``price(model, input_tokens, output_tokens)``: ``prices`` (see ``check_prices``) first, then
    the current price of the model (``cost_usd``); changes no global price."""
    given = check_prices(prices) if prices is not None else {}

    def price(model: str, input_tokens: int, output_tokens: int) -> float | None:
        if model in given:
            pin, pout = given[model]
            return (input_tokens * pin + output_tokens * pout) / 1e6
        return cost_usd(model, input_tokens, output_tokens)

    return price


def set_prices(prices: Mapping[str, tuple[float, float]]) -> None:
    """Override / add prices: ``{"my/model": (usd_in_per_mtok, usd_out_per_mtok)}``;
    registered with litellm."""
    entries = {}
    for model, (pin, pout) in check_prices(prices).items():
        provider = model.split("/", 1)[0] if "/" in model else "openai"
        entries[model] = {"input_cost_per_token": pin / 1e6, "output_cost_per_token": pout / 1e6,
                          "cache_creation_input_token_cost": 0.0,
                          "cache_read_input_token_cost": 0.0, "litellm_provider": provider,
                          "mode": "chat"}
    if entries:
        _litellm().register_model(entries)
        with _LOCK:
            _CACHE.clear()
            _WARNED.difference_update(entries)
