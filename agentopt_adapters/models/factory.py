"""The model factory: model string -> LangChain chat model or dspy.LM; and back (``model_name``).

Any litellm model string works with that provider's API key (``"sim/<name>"``: the simulated zoo,
a litellm provider plugin). Users may also pass their own chat model objects or factories.

Models built from strings retry transient failures (429, 5xx, timeouts, malformed replies) with
exponential backoff through one tenacity policy (``retry.py``): ``retries=`` per model, or the
``AGENTOPT_RETRIES`` / ``AGENTOPT_RETRY_BACKOFF`` / ``AGENTOPT_TIMEOUT`` environment variables.
"""

from __future__ import annotations

from typing import Any

from ..errors import ModelError
from ..redaction import remember_secrets
from .retry import RetryPolicy, retry_policy

__all__ = ["chat_model", "dspy_lm", "model_name", "check_model_string", "RetryPolicy",
           "retry_policy"]


def check_model_string(model: str, slot: str | None = None) -> str:
    """Validate ``model`` with litellm (provider known; for a provider plugin, a model it serves);
    return it.

    Raises ModelError carrying litellm's message and the slot name.
    """
    where = f"slot {slot!r}: " if slot else ""
    if not isinstance(model, str) or not model.strip():
        raise ModelError(f"{where}model must be a non-empty model string such as 'sim/small' "
                         f"or 'openai/gpt-4o-mini', got {model!r}")
    import litellm

    litellm.suppress_debug_info = True
    try:
        provider = litellm.get_llm_provider(model)[1]
    except Exception as exc:  # noqa: BLE001 - litellm's errors for an unusable model string vary: one ModelError
        msg = str(exc).strip().splitlines()[0]
        raise ModelError(
            f"{where}model {model!r} is not usable: {msg} (write it as '<provider>/<model>', "
            "e.g. 'openai/gpt-4o-mini', or 'sim/<name>' for a simulated model)"
        ) from None
    if _is_plugin(provider) and model not in litellm.model_cost:
        known = sorted(k for k in litellm.model_cost if k.startswith(f"{provider}/"))
        raise ModelError(f"{where}unknown model {model!r}; provider {provider!r} serves {known}")
    return model


def _is_plugin(provider: str) -> bool:
    """True for an in-process litellm provider plugin (e.g. the simulated zoo): no network,
    no key."""
    import litellm

    return provider in {p.get("provider") for p in litellm.custom_provider_map or []}


def _in_process(model: str) -> bool:
    import litellm

    try:
        return _is_plugin(litellm.get_llm_provider(model)[1])
    except Exception:  # noqa: BLE001 - validated earlier; unknown here means a network provider
        return False


def _key_in_environment(model: str) -> bool:
    """True when the provider's API key is set in the environment (litellm reads it from there)."""
    import litellm

    try:
        return bool(litellm.validate_environment(model).get("keys_in_environment"))
    except Exception:  # noqa: BLE001 - unknown provider: no key to find
        return False


def chat_model(model: Any, *, slot: str | None = None, retries: int | RetryPolicy | None = None,
               **kwargs: Any) -> Any:
    """A LangChain ``BaseChatModel`` for a model string, chat model object or zero-arg factory.

    Strings become a ``langchain_litellm.ChatLiteLLM`` (one class for every litellm provider,
    priced by litellm) that retries transient failures per ``retries`` (see ``retry.py``); kwargs
    such as temperature / max_tokens / api_base are kept, others go to model_kwargs.
    """
    from langchain_core.language_models import BaseChatModel

    if isinstance(model, BaseChatModel):
        return model
    if callable(model) and not isinstance(model, str):
        return _built_chat_model(model, slot)
    check_model_string(model, slot)
    from ._langchain import RetryingChatLiteLLM as cls

    remember_secrets(kwargs)
    if retries is None and "max_retries" in kwargs:
        # ChatLiteLLM's own knob: the same meaning here
        retries = max(0, int(kwargs.pop("max_retries")) - 1)
    direct, extra = _chat_settings(model, set(cls.model_fields), retry_policy(retries), kwargs)
    try:
        return cls(model=model, model_kwargs=extra, agentopt_retries=retries, **direct)
    except (TypeError, ValueError) as exc:
        # pydantic validation of kwargs (temperature="hot", ...)
        raise ModelError(_bad_kwargs(model, slot, kwargs, exc)) from None


