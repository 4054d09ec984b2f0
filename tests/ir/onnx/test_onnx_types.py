"""Element types against the op schemas (issue 14): the importer refuses what onnxruntime refuses.

A weight initializer retyped under a float Gemm (double, int64, float16, bool, int8) used to
import, since its values read as numbers, and compiled a contract for a model onnxruntime will
not load (6.8% of the fuzz mutants that compiled). Type inference with ``check_type`` now
refuses it in one line naming the node, the schema input, the tensor and both types; a model
whose types agree (all float, or all double) still imports.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.onnx import import_onnx


def _mlp(dtype: type = np.float32, input_type: int = TensorProto.FLOAT) -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(0, 0.5, s).astype(dtype), n)
             for n, s in (("w1", (4, 3)), ("b1", (3,)), ("w2", (3, 2)), ("b2", (2,)))]
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1"),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], name="fc2")]
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", input_type, ["N", 4])],
                          [helper.make_tensor_value_info("y", input_type, ["N", 2])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    return m


def _retyped(name: str, dtype: type) -> onnx.ModelProto:
    m = _mlp()
    t = next(t for t in m.graph.initializer if t.name == name)
    t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(dtype), name))
    return m


def _ort_refuses(m: onnx.ModelProto) -> bool:
    try:
        ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception:  # noqa: BLE001 - any load failure
        return True
    return False


@pytest.mark.parametrize("dtype", [np.float64, np.int64, np.float16])
@pytest.mark.parametrize(("name", "node", "formal", "other"), [("w1", "fc1", "B", "A 'x'"), ("b1", "fc1", "C", "A 'x'"),
                                                               ("w2", "fc2", "B", "A 'r'")])
def test_initializer_type_clash_is_refused(dtype: type, name: str, node: str, formal: str, other: str) -> None:
    m = _retyped(name, dtype)
    assert _ort_refuses(m)
    got = np.dtype(dtype).name if dtype is not np.float64 else "double"
    with pytest.raises(Ml2scError) as e:
        import_onnx(m)
    msg = str(e.value)
    assert "\n" not in msg
    assert f"node '{node}' (Gemm): input {formal} '{name}'" in msg and f"is {got}, but input {other} is float" in msg, msg


@pytest.mark.parametrize("dtype", [np.bool_, np.int8])
def test_type_outside_the_schema_is_refused(dtype: type) -> None:
    m = _retyped("w1", dtype)
    assert _ort_refuses(m)
    with pytest.raises(Ml2scError, match=r"node 'fc1' \(Gemm\): input B 'w1' .* is (bool|int8); Gemm takes .*float"):
        import_onnx(m)


def test_double_input_with_float_weights_is_refused() -> None:
    m = _mlp(input_type=TensorProto.DOUBLE)
    m.graph.output[0].type.tensor_type.elem_type = TensorProto.FLOAT
    assert _ort_refuses(m)
    with pytest.raises(Ml2scError, match=r"node 'fc1' \(Gemm\): input B 'w1' .* is float, but input A 'x' is double"):
        import_onnx(m)


@pytest.mark.parametrize(("dtype", "input_type"), [(np.float32, TensorProto.FLOAT), (np.float64, TensorProto.DOUBLE)])
def test_consistent_types_still_import(dtype: type, input_type: int) -> None:
    m = _mlp(dtype, input_type)
    assert not _ort_refuses(m)
    module = import_onnx(m)
    assert [o.name for o in module.outputs] == ["y"]
