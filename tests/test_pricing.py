"""Pricing: litellm's cost map + registered sim prices + user overrides;
unpriced -> None + one warning."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import warnings

import litellm
import pytest

from agentopt_adapters.errors import ModelError
from agentopt_adapters.models import pricing
from agentopt_adapters.sim import ZOO


def test_sim_cost_is_tokens_times_registered_price() -> None:
    for key, spec in ZOO.items():
        got = pricing.cost_usd(key, 1234, 567)
        assert got == pytest.approx(1234 * spec.input_usd_per_mtok / 1e6 + 567
                                    * spec.output_usd_per_mtok / 1e6)
        # registered in litellm
        assert litellm.model_cost[key]["input_cost_per_token"] == spec.input_cost_per_token
    assert pricing.price_per_mtok("sim/frontier") == (15.0, 75.0)


def test_real_model_prices_come_from_litellm_map() -> None:
    expected = sum(litellm.cost_per_token(model="openai/gpt-4o-mini", prompt_tokens=1000,
                                          completion_tokens=200))
    assert pricing.cost_usd("openai/gpt-4o-mini", 1000, 200) == pytest.approx(expected)
    assert expected > 0


def test_unpriced_model_warns_once_and_returns_none() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert pricing.cost_usd("acme/unpriced-llm", 10, 10) is None
        assert pricing.cost_usd("acme/unpriced-llm", 20, 20) is None
    msgs = [w for w in caught if issubclass(w.category, pricing.UnpricedModelWarning)]
    assert len(msgs) == 1 and "aa.set_prices({'acme/unpriced-llm'" in str(msgs[0].message)


def test_overrides_are_registered_with_litellm() -> None:
    pricing.set_prices({"acme/my-model": (2.0, 8.0)})
    assert pricing.cost_usd("acme/my-model", 1_000_000, 500_000) == pytest.approx(6.0)
    assert litellm.model_cost["acme/my-model"]["output_cost_per_token"] == pytest.approx(8e-6)
    pricing.set_prices({"openai/gpt-4o-mini-2024-07-18": (100.0, 200.0)})
    assert pricing.cost_usd("openai/gpt-4o-mini-2024-07-18", 1_000_000, 0) == pytest.approx(100.0)


def test_bad_override_is_rejected() -> None:
    with pytest.raises(ModelError, match="pair"):
        pricing.set_prices({"acme/x": "cheap"})  # type: ignore[dict-item]
    with pytest.raises(ModelError, match="non-negative"):
        pricing.set_prices({"acme/x": (-1, 2)})
