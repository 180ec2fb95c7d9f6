"""Models: build them from litellm model strings (``factory``), retry transient failures
(``retry``), and price their calls (``pricing``)."""

from .factory import chat_model, check_model_string, dspy_lm, model_name
from .pricing import UnpricedModelWarning, cost_usd, price_per_mtok, set_prices
from .retry import RetryPolicy, is_transient, retry_policy

__all__ = [
    "chat_model", "dspy_lm", "model_name", "check_model_string",
    "cost_usd", "set_prices", "price_per_mtok", "UnpricedModelWarning",
    "RetryPolicy", "retry_policy", "is_transient",
]
