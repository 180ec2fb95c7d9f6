"""DSPy adapter: slots are a program's ``named_predictors()`` and the LM attributes it calls
directly; each is rebound with its own LM.

``adapter`` (discover / bind / export / apply), ``slots`` (what the code shows), ``binding`` (the
bound copy), ``recording`` (every LM call attributed to its slot), ``runner`` (sync / async runs,
dataset rows), ``bench`` (adapter overhead per LM call).
"""

from .adapter import (
    DemosLostWarning,
    DSPyAdapter,
    DSPyRunner,
    UnattributedCallWarning,
    UnseenPredictorWarning,
    example_from_row,
    export_config,
    unseen_predictors,
)

__all__ = ["DSPyAdapter", "DSPyRunner", "UnseenPredictorWarning", "UnattributedCallWarning",
           "DemosLostWarning", "export_config", "example_from_row", "unseen_predictors"]
