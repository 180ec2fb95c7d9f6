"""Synthetic large search spaces for the replay benchmark: a full (combination x item) grid.

``synthetic_replay("3x8", seed)`` = 3 slots x 8 models (512 combinations), ``"4x6"`` = 4 slots x 6
models (1,296), on ``n_items=200`` items, returned as a ``Replay`` (so every strategy runs on it
through ``search()`` exactly as on the recorded benchmarks; ground truth = each combination's
mean over the 200 items). The generator, all from ``numpy.random.default_rng(seed)``:

* **Models** ``m0 .. m{M-1}``: an ability ``a_j`` spread over [-1, 1] (+ noise), a price per
  million tokens growing with ability (log-uniform ~$0.05 .. $15, with noise: some models are
  good value, some are not), a latency overhead and a speed, a verbosity (output-token factor).
* **Slots** ``planner, solver, critic, formatter`` (first ``S``): importance weights
  ``1.0, 0.7, 0.4, 0.25`` and typical input/output tokens per call.
* **Combination skill** ``theta_c = sum_s w_s a_{m_s}`` + interactions:
  the *over-capable planner*: the strongest model, as planner, tends to answer directly instead of
  planning, which hurts (-0.8; -0.3 when the solver is one of the two strongest); the *same model
  twice* in planner and solver misses its own mistakes (-0.25); and three random strong pairwise
  interactions (slot s model j x slot t model k, +-0.4 .. 0.6).
* **Items** have a latent difficulty ``d_i ~ N(0, 1)``; a cell's score is Bernoulli with
  probability ``sigmoid(1.3 (theta_c - d_i) + 0.3)``: binary, correlated across combinations
  through item difficulty (as on real benchmarks, so paired comparisons help).
* **Cost** of a cell = sum over slots of price x tokens (input and output tokens per slot, scaled
  by an item length factor and the model's verbosity) x lognormal noise (sigma 0.15);
  **latency** = sum over slots of overhead + output tokens / speed, lognormal noise.
"""

from __future__ import annotations

import re

import numpy as np

from ..space import SearchSpace
from .replay import Replay

__all__ = ["synthetic_replay", "SYNTHETIC"]

SYNTHETIC = ("3x8", "4x6")
_SLOTS = ("planner", "solver", "critic", "formatter")
_WEIGHTS = (1.0, 0.7, 0.4, 0.25)
_TOKENS = ((900, 250), (1400, 350), (1200, 120), (600, 80))  # (input, output) per call, per slot


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def synthetic_replay(spec: str = "3x8", seed: int = 0, n_items: int = 200) -> Replay:
    """A ``Replay`` of ``S`` slots x ``M`` models (``spec`` = ``"SxM"``, S <= 4);
    see the module doc."""
    m = re.fullmatch(r"(\d+)x(\d+)", spec)
    if not m or not 1 <= int(m.group(1)) <= len(_SLOTS) or int(m.group(2)) < 2:
        raise ValueError(f"synthetic spec must look like '3x8' (1-{len(_SLOTS)} slots x >= 2 "
                         f"models), got {spec!r}")
    n_slots, n_models = int(m.group(1)), int(m.group(2))
    rng = np.random.default_rng(seed)
    models = [f"m{j}" for j in range(n_models)]
    ability = np.linspace(-1, 1, n_models) + rng.normal(0, 0.25, n_models)
    log_price = (np.log(0.05)
                 + (np.log(15) - np.log(0.05)) * (ability - ability.min()) / np.ptp(ability))
    price_in = np.exp(log_price + rng.normal(0, 0.5, n_models)) / 1e6          # $ per input token
    price_out = 4 * price_in
    overhead = (0.15 + 1.0 * (ability - ability.min()) / np.ptp(ability)
                + rng.uniform(0, 0.3, n_models))
    speed = rng.uniform(40, 250, n_models)
    verbosity = rng.uniform(0.7, 1.5, n_models)

    slots = _SLOTS[:n_slots]
    space = SearchSpace(dict.fromkeys(slots, models))
    coords = np.array(list(space.product()))                                   # (combos, slots)
    theta = sum(_WEIGHTS[s] * ability[coords[:, s]] for s in range(n_slots))
    theta = theta - np.median(theta)
    if n_slots >= 2:
        # the strongest model, as planner, answers directly
        strong = int(np.argmax(ability))
        strong_solver = ability[coords[:, 1]] >= np.sort(ability)[-2]
        theta = theta - np.where(strong_solver, 0.3, 0.8) * (coords[:, 0] == strong)
        theta = theta - 0.25 * (coords[:, 0] == coords[:, 1])
        for _ in range(3):                               # a few strong pairwise interactions
            s, t = rng.choice(n_slots, 2, replace=False)
            j, k = rng.integers(n_models, size=2)
            theta = theta + rng.choice([-1, 1]) * rng.uniform(0.4, 0.6) * ((coords[:, s] == j)
                                                                           & (coords[:, t] == k))

    difficulty = rng.normal(0, 1, n_items)
    p = _sigmoid(1.3 * (theta[:, None] - difficulty[None, :]) + 0.3)
    scores = (rng.random(p.shape) < p).astype(float)

    length = rng.lognormal(0, 0.35, n_items)                                   # item length factor
    costs = np.zeros(p.shape)
    lats = np.zeros(p.shape)
    for s in range(n_slots):
        j = coords[:, s]
        tin, tout = _TOKENS[s]
        out_tok = tout * verbosity[j][:, None] * length[None, :]
        costs += (price_in[j][:, None] * tin * length[None, :] + price_out[j][:, None] * out_tok)
        lats += overhead[j][:, None] + out_tok / speed[j][:, None]
    costs *= rng.lognormal(0, 0.15, p.shape)
    lats *= rng.lognormal(0, 0.2, p.shape)
    return Replay(f"synth-{spec}", space, scores, costs, lats)
