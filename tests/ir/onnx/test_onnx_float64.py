"""``to_float64``: a double twin of a model that onnxruntime runs, or a ValueError."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx_import_testlib import (
    all_activations_mlp,
    export_dynamo,
    export_legacy,
    init,
    make_model,
    rng,
    run_ort,
)

from ml2sc.ir.onnx import import_onnx
from ml2sc.ir.reference import run_reference
from ml2sc.tools.onnx_float64 import to_float64

skl2onnx = pytest.importorskip("skl2onnx")
from sklearn.datasets import load_breast_cancer, load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
SKL_OPSETS = {"": 21, "ai.onnx.ml": 1}


def float_tensors(model: onnx.ModelProto) -> list[str]:
    """Names of everything still typed float32 after type inference."""
    inferred = onnx.shape_inference.infer_shapes(model)
    infos = (*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output)
    floats = [i.name for i in infos if i.type.tensor_type.elem_type == TensorProto.FLOAT]
    return floats + [t.name for t in inferred.graph.initializer if t.data_type == TensorProto.FLOAT]


def check_twin(model: onnx.ModelProto, x: np.ndarray) -> dict[str, np.ndarray]:
    """The twin computes in double, agrees with float32 onnxruntime and exactly with the IR reference."""
    before = model.SerializeToString()
    twin = to_float64(model)
    assert model.SerializeToString() == before, "to_float64 must not modify its argument"
    assert float_tensors(twin) == []
    got = run_ort(twin, x.astype(np.float64))
    single = run_ort(model, x.astype(np.float32))
    reference = run_reference(import_onnx(model), x)
    for name, value in got.items():
        if value.dtype.kind == "f":
            assert value.dtype == np.float64
            np.testing.assert_allclose(value, single[name], rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(value, reference[name].reshape(value.shape), rtol=1e-12, atol=1e-12)
        else:
            np.testing.assert_array_equal(value, single[name])
    return got


@pytest.mark.parametrize("opset", [9, 11, 13, 17, 20])  # the legacy exporter stops at 20
def test_torch_legacy_export_all_activations(opset):
    check_twin(export_legacy(all_activations_mlp(), opset), rng(1).normal(size=(16, 6)).astype(np.float32))


def test_torch_dynamo_export_all_activations():
    check_twin(export_dynamo(all_activations_mlp(), 18), rng(1).normal(size=(16, 6)).astype(np.float32))


@pytest.mark.parametrize("binary", [True, False])
def test_skl2onnx_mlp_classifier(binary):
    loader = load_breast_cancer if binary else load_iris
    x, y = loader(return_X_y=True)
    x = ((x - x.mean(axis=0)) / x.std(axis=0)).astype(np.float32)
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=50, random_state=0).fit(x, y)
    model = skl2onnx.to_onnx(clf, x[:1], options={id(clf): {"zipmap": False}}, target_opset=SKL_OPSETS)
    assert any(n.op_type == "ArrayFeatureExtractor" for n in model.graph.node)  # an ai.onnx.ml op with double kernels
    got = check_twin(model, x)
    assert got["label"].dtype == np.int64 and got["probabilities"].dtype == np.float64


def test_leaky_relu_hard_sigmoid_clip_decompositions_match_the_float_kernels():
    """Values at and around the kinks, where a wrong comparison would show."""
    nodes = [
        helper.make_node("LeakyRelu", ["X"], ["a"], alpha=0.3),
        helper.make_node("HardSigmoid", ["a"], ["b"], alpha=0.25, beta=0.4),
        helper.make_node("Clip", ["b"], ["y"], min=0.45, max=0.6),
        helper.make_node("Clip", ["a"], ["z"]),
    ]
    model = make_model(nodes, 4, opset=9, outputs=(("y", TensorProto.FLOAT), ("z", TensorProto.FLOAT)))
    x = np.array([[-4, -1.6, -0.0, 0.0], [0.2, 0.8, 2.4, 9.0], [-1e-30, 1e-30, -2.0, 1.0]], np.float32)
    twin = to_float64(model)
    assert {n.op_type for n in twin.graph.node} >= {"Where", "Less", "Min", "Max"}
    got, single = run_ort(twin, x.astype(np.float64)), run_ort(model, x)
    for name in ("y", "z"):
        np.testing.assert_allclose(got[name], single[name], rtol=1e-6, atol=1e-7)


def test_float_constant_nodes_become_double():
    nodes = [
        helper.make_node("Constant", [], ["s"], value_float=0.1),
        helper.make_node("Constant", [], ["v"], value_floats=[1.0, 2.0, 3.0]),
        helper.make_node("Constant", [], ["t"], value=init("tv", np.full(3, 0.5, np.float32))),
        helper.make_node("Mul", ["X", "s"], ["a"]),
        helper.make_node("Add", ["a", "v"], ["b"]),
        helper.make_node("Sub", ["b", "t"], ["c"]),
        helper.make_node("Cast", ["c"], ["y"], to=TensorProto.FLOAT),
    ]
    model = make_model(nodes, 3, opset=13)
    twin = to_float64(model)
    got = run_ort(twin, np.ones((2, 3)))["y"]
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, np.ones((2, 3)) * np.float64(np.float32(0.1)) + [1, 2, 3] - 0.5)


@pytest.mark.parametrize("kind", ["logistic_regression", "scaler_pipeline"])
def test_float_only_ml_ops_raise(kind):
    x, y = load_iris(return_X_y=True)
    x = x.astype(np.float32)
    if kind == "logistic_regression":
        est = clf = LogisticRegression(max_iter=500).fit(x, y)
    else:
        clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0)
        est = Pipeline([("scale", StandardScaler()), ("mlp", clf)]).fit(x, y)
    model = skl2onnx.to_onnx(est, x[:1], options={id(clf): {"zipmap": False}}, target_opset=SKL_OPSETS)
    op = "LinearClassifier" if kind == "logistic_regression" else "Scaler"
    with pytest.raises(ValueError, match=rf"op '{op}' .*domain 'ai.onnx.ml'.* float32 only"):
        to_float64(model)
