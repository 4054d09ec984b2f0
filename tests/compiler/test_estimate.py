"""``ml2sc estimate``: the fitted gas model against receipts, its errors, its CLI.

The models here are not in the fit set (``bench/fit_gas_model.py`` uses other
shapes and seeds), so the 3% bound is checked on models the fit never saw.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from ml2sc.backends.base import Backend
from ml2sc.compiler.cli import main
from ml2sc.compiler.driver import CompiledModel, get_backend
from ml2sc.compiler.passes.manager import PassManager
from ml2sc.compiler.registry import backends
from ml2sc.ir.errors import Ml2scError
from ml2sc.tools.estimate import cost_module, estimate, load_gas_model, lower
from tests.conftest import mlp_module

TOLERANCE = 0.03


def _rel(estimated: float, measured: float) -> float:
    return abs(estimated - measured) / measured


@pytest.mark.evm
@pytest.mark.parametrize(("sizes", "acts"), [
    ([30, 3, 1], ["relu", "sigmoid"]),           # an ML2SC-like shape, other weights
    ([20, 12, 6, 4], ["relu", "tanh", "softmax"]),
    ([11, 5], ["leaky_relu"]),
])
def test_estimate_within_3_percent_of_the_chain(chain, sizes: list[int], acts: list[str]) -> None:
    module = mlp_module(sizes, acts, seed=123, name="held_out")
    be = get_backend("prbmath")
    ir = PassManager.from_pipeline(be.pipeline).run(module)
    compiled = CompiledModel(module, ir, be.emit(ir), be)
    deployed = compiled.deploy(chain)
    x = np.random.default_rng(5).uniform(0, 1, (8, sizes[0])).astype(np.float32)
    rows = compiled.quantize(x)
    deployed.predict_raw(rows)
    deployed.predict_batch_raw(rows)

    est = estimate(module, "prbmath", data=x, batch_rows=len(rows))
    assert _rel(est.deploy_gas, deployed.gas.deploy) < TOLERANCE
    assert _rel(est.inference_gas, float(np.mean(deployed.gas.inference))) < TOLERANCE
    assert _rel(est.batch_gas or 0, deployed.gas.batch or 1) < TOLERANCE
    assert est.runtime_bytes is not None and _rel(est.runtime_bytes, compiled.artifact.runtime_size) < TOLERANCE


def test_estimate_flags_a_model_over_the_code_size_limit() -> None:
    est = estimate(mlp_module([200, 120, 10], ["relu", "softmax"]), "prbmath")
    assert est.over_code_limit and est.deploy_gas > 5_000_000


@pytest.mark.parametrize("name", backends.names())
def test_shipped_models_use_only_features_their_cost_module_counts(name: str) -> None:
    be = get_backend(name)
    try:
        model, cost = load_gas_model(be), cost_module(be)
    except Ml2scError:
        pytest.skip(f"{name} ships no gas model")
    x = np.random.default_rng(0).uniform(0, 1, (8, 4)).astype(np.float32)
    counted = set(cost.cost_features(lower(mlp_module([4, 3, 2], ["relu", "sigmoid"]), be, calibration=x)))
    for quantity, terms in model.coefficients.items():
        assert set(terms) <= counted, quantity
    assert {"deploy", "inference_exec"} <= set(model.coefficients)


class _NoModelBackend(Backend):
    name: ClassVar[str] = "no-gas-model"
    description: ClassVar[str] = "a backend that ships no cost.py"
    pipeline: ClassVar[str] = "canonicalize"


@pytest.fixture
def no_model_backend():  # noqa: ANN201
    backends.register(_NoModelBackend.name, _NoModelBackend)
    yield _NoModelBackend.name
    backends.unregister(_NoModelBackend.name)


def test_backend_without_a_gas_model_is_a_one_line_error(no_model_backend: str, model_file: Path, capsys) -> None:
    with pytest.raises(Ml2scError, match="has no gas model"):
        estimate(mlp_module([4, 2], [""]), no_model_backend)
    assert main(["estimate", str(model_file), "--backend", no_model_backend]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-gas-model" in err and "fit_gas_model.py" in err


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    """A 6-3-1 relu/sigmoid ONNX model, written with onnx.helper (no framework needed)."""
    rng = np.random.default_rng(0)
    inits = [helper.make_tensor(n, TensorProto.FLOAT, s, rng.normal(0, 0.5, s).astype(np.float32).ravel())
             for n, s in (("w0", [3, 6]), ("b0", [3]), ("w1", [1, 3]), ("b1", [1]))]
    nodes = [helper.make_node("Gemm", ["x", "w0", "b0"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "w1", "b1"], ["z"], transB=1), helper.make_node("Sigmoid", ["z"], ["y"])]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 1])], inits)
    path = tmp_path / "tiny.onnx"
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def test_cli_json_names_deploy_and_inference_gas(model_file: Path, tmp_path: Path, capsys) -> None:
    data = tmp_path / "x.npy"
    np.save(data, np.random.default_rng(1).uniform(0, 1, (4, 6)).astype(np.float32))
    assert main(["estimate", str(model_file), "--backend", "prbmath", "--json", "--data", str(data)]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("deploy_gas", "total_deploy_gas", "inference_gas", "inference_exec_gas", "inference_calldata_gas",
                "batch_gas", "batch_gas_per_row", "runtime_bytes"):
        assert isinstance(report[key], int | float), key
    assert report["backend"] == "prbmath" and report["model"] == "tiny" and report["calldata_from"] == "data"
    assert report["inference_gas"] > 21_000 + report["inference_exec_gas"]


def test_cli_table(model_file: Path, capsys) -> None:
    assert main(["estimate", str(model_file)]) == 0
    out = capsys.readouterr().out
    assert "deployment" in out and "inference, per transaction" in out and "predictBatch of 50 rows" in out
