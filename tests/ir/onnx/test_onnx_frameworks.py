"""Whole models as PyTorch and scikit-learn really export them, imported and run against onnxruntime."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx_import_testlib import (
    all_activations_mlp,
    check_model,
    export_dynamo,
    export_legacy,
    mnemonics,
    normalized_input_mlp,
    rng,
)

torch = pytest.importorskip("torch")
skl2onnx = pytest.importorskip("skl2onnx")
from sklearn.datasets import load_breast_cancer, load_digits, load_iris  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, StandardScaler  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# skl2onnx 1.20 targets opset 22 for models made of ai.onnx.ml ops only, which the importer refuses.
SKL_OPSETS = {"": 21, "ai.onnx.ml": 1}

# -- PyTorch -------------------------------------------------------------------------------------------------


def torch_rows(n: int = 32) -> np.ndarray:
    return rng(3).normal(scale=1.5, size=(n, 6)).astype(np.float32)


@pytest.mark.parametrize("opset", [9, 11, 13, 17, None])
def test_torch_legacy_exporter_all_activations(opset):
    model = export_legacy(all_activations_mlp(), opset)
    module = check_model(model, torch_rows(), need_float64=True)
    assert mnemonics(module) == ["gemm", "batch_norm", "relu", "gemm", "leaky_relu", "gemm", "sigmoid", "gemm", "tanh",
                                 "gemm", "hard_sigmoid", "gemm", "clip", "gemm", "softmax"]
    assert [o.name for o in module.outputs] == ["scores"]
    with torch.no_grad():
        expected = all_activations_mlp()(torch.from_numpy(torch_rows())).numpy()
    from ml2sc.ir.reference import run_reference

    np.testing.assert_allclose(run_reference(module, torch_rows())["scores"], expected, rtol=1e-5, atol=1e-6)


def test_torch_legacy_exporter_matmul_and_input_batchnorm():
    module = check_model(export_legacy(normalized_input_mlp(), 13), torch_rows(), need_float64=True)
    assert mnemonics(module) == ["batch_norm", "gemm", "leaky_relu", "gemm"]


@pytest.mark.parametrize("opset", [18, 21])
def test_torch_dynamo_exporter_all_activations(opset):
    module = check_model(export_dynamo(all_activations_mlp(), opset), torch_rows(), need_float64=True)
    # The dynamo exporter's optimizer folds BatchNorm into the preceding Gemm.
    assert mnemonics(module) == ["gemm", "relu", "gemm", "leaky_relu", "gemm", "sigmoid", "gemm", "tanh",
                                 "gemm", "hard_sigmoid", "gemm", "clip", "gemm", "softmax"]


def test_torch_dynamo_exporter_input_batchnorm():
    module = check_model(export_dynamo(normalized_input_mlp(), None), torch_rows(), need_float64=True)
    assert mnemonics(module) == ["batch_norm", "gemm", "leaky_relu", "gemm"]


# -- scikit-learn --------------------------------------------------------------------------------------------


def to_onnx(estimator: object, x: np.ndarray, classifier: object | None = None) -> onnx.ModelProto:
    options = {id(classifier): {"zipmap": False}} if classifier is not None else None
    return skl2onnx.to_onnx(estimator, x[:1].astype(np.float32), options=options, target_opset=SKL_OPSETS)


def standardized(x: np.ndarray) -> np.ndarray:
    """Scaled features keep float32 rounding of an MLP far below the 1e-5 tolerance."""
    return ((x - x.mean(axis=0)) / x.std(axis=0)).astype(np.float32)


def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_breast_cancer(return_X_y=True)
    return x.astype(np.float32), y


def iris() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_iris(return_X_y=True)
    return x.astype(np.float32), y


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
def test_mlp_classifier_binary(activation):
    x, y = breast_cancer()
    x = standardized(x)
    labels = np.where(y == 1, 7, -3)  # non-trivial integer labels go through the label table
    clf = MLPClassifier(hidden_layer_sizes=(12,), activation=activation, max_iter=60, random_state=0).fit(x, labels)
    module = check_model(to_onnx(clf, x, clf), x, need_float64=True)
    assert mnemonics(module)[-3:] == ["softmax", "argmax", "label_map"]
    assert module.constant(module.ops[-1].classes).values == (-3, 7)


def test_mlp_classifier_multiclass_digits():
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    clf = MLPClassifier(hidden_layer_sizes=(24, 12), max_iter=40, random_state=0).fit(x, y)
    module = check_model(to_onnx(clf, x, clf), x, need_float64=True)
    assert mnemonics(module) == ["gemm", "relu", "gemm", "relu", "gemm", "softmax", "argmax", "label_map"]


def test_mlp_classifier_multiclass_iris_labels():
    x, y = iris()
    clf = MLPClassifier(hidden_layer_sizes=(8,), activation="tanh", max_iter=200, random_state=0).fit(x, y * 10 + 5)
    module = check_model(to_onnx(clf, x, clf), x, need_float64=True)
    assert [o.name for o in module.outputs] == ["label", "probabilities"]


def test_mlp_regressor():
    x, y = iris()
    reg = MLPRegressor(hidden_layer_sizes=(10,), max_iter=100, random_state=0).fit(x, y)
    module = check_model(to_onnx(reg, x), x, need_float64=True)
    assert mnemonics(module) == ["gemm", "relu", "gemm"]


def test_mlp_regressor_with_two_targets_is_refused():
    """skl2onnx 1.20 ends a multi-target MLPRegressor with Reshape([-1, 1]), which interleaves the
    targets into 2N rows (onnxruntime really returns shape [2N, 1]); the importer must not guess."""
    from ml2sc.ir.errors import OnnxImportError
    from ml2sc.ir.onnx import import_onnx

    x, y = iris()
    reg = MLPRegressor(hidden_layer_sizes=(10,), max_iter=20, random_state=0).fit(x, np.c_[y, x[:, 0]])
    with pytest.raises(OnnxImportError, match=r"reshaping \[N, 2\] to \[-1, 1\]"):
        import_onnx(to_onnx(reg, x))


def test_logistic_regression_binary():
    x, y = breast_cancer()
    clf = LogisticRegression(max_iter=3000).fit(standardized(x), y)
    module = check_model(to_onnx(clf, x, clf), standardized(x))
    # skl2onnx writes two score rows [-w; w] with LOGISTIC: sigmoid per class, label from raw scores.
    assert mnemonics(module) == ["gemm", "sigmoid", "argmax", "label_map"]


def test_logistic_regression_multiclass():
    x, y = iris()
    clf = LogisticRegression(max_iter=1000).fit(x, y)
    module = check_model(to_onnx(clf, x, clf), x)
    # LinearClassifier(SOFTMAX) + Normalizer(L1): the normalizer is a no-op after a softmax.
    assert mnemonics(module) == ["gemm", "softmax", "argmax", "label_map"]


@pytest.mark.parametrize("targets", [1, 3])
def test_linear_regression(targets):
    x = rng(5).normal(size=(64, 7)).astype(np.float32)
    y = x @ rng(6).normal(size=(7, targets)) + rng(7).normal(size=targets)
    reg = LinearRegression().fit(x, y if targets > 1 else y.ravel())
    assert mnemonics(check_model(to_onnx(reg, x), x)) == ["gemm"]


def test_pipeline_standard_scaler_mlp_classifier():
    x, y = iris()
    pipe = Pipeline([("scale", StandardScaler()), ("mlp", MLPClassifier(hidden_layer_sizes=(8,), max_iter=200, random_state=0))])
    pipe.fit(x, y)
    module = check_model(to_onnx(pipe, x, pipe.steps[-1][1]), x)
    assert mnemonics(module) == ["affine", "gemm", "relu", "gemm", "softmax", "argmax", "label_map"]


def test_pipeline_minmax_scaler_logistic_regression():
    x, y = breast_cancer()
    pipe = Pipeline([("scale", MinMaxScaler()), ("logreg", LogisticRegression(max_iter=3000))]).fit(x, y)
    module = check_model(to_onnx(pipe, x, pipe.steps[-1][1]), x)
    assert mnemonics(module) == ["affine", "affine", "gemm", "sigmoid", "argmax", "label_map"]


def test_default_skl2onnx_opset_for_linear_models_imports():
    """skl2onnx's default opset (22 for ai.onnx.ml-only models) is within what the installed onnx knows."""
    from ml2sc.ir.onnx import import_onnx

    x, y = iris()
    clf = LogisticRegression(max_iter=1000).fit(x, y)
    model = skl2onnx.to_onnx(clf, x[:1], options={id(clf): {"zipmap": False}})
    assert int(import_onnx(model).attribute("opset")) > 21


def test_string_labels_are_refused():
    from ml2sc.ir.errors import OnnxImportError
    from ml2sc.ir.onnx import import_onnx

    x, y = iris()
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0).fit(x, np.array(["a", "b", "c"])[y])
    with pytest.raises(OnnxImportError, match="string class labels are not supported"):
        import_onnx(to_onnx(clf, x, clf))


def test_zipmap_is_refused_with_advice():
    from ml2sc.ir.errors import OnnxImportError
    from ml2sc.ir.onnx import import_onnx

    x, y = iris()
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0).fit(x, y)
    model = skl2onnx.to_onnx(clf, x[:1], target_opset=SKL_OPSETS)
    with pytest.raises(OnnxImportError, match=r"\(ZipMap\).*'zipmap': False"):
        import_onnx(model)
