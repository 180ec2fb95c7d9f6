"""Secrets never leave the process: what looks like a key is dropped from anything written, and
redacted from error messages that are stored or printed.

A secret is a kwarg whose name looks secret (api_key, token, password, authorization, ...) at any
depth, or any value that contains one: a secret-named environment variable's value, or an
``api_key=``-style value given to the model factory (``remember_secrets``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

_SECRET = re.compile(r"(api_?key|secret|token|password|authorization|credential)", re.I)
# generation limits that merely contain "token" are settings, not secrets
_NOT_SECRET = re.compile(r"^(max_(completion_|output_|new_)?tokens|num_predict)$", re.I)

__all__ = ["strip_secrets", "secret_values", "redact", "remember_secrets"]


def _is_secret_name(key: Any) -> bool:
    return isinstance(key, str) and bool(_SECRET.search(key)) and not _NOT_SECRET.match(key)


_REMEMBERED: set[str] = set()


def remember_secrets(kwargs: Mapping[str, Any] | None) -> None:
    """Note the secret-named values of ``kwargs`` (e.g. ``api_key=`` given to the model factory),
    so error messages that echo them are redacted too."""
    _REMEMBERED.update(secret_values(kwargs, env=False))


def secret_values(extra: Any = None, env: bool = True) -> set[str]:
    """Values to keep out of anything written: secret-named environment variables,
    ``api_key=``-style values the model factory saw, and secret-named entries (at any depth) of
    ``extra``."""
    found = {v for k, v in os.environ.items()
             if _is_secret_name(k) and len(v) >= 8} if env else set()
    if env:
        found |= _REMEMBERED

    def walk(x: Any) -> None:
        if isinstance(x, Mapping):
            for k, v in x.items():
                if _is_secret_name(k) and isinstance(v, str) and len(v) >= 8:
                    found.add(v)
                    found.update(w for w in v.split() if len(w) >= 8)  # "Bearer <key>"
                walk(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                walk(v)

    walk(extra)
    return found


def redact(text: str, secrets: set[str] | None = None) -> str:
    """``text`` with every known secret value (see ``secret_values``) replaced by ``***``."""
    for s in sorted(secret_values() if secrets is None else secrets, key=len, reverse=True):
        if s in text:
            text = text.replace(s, "***")
    return text


def strip_secrets(kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """Drop secret-looking kwargs (at any depth: headers, model_kwargs, ...), values that contain a
    secret, and non-JSON values."""
    secrets = secret_values(kwargs)

    def clean(x: Any) -> Any:
        if isinstance(x, Mapping):
            return {k: clean(v) for k, v in x.items() if not _is_secret_name(k) and not _has(v)}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x if not _has(v)]
        return x

    def _has(v: Any) -> bool:
        return isinstance(v, str) and any(s in v for s in secrets)

    out: dict[str, Any] = {}
    for key, value in clean(dict(kwargs or {})).items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        out[key] = value
    return out
