"""Inference-time scaling of one step: draw ``samples`` answers, keep one (``select``).

``select="vote"``: the most frequent answer after normalising it (text: whitespace and case; tool
calls: name + arguments; structured output: the parsed object), ties to the earliest sample.
``select="judge"``: one more call, to the ``judge`` model, shown every sample, names the best.
A function ``select(outputs) -> index`` chooses itself. Adapters apply it per model call of a slot
(LangGraph) or per predictor call (DSPy); every sample and the judge call are recorded under the
slot, so cost and latency are what the step really costs.

Written in a candidate as ``{"model": "sim/small", "samples": 8, "select": "vote"}`` or, on the
command line, ``sim/small*8:vote`` / ``sim/small*4:judge=sim/large``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ModelError

__all__ = ["Scaling", "parse_scaling", "parse_shorthand", "vote", "normalize", "judge_prompt",
           "judge_choice"]

Select = str | Callable[[Sequence[Any]], int]
MAX_SAMPLES = 64


@dataclass(frozen=True)
class Scaling:
    """How many answers a step draws and how it keeps one."""

    samples: int = 1
    select: Select = "vote"
    judge: str | None = None

    @property
    def active(self) -> bool:
        return self.samples > 1

    def label(self) -> str:
        """``*8:vote``, ``*4:judge=sim/large``, ``*4:<function name>`` ('' for one sample)."""
        if not self.active:
            return ""
        how = (self.select if isinstance(self.select, str)
               else getattr(self.select, "__name__", "select"))
        return f"*{self.samples}:{how}" + (f"={self.judge}" if self.select == "judge" else "")

    def settings(self) -> dict[str, Any]:
        """``{"samples", "select", "judge"}`` as given (a select function stays a function; {} for
        one sample): the keys an adapter's ``bind`` takes in a slot's value."""
        if not self.active:
            return {}
        return {"samples": self.samples, "select": self.select,
                **({"judge": self.judge} if self.judge else {})}

    def public(self) -> dict[str, Any]:
        """JSON form for storage and display (a function is named; ``export`` refuses it)."""
        out = self.settings()
        if callable(out.get("select")):
            out["select"] = getattr(self.select, "__name__", "select")
        return out


def parse_scaling(spec: Mapping[str, Any], where: str = "") -> Scaling:
    """The Scaling in a candidate dict (``samples``, ``select``, ``judge``);
    one clear error each."""
    at = f"{where}: " if where else ""
    samples = spec.get("samples", 1)
    if (isinstance(samples, bool) or not isinstance(samples, int)
            or not 1 <= samples <= MAX_SAMPLES):
        raise ModelError(f"{at}samples must be an integer from 1 to {MAX_SAMPLES}, "
                         f"got {samples!r}")
    select = spec.get("select", "vote")
    judge = spec.get("judge")
    if not callable(select) and select not in ("vote", "judge"):
        raise ModelError(f"{at}select must be 'vote', 'judge' or a function select(outputs) -> "
                         f"index, got {select!r}")
    if select == "judge" and not (isinstance(judge, str) and judge):
        raise ModelError(f"{at}select='judge' needs judge=<model string>, e.g. 'judge': "
                         "'openai/gpt-4o'")
    if judge is not None and select != "judge":
        raise ModelError(f"{at}judge={judge!r} is only used with select='judge' (select is "
                         f"{select!r})")
    if judge is not None:
        from .models import check_model_string

        check_model_string(judge, where or None)
    return Scaling(samples, select, judge)


_SHORTHAND = re.compile(r"^(?P<model>[^*]+)\*(?P<n>\d+)"
                        r"(?::(?P<select>vote|judge)(?:=(?P<judge>.+))?)?$")


def parse_shorthand(text: str) -> dict[str, Any] | str:
    """``"sim/small*8:vote"`` -> ``{"model": "sim/small", "samples": 8, "select": "vote"}``; a
    plain model string is returned as it is."""
    m = _SHORTHAND.match(text.strip())
    if m is None:
        if "*" in text:
            raise ModelError(f"candidate {text!r}: write samples as 'model*8:vote' or "
                             "'model*4:judge=<model>'")
        return text
    spec: dict[str, Any] = {"model": m["model"].strip(), "samples": int(m["n"]),
                            "select": m["select"] or "vote"}
    if m["judge"]:
        spec["judge"] = m["judge"].strip()
    return spec


def normalize(answer: Any) -> Hashable:
    """A vote key: text without case or surrounding/duplicate whitespace; JSON text and objects in
    a canonical form (so differently formatted equal objects agree)."""
    if isinstance(answer, str):
        text = " ".join(answer.split()).lower()
        try:
            return json.dumps(json.loads(answer), sort_keys=True).lower()
        except (ValueError, TypeError):
            return text
    if hasattr(answer, "model_dump"):  # a Pydantic object
        answer = answer.model_dump()
    try:
        return json.dumps(answer, sort_keys=True, default=str).lower()
    except (TypeError, ValueError):
        return repr(answer).lower()


def vote(keys: Sequence[Hashable]) -> int:
    """Index of the most frequent key; ties go to the earliest sample."""
    if not keys:
        raise ValueError("vote needs at least one answer")
    counts: dict[Hashable, int] = {}
    for k in keys:
        counts[k] = counts.get(k, 0) + 1
    best = max(counts.values())
    return next(i for i, k in enumerate(keys) if counts[k] == best)


def judge_prompt(task: str, answers: Sequence[str]) -> str:
    """The one message the judge model gets: the task and the numbered candidate answers."""
    listed = "\n\n".join(f"[{i + 1}]\n{a}" for i, a in enumerate(answers))
    return ("Several answers were drafted for the task below. Pick the best "
            f"one.\n\nTask:\n{task}\n\nAnswers:\n{listed}\n\nReply with the number of the best "
            "answer only.")


def judge_choice(reply: str, n: int) -> int:
    """0-based index the judge named (the first number in 1..n in its reply);
    0 when it named none."""
    for token in re.findall(r"\d+", reply or ""):
        k = int(token)
        if 1 <= k <= n:
            return k - 1
    return 0
