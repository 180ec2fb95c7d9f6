"""Retries of transient model-call failures: one tenacity policy for every way a model is called.

Transient: rate limits (429), server errors (5xx), timeouts, dropped connections and malformed
(unparseable) responses. Anything else (bad request, unknown model, auth) fails at once.
Backoff is exponential with jitter, at least the provider's ``Retry-After`` hint (capped).

Defaults come from ``settings`` (``AGENTOPT_RETRIES``, ``AGENTOPT_RETRY_BACKOFF``,
``AGENTOPT_RETRY_MAX_BACKOFF``, ``AGENTOPT_TIMEOUT``), overridable per model with ``retries=`` on
``chat_model`` / ``dspy_lm`` / ``completion`` (a count or a ``RetryPolicy``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import tenacity

from ..errors import ModelError
from ..settings import settings

__all__ = ["RetryPolicy", "retry_policy", "is_transient"]

T = TypeVar("T")

_TRANSIENT_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
_ENV = {"retries": "AGENTOPT_RETRIES", "backoff_s": "AGENTOPT_RETRY_BACKOFF",
        "max_backoff_s": "AGENTOPT_RETRY_MAX_BACKOFF", "timeout_s": "AGENTOPT_TIMEOUT"}


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a model call is retried on transient failures."""

    retries: int = 3
    backoff_s: float = 0.5
    max_backoff_s: float = 20.0
    timeout_s: float | None = 60.0

    def __post_init__(self) -> None:
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise ModelError(f"retries must be a non-negative integer, got {self.retries!r} "
                             f"(set retries=3 or {_ENV['retries']}=3)")
        for name in ("backoff_s", "max_backoff_s"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or v < 0:
                raise ModelError(f"{name} must be a non-negative number of seconds, got {v!r} "
                                 f"({_ENV[name]})")
        if self.timeout_s is not None and (not isinstance(self.timeout_s, (int, float))
                                           or self.timeout_s <= 0):
            raise ModelError("timeout_s must be a positive number of seconds, got "
                             f"{self.timeout_s!r} ({_ENV['timeout_s']})")

    @property
    def attempts(self) -> int:
        return self.retries + 1

    def _wait(self, state: tenacity.RetryCallState) -> float:
        base = tenacity.wait_exponential_jitter(initial=self.backoff_s, max=self.max_backoff_s,
                                                jitter=self.backoff_s)
        wait = base(state)
        exc = state.outcome.exception() if state.outcome else None
        hint = _retry_after(exc) if exc is not None else None
        if hint is not None:
            wait = max(wait, hint)
        return min(wait, self.max_backoff_s)

    def _kwargs(self) -> dict[str, Any]:
        return dict(stop=tenacity.stop_after_attempt(self.attempts), wait=self._wait,
                    retry=tenacity.retry_if_exception(is_transient), reraise=True)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)``, retried on transient failures; the last error is re-raised."""
        return tenacity.Retrying(**self._kwargs())(fn, *args, **kwargs)

    async def acall(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Async ``call``."""
        return await tenacity.AsyncRetrying(**self._kwargs())(fn, *args, **kwargs)


def retry_policy(retries: int | RetryPolicy | None = None) -> RetryPolicy:
    """The policy for one model: ``retries`` (a count or a policy)
    over the ``settings`` defaults."""
    if isinstance(retries, RetryPolicy):
        return retries
    s = settings()
    policy = RetryPolicy(retries=s.retries, backoff_s=s.retry_backoff_s,
                         max_backoff_s=s.retry_max_backoff_s, timeout_s=s.timeout_s)
    return policy if retries is None else replace(policy, retries=retries)


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(out) < 8 and cur not in out:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def _status(exc: BaseException) -> int | None:
    for attr in ("status_code", "status"):
        v = getattr(exc, attr, None)
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    return None


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying: 408/409/429/5xx, timeouts, connection errors,
    malformed replies."""
    import httpx
    import openai

    transient_types: tuple[type[BaseException], ...] = (
        json.JSONDecodeError, TimeoutError, ConnectionError, httpx.TimeoutException,
        httpx.TransportError, openai.APITimeoutError, openai.APIConnectionError,
        openai.RateLimitError, openai.InternalServerError,
    )
    try:
        from dspy.utils.exceptions import is_retryable_lm_error
    except ImportError:  # pragma: no cover - dspy is a dependency
        def is_retryable_lm_error(e: Exception) -> bool:
            return False
    for e in _chain(exc):
        status = _status(e)
        if status is not None and 400 <= status < 500 and status not in _TRANSIENT_STATUS:
            return False  # bad request / unknown model / auth: retrying cannot help
        if status in _TRANSIENT_STATUS or isinstance(e, transient_types):
            return True
        if isinstance(e, Exception) and is_retryable_lm_error(e):
            return True
    return False


def _retry_after(exc: BaseException) -> float | None:
    """Seconds the provider asked to wait (``retry-after-ms`` / ``retry-after``), if it said."""
    for e in _chain(exc):
        for headers in (getattr(e, "rate_limit_headers", None),
                        getattr(getattr(e, "response", None), "headers", None),
                        getattr(e, "litellm_response_headers", None)):
            if not headers:
                continue
            try:
                for key, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
                    raw = headers.get(key)
                    if isinstance(raw, (tuple, list)):
                        raw = raw[0] if raw else None
                    if raw is not None:
                        return max(0.0, float(raw) * scale)
            except (TypeError, ValueError, AttributeError):
                continue
        hint = getattr(e, "retry_after", None)
        if isinstance(hint, (int, float)) and not isinstance(hint, bool) and hint >= 0:
            return float(hint)
    return None
