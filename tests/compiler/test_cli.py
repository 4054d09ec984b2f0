"""The command line as a user meets it: files written, JSON keys, one-line errors with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from tests.e2e import onnx_models as zoo


def ml2sc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ml2sc.compiler.cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from ml2sc.tools import ml2sc_suite as suite

    path = tmp_path_factory.mktemp("m") / "mlp.onnx"
    onnx.save_model(suite.to_onnx(suite.train(suite.ARCHITECTURES["MLP_2L_2n"], epochs=2)), str(path))
    return path


def conv_model(path: Path) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 3, 3])
    w = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 2, 2], [1.0] * 4)
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv1")], "g", [x], [y], [w])
    onnx.save_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(path))


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_unsupported_op_is_one_line(tmp_path: Path) -> None:
    conv_model(tmp_path / "cnn.onnx")
    for cmd in (["compile"], ["ir"]):
        assert_one_line_error(ml2sc(*cmd, str(tmp_path / "cnn.onnx")), "'Conv'", "conv1")
    proc = subprocess.run([sys.executable, "-c", "from ml2sc.compiler.cli import compile_main; import sys; sys.exit(compile_main())",
                           str(tmp_path / "cnn.onnx"), "--backend", "prbmath"], capture_output=True, text=True)
    assert_one_line_error(proc, "'Conv'")


def test_malformed_truncated_and_missing_files(tmp_path: Path, model_file: Path) -> None:
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07this is not protobuf\xff\xff")
    data = model_file.read_bytes()
    (tmp_path / "cut.onnx").write_bytes(data[: len(data) // 2])
    assert_one_line_error(ml2sc("compile", str(tmp_path / "junk.onnx")), "junk.onnx")
    assert_one_line_error(ml2sc("compile", str(tmp_path / "cut.onnx")), "cut.onnx")
    assert_one_line_error(ml2sc("compile", str(tmp_path / "nope.onnx")), "nope.onnx")
    assert_one_line_error(ml2sc("compile", str(model_file), "--backend", "tpu"), "unknown backend 'tpu'", "prbmath")
    assert_one_line_error(ml2sc("run", str(model_file), "--data", str(tmp_path / "x.npy")), "x.npy", "not found")


@pytest.mark.evm
def test_compile_run_validate(tmp_path: Path, model_file: Path) -> None:
    out = tmp_path / "out"
    proc = ml2sc("compile", str(model_file), "--backend", "prbmath", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    sol, = (f for f in out.glob("*.sol") if not f.name.startswith("I"))  # I<Name>.sol: the consumer library
    assert (out / f"I{sol.name}").is_file()
    artifact = json.loads(sol.with_suffix(".json").read_text())
    assert artifact["abi"] and artifact["bytecode"].startswith("0x") and artifact["ml2sc"]["inputs"] == 30
    assert sol.with_suffix(".mlir").read_text().startswith("module @")

    x = zoo.breast_cancer_minmax()[0][:5]
    np.save(tmp_path / "x.npy", x)
    proc = ml2sc("run", str(model_file), "--data", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npz"), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["deploy_gas"] > 0 and report["inference_gas_max"] > 21_000 and report["inferences"] == 5
    y = np.load(tmp_path / "y.npz")
    assert list(y.keys()) == ["probability"] and y["probability"].dtype == np.float32 and y["probability"].shape == (5, 1)

    proc = ml2sc("validate", str(model_file), "--data", str(tmp_path / "x.npy"), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["evm_equals_simulator_rows"] == 5


def test_ir_passes_backends(model_file: Path) -> None:
    proc = ml2sc("ir", str(model_file), "--float")
    assert proc.returncode == 0 and "gemm %x" in proc.stdout and "f32" in proc.stdout
    proc = ml2sc("ir", str(model_file))
    assert "fixed<18>" in proc.stdout
    assert "quantize-fixed" in ml2sc("passes").stdout
    assert "prbmath" in ml2sc("backends").stdout
