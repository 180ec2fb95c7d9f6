"""``optimize``: search the cheapest model combination for an app that keeps its accuracy.

``run`` (the entry point: one search, the app as it is measured beside it), ``candidates`` (what is
searched), ``dataset`` (items), ``evaluate`` (one cell: run the app, score it), ``result``
(``OptimizeResult``: summary, export), ``stored`` (``load_result``: a stored run again, at new
prices), ``plot`` (the accuracy-vs-cost plot).
"""

from .candidates import CURRENT, Candidate
from .dataset import Item, normalize_dataset
from .result import OptimizeResult, baseline_sentence
from .run import optimize
from .stored import load_result

__all__ = ["optimize", "load_result", "OptimizeResult", "Candidate", "CURRENT", "Item",
           "normalize_dataset", "baseline_sentence"]
