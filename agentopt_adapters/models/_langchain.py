"""The LangChain chat model the factory builds from strings:
ChatLiteLLM retrying per ``retry.py``."""

from __future__ import annotations

from typing import Any

from langchain_litellm import ChatLiteLLM
from pydantic import Field

from .retry import retry_policy

__all__ = ["RetryingChatLiteLLM"]


class RetryingChatLiteLLM(ChatLiteLLM):
    """ChatLiteLLM whose completion calls retry transient failures with the agentopt policy."""

    agentopt_retries: Any = Field(default=None, exclude=True, repr=False)

    def completion_with_retry(self, run_manager: Any = None, **kwargs: Any) -> Any:
        return retry_policy(self.agentopt_retries).call(self.client.completion, **kwargs)

    async def acompletion_with_retry(self, run_manager: Any = None, **kwargs: Any) -> Any:
        return await retry_policy(self.agentopt_retries).acall(self.client.acompletion, **kwargs)
