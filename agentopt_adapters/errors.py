"""Errors raised at the public API: each names the problem and the fix."""

from __future__ import annotations

__all__ = ["AgentOptError", "DiscoveryError", "SlotError", "ConfigError", "ModelError",
           "DatasetError", "MetricError"]


class AgentOptError(ValueError):
    """Base class: bad input that the user can fix."""


class DiscoveryError(AgentOptError):
    """No model slot could be found in the app."""


class SlotError(AgentOptError):
    """An assignment or config names slots the app does not have (or misses some)."""


class ConfigError(AgentOptError):
    """An exported assignment file is malformed."""


class ModelError(AgentOptError):
    """A model string cannot be resolved (unknown simulated model, unknown provider, ...)."""


class DatasetError(AgentOptError):
    """The dataset is empty, not iterable, or has items that cannot be run."""


class MetricError(AgentOptError):
    """The metric raised or returned something that is not a number in [0, 1]."""
