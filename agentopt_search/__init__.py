"""agentopt_search: framework-free search for the best combination of models, one per slot.

```python
from agentopt_search import SearchSpace, Outcome, search
result = search(SearchSpace({"planner": ["a", "b"], "solver": ["c", "d"]}), evaluate, examples)
result.best.assignment
```
"""

from typing import Any

from .engine import SearchError, asearch, search
from .outcome import Outcome, UsageRow
from .replay import replay
from .results import (
    CombinationStats,
    PairedComparison,
    SearchResult,
    pareto_front,
    rows_from_cells,
)
from .space import SearchSpace
from .state import SearchState
from .storage import MemoryStore, Store, StoredCell, StoredRun
from .strategies import Strategy, get_strategy, registry

__all__ = [
    "SearchSpace", "Outcome", "UsageRow", "search", "asearch", "SearchResult", "CombinationStats",
    "PairedComparison", "SearchError", "SearchState", "Strategy", "get_strategy", "registry",
    "pareto_front", "rows_from_cells", "Store", "MemoryStore", "OptunaStore", "StoredCell",
    "StoredRun", "read_run", "replay",
]


def __getattr__(name: str) -> Any:
    if name in ("OptunaStore", "read_run"):  # SQLAlchemy and Optuna load on first use
        from . import storage

        return getattr(storage, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
