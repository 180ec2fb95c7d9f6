"""Replay benchmark: ``python -m agentopt_search.bench`` (see ``run.py``)."""

from .replay import Replay, find_data_dir, load_replay

__all__ = ["Replay", "find_data_dir", "load_replay"]
