"""``python -m agentopt_adapters.cli``."""

from . import main

main()
