"""The int8 backend from the command line: --calibration, data contracts in the artifact, validate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from ml2sc.ir.parser import parse_module

pytestmark = pytest.mark.evm


def ml2sc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ml2sc.compiler.cli", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6-5-3 relu/softmax MLP as plain ONNX (no framework), and 40 input rows."""
    rng = np.random.default_rng(4)
    inits = [numpy_helper.from_array(rng.normal(0, 0.6, s).astype(np.float32), n)
             for n, s in (("w1", (6, 5)), ("b1", (5,)), ("w2", (5, 3)), ("b2", (3,)))]
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["h0"]), helper.make_node("Add", ["h0", "b1"], ["h1"]),
             helper.make_node("Relu", ["h1"], ["h2"]), helper.make_node("MatMul", ["h2", "w2"], ["l0"]),
             helper.make_node("Add", ["l0", "b2"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])],
                              [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 3])],
                              initializer=inits)
    d = tmp_path_factory.mktemp("int8")
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(d / "tiny.onnx"))
    np.save(d / "x.npy", rng.normal(0, 1, (40, 6)).astype(np.float32))
    return d


def test_compile_needs_calibration(files: Path) -> None:
    proc = ml2sc("compile", str(files / "tiny.onnx"), "--backend", "int8", "-o", str(files / "out"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "calibration" in lines[0] and "Traceback" not in proc.stderr


def test_compile_writes_data_contracts(files: Path) -> None:
    out = files / "out"
    proc = ml2sc("compile", str(files / "tiny.onnx"), "--backend", "int8", "--calibration", str(files / "x.npy"),
                 "--pipeline", "canonicalize,fuse-affine,quantize-int8{weights=data,method=percentile}", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    artifact = json.loads((out / "Tiny.json").read_text())
    data = artifact["ml2sc"]["data_contracts"]
    assert len(data) == 1 and data[0]["runtime"].startswith("0x00")  # STOP, then the weights
    assert artifact["ml2sc"]["outputs"][0]["scale"] == 2.0**-16
    module = parse_module((out / "Tiny.mlir").read_text())
    assert module.attribute("calibration") == "percentile"
    proc = ml2sc("ir", str(files / "tiny.onnx"), "--backend", "int8", "--calibration", str(files / "x.npy"))
    assert proc.returncode == 0 and "qgemm" in proc.stdout and "qsoftmax" in proc.stdout


def test_validate_reports_agreement(files: Path) -> None:
    proc = ml2sc("validate", str(files / "tiny.onnx"), "--backend", "int8", "--data", str(files / "x.npy"), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["evm_equals_simulator_rows"] == 40 and report["ok"]
    (probs,) = report["outputs"]
    assert probs["kind"] == "probabilities" and probs["agreement"] >= 0.95 and probs["max_abs_error"] < 0.1
    proc = ml2sc("validate", str(files / "tiny.onnx"), "--backend", "int8", "--data", str(files / "x.npy"),
                 "--min-agreement", "1.01")
    assert proc.returncode == 1 and "agreement" in proc.stdout


def test_layout_flag_reaches_the_contract_and_the_report(files: Path) -> None:
    reports = {}
    for layout in ("swar", "dense"):
        proc = ml2sc("run", str(files / "tiny.onnx"), "-b", "int8", "--layout", layout, "--data", str(files / "x.npy"), "--json")
        assert proc.returncode == 0, proc.stderr
        reports[layout] = json.loads(proc.stdout)
        assert reports[layout]["layout"] == layout and reports[layout]["layout_why"]
    assert reports["dense"]["weights"] == "data"
    proc = ml2sc("run", str(files / "tiny.onnx"), "-b", "int8", "--layout", "auto", "--calls", "1",
                 "--data", str(files / "x.npy"), "--json")
    assert proc.returncode == 0, proc.stderr
    assert "over 1 calls" in json.loads(proc.stdout)["layout_why"]


def test_layout_flag_is_refused_where_it_means_nothing(files: Path) -> None:
    proc = ml2sc("compile", str(files / "tiny.onnx"), "-b", "prbmath", "--layout", "dense")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "place-weights" in proc.stderr
    proc = ml2sc("estimate", str(files / "tiny.onnx"), "-b", "int8", "--layout", "dense", "--fitted")
    assert proc.returncode == 2 and "dense layout has no fitted model" in proc.stderr  # the counted estimate prices it
