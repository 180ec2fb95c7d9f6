"""The strategy interface. A strategy is asked for the next cells and marks eliminations.

To add a strategy, write one file in this folder with a subclass that sets ``name``::

    class MyStrategy(Strategy):
        name = "my_strategy"

        def propose(self, state):        # -> cells (combination, item position) to evaluate next
            ...                          # return [] when done

It is then available as ``search(..., strategy="my_strategy")``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from .. import selection
from ..state import Cell, SearchState

__all__ = ["Strategy", "registry", "get_strategy"]

_REGISTRY: dict[str, type[Strategy]] = {}


class Strategy(ABC):
    """Decides which (combination, item) cells to pay for next, and which combination wins."""

    name: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            # a subclass that names itself (not one reusing its parent's name)
            _REGISTRY[cls.name] = cls

    def start(self, state: SearchState) -> None:  # noqa: B027 - an optional hook
        """Called once before the first ``propose`` (after resumed observations are loaded)."""

    @abstractmethod
    def propose(self, state: SearchState) -> list[Cell]:
        """Cells to evaluate next; already observed cells are skipped for free. ``[]`` = done."""

    def pick(self, state: SearchState) -> int | None:
        """The winning combination under the objective and constraints (``selection.pick``) among
        the alive ones with evidence (every tried one if none is alive)."""
        n = state.n_observed()
        candidates = ([c for c in state.alive if n[c] > 0]
                      or [c for c in range(state.space.size) if n[c] > 0])
        return selection.pick(state, candidates)

    def describe(self) -> str:
        return self.name


def registry() -> dict[str, type[Strategy]]:
    """Name -> class of every known strategy (loads the built-in ones)."""
    from . import _load_all

    _load_all()
    return dict(_REGISTRY)


def get_strategy(strategy: str | Strategy, **options: Any) -> Strategy:
    """A strategy instance from a name (options passed to its constructor) or an instance."""
    if isinstance(strategy, Strategy):
        return strategy
    known = registry()
    if not isinstance(strategy, str) or strategy not in known:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {sorted(known)}")
    cls = known[strategy]
    import inspect

    params = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise ValueError(f"strategy {strategy!r} has no option(s) {unknown}; its options are "
                         f"{params or 'none'}"
                         + ("; to set options pick the strategy explicitly, e.g. "
                            "strategy='arm_elimination'"
                            if strategy == "auto" else ""))
    return cls(**options)
