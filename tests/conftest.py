"""Shared test setup: litellm uses its bundled price map (no fetch at import; the tests are a program)."""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
