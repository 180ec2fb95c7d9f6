"""The model classes the factory builds from strings: ChatLiteLLM / dspy.LM retrying per ``retry.py``.

Kept apart from ``models.py`` so importing the factory does not import LangChain or DSPy.
"""

from __future__ import annotations

from typing import Any

import dspy
from dspy.utils.callback import with_callbacks
from langchain_litellm import ChatLiteLLM
from pydantic import Field

from .retry import retry_policy

__all__ = ["RetryingChatLiteLLM", "RetryingLM", "RETRY_ATTR"]

RETRY_ATTR = "agentopt_retries"
_PLAIN_CALL = dspy.LM.__call__.__wrapped__  # BaseLM.__call__ without DSPy's callback wrapper
_PLAIN_ACALL = dspy.LM.acall.__wrapped__


class RetryingChatLiteLLM(ChatLiteLLM):
    """ChatLiteLLM whose completion calls retry transient failures with the agentopt policy."""

    agentopt_retries: Any = Field(default=None, exclude=True, repr=False)

    def completion_with_retry(self, run_manager: Any = None, **kwargs: Any) -> Any:
        return retry_policy(self.agentopt_retries).call(self.client.completion, **kwargs)

    async def acompletion_with_retry(self, run_manager: Any = None, **kwargs: Any) -> Any:
        return await retry_policy(self.agentopt_retries).acall(self.client.acompletion, **kwargs)


class RetryingLM(dspy.LM):
    """dspy.LM whose calls retry transient failures with the agentopt policy, inside one callback span
    (so a retried call is recorded once, with the usage of the attempt that succeeded)."""

    @with_callbacks
    def __call__(self, prompt: Any = None, *, messages: Any = None, **kwargs: Any) -> Any:
        policy = retry_policy(getattr(self, RETRY_ATTR, None))
        return policy.call(_PLAIN_CALL, self, prompt, messages=messages, **kwargs)

    @with_callbacks
    async def acall(self, prompt: Any = None, *, messages: Any = None, **kwargs: Any) -> Any:
        policy = retry_policy(getattr(self, RETRY_ATTR, None))
        return await policy.acall(_PLAIN_ACALL, self, prompt, messages=messages, **kwargs)
