"""Multi-hop questions over a small embedded fact table of a fictional world (2-4 hops each)."""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any

from . import Task, _register, answer_text, final_answer_span, normalize

__all__ = ["N_ITEMS", "SEED", "world", "facts", "entities_of", "chain", "generate", "metric",
           "build"]

SEED = 4321
N_ITEMS = 120
_SYL = ["ka", "lo", "mi", "ra", "ven", "tor", "sa", "del", "qui", "bar", "no", "fen", "zu", "ith",
        "mar", "el", "dro", "pa", "cel", "vy", "sor", "ta", "gun", "hal"]
_FIRST = ["Alice", "Bruno", "Carmen", "Dmitri", "Esme", "Felix", "Greta", "Hamid", "Irene",
          "Jasper", "Katya", "Lucas", "Mina", "Nils", "Olga", "Pablo", "Rhea", "Stefan", "Talia",
          "Umar", "Vera", "Wendell", "Xenia", "Yusuf", "Zara"]


def _word(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(_SYL) for _ in range(n)).capitalize()


@lru_cache(maxsize=1)
def world() -> dict[str, dict[str, str]]:
    """Relations ``{relation: {subject: object}}`` of the fictional world (fixed seed)."""
    rng = random.Random(SEED)
    used: set[str] = set()

    def fresh(n: int, suffix: str = "") -> str:
        while True:
            w = _word(rng, n) + suffix
            if w not in used:
                used.add(w)
                return w

    rel: dict[str, dict[str, str]] = {k: {} for k in
                                      ("born_in", "works_for", "hq", "country", "capital",
                                       "language", "currency")}
    countries = [fresh(3) + "ia" for _ in range(10)]
    cities: list[str] = []
    for c in countries:
        cs = [fresh(2) for _ in range(3)]
        cities += cs
        for city in cs:
            rel["country"][city] = c
        rel["capital"][c] = cs[0]
        rel["language"][c] = fresh(2) + "ish"
        rel["currency"][c] = fresh(2).lower() + " " + rng.choice(["crown", "mark", "dinar",
                                                                  "florin", "talon"])
    companies = [fresh(2) + rng.choice([" Labs", " Works", " Systems", " Foods", " Motors"])
                 for _ in range(16)]
    for co in companies:
        rel["hq"][co] = rng.choice(cities)
    people: list[str] = []
    while len(people) < 40:
        p = f"{rng.choice(_FIRST)} {fresh(3)}"
        people.append(p)
        rel["born_in"][p] = rng.choice(cities)
        rel["works_for"][p] = rng.choice(companies)
    return rel


_STEP = {
    "born_in": "{s} was born in {o}.",
    "works_for": "{s} works for {o}.",
    "hq": "{s} is headquartered in {o}.",
    "country": "{s} is a city in {o}.",
    "capital": "The capital of {s} is {o}.",
    "language": "The language of {s} is {o}.",
    "currency": "The currency of {s} is the {o}.",
}
_TEMPLATES = [
    (("born_in", "country"), "In which country was {e} born?"),
    (("works_for", "hq"), "In which city is the company that employs {e} headquartered?"),
    (("born_in", "country", "capital"), "What is the capital of the country where {e} was born?"),
    (("born_in", "country", "language"),
     "What language is spoken in the country where {e} was born?"),
    (("hq", "country", "currency"),
     "What currency is used in the country where {e} is headquartered?"),
    (("works_for", "hq", "country"), "In which country is the headquarters of {e}'s employer?"),
    (("works_for", "hq", "country", "capital"),
     "What is the capital of the country where the employer of {e} has its headquarters?"),
    (("works_for", "hq", "country", "language"),
     "What language is spoken in the country where {e}'s employer is headquartered?"),
]


def facts() -> list[str]:
    """Every fact of the world as one sentence."""
    rel = world()
    return [_STEP[r].format(s=s, o=o) for r, table in rel.items() for s, o in table.items()]


def entities_of(relation: str) -> list[str]:
    return sorted(set(world()[relation].values()))


def chain(item: dict[str, Any], override: dict[int, str] | None = None) -> list[dict[str, Any]]:
    """The hops of ``item``; ``override={i: entity}`` forces hop i's result (errors propagate)."""
    rel = world()
    value = item["meta"]["start"]
    steps = [{"text": f"start from {value}", "value": value}]
    for i, r in enumerate(item["meta"]["relations"], start=1):
        new = rel[r].get(value)
        if override and i in override:
            new = override[i]
        if new is None:
            # a wrong entity of another type has no such relation: guess deterministically
            options = entities_of(r)
            new = options[sum(map(ord, value)) % len(options)]
        steps.append({"text": _STEP[r].format(s=value, o=new), "value": new})
        value = new
    return steps


def generate(n: int = N_ITEMS, seed: int = SEED) -> list[dict[str, Any]]:
    rel = world()
    pool: list[dict[str, Any]] = []
    for rels, template in _TEMPLATES:
        starts = rel["hq"].keys() if rels[0] == "hq" else rel["born_in"].keys()
        for e in starts:
            pool.append({"question": template.format(e=e),
                         "meta": {"start": e, "relations": list(rels)}, "difficulty": len(rels)})
    rng = random.Random(seed)
    rng.shuffle(pool)
    items = pool[:n]
    for i, it in enumerate(items):
        it["id"] = f"hop-{i:03d}"
        it["answer"] = chain(it)[-1]["value"]
    return [{"id": it["id"], "question": it["question"], "answer": it["answer"],
             "difficulty": it["difficulty"], "meta": it["meta"]} for it in items]


def metric(example: Any, output: Any) -> float:
    """1.0 when the final answer names the gold entity (normalized match)."""
    gold = normalize(example["answer"] if isinstance(example, dict) else example.answer)
    text = normalize(final_answer_span(answer_text(output)))
    if not text:
        return 0.0
    if text == gold:
        return 1.0
    # accept a short answer sentence that contains the gold entity and no other candidate entity
    words = text.split()
    return float(len(words) <= len(gold.split()) + 8 and f" {gold} " in f" {text} ")


@_register("multihop")
def build() -> Task:
    return Task(
        name="multihop",
        items=generate(),
        metric=metric,
        description="Multi-hop questions (2-4 hops) over an embedded fact table of a fictional "
                    "world.",
        facts=facts(),
    )
