"""ML2SC's MLP_2L_4n (30-4-1, ReLU, sigmoid) within the gas budget, from one contract.

Budget: one inference transaction <= 21,000 + 14,000 gas (calldata included) and
deployment with all weights <= 700,000 gas. ML2SC itself: ~344,000 gas per
sample and 5,393,909 gas to deploy and upload the weights.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from ml2sc.tools import ml2sc_suite as suite

pytestmark = pytest.mark.evm

DEPLOY_BUDGET = 700_000
INFERENCE_BUDGET = 14_000  # beyond the 21,000 transaction base


def test_mlp_2l_4n_budget_from_run_json(tmp_path: Path) -> None:
    model = suite.train(suite.ARCHITECTURES["MLP_2L_4n"])
    onnx.save_model(suite.to_onnx(model), str(tmp_path / "mlp_2l_4n.onnx"))
    _, _, x_test, _ = suite.breast_cancer()
    np.save(tmp_path / "x.npy", x_test)
    proc = subprocess.run(
        [sys.executable, "-m", "ml2sc.compiler.cli", "run", str(tmp_path / "mlp_2l_4n.onnx"), "--backend", "prbmath",
         "--data", str(tmp_path / "x.npy"), "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["inferences"] == 50
    assert report["deploy_gas"] <= DEPLOY_BUDGET, report
    assert report["inference_gas_beyond_base_max"] <= INFERENCE_BUDGET, report


def test_exact_gas_regression(chain) -> None:
    """Gas is deterministic: a change in the emitter that moves these numbers must be deliberate."""
    from tests.backends.prbmath.test_evm_ops import build
    from tests.conftest import mlp_module

    c = build(mlp_module([30, 4, 1], ["relu", "sigmoid"], seed=3, name="regression"))
    d = c.deploy(chain)
    x = np.random.default_rng(5).uniform(0, 1, (3, 30)).astype(np.float32)
    d.predict_raw(c.quantize(x))
    assert (c.artifact.runtime_size, d.gas.deploy, d.gas.inference) == GOLDEN


# runtime bytes, deploy gas, three inferences. Was (2972, 695047, same): the shared predictBatch
# (backends/common/shell.py) spells its addresses from MEM_END, one byte and 216 deploy gas less.
GOLDEN = (2971, 694831, [33195, 33305, 33630])
