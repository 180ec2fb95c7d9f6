"""``optimize``: search the cheapest model combination for an app that keeps its accuracy.

``run`` (the entry point: one search, the app as it is measured beside it), ``candidates`` (what is
searched), ``dataset`` (items), ``evaluate`` (one cell: run the app, score it), ``result``
(``OptimizeResult``: summary, export), ``plot`` (the accuracy-vs-cost plot).
"""

from .candidates import CURRENT, Candidate
from .dataset import Item, normalize_dataset
from .result import OptimizeResult, baseline_sentence
from .run import optimize

__all__ = ["optimize", "OptimizeResult", "Candidate", "CURRENT", "Item", "normalize_dataset", "baseline_sentence"]
