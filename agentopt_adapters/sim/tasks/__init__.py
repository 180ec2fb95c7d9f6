"""Bundled demo tasks: small generated datasets with gold answers and a metric in [0, 1].

``load_task("arithmetic")`` -> multi-step integer word problems (a calculator tool helps);
``load_task("multihop")`` -> multi-hop questions over a small embedded fact table.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ...errors import AgentOptError

__all__ = ["Task", "load_task", "TASKS", "answer_text", "normalize"]


@dataclass
class Task:
    """A dataset plus its metric. Items are dicts with at least ``question`` and ``answer``."""

    name: str
    items: list[dict[str, Any]]
    metric: Callable[[Any, Any], float]
    description: str = ""
    facts: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)

    def split(self, n_train: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """First ``n_train`` items and the rest (item order is fixed and mixes difficulties)."""
        return self.items[:n_train], self.items[n_train:]


def normalize(text: str) -> str:
    """Lowercase, drop punctuation and articles, collapse spaces."""
    text = re.sub(r"[^a-z0-9 ]", " ", str(text).lower())
    return " ".join(w for w in text.split() if w not in {"a", "an", "the"})


def answer_text(output: Any) -> str:
    """Best-effort final answer text of an app's output (str, dict/state, Prediction, message)."""
    if output is None:
        return ""
    if isinstance(output, dict):
        for key in ("answer", "final_answer", "result", "output", "response"):
            if key in output and output[key] is not None:
                return answer_text(output[key])
        if output.get("messages"):
            return answer_text(output["messages"][-1])
        return str(output)
    for attr in ("answer", "final_answer", "content"):
        value = getattr(output, attr, None)
        if value is not None and not callable(value):
            return answer_text(value) if not isinstance(value, str) else value
    if isinstance(output, (list, tuple)) and output:
        return answer_text(output[-1])
    return str(output)


def final_answer_span(text: str) -> str:
    """The text after the last 'answer is' / 'Answer:' marker, else the whole text."""
    marks = list(re.finditer(r"(?:final answer|answer)\s*(?:is|:)\s*", text, re.I))
    return text[marks[-1].end():] if marks else text


TASKS: dict[str, Callable[[], Task]] = {}


def _register(name: str) -> Callable[[Callable[[], Task]], Callable[[], Task]]:
    def deco(fn: Callable[[], Task]) -> Callable[[], Task]:
        TASKS[name] = fn
        return fn

    return deco


@cache
def _load(name: str) -> Task:
    from . import arithmetic, multihop  # noqa: F401  (register the builders)

    if name not in TASKS:
        raise AgentOptError(f"unknown task {name!r}; available tasks: {', '.join(sorted(TASKS))}")
    return TASKS[name]()


def load_task(name: str) -> Task:
    """The bundled task ``name`` ("arithmetic" or "multihop");
    items are generated with a fixed seed."""
    return _load(name)




