"""agentopt_search: framework-free search for the best combination of models, one per slot.

```python
from agentopt_search import SearchSpace, Outcome, search
result = search(SearchSpace({"planner": ["a", "b"], "solver": ["c", "d"]}), evaluate, examples)
result.best.assignment
```
"""

from .engine import SearchError, asearch, search
from .outcome import Outcome
from .results import CombinationStats, SearchResult, pareto_front
from .space import SearchSpace
from .state import SearchState
from .strategies import Strategy, get_strategy, registry

__all__ = [
    "SearchSpace", "Outcome", "search", "asearch", "SearchResult", "CombinationStats", "SearchError",
    "SearchState", "Strategy", "get_strategy", "registry", "pareto_front",
]
