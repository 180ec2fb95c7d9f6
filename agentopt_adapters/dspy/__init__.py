"""DSPy adapter: slots are a program's ``named_predictors()``; each is rebound with its own LM.

``adapter`` (discover / bind / export / apply), ``recording`` (the per-run callback that attributes
every LM call to its predictor).
"""

from .adapter import (
    DSPyAdapter,
    DSPyRunner,
    UnattributedCallWarning,
    UnseenPredictorWarning,
    export_config,
    unseen_predictors,
)

__all__ = ["DSPyAdapter", "DSPyRunner", "UnseenPredictorWarning", "UnattributedCallWarning", "export_config",
           "unseen_predictors"]
