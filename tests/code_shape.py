"""The shape of the library code: function length, cyclomatic complexity and the module import
graph.

Run it as a script to list what is over the limits (exit status 1 if anything is)::

    python tests/code_shape.py            # functions > 60 lines or complexity > 15 (radon)
    python tests/code_shape.py --top 10   # the 10 longest and the 10 most complex functions

``tests/test_code_shape.py`` asserts the same limits, plus no import cycles and that the simulated
world (``agentopt_adapters.sim``) is a leaf: only ``sim/`` itself and the CLI import it.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("agentopt_search", "agentopt_adapters")
MAX_LINES = 60
MAX_COMPLEXITY = 15


@dataclass(frozen=True)
class Function:
    path: str  # relative to the repository root
    name: str  # qualified: Class.method, outer.inner
    lineno: int
    lines: int  # from the ``def`` line to the last line of the body, both included


def library_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, ast.AST]]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def functions(path: Path) -> list[Function]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [Function(_rel(path), name, node.lineno, node.end_lineno - node.lineno + 1)  # type: ignore[attr-defined]
            for name, node in _functions(tree)]


def long_functions(limit: int = MAX_LINES) -> list[Function]:
    found = [f for path in library_files() for f in functions(path) if f.lines > limit]
    return sorted(found, key=lambda f: -f.lines)


def complexities() -> list[tuple[str, str, int]]:
    """(path, qualified name, cyclomatic complexity) of every function, method and closure
    (radon)."""
    from radon.complexity import cc_visit  # a dev tool: imported only when asked for

    def walk(blocks: list, prefix: str) -> Iterator[tuple[str, int]]:
        for b in blocks:
            if hasattr(b, "methods"):  # a class: its own number is an average; report its methods
                yield from walk(b.methods, f"{prefix}{b.name}.")
            else:
                yield prefix + b.name, b.complexity
                yield from walk(b.closures, f"{prefix}{b.name}.")

    out = []
    for path in library_files():
        top = [b for b in cc_visit(path.read_text()) if hasattr(b, "methods") or not b.is_method]
        out += [(_rel(path), name, cc) for name, cc in walk(top, "")]
    return sorted(out, key=lambda t: -t[2])


def complex_functions(limit: int = MAX_COMPLEXITY) -> list[tuple[str, str, int]]:
    return [t for t in complexities() if t[2] > limit]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(path: Path, known: set[str]) -> set[str]:
    """Library modules ``path`` imports at run time: anywhere in its body (function-level imports
    included) except under ``if TYPE_CHECKING:``, which only the type checker follows.

    ``from pkg import name`` counts as importing ``pkg.name`` when that is a module, else ``pkg``.
    """
    module, is_package = module_name(path), path.name == "__init__.py"
    found: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, is_package, node)
            subs = {f"{target}.{a.name}" for a in node.names} & known
            found |= subs or {target}
    return {_owner(m, known) for m in found if m.split(".")[0] in PACKAGES} - {module, ""}


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def _owner(name: str, known: set[str]) -> str:
    while name not in known and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def import_graph() -> dict[str, set[str]]:
    files = library_files()
    known = {module_name(p) for p in files}
    return {module_name(p): imports(p, known) for p in files}


def _ancestors(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import cycles, ignoring a module's import of its own parent packages (importing a submodule
    always runs its package's ``__init__`` first: that edge is not a dependency the code chose).

    Each cycle is reported once, as the strongly connected component it lies in (Tarjan).
    """
    edges = {m: {t for t in ts if t not in _ancestors(m)} for m, ts in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(m: str) -> None:
        index[m] = low[m] = len(index)
        stack.append(m)
        on_stack.add(m)
        for t in edges.get(m, ()):
            if t not in index:
                visit(t)
                low[m] = min(low[m], low[t])
            elif t in on_stack:
                low[m] = min(low[m], index[t])
        if low[m] == index[m]:
            component = []
            while True:
                t = stack.pop()
                on_stack.discard(t)
                component.append(t)
                if t == m:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for m in sorted(edges):
        if m not in index:
            visit(m)
    return found


def longest_chain(graph: dict[str, set[str]]) -> list[str]:
    """The longest chain of imports a -> b -> c ... (parent-package edges left out; a module
    already on the chain is not followed again, so this terminates on a graph with cycles too)."""
    edges = {m: {t for t in ts if t not in _ancestors(m)} for m, ts in graph.items()}
    memo: dict[str, list[str]] = {}

    def chain(m: str, seen: frozenset[str]) -> list[str]:
        if m in memo:
            return memo[m]
        best = max((chain(t, seen | {m}) for t in sorted(edges.get(m, ())) if t not in seen),
                   key=len, default=[])
        memo[m] = [m, *best]
        return memo[m]

    return max((chain(m, frozenset()) for m in sorted(edges)), key=len, default=[])


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def search_imports_adapters(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, target): agentopt_search is the core and must not import agentopt_adapters."""
    return sorted((m, t) for m, ts in graph.items() for t in ts
                  if _inside(m, "agentopt_search") and _inside(t, "agentopt_adapters"))


SIM = "agentopt_adapters.sim"
SIM_USERS = (SIM, "agentopt_adapters.cli")  # the packages allowed to import the simulated world


def sim_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, sim module) for every library module outside sim/ and cli/ that imports sim."""
    return sorted((m, t) for m, ts in graph.items() for t in ts
                  if _inside(t, SIM) and not any(_inside(m, p) for p in SIM_USERS))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=0, help="list the N longest and N most complex")
    args = ap.parse_args(argv)
    if args.top:
        every = sorted((f for p in library_files() for f in functions(p)), key=lambda f: -f.lines)
        print(f"longest {args.top}:")
        for f in every[: args.top]:
            print(f"  {f.lines:4d} lines  {f.path}:{f.lineno} {f.name}")
        print(f"most complex {args.top}:")
        for path, name, cc in complexities()[: args.top]:
            print(f"  {cc:4d}        {path} {name}")
        chain = longest_chain(import_graph())
        print(f"longest import chain ({len(chain)} modules): " + " -> ".join(chain))
        return 0
    long, complex_ = long_functions(), complex_functions()
    for f in long:
        print(f"{f.path}:{f.lineno}: {f.name} is {f.lines} lines (> {MAX_LINES})")
    for path, name, cc in complex_:
        print(f"{path}: {name} has cyclomatic complexity {cc} (> {MAX_COMPLEXITY})")
    graph = import_graph()
    for cycle in cycles(graph):
        print("import cycle: " + " <-> ".join(cycle))
    for m, t in sim_imports(graph):
        print(f"{m} imports {t} (only sim/ and cli/ may)")
    for m, t in search_imports_adapters(graph):
        print(f"{m} imports {t} (agentopt_search must not depend on agentopt_adapters)")
    bad = cycles(graph) or sim_imports(graph) or search_imports_adapters(graph)
    return 1 if long or complex_ or bad else 0


if __name__ == "__main__":
    sys.exit(main())
