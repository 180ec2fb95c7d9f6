"""Benchmarks of the library against the simulated zoo (run each with ``python -m``)."""

__all__: list[str] = []
