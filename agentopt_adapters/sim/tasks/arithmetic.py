"""Multi-step arithmetic word problems with integer answers (2-5 operations each)."""

from __future__ import annotations

import ast
import operator
import random
import re
import threading
from collections.abc import Callable
from typing import Any

from . import Task, _register, answer_text, final_answer_span

__all__ = ["N_ITEMS", "SEED", "apply_op", "step_text", "chain", "expression", "generate",
           "parse_number", "metric", "calculator", "build"]

NAMES = ["Ava", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas",
         "Kira", "Liam", "Maya", "Noah", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tara"]
THINGS = ["apples", "marbles", "stickers", "books", "coins", "pencils", "cookies", "stamps",
          "shells", "cards", "beads", "tickets"]
N_ITEMS = 120
SEED = 1234


def apply_op(value: int, op: list[Any]) -> int:
    """Apply one operation ``[kind, *args]`` to ``value``."""
    kind = op[0]
    if kind == "add":
        return value + op[1]
    if kind == "sub":
        return value - op[1]
    if kind == "mul":
        return value * op[1]
    if kind == "packs":
        return value + op[1] * op[2]
    if kind == "div":
        return value // op[1]
    raise ValueError(kind)


def step_text(value: int, op: list[Any], new: int) -> str:
    kind = op[0]
    if kind == "add":
        return f"add the {op[1]} bought: {value} + {op[1]} = {new}"
    if kind == "sub":
        return f"subtract the {op[1]} given away: {value} - {op[1]} = {new}"
    if kind == "mul":
        return f"multiply by {op[1]}: {value} * {op[1]} = {new}"
    if kind == "packs":
        return f"add {op[1]} packs of {op[2]}: {value} + {op[1]} * {op[2]} = {new}"
    return f"divide into {op[1]} equal shares and keep one: {value} / {op[1]} = {new}"


def chain(item: dict[str, Any], override: dict[int, int] | None = None) -> list[dict[str, Any]]:
    """The worked steps of ``item``; ``override={i: v}`` forces step i's result
    (errors propagate)."""
    meta = item["meta"]
    value = meta["start"]
    steps = [{"text": f"start with {value}", "value": value}]
    for i, op in enumerate(meta["ops"], start=1):
        new = apply_op(value, op)
        if override and i in override:
            new = override[i]
        steps.append({"text": step_text(value, op, new), "value": new})
        value = new
    return steps


def expression(item: dict[str, Any], override: dict[int, int] | None = None) -> str:
    """A calculator expression for the item (with an optional wrong operand at one step)."""
    meta = item["meta"]
    expr = str(meta["start"])
    for i, op in enumerate(meta["ops"], start=1):
        op = list(op)
        if override and i in override:  # a wrong operand that reproduces the overridden value
            op = ["wrong", override[i]]
        kind = op[0]
        if kind == "add":
            expr = f"({expr} + {op[1]})"
        elif kind == "sub":
            expr = f"({expr} - {op[1]})"
        elif kind == "mul":
            expr = f"{expr} * {op[1]}"
        elif kind == "packs":
            expr = f"({expr} + {op[1]} * {op[2]})"
        elif kind == "div":
            expr = f"({expr}) / {op[1]}"
        else:
            expr = str(op[1])
    wrapped = expr.startswith("(") and expr.endswith(")") and expr.count("(") == 1
    return expr[1:-1] if wrapped else expr


def _sentence(name: str, things: str, op: list[Any]) -> str:
    kind = op[0]
    if kind == "add":
        return f"{name} buys {op[1]} more {things}."
    if kind == "sub":
        return f"{name} gives {op[1]} {things} to a friend."
    if kind == "mul":
        word = {2: "doubles", 3: "triples", 4: "quadruples"}[op[1]]
        return f"A lucky trade {word} the number of {things} {name} has."
    if kind == "packs":
        return f"{name} then buys {op[1]} packs with {op[2]} {things} in each pack."
    return f"{name} splits the {things} equally into {op[1]} boxes and keeps only one box."


def generate(n: int = N_ITEMS, seed: int = SEED) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    items: list[dict[str, Any]] = []
    while len(items) < n:
        n_ops = 2 + len(items) % 4
        name, things = rng.choice(NAMES), rng.choice(THINGS)
        value = start = rng.randint(12, 60)
        ops: list[list[Any]] = []
        for _ in range(n_ops):
            op = _draw_op(rng, value)
            if any(o == op for o in ops):
                continue
            value = apply_op(value, op)
            ops.append(op)
        text = f"{name} has {start} {things}. " + " ".join(_sentence(name, things, o) for o in ops)
        question = f"{text} How many {things} does {name} have now?"
        if any(it["question"] == question for it in items):
            continue
        item = {"id": f"arith-{len(items):03d}", "question": question, "answer": value,
                "difficulty": n_ops, "meta": {"start": start, "ops": ops}}
        item["expression"] = expression(item)
        items.append(item)
    return items


def _draw_op(rng: random.Random, value: int) -> list[Any]:
    """One operation on ``value``: add, sub, packs, mul (while the value is small), div
    (exactly)."""
    choices = ["add", "sub", "packs"]
    if value <= 150:
        choices.append("mul")
    divisors = [k for k in range(2, 7) if value % k == 0 and value // k >= 4]
    if divisors:
        choices.append("div")
    kind = rng.choice(choices)
    if kind == "add":
        return ["add", rng.randint(5, 40)]
    if kind == "sub":
        return ["sub", rng.randint(2, max(2, value // 2))]
    if kind == "mul":
        return ["mul", rng.randint(2, 4)]
    if kind == "packs":
        return ["packs", rng.randint(2, 6), rng.randint(3, 12)]
    return ["div", rng.choice(divisors)]


_NUM = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def parse_number(text: str) -> float | None:
    """The number after the last 'answer' marker, else the last number in ``text``."""
    nums = _NUM.findall(final_answer_span(text)) or _NUM.findall(text)
    if not nums:
        return None
    span_nums = _NUM.findall(final_answer_span(text))
    pick = span_nums[0] if span_nums and final_answer_span(text) != text else nums[-1]
    try:
        return float(pick.replace(",", ""))
    except ValueError:
        return None


def metric(example: Any, output: Any) -> float:
    """1.0 when the output's final number equals the gold integer answer."""
    gold = example["answer"] if isinstance(example, dict) else example.answer
    if isinstance(output, (int, float)) and not isinstance(output, bool):
        return float(abs(float(output) - float(gold)) < 1e-6)
    got = parse_number(answer_text(output))
    return float(got is not None and abs(got - float(gold)) < 1e-6)


_OPS: dict[type[ast.AST], Callable[..., Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.USub: operator.neg,
    ast.UAdd: operator.pos, ast.Mod: operator.mod, ast.Pow: operator.pow}


# CPython 3.11's ast.parse keeps a per-interpreter recursion counter that concurrent threads
# corrupt ("SystemError: AST constructor recursion depth mismatch"): one parse at a time.
_PARSE_LOCK = threading.Lock()


def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression (numbers, + - * / // % ** and parentheses)."""

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.operand))
        raise ValueError(f"unsupported expression element {ast.dump(node)[:40]}")

    try:
        with _PARSE_LOCK:
            tree = ast.parse(expression.replace("^", "**").replace("×", "*"), mode="eval")
        value = ev(tree)
    except (SyntaxError, ValueError, ZeroDivisionError) as exc:
        return f"error: {exc}"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


@_register("arithmetic")
def build() -> Task:
    return Task(
        name="arithmetic",
        items=generate(),
        metric=metric,
        description="Multi-step arithmetic word problems with integer answers; a calculator tool "
                    "helps.",
    )
