"""LangGraph adapter: slots of a compiled graph, per-call model routing, usage, export / apply.

``adapter`` (the public entry points behind ``aa.discover`` / ``aa.bind`` / ``aa.apply``),
``discovery`` (static walk + probe merge), ``routing`` (per-call model choice), ``runner`` (one
binding's runs: config, context, tracing, sync / async), ``recording`` (the LangChain callback that
attributes every call to a slot), ``bench`` (the adapter's overhead per model call).
"""

from .adapter import LangGraphAdapter
from .runner import LangGraphRunner

__all__ = ["LangGraphAdapter", "LangGraphRunner"]
