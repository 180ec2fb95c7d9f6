"""How a simulated model reasons about a bundled task item: plans, solves (following, fixing or
copying what it is shown) and critiques, right or wrong according to its skill."""

from __future__ import annotations

import random
import re
from typing import Any

from .zoo import SimModelSpec

__all__ = ["Mind", "norm", "task_module"]


def norm(text: str) -> str:
    """Lowercase alphanumerics separated by single spaces."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


def task_module(task: str) -> Any:
    from .tasks import arithmetic, multihop

    return arithmetic if task == "arithmetic" else multihop


def _p_plan(s: float, d: int) -> float:
    """Chance of a fully correct worked plan of ``d`` steps."""
    return s ** (0.5 * d)


def _p_follow(s: float) -> float:
    """Chance of executing a correct plan without slipping."""
    return 1 - 0.35 * (1 - s)


def _p_recover(s: float, same_family: bool) -> float:
    """Chance of spotting and fixing a flawed plan (models miss their own kind of mistakes)."""
    return s * s * (0.15 if same_family else 0.7)


class Mind:
    """One model working one item."""

    def __init__(self, spec: SimModelSpec, req: Any, rng: random.Random) -> None:
        self.spec, self.req, self.rng = spec, req, rng
        self.s = spec.skill
        self.item = req.item
        self.mod: Any = task_module(req.task) if req.task else None  # the task's module
        self.d = int(self.item.get("difficulty", 3)) if self.item else 0

    # values ---------------------------------------------------------------
    def gold_chain(self) -> list[dict[str, Any]]:
        return self.mod.chain(self.item)

    def wrong(self, value: Any, relation: str | None = None) -> Any:
        if isinstance(value, int):
            delta = self.rng.choice([-10, -6, -4, -3, -2, -1, 1, 2, 3, 5, 7, 10])
            return value + delta if value + delta != value else value + 1
        options = [e for e in self.mod.entities_of(relation) if e != value] if relation else []
        return self.rng.choice(options) if options else f"{value} (unsure)"

    def flawed_chain(self) -> tuple[list[dict[str, Any]], dict[int, Any]]:
        gold = self.gold_chain()
        i = self.rng.randint(1, len(gold) - 1)
        rel = self.item["meta"]["relations"][i - 1] if self.req.task == "multihop" else None
        override = {i: self.wrong(gold[i]["value"], rel)}
        return self.mod.chain(self.item, override), override

    def answer_relation(self) -> str | None:
        return self.item["meta"]["relations"][-1] if self.req.task == "multihop" else None

    def values_in(self, text: str) -> list[Any]:
        """Candidate answer values mentioned in ``text``, in order of appearance."""
        if self.req.task == "arithmetic":
            return [int(x) for x in re.findall(r"(?<![\w.])-?\d+(?![\w.]\d)", text)]
        found = []
        low = text.lower()
        for e in self.mod.entities_of(self.answer_relation()):
            for m in re.finditer(re.escape(e.lower()), low):
                found.append((m.start(), e))
        return [e for _, e in sorted(found)]

    # reading the evidence --------------------------------------------------
    def assess(self) -> tuple[str, Any, dict[int, Any] | None]:
        """('good'|'flawed'|'claim'|'none', claimed value, override reproducing a flawed plan)."""
        ev = self.req.evidence
        gold = self.gold_chain()
        ev_norm = f" {norm(ev)} "
        values = self.values_in(ev)
        claimed = values[-1] if values else None
        steps_like = bool(re.search(r"(?im)^\s*(?:[-*]\s*)?(?:step\s*\d+[:.)]?|\d+[.)])\s", ev))
        if steps_like:
            has_all = all(f" {norm(str(st['value']))} " in ev_norm for st in gold[1:])
            if has_all and claimed == gold[-1]["value"]:
                return "good", claimed, None
            override = self._plan_flaw(ev, ev_norm, gold)
            if claimed is None and override:
                claimed = self.mod.chain(self.item, override)[-1]["value"]
            return "flawed", claimed, override
        if claimed is not None and re.search(r"answer|result|\bis\b", ev, re.I):
            return "claim", claimed, None
        return "none", None, None

    def _plan_flaw(self, ev: str, ev_norm: str,
                   gold: list[dict[str, Any]]) -> dict[int, Any] | None:
        """The first step a step-by-step plan gets wrong, as an override of the gold chain (None if
        the plan shows no wrong value)."""
        if self.req.task == "arithmetic":
            plan_vals = [int(x) for x in re.findall(r"=\s*(-?\d+)", ev)]
            for i, st in enumerate(gold[1:], start=1):
                if i - 1 < len(plan_vals) and plan_vals[i - 1] != st["value"]:
                    return {i: plan_vals[i - 1]}
            return None
        for i, st in enumerate(gold[1:], start=1):
            if f" {norm(str(st['value']))} " not in ev_norm:
                cands = self.values_in_rel(ev, self.item["meta"]["relations"][i - 1])
                return {i: cands[0]} if cands else None
        return None

    def values_in_rel(self, text: str, relation: str) -> list[Any]:
        low = text.lower()
        return [e for e in self.mod.entities_of(relation) if e.lower() in low]

    def same_family(self) -> bool:
        return self.spec.plan_header.lower() in self.req.evidence.lower()

    def solve(self, cot: bool = True) -> tuple[Any, list[dict[str, Any]], dict[int, Any] | None,
                                               str]:
        """(final value, the steps it worked through, override used, how) for a solver."""
        gold = self.gold_chain()
        r = self.rng.random
        if self.req.tool_result is not None:
            got = self.values_in(self.req.tool_result)
            if got and r() < 0.97 + 0.03 * self.s:
                return got[0], gold, None, "tool"
        kind, claimed, override = self.assess()
        if kind == "good":
            if r() < _p_follow(self.s):
                return gold[-1]["value"], gold, None, "followed plan"
            return self.slip(gold)
        if kind == "flawed":
            if r() < _p_recover(self.s, self.same_family()):
                return gold[-1]["value"], gold, None, "fixed flawed plan"
            chain = self.mod.chain(self.item, override) if override else gold[:-1] + [
                {"text": gold[-1]["text"], "value": claimed}]
            return claimed, chain, override, "followed flawed plan"
        if kind == "claim" and r() < 0.9 - 0.4 * self.s:
            return claimed, gold[:1], None, "copied claimed answer"
        # on its own: write its own plan (chain of thought) or answer directly
        p = _p_plan(self.s, self.d) if cot else _p_plan(self.s, int(self.d * 1.6))
        if r() < p:
            if r() < _p_follow(self.s):
                return gold[-1]["value"], gold, None, "solved alone"
            return self.slip(gold)
        chain, override = self.flawed_chain()
        if r() < _p_recover(self.s, True):
            return gold[-1]["value"], gold, None, "solved alone (self-corrected)"
        return chain[-1]["value"], chain, override, "solved alone (wrong)"

    def slip(self, gold: list[dict[str, Any]]) -> tuple[Any, list[dict[str, Any]], None, str]:
        bad = self.wrong(gold[-1]["value"], self.answer_relation())
        return bad, gold[:-1] + [{"text": gold[-1]["text"], "value": bad}], None, "slipped"

    def plan(self) -> tuple[str, list[str], Any]:
        """(plan text, step lines, final value) for a planner;
        an over-capable model may just answer."""
        if self.spec.direct_answer_rate and self.rng.random() < self.spec.direct_answer_rate:
            ok = self.rng.random() < _p_plan(self.s, int(self.d * 3))
            gold = self.gold_chain()[-1]["value"]
            value = gold if ok else self.wrong(gold, self.answer_relation())
            text = f"No plan needed - this is straightforward. The answer is {value}."
            return text, [text], value
        good = self.rng.random() < _p_plan(self.s, self.d)
        chain = self.gold_chain() if good else self.flawed_chain()[0]
        lines = [f"Step {i}: {st['text'][0].upper()}{st['text'][1:]}"
                 for i, st in enumerate(chain[1:], start=1)]
        tail = ["Check each intermediate result before moving on."] * (self.spec.verbosity >= 2)
        final = chain[-1]["value"]
        text = "\n".join([self.spec.plan_header, *lines, *tail, f"This gives {final}."])
        return text, lines, final

    def judge(self, answers: list[str]) -> int:
        """0-based index of the answer a judge picks: it checks the answers in turn as a critic
        does (a right one accepted, a wrong one caught, as often as ``critique``) and takes the
        first it accepts; the first answer when it accepts none."""
        gold = self.gold_chain()[-1]["value"]
        for i, text in enumerate(answers):
            values = self.values_in(text)
            right = bool(values) and values[-1] == gold
            if self.rng.random() < (0.7 + 0.3 * self.s if right else 1 - self.s ** 1.5):
                return i
        return 0

    def critique(self) -> tuple[bool, Any]:
        """(says correct?, corrected value) for a critic reviewing a proposed answer."""
        gold = self.gold_chain()[-1]["value"]
        values = self.values_in(self.req.evidence)
        proposed = values[-1] if values else None
        if proposed == gold:
            if self.rng.random() < 0.7 + 0.3 * self.s:
                return True, gold
            return False, self.wrong(gold, self.answer_relation())
        if self.rng.random() < self.s ** 1.5:
            knows = self.rng.random() < _p_plan(self.s, self.d)
            fixed = gold if knows else self.wrong(gold, self.answer_relation())
            return False, fixed
        return True, proposed
