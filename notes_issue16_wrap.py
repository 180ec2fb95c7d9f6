"""Companion of notes_issue16.md: the helper that wrapped the lines over 99 columns on branch
``shape`` (delete it once ``ruff check .`` is clean).

    python notes_issue16_wrap.py FILE...                  # wrap, then print what is left per file
    python notes_issue16_wrap.py --split-asserts FILE...  # tests: assert a and b -> two asserts

Wrap physical lines over LIMIT columns with minimal edits, in the code's own style.

- a trailing comment that makes a line long moves to its own line above (pragmas stay: manual);
- a long comment line is re-wrapped;
- a long docstring line is re-flowed into the following lines of its paragraph;
- code inside brackets breaks after a comma (or before and / or / if / else / for / an operator),
  the continuation aligned with the opening bracket (or the existing hanging indent);
- a string literal inside brackets splits at a space into two adjacent literals.
Everything else is left (reported) for a person. Checks: the AST is unchanged (docstrings compared
with whitespace normalised).
"""

from __future__ import annotations

import ast
import io
import sys
import textwrap
import tokenize
from pathlib import Path

LIMIT = 99
OPEN, CLOSE = "([{", ")]}"
PRAGMAS = ("noqa", "type:", "pragma", "fmt:")
LAYOUT = (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
BREAK_BEFORE = {"and", "or", "if", "else", "for", "+", "-", "*", "/", "//", "%", "|", "&", "==",
                "!=", "<=", ">=", "<", ">", "in", "not", "is", "@"}


def docstring_ranges(tree: ast.AST) -> list[tuple[int, int]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                out.append((body[0].lineno, body[0].end_lineno))
    return out


def norm_tree(src: str) -> str:
    tree = ast.parse(src)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                body[0].value.value = " ".join(body[0].value.value.split())
    return ast.dump(tree)


class Info:
    def __init__(self, src: str) -> None:
        self.lines = src.split("\n")
        self.toks = list(tokenize.generate_tokens(io.StringIO(src).readline))
        self.by_line: dict[int, list[tuple[tokenize.TokenInfo, list[tokenize.TokenInfo]]]] = {}
        stack: list[tokenize.TokenInfo] = []
        for t in self.toks:
            self.by_line.setdefault(t.start[0], []).append((t, list(stack)))
            if t.type == tokenize.OP and t.string in OPEN:
                stack.append(t)
            elif t.type == tokenize.OP and t.string in CLOSE and stack:
                stack.pop()
        self.multiline_strings = set()
        for t in self.toks:
            if t.type == tokenize.STRING and t.start[0] != t.end[0]:
                self.multiline_strings.update(range(t.start[0], t.end[0] + 1))
        self.docs = set()
        self.doc_of: dict[int, tuple[int, int]] = {}
        for lo, hi in docstring_ranges(ast.parse(src)):
            self.docs.update(range(lo, hi + 1))
            for k in range(lo, hi + 1):
                self.doc_of[k] = (lo, hi)

    def first_col_after(self, tok: tokenize.TokenInfo) -> int:
        """Column of the first token on a line after ``tok``'s line (hanging indent)."""
        for t in self.toks:
            if t.start[0] > tok.start[0] and t.type not in (tokenize.NL, tokenize.NEWLINE,
                                                            tokenize.COMMENT):
                return t.start[1]
        return tok.start[1] + 4

    def is_last_on_line(self, tok: tokenize.TokenInfo) -> bool:
        for t, _ in self.by_line.get(tok.start[0], []):
            if t.start[1] > tok.start[1] and t.type not in (tokenize.NL, tokenize.NEWLINE,
                                                            tokenize.COMMENT):
                return False
        return True

    def cont_col(self, stack: list[tokenize.TokenInfo]) -> int:
        b = stack[-1]
        return self.first_col_after(b) if self.is_last_on_line(b) else b.start[1] + 1


def _comment_prefix(text: str) -> str:
    return "#: " if text.startswith("#:") else "# "


def wrap_comment(indent: str, text: str) -> list[str]:
    prefix = _comment_prefix(text)
    body = text[len(prefix.rstrip()):].strip()
    width = LIMIT - len(indent) - len(prefix)
    chunks = textwrap.wrap(body, width, break_long_words=False, break_on_hyphens=False)
    return [f"{indent}{prefix}{chunk}" for chunk in chunks] or [indent + "#"]


def reflow_comment(lines: list[str], n: int) -> bool:
    """Cut comment-only line ``n`` at the limit;
    the rest joins the next comment line of the block."""
    line = lines[n - 1]
    indent = line[: len(line) - len(line.lstrip())]
    prefix = _comment_prefix(line.strip())
    cut = line.rfind(" ", len(indent) + len(prefix) + 1, LIMIT + 1)
    if cut <= len(indent) + len(prefix) + 5:
        return False
    head, tail = line[:cut].rstrip(), line[cut + 1:].strip()
    nxt = lines[n] if n < len(lines) else ""
    nxt_body = nxt.strip()[len(prefix):].strip() if nxt.strip().startswith(prefix.rstrip()) else ""
    if nxt_body and nxt[: len(nxt) - len(nxt.lstrip())] == indent and \
            _comment_prefix(nxt.strip()) == prefix and not nxt_body.startswith(("-", "*", "```")):
        lines[n - 1:n + 1] = [head, f"{indent}{prefix}{tail} {nxt_body}"]
    else:
        lines[n - 1:n] = [head, f"{indent}{prefix}{tail}"]
    return True


def split_string(tok: tokenize.TokenInfo, max_end: int) -> tuple[str, str] | None:
    """Split a one-line string literal so the first part ends (closing quote included) by column
    ``max_end``; None if it cannot be split safely."""
    s = tok.string
    i = 0
    while s[i] not in "'\"":
        i += 1
    prefix, body = s[:i], s[i:]
    q = body[:3] if body[:3] in ('"""', "'''") else body[0]
    if len(q) == 3 or "b" in prefix.lower():
        return None
    inner = body[len(q):-len(q)]
    fstring = "f" in prefix.lower()
    start = tok.start[1] + len(prefix) + len(q)
    # allowed split positions: after a space, outside replacement fields, not after a backslash
    depth, best = 0, None
    k = 0
    while k < len(inner):
        c = inner[k]
        if fstring and c in "{}":
            if k + 1 < len(inner) and inner[k + 1] == c and depth == 0:
                k += 2
                continue
            depth += 1 if c == "{" else -1
        if c == "\\":
            k += 2
            continue
        if c == " " and depth == 0 and k + 1 < len(inner):
            end_col = start + k + 1 + len(q)  # first part's closing quote
            if end_col <= max_end and k + 1 >= 10:
                best = k + 1
        k += 1
    if best is None:
        return None
    a, b = inner[:best], inner[best:]
    if not b.strip():
        return None

    def lit(part: str) -> str:
        p = prefix
        if fstring and "{" not in part and "}" not in part:
            p = p.replace("f", "").replace("F", "")
        return f"{p}{q}{part}{q}"

    return lit(a), lit(b)


def fix_line(info: Info, n: int) -> list[str] | None:
    """Replacement lines for physical line ``n`` (1-based), or None to leave it."""
    line = info.lines[n - 1]
    indent = line[: len(line) - len(line.lstrip())]
    if n in info.docs:
        return None  # handled by fix_docstring
    if n in info.multiline_strings:
        return None
    toks = [(t, st) for t, st in info.by_line.get(n, []) if t.type not in LAYOUT]
    comment = next((t for t, _ in toks if t.type == tokenize.COMMENT), None)
    if comment is not None:
        code = line[: comment.start[1]].rstrip()
        if not code:
            return ["<<comment>>"]
        if any(p in comment.string for p in PRAGMAS):
            return None
        prev = info.lines[n - 2] if n > 1 else ""
        if prev.rstrip().endswith("\\"):
            return None
        if len(code) <= LIMIT:
            nxt = info.lines[n] if n < len(info.lines) else ""
            nxt_indent = nxt[: len(nxt) - len(nxt.lstrip())]
            if code.endswith(":") and len(nxt_indent) > len(indent) and nxt.strip():
                return [code] + wrap_comment(nxt_indent, comment.string)  # first line of the block
            return wrap_comment(indent, comment.string) + [code]
        return None  # long code and a comment: a person decides
    if line.rstrip().endswith("\\"):
        return None
    got = break_code(info, n, line, toks)
    if got is None:
        return None
    new, best = got
    return reflow(info, n, new, best)


RANK = {"and": 1, "or": 1, "if": 2, "else": 2, "for": 0}


def _after_for(code_toks: list, idx: int) -> bool:
    """A ``for`` earlier in the same bracket (so an ``if`` here filters a comprehension)."""
    st = code_toks[idx][1]
    for j in range(idx - 1, -1, -1):
        t, s2 = code_toks[j]
        if len(s2) < len(st):
            return False
        if [x.start for x in s2] == [x.start for x in st] and t.string == "for":
            return True
    return False


def _in_target(code_toks: list, idx: int) -> bool:
    """Is token ``idx`` inside a for-target or lambda parameters (scanning back in its bracket)?"""
    st = code_toks[idx][1]
    for j in range(idx - 1, -1, -1):
        t, s2 = code_toks[j]
        if len(s2) < len(st):
            return False
        if len(s2) > len(st) or [x.start for x in s2] != [x.start for x in st]:
            continue
        if t.string in ("in", ":"):
            return False
        if t.string in ("for", "lambda"):
            return True
    return False


def _in_lambda(code_toks: list, idx: int) -> bool:
    st = code_toks[idx][1]
    for j in range(idx - 1, -1, -1):
        t, s2 = code_toks[j]
        if len(s2) < len(st):
            return False
        if [x.start for x in s2] == [x.start for x in st] and t.string == "lambda":
            return True
    return False


def _tail_after_close(line: str, code_toks: list, idx: int) -> int:
    """Characters after the innermost bracket (open at token ``idx``) closes on this line (0 when
    it does not close here)."""
    st = code_toks[idx][1]
    for j in range(idx + 1, len(code_toks)):
        t, s2 = code_toks[j]
        if len(s2) == len(st) and t.type == tokenize.OP and t.string in CLOSE \
                and [x.start for x in s2] == [x.start for x in st]:
            return len(line.rstrip()) - t.end[1]
    return 0


def break_code(info: Info, n: int, line: str, toks: list) -> list[str] | None:
    cands = []  # (kind rank, first-line text, rest col, rest text)
    code_toks = [(t, st) for t, st in toks if t.type != tokenize.COMMENT]
    for idx, (t, st) in enumerate(code_toks):
        if not st:
            continue
        if _tail_after_close(line, code_toks, idx) > 20:
            continue  # the bracket closes mid-line, more code follows: a person decides
        nxt = code_toks[idx + 1][0] if idx + 1 < len(code_toks) else None
        is_comma = t.type == tokenize.OP and t.string == ","
        if is_comma and nxt is not None and nxt.string not in CLOSE:
            if _in_target(code_toks, idx):
                continue
            first, rest = line[: t.end[1]].rstrip(), line[t.end[1]:].strip()
            cands.append((0, first, info.cont_col(st), rest, st))
        elif t.string in BREAK_BEFORE and idx > 0 and (t.type == tokenize.NAME
                                                       or t.type == tokenize.OP):
            prev = code_toks[idx - 1][0]
            if prev.type == tokenize.OP and prev.string in OPEN + ",":
                continue
            not_in = t.string == "not" and nxt is not None and nxt.string == "in"
            after_bool = prev.string in ("and", "or")
            if (t.string == "in" and prev.string == "not") or (not_in and after_bool):
                continue
            if t.string == "not" and not (nxt is not None and nxt.string == "in"):
                continue  # unary not: no break before it
            if t.string == "is" or (t.string == "in" and prev.string == "not"):
                continue
            unary = prev.type == tokenize.OP and prev.string not in CLOSE
            if t.string in ("-", "+", "*") and unary:
                continue  # unary / star-args
            if _in_lambda(code_toks, idx) or (t.string == "in" and _in_target(code_toks, idx)):
                continue
            first, rest = line[: t.start[1]].rstrip(), line[t.start[1]:].strip()
            rank = RANK.get(t.string, 3)
            if t.string == "for" or (t.string == "if" and _after_for(code_toks, idx)):
                rank = 0  # a comprehension clause
            cands.append((rank, first, info.cont_col(st), rest, st))
        elif t.type == tokenize.STRING and t.end[1] > LIMIT and t.start[0] == t.end[0]:
            parts = split_string(t, LIMIT)
            if parts is None:
                continue
            first = line[: t.start[1]] + parts[0]
            rest = parts[1] + line[t.end[1]:]
            cands.append((4, first, t.start[1], rest.strip(), st))
    good = [c for c in cands if len(c[1]) <= LIMIT and c[1].strip() and c[2] <= 70]
    if not good:
        return None
    # the outermost bracket first, then commas before operators before string splits, then the
    # longest first line
    best = max(good, key=lambda c: (-len(c[4]), -c[0], len(c[1])))
    return [best[1], " " * best[2] + best[3]], best


def _simple_literal(text: str) -> tuple[str, str, str, str] | None:
    """(prefix, quote, body, after) when ``text`` starts with a one-line,
    non-triple string literal."""
    i = 0
    while i < len(text) and text[i] in "rRfFuU":
        i += 1
    if i >= len(text) or text[i] not in "'\"" or text[i:i + 3] in ('"""', "'''"):
        return None
    q = text[i]
    try:
        tok = next(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, StopIteration):
        return None
    if tok.type != tokenize.STRING or tok.start != (1, 0):
        return None
    lit = tok.string
    return lit[:i], q, lit[i + 1:-1], text[len(lit):]


def _merge_literals(a: str, b: str) -> str | None:
    pa, pb = _simple_literal(a), _simple_literal(b)
    if pa is None or pb is None or pa[3].strip() or pa[1] != pb[1]:
        return None
    (xa, q, ba, _), (xb, _, bb, after) = pa, pb
    if "r" in (xa + xb).lower() and (xa.lower().replace("f", "") != xb.lower().replace("f", "")):
        return None
    fa, fb = "f" in xa.lower(), "f" in xb.lower()
    if fa != fb:  # one f-string: the plain part's braces are escaped
        if fa:
            bb = bb.replace("{", "{{").replace("}", "}}")
        else:
            ba = ba.replace("{", "{{").replace("}", "}}")
    prefix = xa if fa or not fb else xb
    return f"{prefix}{q}{ba}{bb}{q}{after}"


def reflow(info: Info, n: int, new: list[str], best: tuple) -> list[str]:
    """Join the broken-off rest with the next line when that line continues the same bracket at
    the same column (so a list or a message re-flows instead of leaving a short line)."""
    if n >= len(info.lines):
        return new
    nxt = info.lines[n]
    col = len(nxt) - len(nxt.lstrip())
    if col != best[2] or not nxt.strip() or n + 1 in info.multiline_strings or n + 1 in info.docs:
        return new
    first_tok = next(((t, st) for t, st in info.by_line.get(n + 1, [])
                      if t.type
                      not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)),
                     None)
    if first_tok is None or first_tok[0].type == tokenize.COMMENT:
        return new
    if [id(x) for x in first_tok[1]] != [id(x) for x in best[4]] and \
            [x.start for x in first_tok[1]] != [x.start for x in best[4]]:
        return new
    rest = best[3]
    if "#" in rest and _simple_literal(rest) is None:
        return new
    if best[0] == 4:  # a split string: merge with the next literal
        merged = _merge_literals(rest, nxt.strip())
        if merged is None:
            return new
        return [new[0], " " * col + merged, None]
    if not rest.rstrip().endswith(","):
        return new
    return [new[0], " " * col + rest + " " + nxt.strip(), None]


def fix_docstring(lines: list[str], n: int, doc: tuple[int, int] | None = None) -> bool:
    """Re-flow long docstring line ``n`` (1-based) into the next line of its paragraph."""
    line = lines[n - 1]
    if doc is not None:
        lo, hi = doc
        body = lines[lo:hi]  # the lines after the opening one
        base = min((len(x) - len(x.lstrip()) for x in body if x.strip()), default=0)
        fence = False
        for k in range(lo - 1, n - 1):
            if lines[k].strip().startswith("```"):
                fence = not fence
        if fence or "  # " in line or line.strip().startswith(">>>"):
            return False
        if n > lo and len(line) - len(line.lstrip()) > base:
            return False
    indent = line[: len(line) - len(line.lstrip())]
    cut = line.rfind(" ", len(indent) + 1, LIMIT + 1)
    if cut <= len(indent) + 10:
        return False
    quotes = ('"""', "'''")
    one_liner = line.strip().startswith(quotes) and line.rstrip().endswith(quotes) \
        and len(line.strip()) > 6
    if one_liner:  # a summary that does not fit: cut after a clause, not before the last word
        natural = [k for k in range(int(len(line) * 0.4), cut + 1) if line[k] == " " and
                   (line[k - 1] in ";:,)" or line[k + 1] == "(" or line[k + 1:k + 3] == "- ")]
        if natural:
            cut = natural[-1]
        else:
            spaces = [k for k in range(len(indent) + 10, cut + 1) if line[k] == " "]
            cut = min(spaces, key=lambda k: abs(k - len(line) * 0.6), default=cut)
    head, tail = line[:cut].rstrip(), line[cut + 1:].strip()
    nxt = lines[n] if n < len(lines) else None
    joinable = (nxt is not None and nxt.strip()
                and not nxt.strip().startswith(('"""', "'''", "-", "*", ">>>"))
                and nxt[: len(nxt) - len(nxt.lstrip())] == indent
                and not tail.endswith(('"""', "'''"))
                and not nxt.strip()[:2].rstrip(".)").isdigit()
                and not (nxt.strip().endswith(":") and len(nxt.strip()) < 30)
                and "  # " not in nxt and not nxt.strip().startswith("```"))
    if joinable:
        lines[n - 1:n + 1] = [head, f"{indent}{tail} {nxt.strip()}"]
    else:
        lines[n - 1:n] = [head, f"{indent}{tail}"]
    return True


def process(path: str) -> list[int]:
    src0 = Path(path).read_text()
    src = src0
    for _ in range(30):
        info = Info(src)
        lines = list(info.lines)
        long = [i + 1 for i, line in enumerate(lines) if len(line) > LIMIT]
        changed = False
        touched: set[int] = set()
        for n in sorted(long, reverse=True):
            if n + 1 in touched:
                continue  # the next line changed this pass: this one waits for the next pass
            touched.add(n)
            if n in info.docs:
                changed |= fix_docstring(lines, n, info.doc_of.get(n))
                continue
            new = fix_line(info, n)
            if new == ["<<comment>>"]:
                changed |= reflow_comment(lines, n)
                continue
            if new is not None and new != [lines[n - 1]]:
                if new[-1] is None:  # the next line was merged in
                    lines[n - 1:n + 1] = new[:-1]
                else:
                    lines[n - 1:n] = new
                changed = True
        new_src = "\n".join(lines)
        try:
            ast.parse(new_src)
        except SyntaxError as exc:
            print(f"{path}: syntax error after a pass ({exc}); stopping", file=sys.stderr)
            break
        src = new_src
        if not changed:
            break
    if norm_tree(src) != norm_tree(src0):
        print(f"{path}: AST changed; not written", file=sys.stderr)
        return [-1]
    if src != src0:
        Path(path).write_text(src)
    return [i + 1 for i, line in enumerate(src.split("\n")) if len(line) > LIMIT]


def split_asserts(paths: list[str]) -> None:
    """Split long one-line ``assert a and b [, msg]`` statements into one assert per operand."""
    for path in paths:
        src = Path(path).read_text()
        lines = src.split("\n")
        tree = ast.parse(src)
        edits = []
        for node in ast.walk(tree):
            if not isinstance(node, ast.Assert) or node.lineno != node.end_lineno:
                continue
            if len(lines[node.lineno - 1]) > LIMIT \
                    and isinstance(node.test, ast.BoolOp) and isinstance(node.test.op, ast.And):
                line = lines[node.lineno - 1]
                indent = line[: len(line) - len(line.lstrip())]
                if line.lstrip()[:6] != "assert" or node.col_offset != len(indent):
                    continue
                tail = line[node.end_col_offset:]
                msg = f", {ast.get_source_segment(src, node.msg)}" if node.msg is not None else ""
                parts = [f"{indent}assert {ast.get_source_segment(src, v)}{msg}"
                         for v in node.test.values]
                parts[-1] += tail
                edits.append((node.lineno, parts))
        for n, parts in sorted(edits, reverse=True):
            lines[n - 1:n] = parts
        new = "\n".join(lines)
        ast.parse(new)
        if new != src:
            Path(path).write_text(new)
            print(path, len(edits))


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--split-asserts"]:
        split_asserts(args[1:])
        sys.exit(0)
    total = 0
    for p in args:
        left = process(p)
        total += len(left)
        if left:
            print(p, left)
    print("left:", total)
