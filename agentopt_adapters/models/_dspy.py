"""The dspy.LM the factory builds from strings:
retrying per ``retry.py`` inside one callback span."""

from __future__ import annotations

from typing import Any

import dspy
from dspy.utils.callback import with_callbacks

from .retry import retry_policy

__all__ = ["RetryingLM", "RETRY_ATTR"]

RETRY_ATTR = "agentopt_retries"
_PLAIN_CALL = dspy.LM.__call__.__wrapped__  # BaseLM.__call__ without DSPy's callback wrapper
_PLAIN_ACALL = dspy.LM.acall.__wrapped__


class RetryingLM(dspy.LM):
    """dspy.LM whose calls retry transient failures with the agentopt policy, inside one callback
    span (so a retried call is recorded once, with the usage of the attempt that succeeded)."""

    @with_callbacks
    def __call__(self, prompt: Any = None, *, messages: Any = None, **kwargs: Any) -> Any:
        policy = retry_policy(getattr(self, RETRY_ATTR, None))
        return policy.call(_PLAIN_CALL, self, prompt, messages=messages, **kwargs)

    @with_callbacks
    async def acall(self, prompt: Any = None, *, messages: Any = None, **kwargs: Any) -> Any:
        policy = retry_policy(getattr(self, RETRY_ATTR, None))
        return await policy.acall(_PLAIN_ACALL, self, prompt, messages=messages, **kwargs)
