"""Synthetic search problems with a planted best combination (shared by the search tests)."""

from __future__ import annotations

import hashlib
import threading

import numpy as np

from agentopt_search import Outcome, SearchSpace


def _u(*key: object) -> float:
    h = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") / 2**64


class Planted:
    """Bernoulli (or fractional) scores with an item difficulty; combination ``best`` is best."""

    def __init__(self, slots: dict[str, list[str]], best: dict[str, str], gap: float = 0.25,
                 n_items: int = 120, fractional: bool = False, seed: int = 0) -> None:
        self.space = SearchSpace(slots)
        self.examples = list(range(n_items))
        rng = np.random.default_rng(seed)
        self.p = rng.uniform(0.2, 0.55, self.space.size)
        self.best = self.space.index(best)
        self.p[self.best] = 0.55 + gap
        self.price = rng.uniform(0.001, 0.01, self.space.size)
        self.fractional = fractional
        self.calls: dict[tuple[int, int], int] = {}
        self.lock = threading.Lock()

    def score(self, combo: int, item: int) -> float:
        difficulty = _u("d", item) - 0.5
        if self.fractional:
            return float(np.clip(self.p[combo] - 0.4 * difficulty + 0.3 * (_u(combo, item) - 0.5),
                                 0, 1))
        return float(_u(combo, item) < np.clip(self.p[combo] - 0.3 * difficulty, 0, 1))

    def evaluate(self, assignment: dict[str, str], example: int) -> Outcome:
        combo = self.space.index(assignment)
        with self.lock:
            self.calls[(combo, example)] = self.calls.get((combo, example), 0) + 1
        return Outcome(score=self.score(combo, example), cost_usd=float(self.price[combo]),
                       latency_s=0.01)

    def true_means(self) -> np.ndarray:
        return np.array([np.mean([self.score(c, i) for i in self.examples])
                         for c in range(self.space.size)])
