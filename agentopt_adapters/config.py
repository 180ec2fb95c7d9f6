"""The exported assignment file, ``agentopt.assignment/v1``, shared by every adapter.

```json
{"format": "agentopt.assignment/v1", "framework": "langgraph",
 "slots": {"plan": {"model": "openai/gpt-4o-mini", "kwargs": {"temperature": 0}}}}
```
Secrets (api keys, tokens, passwords) are never written: kwargs whose name looks secret are dropped (at
any depth), and so are values containing a secret (a secret-named environment variable's value).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError, SlotError

FORMAT = "agentopt.assignment/v1"
_SECRET = re.compile(r"(api_?key|secret|token|password|authorization|credential)", re.I)
# generation limits that merely contain "token" are settings, not secrets
_NOT_SECRET = re.compile(r"^(max_(completion_|output_|new_)?tokens|num_predict)$", re.I)

__all__ = ["FORMAT", "make_config", "load_config", "check_slot_names", "strip_secrets", "secret_values", "redact",
           "remember_secrets"]


def _is_secret_name(key: Any) -> bool:
    return isinstance(key, str) and bool(_SECRET.search(key)) and not _NOT_SECRET.match(key)


_REMEMBERED: set[str] = set()


def remember_secrets(kwargs: Mapping[str, Any] | None) -> None:
    """Note the secret-named values of ``kwargs`` (e.g. ``api_key=`` given to the model factory), so
    error messages that echo them are redacted too."""
    _REMEMBERED.update(secret_values(kwargs, env=False))


def secret_values(extra: Any = None, env: bool = True) -> set[str]:
    """Values to keep out of anything written: secret-named environment variables, ``api_key=``-style
    values the model factory saw, and secret-named entries (at any depth) of ``extra``."""
    found = {v for k, v in os.environ.items() if _is_secret_name(k) and len(v) >= 8} if env else set()
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


def make_config(
    framework: str,
    assignment: Mapping[str, Any],
    kwargs: Mapping[str, Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the v1 document. ``assignment`` maps slot -> model string (or {"model", "kwargs"})."""
    slots: dict[str, Any] = {}
    for name, value in assignment.items():
        if isinstance(value, Mapping):
            model, kw = value.get("model"), value.get("kwargs", {})
        else:
            model, kw = value, (kwargs or {}).get(name, {})
        if not isinstance(model, str) or not model:
            raise ConfigError(
                f"slot {name!r}: model must be a model string such as 'openai/gpt-4o-mini', got {model!r}"
            )
        slots[name] = {"model": model, "kwargs": strip_secrets(kw)}
    doc: dict[str, Any] = {"format": FORMAT, "framework": framework, "slots": slots}
    if extra:
        doc.update(extra)
    return doc


def load_config(cfg_or_path: Mapping[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a v1 document from a dict or a JSON file path."""
    if isinstance(cfg_or_path, (str, os.PathLike)):
        path = Path(cfg_or_path)
        if not path.exists():
            raise ConfigError(f"config file {str(path)!r} does not exist; export one with result.export(path)")
        try:
            cfg: Any = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config file {str(path)!r} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config file {str(path)!r}: {exc}; give the JSON file written by "
                              "result.export(path)") from None
    else:
        cfg = cfg_or_path
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"config must be a JSON object with format {FORMAT!r}, got {type(cfg).__name__}")
    if cfg.get("format") != FORMAT:
        raise ConfigError(f"config format is {cfg.get('format')!r}; expected {FORMAT!r} (file written by result.export)")
    slots = cfg.get("slots")
    if not isinstance(slots, Mapping) or not slots:
        raise ConfigError("config has no 'slots' object mapping slot name -> {'model': ..., 'kwargs': {...}}")
    for name, spec in slots.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(f"config slot names must be non-empty strings, got {name!r}")
        if not isinstance(spec, Mapping) or not isinstance(spec.get("model"), str) or not spec["model"]:
            raise ConfigError(f"config slot {name!r} needs a 'model' string, got {spec!r}")
        if not isinstance(spec.get("kwargs", {}), Mapping):
            raise ConfigError(f"config slot {name!r}: 'kwargs' must be an object, got {spec.get('kwargs')!r}")
    return dict(cfg)


def check_slot_names(given: Any, known: Any, *, what: str = "assignment") -> None:
    """Raise SlotError when ``given`` names slots not in ``known``."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise SlotError(
            f"{what} names unknown slot(s) {unknown}; the app's slots are {sorted(known)}"
        )
