"""The simulated model zoo: skill, prices, latency profile and context window per model."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["SimModelSpec", "ZOO", "PROVIDER", "get_spec"]

PROVIDER = "sim"


@dataclass(frozen=True)
class SimModelSpec:
    """One simulated model.

    ``skill`` in (0, 1) decides how often each reasoning step is right. Prices are USD per million
    tokens. Latency = lognormal overhead (``latency_median_s``, 95th percentile ``latency_p95_s``)
    plus ``output_tokens / tokens_per_s``. ``direct_answer_rate`` > 0 marks an over-capable model
    that, asked to plan, tends to answer directly instead.
    """

    name: str
    skill: float
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    latency_median_s: float
    latency_p95_s: float
    tokens_per_s: float
    context_window: int
    max_output_tokens: int = 4096
    verbosity: int = 1
    direct_answer_rate: float = 0.0
    malformed_json_rate: float = 0.0
    plan_header: str = "Plan outline:"
    description: str = ""

    @property
    def input_cost_per_token(self) -> float:
        return self.input_usd_per_mtok / 1e6

    @property
    def output_cost_per_token(self) -> float:
        return self.output_usd_per_mtok / 1e6

    @property
    def latency_sigma(self) -> float:
        """Lognormal sigma so that the 95th percentile is ``latency_p95_s``."""
        return math.log(self.latency_p95_s / self.latency_median_s) / 1.6449

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _spec(name: str, **kw: Any) -> tuple[str, SimModelSpec]:
    key = f"{PROVIDER}/{name}"
    return key, SimModelSpec(name=key, **kw)


ZOO: dict[str, SimModelSpec] = dict(
    [
        _spec("nano", skill=0.50, input_usd_per_mtok=0.05, output_usd_per_mtok=0.20,
              latency_median_s=0.15, latency_p95_s=0.45, tokens_per_s=250, context_window=8_192,
              max_output_tokens=1024, verbosity=0, malformed_json_rate=0.06,
              plan_header="Steps to follow:",
              description="tiny, cheap and fast; often wrong on multi-step work"),
        _spec("mini", skill=0.62, input_usd_per_mtok=0.15, output_usd_per_mtok=0.60,
              latency_median_s=0.20, latency_p95_s=0.55, tokens_per_s=200, context_window=16_384,
              max_output_tokens=2048, verbosity=0, malformed_json_rate=0.03,
              plan_header="Plan outline:", description="small and cheap"),
        _spec("small", skill=0.74, input_usd_per_mtok=0.40, output_usd_per_mtok=1.60,
              latency_median_s=0.30, latency_p95_s=0.80, tokens_per_s=150, context_window=32_768,
              verbosity=1, plan_header="Here is the plan:",
              description="good value planner"),
        _spec("medium", skill=0.83, input_usd_per_mtok=1.00, output_usd_per_mtok=4.00,
              latency_median_s=0.45, latency_p95_s=1.20, tokens_per_s=110, context_window=65_536,
              verbosity=1, plan_header="Approach:",
              description="solid all-rounder"),
        _spec("large", skill=0.89, input_usd_per_mtok=2.50, output_usd_per_mtok=10.00,
              latency_median_s=0.70, latency_p95_s=2.00, tokens_per_s=80, context_window=128_000,
              verbosity=2, plan_header="Let's break it down:",
              description="strong, mid-priced"),
        _spec("xl", skill=0.93, input_usd_per_mtok=5.00, output_usd_per_mtok=20.00,
              latency_median_s=0.90, latency_p95_s=2.80, tokens_per_s=60, context_window=128_000,
              max_output_tokens=8192, verbosity=2, plan_header="Decomposition:",
              description="very strong, pricey"),
        _spec("frontier", skill=0.96, input_usd_per_mtok=15.00, output_usd_per_mtok=75.00,
              latency_median_s=1.20, latency_p95_s=4.00, tokens_per_s=40, context_window=200_000,
              max_output_tokens=8192, verbosity=3, plan_header="Step-by-step plan:",
              description="the strongest and most expensive; slow"),
        _spec("maverick", skill=0.95, input_usd_per_mtok=3.00, output_usd_per_mtok=15.00,
              latency_median_s=2.50, latency_p95_s=8.00, tokens_per_s=60, context_window=128_000,
              max_output_tokens=8192, verbosity=2, direct_answer_rate=0.8,
              plan_header="Quick outline:",
              description="over-capable reasoner: asked to plan, it usually just answers"),
    ]
)


def get_spec(model: str) -> SimModelSpec:
    """The spec of ``sim/<name>`` (also bare ``<name>``); SimModelNotFoundError (404)
    listing the zoo if unknown."""
    from .errors import SimModelNotFoundError

    key = model if model.startswith(f"{PROVIDER}/") else f"{PROVIDER}/{model}"
    # litellm may hand the custom provider the name without its prefix, or with "openai/" (server)
    if key not in ZOO and "/" in model:
        key = f"{PROVIDER}/{model.rsplit('/', 1)[-1]}"
    try:
        return ZOO[key]
    except KeyError:
        raise SimModelNotFoundError(
            f"unknown simulated model {model!r}; available: {', '.join(ZOO)}", param="model"
        ) from None
