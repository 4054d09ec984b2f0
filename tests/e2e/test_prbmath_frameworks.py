"""End to end for the prbmath backend: framework -> ONNX -> IR -> Solidity -> EVM vs onnxruntime.

Every row: EVM == simulator exactly; labels/argmax agree 100% with
onnxruntime; probabilities within 1e-6 absolute, regression values 1e-6 relative.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import ml2sc
from ml2sc.tools.validate import validate
from tests.e2e import onnx_models as zoo

pytestmark = pytest.mark.evm


def check(onnx_model, x: np.ndarray, chain, rtol: float = 0.0) -> None:  # noqa: ANN001
    compiled = ml2sc.compile(onnx_model, backend="prbmath")
    report = validate(compiled, x, compiled.deploy(chain), atol=1e-6, rtol=rtol)
    assert report.evm_equals_simulator == report.rows == len(x)
    for o in report.outputs:
        assert o.ok, o
        if o.agreement is not None:
            assert o.agreement == 1.0


TORCH_CASES = [
    ("relu", "softmax"), ("tanh", "softmax"), ("sigmoid", "sigmoid"), ("leaky_relu", "softmax"), ("hardsigmoid", "sigmoid"),
]


@pytest.mark.parametrize("dynamo", [False, True], ids=["legacy", "dynamo"])
@pytest.mark.parametrize(("activation", "head"), TORCH_CASES)
def test_torch(chain, activation: str, head: str, dynamo: bool) -> None:
    if head == "softmax":
        x, y = zoo.iris()
        model = zoo.torch_mlp(activation, 4, 6, 3, head)
    else:
        x, y = zoo.breast_cancer_minmax()
        model = zoo.torch_mlp(activation, 30, 4, 1, head)
    model = zoo.train_torch(model, x, y, head)
    check(zoo.export_torch_onnx(model, x.shape[1], dynamo), x[::7], chain)


def test_sklearn_mlp_classifier(chain) -> None:
    x, y = zoo.iris()
    est = MLPClassifier(hidden_layer_sizes=(8,), activation="tanh", max_iter=400, random_state=0).fit(x, y)
    check(zoo.sklearn_onnx(est, x), x[::5], chain)


def test_sklearn_mlp_classifier_binary_logistic(chain) -> None:
    x, y = zoo.breast_cancer_minmax()
    est = MLPClassifier(hidden_layer_sizes=(5,), activation="logistic", max_iter=300, random_state=0).fit(x, y)
    check(zoo.sklearn_onnx(est, x), x[::19], chain)


def test_sklearn_mlp_regressor(chain) -> None:
    x, y = zoo.diabetes()
    est = MLPRegressor(hidden_layer_sizes=(6,), max_iter=500, random_state=0).fit(x * 10, y / 100)
    check(zoo.sklearn_onnx(est, x * 10), (x * 10)[::23], chain, rtol=1e-6)


def test_sklearn_logistic_regression(chain) -> None:
    x, y = zoo.breast_cancer_minmax()
    est = LogisticRegression(max_iter=500).fit(x, y)
    check(zoo.sklearn_onnx(est, x), x[::19], chain)


def test_sklearn_pipeline_standard_scaler(chain) -> None:
    x, y = zoo.iris()
    x = x * 3 + 5  # undo the standardisation so the scaler has work to do
    est = Pipeline([("scale", StandardScaler()), ("mlp", MLPClassifier(hidden_layer_sizes=(6,), max_iter=500, random_state=0))]).fit(x, y)
    check(zoo.sklearn_onnx(est, x), x[::5], chain)
