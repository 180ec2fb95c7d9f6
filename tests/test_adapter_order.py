"""The adapter is chosen by what the app is,
not by which adapter module the user imported first."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a fresh interpreter importing DSPy

SCRIPT = """
from agentopt_adapters.callable import completion  # registers the plain-callable adapter first
import dspy
import agentopt_adapters as aa

class Program(dspy.Module):
    def __init__(self):
        super().__init__()
        self.final = dspy.Predict("question -> answer")

    def forward(self, question):
        return self.final(question=question)

print(aa.adapter_for(Program()).framework, aa.adapter_for(lambda models, x: x).framework)
"""


def test_dspy_program_is_not_taken_for_a_plain_callable():
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ,
           "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["dspy", "callable"]
