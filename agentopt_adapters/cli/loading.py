"""What the command line reads: the app / metric objects (``file.py:name``), the dataset, the
candidate lists and the storage URL."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import AgentOptError, DatasetError

__all__ = ["load_object", "load_data", "parse_candidates", "parse_json", "dataset_for",
           "storage_url", "first_line"]


def load_object(spec: str, what: str = "app") -> Any:
    """``path/to/file.py:name`` or ``package.module:name`` -> the object (dotted attributes
    allowed).

    A file is imported like ``langgraph.json`` does: its project root (the nearest folder above it
    with ``pyproject.toml``, ``setup.py``, ``langgraph.json`` or ``.git``) and its own folder go on
    ``sys.path``, and a file inside a package is imported as that package's module, so its own
    imports (``from agent.state import ...``, ``from .state import ...``) work. Each file is
    executed once, however many objects are loaded from it.
    """
    target, _, attr = spec.rpartition(":")
    if ":" not in spec or not target or not attr:
        raise AgentOptError(f"{what} must be given as 'path/to/file.py:name' or 'module:name', "
                            f"got {spec!r}")
    is_file = target.endswith(".py") or "/" in target or "\\" in target
    module = _file_module(target, what) if is_file else _named_module(target, what)
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise AgentOptError(f"{what}: {target!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


_ROOT_MARKERS = ("pyproject.toml", "setup.py", "langgraph.json", ".git")


def _file_module(target: str, what: str) -> Any:
    path = Path(target).resolve()
    if not path.is_file():
        raise AgentOptError(f"{what} file {target!r} does not exist")
    package_root, dotted = path.parent, path.stem
    while (package_root / "__init__.py").exists():  # a module of a package: import it as one
        dotted = f"{package_root.name}.{dotted}"
        package_root = package_root.parent
    project = next((d for d in path.parents if any((d / m).exists() for m in _ROOT_MARKERS)), None)
    for folder in (project, package_root, path.parent):
        if folder is not None and str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    if "." in dotted:
        return _named_module(dotted, what, path)
    name = f"agentopt_user_{path.stem}_{hashlib.sha256(str(path).encode()).hexdigest()[:8]}"
    if name in sys.modules:  # app and metric from one file: executed once
        return sys.modules[name]
    spec_ = importlib.util.spec_from_file_location(name, path)
    if spec_ is None or spec_.loader is None:
        raise AgentOptError(f"cannot import {what} file {target!r}")
    module = importlib.util.module_from_spec(spec_)
    sys.modules[name] = module
    try:
        spec_.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's file fails at import: name it, no traceback
        sys.modules.pop(name, None)
        raise AgentOptError(f"importing {what} file {target!r} failed: "
                            f"{_where(exc, path)}") from None
    return module


def _named_module(target: str, what: str, path: Path | None = None) -> Any:
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        raise AgentOptError(f"cannot import module {target!r} for {what}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the user's module fails at import: name it, no traceback
        raise AgentOptError(f"importing module {target!r} for {what} failed: "
                            f"{_where(exc, path)}") from None


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


def _where(exc: BaseException, path: Path | None = None) -> str:
    """``SyntaxError: invalid syntax (app.py line 3)``:
    the error and the user's line that raised it."""
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
        raise DatasetError(f"cannot read data file {path!r}: {exc}; give a UTF-8 .jsonl or .json "
                           "file") from None
    if p.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: not valid JSON ({exc.msg} at line "
                               f"{exc.lineno})") from None
        if not isinstance(data, list):
            raise DatasetError(f"{path}: expected a JSON list of examples, got "
                               f"{type(data).__name__}")
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


def parse_json(text: str, option: str) -> Any:
    """A JSON value given on the command line (one clear error naming the option)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AgentOptError(f"{option} must be JSON, e.g. {option} '{{\"user_id\": \"u1\"}}' "
                            f"({exc.msg})") from None


def dataset_for(app: Any, rows: list[Any]) -> list[Any]:
    """Rows as the app's framework expects them: for a DSPy program, ``dspy.Example``s whose inputs
    are the program's input fields (so metrics can read ``example.answer``); other apps get the
    rows."""
    from ..protocol import adapter_for

    adapter = adapter_for(app)
    to_example = getattr(adapter, "example_from_row", None)
    return [to_example(app, r) if to_example and isinstance(r, dict) else r for r in rows]


def parse_candidates(values: list[str]) -> list[Any] | dict[str, list[Any]]:
    """``["a,b,c"]`` -> one list for every slot; ``["plan=a,b", "solve=c"]`` -> per slot; a
    ``.json`` file holds a list or a ``{slot: [...]}`` object whose candidates may be ``{"model",
    "kwargs"}``. A candidate may draw samples: ``sim/small*8:vote``,
    ``sim/small*4:judge=sim/large`` (``scaling``)."""
    shared: list[Any] = []
    per_slot: dict[str, list[Any]] = {}
    for v in values:
        _add_candidates(v, shared, per_slot)
    if per_slot and shared:
        raise AgentOptError("give --candidates either as one list 'a,b,c' or per slot 'slot=a,b', "
                            "not both")
    if not per_slot and not shared:
        raise AgentOptError("--candidates is empty; e.g. --candidates "
                            "sim/nano,sim/small,sim/large")
    return per_slot or shared


def _add_candidates(v: str, shared: list[Any], per_slot: dict[str, list[Any]]) -> None:
    """One ``--candidates`` value into the shared list or the per-slot lists."""
    if v.strip().endswith(".json"):
        loaded = _candidates_file(v.strip())
        if not isinstance(loaded, dict):
            shared.extend(loaded)
            return
        for slot, cands in loaded.items():
            per_slot.setdefault(str(slot), []).extend(cands if isinstance(cands, list)
                                                      else [cands])
    elif "=" in v and "*" not in v.partition("=")[0]:  # 'slot=...', not 'model*4:judge=<model>'
        slot, _, models = v.partition("=")
        per_slot.setdefault(slot.strip(), []).extend(m.strip() for m in models.split(",")
                                                     if m.strip())
    else:
        shared.extend(m.strip() for m in v.split(",") if m.strip())


def _candidates_file(path: str) -> Any:
    try:
        loaded = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AgentOptError(f"--candidates file {path!r} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AgentOptError(f"--candidates file {path!r} is not readable JSON: {exc}") from None
    if not isinstance(loaded, (list, dict)):
        raise AgentOptError(f"--candidates file {path!r} must hold a JSON list of candidates or "
                            f"{{slot: [candidates]}}, got {type(loaded).__name__}")
    return loaded


def storage_url(path_or_url: str) -> str:
    """``run.db`` -> ``sqlite:///run.db``; URLs pass through."""
    return path_or_url if "://" in path_or_url else f"sqlite:///{path_or_url}"
