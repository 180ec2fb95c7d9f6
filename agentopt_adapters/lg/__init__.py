"""LangGraph internals of the adapter: static discovery, per-call routing, usage recording.

The public entry points live in ``agentopt_adapters.langgraph_adapter`` (``aa.discover`` etc.).
"""
