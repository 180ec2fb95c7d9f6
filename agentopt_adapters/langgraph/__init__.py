"""LangGraph adapter: slots of a compiled graph, per-call model routing, usage, export / apply.

``adapter`` (the public entry points behind ``aa.discover`` / ``aa.bind`` / ``aa.apply``),
``discovery`` (static walk + probe merge), ``routing`` (per-call model choice), ``recording``
(the LangChain callback that attributes every call to a slot).
"""

from .adapter import LangGraphAdapter, LangGraphRunner

__all__ = ["LangGraphAdapter", "LangGraphRunner"]