def _built_chat_model(factory: Any, slot: str | None) -> Any:
    """What a user's zero-argument model factory builds (a LangChain chat model,
    else ModelError)."""
    from langchain_core.language_models import BaseChatModel

    built = factory()
    if not isinstance(built, BaseChatModel):
        where = f"slot {slot!r}: " if slot else ""
        raise ModelError(f"{where}model factory {factory!r} returned {type(built).__name__}, "
                         "expected a LangChain BaseChatModel")
    return built


def _chat_settings(model: str, fields: set[str], policy: RetryPolicy,
                   kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(constructor fields, model_kwargs) of a ChatLiteLLM for ``model`` built with ``kwargs``."""
    direct = {k: v for k, v in kwargs.items() if k in fields and k != "model_kwargs"}
    extra = {**kwargs.get("model_kwargs", {}),
             **{k: v for k, v in kwargs.items() if k not in fields}}
    local = _in_process(model)
    if local or ("api_base" in direct and not _key_in_environment(model)):
        # a keyless endpoint; a key in the environment is used
        direct.setdefault("api_key", "unused")
    if not local and policy.timeout_s is not None:
        direct.setdefault("request_timeout", policy.timeout_s)
    extra.setdefault("max_retries", 0)  # the provider SDK's own retries off: the policy retries
    return direct, extra


def dspy_lm(model: Any, *, slot: str | None = None, retries: int | RetryPolicy | None = None,
            **kwargs: Any) -> Any:
    """A ``dspy.LM`` for a model string (``cache=False`` unless given) retrying transient failures
    per ``retries`` (see ``retry.py``); dspy.LM objects pass through."""
    import dspy

    if isinstance(model, dspy.BaseLM):
        return model
    check_model_string(model, slot)
    from ._dspy import RETRY_ATTR, RetryingLM

    remember_secrets(kwargs)
    if retries is None and "num_retries" in kwargs:  # DSPy's own knob: the same meaning here
        retries = kwargs.pop("num_retries")
    policy = retry_policy(retries)
    kwargs.setdefault("cache", False)
    if not _in_process(model) and policy.timeout_s is not None:
        kwargs.setdefault("timeout", policy.timeout_s)
    kwargs["num_retries"] = 0  # DSPy's own loop off: the policy retries
    try:
        lm = RetryingLM(model, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ModelError(_bad_kwargs(model, slot, kwargs, exc)) from None
    setattr(lm, RETRY_ATTR, retries)
    return lm


def _bad_kwargs(model: str, slot: str | None, kwargs: dict[str, Any], exc: Exception) -> str:
    where = f"slot {slot!r}: " if slot else ""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return (f"{where}cannot build model {model!r} with kwargs {sorted(kwargs)}: "
            f"{type(exc).__name__}: {first}; fix or drop the offending kwargs")


def model_name(obj: Any) -> str | None:
    """Best-effort model string of a chat model / dspy.LM / runnable binding (None if unknown)."""
    if obj is None:
        return None
    if isinstance(obj, str):
        return obj
    seen = 0
    while hasattr(obj, "bound") and seen < 5:  # RunnableBinding(bind_tools / with_config)
        obj, seen = obj.bound, seen + 1
    for attr in ("model", "model_name", "model_id", "deployment_name", "repo_id"):
        value = getattr(obj, attr, None)
        if isinstance(value, str) and value:
            return value
    return None
