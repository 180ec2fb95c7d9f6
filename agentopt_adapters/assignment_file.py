"""The exported assignment file, ``agentopt.assignment/v1``, shared by every adapter.

```json
{"format": "agentopt.assignment/v1", "framework": "langgraph",
 "slots": {"plan": {"model": "openai/gpt-4o-mini", "kwargs": {"temperature": 0}},
           "solve": {"model": "sim/small", "kwargs": {}, "samples": 8, "select": "vote"}}}
```
A slot with inference-time scaling also has ``samples``, ``select`` (``"vote"`` / ``"judge"``) and,
for a judge, ``judge`` (a model string); a select function cannot be written. Secrets are never
written (``redaction.strip_secrets``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError, ModelError, SlotError
from .redaction import strip_secrets
from .scaling import Scaling, parse_scaling

FORMAT = "agentopt.assignment/v1"

__all__ = ["FORMAT", "make_config", "load_config", "check_slot_names"]


def make_config(
    framework: str,
    assignment: Mapping[str, Any],
    kwargs: Mapping[str, Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the v1 document. ``assignment`` maps slot -> model string (or {"model", "kwargs"} plus
    scaling: "samples", "select", "judge")."""
    slots: dict[str, Any] = {}
    for name, value in assignment.items():
        scaling = Scaling()
        if isinstance(value, Mapping):
            model, kw = value.get("model"), value.get("kwargs", {})
            scaling = _scaling(name, value)
        else:
            model, kw = value, (kwargs or {}).get(name, {})
        if not isinstance(model, str) or not model:
            raise ConfigError(
                f"slot {name!r}: model must be a model string such as 'openai/gpt-4o-mini', got "
                f"{model!r}"
            )
        if scaling.active and callable(scaling.select):
            raise ConfigError(
                f"slot {name!r}: select is the function "
                f"{getattr(scaling.select, '__name__', scaling.select)!r}, which cannot be "
                "written to a config file; export with select='vote' or 'judge', or pass the "
                "function in code: aa.bind(app, {slot: {'model': ..., 'samples': n, 'select': "
                "fn}})")
        slots[name] = {"model": model, "kwargs": strip_secrets(kw), **scaling.public()}
    doc: dict[str, Any] = {"format": FORMAT, "framework": framework, "slots": slots}
    if extra:
        doc.update(extra)
    return doc


def load_config(cfg_or_path: Mapping[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a v1 document from a dict or a JSON file path."""
    cfg = _read(cfg_or_path) if isinstance(cfg_or_path, (str, os.PathLike)) else cfg_or_path
    if not isinstance(cfg, Mapping):
        raise ConfigError(f"config must be a JSON object with format {FORMAT!r}, got "
                          f"{type(cfg).__name__}")
    if cfg.get("format") != FORMAT:
        raise ConfigError(f"config format is {cfg.get('format')!r}; expected {FORMAT!r} (file "
                          "written by result.export)")
    slots = cfg.get("slots")
    if not isinstance(slots, Mapping) or not slots:
        raise ConfigError("config has no 'slots' object mapping slot name -> {'model': ..., "
                          "'kwargs': {...}}")
    for name, spec in slots.items():
        _check_entry(name, spec)
    return dict(cfg)


def _read(path_like: str | os.PathLike[str]) -> Any:
    path = Path(path_like)
    if not path.exists():
        raise ConfigError(f"config file {str(path)!r} does not exist; export one with "
                          "result.export(path)")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid JSON ({exc.msg} at line "
                          f"{exc.lineno})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {str(path)!r}: {exc}; give the JSON file "
                          "written by result.export(path)") from None


def _check_entry(name: Any, spec: Any) -> None:
    """One slot entry: a name, a model string, kwargs as an object, a valid scaling."""
    if not isinstance(name, str) or not name:
        raise ConfigError(f"config slot names must be non-empty strings, got {name!r}")
    if (not isinstance(spec, Mapping) or not isinstance(spec.get("model"), str)
            or not spec["model"]):
        raise ConfigError(f"config slot {name!r} needs a 'model' string, got {spec!r}")
    if not isinstance(spec.get("kwargs", {}), Mapping):
        raise ConfigError(f"config slot {name!r}: 'kwargs' must be an object, got "
                          f"{spec.get('kwargs')!r}")
    if callable(spec.get("select")):
        raise ConfigError(f"config slot {name!r}: 'select' in a config is 'vote' or 'judge'; a "
                          "select function is passed in code (aa.bind)")
    _scaling(name, spec, what="config slot")


def _scaling(name: str, spec: Mapping[str, Any], what: str = "slot") -> Scaling:
    """The scaling of one slot entry (samples, select, judge); a ConfigError when it is wrong."""
    try:
        return parse_scaling(spec, f"{what} {name!r}")
    except ModelError as exc:
        raise ConfigError(str(exc)) from None


def check_slot_names(given: Any, known: Any, *, what: str = "assignment") -> None:
    """Raise SlotError when ``given`` names slots not in ``known``."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise SlotError(
            f"{what} names unknown slot(s) {unknown}; the app's slots are {sorted(known)}"
        )
