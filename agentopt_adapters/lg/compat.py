"""Thin bridge to the shared model factory / pricing modules (with a minimal private fallback)."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel

# Constructor settings that a replacement model inherits from the model it replaces.
INHERITED_FIELDS = ("temperature", "max_tokens", "top_p")


def model_name(obj: Any) -> str | None:
    """Model string of a chat model instance (``"sim/small"``, ``"openai/gpt-4o"``)."""
    try:
        from ..models import model_name as _model_name
    except ImportError:  # factory not available: read the usual attributes
        _model_name = None
    if _model_name is not None:
        try:
            name = _model_name(obj)
        except Exception:  # noqa: BLE001 - unknown object kinds: fall back below
            name = None
        if name:
            return name
    for attr in ("model", "model_name", "model_id", "deployment_name"):
        value = getattr(obj, attr, None)
        if isinstance(value, str) and value:
            return value
    return None


def chat_model(model: Any, slot: str | None = None, **kwargs: Any) -> BaseChatModel:
    """Build a chat model from a model string via the shared factory (``slot`` names errors)."""
    if isinstance(model, BaseChatModel) and not kwargs:
        return model
    try:
        from ..models import chat_model as _chat_model
    except ImportError:
        _chat_model = None
    if _chat_model is not None:
        return _chat_model(model, slot=slot, **kwargs)
    if isinstance(model, str):  # private fallback: litellm handles every provider string
        from langchain_litellm import ChatLiteLLM

        return ChatLiteLLM(model=model, **kwargs)
    if callable(model):
        return model()
    raise TypeError(f"cannot build a chat model from {model!r}")


def check_model(model: str, slot: str | None = None) -> None:
    """Fail early (ModelError naming the slot) for an unusable model string."""
    try:
        from ..models import check_model_string
    except ImportError:
        return
    check_model_string(model, slot)


def cost_usd(model: str | None, input_tokens: int, output_tokens: int) -> float | None:
    if not model:
        return None
    try:
        from ..pricing import cost_usd as _cost
    except ImportError:
        return None
    try:
        return _cost(model, input_tokens, output_tokens)
    except Exception:  # noqa: BLE001 - unknown price -> None (never a silent 0)
        return None


def inherited_kwargs(model: Any) -> dict[str, Any]:
    """Generation settings (temperature, max_tokens, top_p) set on ``model``'s constructor."""
    out: dict[str, Any] = {}
    fields_set = getattr(model, "model_fields_set", None)
    for field in INHERITED_FIELDS:
        value = getattr(model, field, None)
        if value is None:
            continue
        if fields_set is not None and field not in fields_set:
            continue
        if isinstance(value, (int, float, str, bool)):
            out[field] = value
    return out
