"""``lm_proposal``: ask a language model which combinations look most promising, then race them.

The baseline an LLM-savvy engineer would try first. The prompt lists the slots, their candidate
models and what litellm knows of each model (price per million input/output tokens, context
window: ``litellm.model_cost``), and asks for the ``k`` most promising combinations as JSON.
The answer is parsed leniently (a JSON list of ``{slot: model}`` objects, positional lists,
``slot=model`` lines; model names matched case-insensitively or by a unique substring). If
nothing usable comes back (or the call fails) a warning is issued and the ``k`` cheapest
combinations by listed price are taken instead (unknown prices: candidate order). The proposed
combinations then race like any other (paired successive elimination, ``_race.Race``); the
others are never evaluated.

``model`` is any litellm model string (default ``sim/large``: the offline simulated zoo, which
answers such a prompt with generic text, so offline runs exercise the fallback). The call's cost,
when litellm can price it, is added to ``spent_usd``. litellm is imported only when the strategy
starts: the search layer stays framework-free.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..space import SearchSpace
from ..state import Cell, SearchState
from ._race import Race
from .base import Strategy

__all__ = ["LMProposal", "parse_proposals", "model_card"]


def model_card(model: str, cost_map: dict[str, Any]) -> tuple[str, float | None]:
    """(one line describing ``model`` from litellm's cost map,
    its price per 1M in+out tokens or None)."""
    info = cost_map.get(model) or cost_map.get(model.split("/", 1)[-1]) or {}
    cin, cout = info.get("input_cost_per_token"), info.get("output_cost_per_token")
    parts = []
    price = None
    if isinstance(cin, (int, float)) and isinstance(cout, (int, float)):
        price = (cin + cout) * 1e6
        parts.append(f"input ${cin * 1e6:g} per 1M tokens, output ${cout * 1e6:g} per 1M tokens")
    window = info.get("max_input_tokens")
    if window:
        parts.append(f"context window {window} tokens")
    return f"{model}: {'; '.join(parts) if parts else 'no price information'}", price


def build_prompt(space: SearchSpace, cards: dict[str, str], k: int) -> str:
    slots = "\n".join(f"- {slot}: {', '.join(c)}" for slot, c in space.slots.items())
    models = "\n".join(f"- {cards[m]}"
                       for m in dict.fromkeys(m for c in space.slots.values() for m in c))
    example = json.dumps([{slot: c[0] for slot, c in space.slots.items()}])
    return (
        "An application makes LLM calls from several slots (roles); each slot can use any of its "
        "candidate models. We want the combination with the best task accuracy, cheaper being "
        f"better among equals.\n\nSlots and candidate models:\n{slots}\n\nWhat is known about the "
        f"models:\n{models}\n\nPropose the {k} most promising combinations, most promising first. "
        "Answer with only a JSON list of objects mapping every slot to one of its candidate "
        f"models, for example {example}."
    )


def _match(value: Any, candidates: Sequence[str]) -> str | None:
    """The candidate ``value`` names: exact, case-insensitive, or a unique substring either way."""
    if not isinstance(value, str):
        return None
    v = value.strip().strip("`'\"").strip()
    if v in candidates:
        return v
    low = v.lower()
    same = [c for c in candidates if c.lower() == low]
    if same:
        return same[0]
    inside = [c for c in candidates if c.lower() in low or (low and low in c.lower())]
    if len(inside) == 1:
        return inside[0]
    longest = sorted(inside, key=len, reverse=True)  # "gpt-4o-mini" over "gpt-4o"
    if len(longest) > 1 and longest[0].lower() in low and len(longest[0]) > len(longest[1]):
        return longest[0]
    return None


def _combo(space: SearchSpace, obj: Any) -> int | None:
    names = space.names
    if isinstance(obj, dict):
        lowered = {str(key).strip().lower(): val for key, val in obj.items()}
        picked = {s: _match(lowered.get(s.lower()), space.slots[s]) for s in names}
    elif isinstance(obj, (list, tuple)) and len(obj) == len(names):
        picked = {s: _match(v, space.slots[s]) for s, v in zip(names, obj)}
    elif isinstance(obj, str):
        pairs = {a.strip().lower(): b
                 for a, b in re.findall(r"([\w.-]+)\s*(?:=|:|->)\s*([^,|;\n]+)", obj)}
        picked = {s: _match(pairs.get(s.lower()), space.slots[s]) for s in names}
    else:
        return None
    if any(v is None for v in picked.values()):
        return None
    return space.index(picked)  # type: ignore[arg-type]


def _json_candidates(text: str) -> list[Any]:
    """Every JSON value found in ``text``: the whole, fenced blocks,
    the outermost [...] and {...}."""
    found = []
    blocks = [text] + re.findall(r"```(?:json)?\s*(.*?)```", text, re.S)
    for open_, close in (("[", "]"), ("{", "}")):
        i, j = text.find(open_), text.rfind(close)
        if 0 <= i < j:
            blocks.append(text[i:j + 1])
    for b in blocks:
        try:
            found.append(json.loads(b))
        except (ValueError, TypeError):
            continue
    return found


def _items(value: Any) -> list[Any]:
    """The proposals in one JSON value: a list, the first list in an object,
    or the object itself."""
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        return lists[0] if lists else [value]
    return value if isinstance(value, list) else []


def parse_proposals(text: str | None, space: SearchSpace) -> list[int]:
    """Combinations named in an LM answer, in order, without repeats (``[]`` if none)."""
    if not text:
        return []
    out: list[int] = []
    for items in map(_items, _json_candidates(text)):
        out = [c for c in (_combo(space, it) for it in items) if c is not None]
        if out:
            break
    if not out:  # prose: one combination per line, "planner=gpt-4o, solver: mini"
        out = [c for c in (_combo(space, line) for line in text.splitlines()) if c is not None]
    return list(dict.fromkeys(out))


class LMProposal(Strategy):
    name = "lm_proposal"

    def __init__(self, model: str = "sim/large", k: int = 8,
                 completion_kwargs: dict[str, Any] | None = None, first: int | None = None,
                 growth: float = 1.2) -> None:
        self.model = model
        self.k = k
        self.completion_kwargs = dict(completion_kwargs or {})
        self.first = first
        self.growth = growth
        self.answer: str | None = None
        self.source = "lm"
        self.race: Race | None = None

    def _ask(self, prompt: str) -> tuple[str | None, float]:
        """The model's answer text and the call's cost (0 if unknown); (None, 0)
        if the call failed."""
        import litellm

        try:
            kwargs = {"temperature": 0, "drop_params": True, **self.completion_kwargs}
            resp = litellm.completion(model=self.model,
                                      messages=[{"role": "user", "content": prompt}], **kwargs)
        except Exception as exc:  # noqa: BLE001 - one failed call must not lose the run
            warnings.warn(f"lm_proposal: the call to {self.model} failed "
                          f"({type(exc).__name__}: {exc})", RuntimeWarning, stacklevel=4)
            return None, 0.0
        try:
            cost = float(litellm.completion_cost(completion_response=resp) or 0.0)
        except Exception:  # noqa: BLE001 - a cost litellm cannot compute counts as 0
            cost = 0.0
        return resp.choices[0].message.content, cost

    def start(self, state: SearchState) -> None:
        _load_provider(self.model)
        import litellm

        space = state.space
        models = list(dict.fromkeys(m for c in space.slots.values() for m in c))
        cards, prices = {}, {}
        for m in models:
            cards[m], prices[m] = model_card(m, litellm.model_cost)
        k = max(1, min(self.k, space.size))
        self.answer, cost = self._ask(build_prompt(space, cards, k))
        if cost:
            state.spent_usd += cost
        proposed = parse_proposals(self.answer, space)[:k]
        if not proposed:
            snippet = (self.answer or "")[:80].replace("\n", " ")
            warnings.warn(f"lm_proposal: no combination could be read from {self.model}'s answer "
                          f"({snippet!r}); falling back to the {k} cheapest combinations by "
                          "listed price", RuntimeWarning, stacklevel=3)
            self.source = "cheapest-first fallback"
            proposed = cheapest_first(space, prices)[:k]
        chosen = set(proposed)
        for c in range(space.size):
            if c not in chosen:
                state.eliminate(c, f"not proposed by {self.model}" if self.source == "lm" else
                                "not among the cheapest (fallback: the LM answer was unusable)",
                                kind="excluded")
        self.proposed = proposed
        self.race = Race(state, proposed, self.first, self.growth)

    def propose(self, state: SearchState) -> list[Cell]:
        assert self.race is not None
        return self.race.propose(state)

    def pick(self, state: SearchState) -> int | None:
        picked = self.race.pick(state) if self.race else None
        return picked if picked is not None else super().pick(state)

    def describe(self) -> str:
        return f"{self.name} ({self.model}, {self.source})"


def _load_provider(model: str) -> None:
    """Register the litellm provider plugin that serves ``model``'s prefix, if one is installed
    (entry points ``agentopt_adapters.providers``, e.g. ``sim`` for the offline zoo): no import of
    it here."""
    from importlib.metadata import entry_points

    for ep in entry_points(group="agentopt_adapters.providers"):
        if model.startswith(f"{ep.name}/"):
            ep.load()()


def cheapest_first(space: SearchSpace, prices: dict[str, float | None]) -> list[int]:
    """Every combination, cheapest first by the sum of its models' listed prices; a combination
    with an unpriced model comes after the priced ones, in candidate (index) order."""
    coords = np.array(list(space.product()))
    per_slot = [np.array([prices.get(m) if prices.get(m) is not None else np.nan for m in cands])
                for cands in space.slots.values()]
    total = sum(p[coords[:, s]] for s, p in enumerate(per_slot))
    idx = np.arange(space.size)
    return idx[np.lexsort((idx, np.nan_to_num(total, nan=np.inf)))].tolist()
