"""The public surface: every name a module lists in ``__all__`` imports, and every public module
(a name without a leading underscore) says what it exports. Internal modules start with ``_``."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import agentopt_adapters
import agentopt_search

PACKAGES = (agentopt_search, agentopt_adapters)

# Public modules without an ``__all__`` yet, in files other branches were editing when this test
# was written. Remove an entry when its module gains an ``__all__`` (or an underscore); add none.
KNOWN_WITHOUT_ALL: set[str] = set()


def _module_names() -> list[str]:
    names = []
    for pkg in PACKAGES:
        names.append(pkg.__name__)
        for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
            if info.name.rsplit(".", 1)[-1] != "__main__":  # running it is its only use
                names.append(info.name)
    return sorted(names)


MODULES = _module_names()


def _is_public(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split("."))


def test_the_walk_finds_every_package() -> None:
    assert {"agentopt_search.storage", "agentopt_search.strategies", "agentopt_adapters.sim",
            "agentopt_adapters.sim.tasks", "agentopt_adapters.cli"} <= set(MODULES)
    assert len(MODULES) > 100


@pytest.mark.parametrize("name", MODULES)
def test_every_name_in_all_imports(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if exported is None:
        return
    assert isinstance(exported, (list, tuple)), f"{name}.__all__ must be a list of names"
    assert all(isinstance(n, str) for n in exported), f"{name}.__all__ holds a non-string"
    dupes = sorted({n for n in exported if list(exported).count(n) > 1})
    assert not dupes, f"{name}.__all__ lists {dupes} twice"
    missing = [n for n in exported if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ lists {missing}, which the module does not define"
    namespace: dict[str, object] = {}
    exec(f"from {name} import *", namespace)  # what a user's star import does
    assert set(exported) <= set(namespace)


def test_public_modules_say_what_they_export() -> None:
    without = {name for name in MODULES if _is_public(name)
               and not hasattr(importlib.import_module(name), "__all__")}
    new = sorted(without - KNOWN_WITHOUT_ALL)
    assert not new, (f"public modules without __all__: {new}; list their public names in __all__, "
                     "or rename an internal module with a leading underscore")
    fixed = sorted(KNOWN_WITHOUT_ALL - without)
    assert not fixed, ("these now declare __all__ (or are gone): remove them from "
                       f"KNOWN_WITHOUT_ALL: {fixed}")
