"""What the command line reads: the app / metric objects (``file.py:name``), the dataset, the
candidate lists and the storage URL."""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import AgentOptError, DatasetError

__all__ = ["load_object", "load_data", "parse_candidates", "storage_url", "first_line"]


def load_object(spec: str, what: str = "app") -> Any:
    """``path/to/file.py:name`` or ``package.module:name`` -> the object (dotted attributes allowed)."""
    if ":" not in spec:
        raise AgentOptError(f"{what} must be given as 'path/to/file.py:name' or 'module:name', got {spec!r}")
    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise AgentOptError(f"{what} must be given as 'path/to/file.py:name' or 'module:name', got {spec!r}")
    if target.endswith(".py") or "/" in target or "\\" in target:
        path = Path(target).resolve()
        if not path.exists():
            raise AgentOptError(f"{what} file {target!r} does not exist")
        mod_name = f"agentopt_user_{path.stem}_{abs(hash(str(path))) % 10**8}"
        spec_ = importlib.util.spec_from_file_location(mod_name, path)
        if spec_ is None or spec_.loader is None:
            raise AgentOptError(f"cannot import {what} file {target!r}")
        module = importlib.util.module_from_spec(spec_)
        sys.modules[mod_name] = module
        if str(path.parent) not in sys.path:
            sys.path.insert(0, str(path.parent))  # so the file can import its neighbours
        try:
            spec_.loader.exec_module(module)
        except Exception as exc:  # the user's file fails at import: name it, no traceback
            sys.modules.pop(mod_name, None)
            raise AgentOptError(f"importing {what} file {target!r} failed: {_where(exc, path)}") from None
    else:
        try:
            module = importlib.import_module(target)
        except ModuleNotFoundError as exc:
            raise AgentOptError(f"cannot import module {target!r} for {what}: {exc}") from None
        except Exception as exc:
            raise AgentOptError(f"importing module {target!r} for {what} failed: {_where(exc)}") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise AgentOptError(f"{what}: {target!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


def _where(exc: BaseException, path: Path | None = None) -> str:
    """``SyntaxError: invalid syntax (app.py line 3)``: the error and the user's line that raised it."""
    import traceback

    line = getattr(exc, "lineno", None) if isinstance(exc, SyntaxError) else None
    if line is None and path is not None:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename) == path]
        line = frames[-1].lineno if frames else None
    msg = getattr(exc, "msg", None) if isinstance(exc, SyntaxError) else str(exc)
    at = f" ({path.name} line {line})" if path is not None and line else ""
    return f"{type(exc).__name__}: {msg}{at}"


def load_data(path: str) -> list[Any]:
    """A ``.jsonl`` file (one JSON value per line) or a ``.json`` list."""
    p = Path(path)
    if not p.exists():
        raise DatasetError(f"data file {path!r} does not exist")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read data file {path!r}: {exc}; give a UTF-8 .jsonl or .json file") from None
    if p.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(data, list):
            raise DatasetError(f"{path}: expected a JSON list of examples, got {type(data).__name__}")
        return data
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path} line {n}: not valid JSON ({exc.msg})") from None
    return out


def parse_candidates(values: list[str]) -> list[str] | dict[str, list[str]]:
    """``["a,b,c"]`` -> one list for every slot; ``["plan=a,b", "solve=c"]`` -> per slot."""
    shared: list[str] = []
    per_slot: dict[str, list[str]] = {}
    for v in values:
        if "=" in v:
            slot, _, models = v.partition("=")
            per_slot.setdefault(slot.strip(), []).extend(m.strip() for m in models.split(",") if m.strip())
        else:
            shared.extend(m.strip() for m in v.split(",") if m.strip())
    if per_slot and shared:
        raise AgentOptError("give --candidates either as one list 'a,b,c' or per slot 'slot=a,b', not both")
    if not per_slot and not shared:
        raise AgentOptError("--candidates is empty; e.g. --candidates sim/nano,sim/small,sim/large")
    return per_slot or shared


def storage_url(path_or_url: str) -> str:
    """``run.db`` -> ``sqlite:///run.db``; URLs pass through (``postgresql://`` gets an installed driver)."""
    from agentopt_search.storage import resolve_url

    return resolve_url(path_or_url) if "://" in path_or_url else f"sqlite:///{path_or_url}"
