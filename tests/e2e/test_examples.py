"""The examples the README points to run as a user would run them, each within a minute."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.slow
@pytest.mark.parametrize("script", ["torch_mlp.py", "keras_mlp.py", "sklearn_pipeline.py"])
def test_example_runs_under_a_minute(script: str) -> None:
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, str(EXAMPLES / script)], capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "inference" in proc.stdout and "rows" in proc.stdout
