"""Framework models straight to the chain: ``ml2sc.compile(model)`` with no manual ONNX export.

Each case trains a small model in-test on data that ships with scikit-learn,
compiles the framework object itself, deploys it on the embedded EVM and checks
that every row's on-chain integers equal the simulator's bit for bit, and that
the contract's decision (argmax, sigmoid >= 0.5, class label) agrees on every
row with the framework's own prediction (torch forward, Keras predict, sklearn
predict); regression values agree to float32 precision.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris
from sklearn.linear_model import (
    ElasticNet,
    Lasso,
    LinearRegression,
    LogisticRegression,
    Ridge,
    RidgeClassifier,
    SGDRegressor,
)
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import LinearSVC, LinearSVR

import ml2sc
from ml2sc.compiler.driver import CompiledModel, decode_outputs

pytestmark = [pytest.mark.evm, pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")]

ROWS = 24


# -- data -----------------------------------------------------------------------------------


def iris() -> tuple[np.ndarray, np.ndarray]:
    d = load_iris()
    return ((d.data - d.data.mean(0)) / d.data.std(0)).astype(np.float32), d.target


def digits() -> tuple[np.ndarray, np.ndarray]:
    d = load_digits()
    return (d.data / 16.0).astype(np.float32), d.target


def cancer() -> tuple[np.ndarray, np.ndarray]:
    d = load_breast_cancer()
    return ((d.data - d.data.min(0)) / (d.data.max(0) - d.data.min(0))).astype(np.float32), d.target


def diabetes() -> tuple[np.ndarray, np.ndarray]:
    d = load_diabetes()
    return (d.data * 10).astype(np.float32), d.target / 100


DATA = {"iris": iris, "digits": digits, "cancer": cancer}


def rows(x: np.ndarray) -> np.ndarray:
    """ROWS rows spread over the whole set (every class appears)."""
    return x[np.linspace(0, len(x) - 1, ROWS).astype(int)]


# -- the check every case shares ----------------------------------------------------------------


def on_chain(model, x: np.ndarray, chain, **kwargs) -> tuple[CompiledModel, dict[str, np.ndarray]]:  # noqa: ANN001
    """Compile the framework object, deploy, predict ``x`` by transactions; EVM == simulator exactly."""
    compiled = ml2sc.compile(model, **kwargs)
    ints = compiled.quantize(x)
    raw = compiled.deploy(chain).predict_raw(ints)
    assert raw == compiled.simulate_raw(ints)
    proto = compiled.onnx_model
    assert isinstance(proto, onnx.ModelProto)
    assert [i.name for i in proto.graph.input] == ["x"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) <= 21
    return compiled, decode_outputs(compiled.program, raw)


def decisions(scores: np.ndarray) -> np.ndarray:
    """Class per row: argmax of several columns, or score >= 0.5 for one sigmoid column."""
    scores = np.asarray(scores).reshape(len(scores), -1)
    return scores.argmax(1) if scores.shape[1] > 1 else (scores[:, 0] >= 0.5).astype(int)


# -- PyTorch ------------------------------------------------------------------------------------

ACTIVATION_CASES = [  # (activation, head, data set): every activation, both heads
    ("relu", "softmax", "digits"),
    ("tanh", "softmax", "iris"),
    ("sigmoid", "sigmoid", "cancer"),
    ("leaky_relu", "softmax", "iris"),
    ("hardsigmoid", "sigmoid", "cancer"),
]


def torch_model(activation: str, head: str, n_in: int, n_out: int):  # noqa: ANN201
    import torch
    from torch import nn

    torch.manual_seed(0)
    acts = {"relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid(), "leaky_relu": nn.LeakyReLU(0.05), "hardsigmoid": nn.Hardsigmoid()}
    return nn.Sequential(
        nn.Flatten(), nn.Linear(n_in, 8), nn.BatchNorm1d(8), acts[activation], nn.Dropout(0.1),
        nn.Linear(8, n_out), nn.Softmax(dim=1) if head == "softmax" else nn.Sigmoid(),
    )  # fmt: skip


def train_torch(model, x: np.ndarray, y: np.ndarray, head: str, steps: int = 120) -> None:  # noqa: ANN001
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        out = model(xt)
        if head == "softmax":
            loss = torch.nn.functional.nll_loss(torch.log(out + 1e-9), yt.long())
        else:
            loss = torch.nn.functional.binary_cross_entropy(out[:, 0], yt.float())
        loss.backward()
        opt.step()


@pytest.mark.parametrize(("activation", "head", "data"), ACTIVATION_CASES)
def test_torch(chain, activation: str, head: str, data: str) -> None:
    import torch

    x, y = DATA[data]()
    model = torch_model(activation, head, x.shape[1], 1 if head == "sigmoid" else int(y.max()) + 1)
    train_torch(model, x, y, head)
    assert model.training  # compile exports in eval mode and must hand the model back as it was
    compiled, out = on_chain(model, rows(x), chain)
    assert model.training
    assert [o.name for o in compiled.onnx_model.graph.output] == ["output"]
    with torch.no_grad():
        own = model.eval()(torch.from_numpy(rows(x))).numpy()
    assert (decisions(out["output"]) == decisions(own)).all()
    np.testing.assert_allclose(out["output"], own, atol=1e-5)


def test_torch_needs_no_sample_but_takes_one(chain) -> None:
    """The width comes from the first Linear; with no layer telling it, sample_input is required.
    The legacy exporter works too, and output names are the caller's."""
    import torch
    from torch import nn

    x, y = iris()
    torch.manual_seed(1)
    model = nn.Sequential(nn.ReLU(), nn.Linear(4, 3), nn.Softmax(dim=1))
    train_torch(model, x, y, "softmax", steps=60)
    assert ml2sc.compile(model).program.n_inputs == 4
    with pytest.raises(ml2sc.FrontendError, match="sample_input"):
        ml2sc.compile(nn.Sequential(nn.Softmax(dim=1)))
    proto = ml2sc.export_torch(model, x[:3], output_names=["probabilities"], dynamo=False)
    compiled, out = on_chain(proto, rows(x), chain)
    with torch.no_grad():
        own = model.eval()(torch.from_numpy(rows(x))).numpy()
    assert (out["probabilities"].argmax(1) == own.argmax(1)).all()


# -- Keras ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras():  # noqa: ANN201 - the keras module, on TensorFlow, imported only by the tests that use it
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    return keras


def keras_model(keras, activation: str, head: str, n_in: int, n_out: int):  # noqa: ANN001, ANN201
    from keras import layers

    keras.utils.set_random_seed(0)
    special = {"leaky_relu": lambda: layers.LeakyReLU(negative_slope=0.05), "hardsigmoid": lambda: layers.Activation("hard_sigmoid")}
    act = special.get(activation, lambda: layers.Activation(activation))()
    model = keras.Sequential([
        keras.Input((n_in,)), layers.Flatten(), layers.Dense(8), layers.BatchNormalization(), act, layers.Dropout(0.1),
        layers.Dense(n_out, activation=head),
    ])  # fmt: skip
    loss = "sparse_categorical_crossentropy" if head == "softmax" else "binary_crossentropy"
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss=loss)
    return model


@pytest.mark.parametrize(("activation", "head", "data"), ACTIVATION_CASES)
def test_keras(chain, keras, activation: str, head: str, data: str) -> None:  # noqa: ANN001
    x, y = DATA[data]()
    model = keras_model(keras, activation, head, x.shape[1], 1 if head == "sigmoid" else int(y.max()) + 1)
    model.fit(x, y, epochs=8, batch_size=64, verbose=0)
    compiled, out = on_chain(model, rows(x), chain)
    assert [o.name for o in compiled.onnx_model.graph.output] == ["output"]
    own = model.predict(rows(x), verbose=0)
    assert (decisions(out["output"]) == decisions(own)).all()
    np.testing.assert_allclose(out["output"], own, atol=1e-5)


def test_keras_dense_activations_and_functional(chain, keras) -> None:  # noqa: ANN001
    """Activations given to Dense itself, a functional model, a model never called (sample_input builds it)."""
    from keras import layers

    x, y = cancer()
    keras.utils.set_random_seed(2)
    inp = keras.Input((30,))
    out = layers.Dense(1, activation="sigmoid")(layers.Dense(4, activation="tanh")(layers.Dense(6, activation="relu")(inp)))
    model = keras.Model(inp, out, name="cancer_net")
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="binary_crossentropy")
    model.fit(x, y, epochs=5, batch_size=64, verbose=0)
    compiled, got = on_chain(model, rows(x), chain)
    assert compiled.program.contract_name == "CancerNet"
    assert (decisions(got["output"]) == decisions(model.predict(rows(x), verbose=0))).all()

    unbuilt = keras.Sequential([layers.Dense(3, activation="relu"), layers.Dense(2, activation="softmax")])
    with pytest.raises(ml2sc.FrontendError, match="has not been built"):
        ml2sc.compile(unbuilt)
    assert ml2sc.compile(unbuilt, sample_input=x[:2]).simulate(x[:3])["output"].shape == (3, 2)


# -- scikit-learn ---------------------------------------------------------------------------------

SKLEARN_CLASSIFIERS = {  # id -> (estimator, data set, label offset: labels come back as the model's own)
    "mlp-relu-minmax": (lambda: make_pipeline(MinMaxScaler(), MLPClassifier((12,), activation="relu", max_iter=150, random_state=0)), "digits", 0),
    "mlp-tanh": (lambda: MLPClassifier((6,), activation="tanh", max_iter=300, random_state=0), "iris", 0),
    "mlp-logistic-standard": (lambda: make_pipeline(StandardScaler(), MLPClassifier((5,), activation="logistic", max_iter=200, random_state=0)), "cancer", 0),
    "logistic-regression": (lambda: LogisticRegression(max_iter=500), "iris", 10),
    "logistic-regression-minmax": (lambda: make_pipeline(MinMaxScaler(), LogisticRegression(max_iter=500)), "cancer", 0),
    "linear-svc-standard": (lambda: make_pipeline(StandardScaler(), LinearSVC()), "cancer", 3),
}


@pytest.mark.parametrize("case", list(SKLEARN_CLASSIFIERS))
def test_sklearn_classifier(chain, case: str) -> None:
    make, data, offset = SKLEARN_CLASSIFIERS[case]
    x, y = DATA[data]()
    est = make().fit(x, y + offset)
    compiled, out = on_chain(est, rows(x), chain)
    assert [o.name for o in compiled.onnx_model.graph.output] == ["label", "probabilities"]
    own = est.predict(rows(x))
    assert out["label"].dtype == np.int64 and (out["label"] == own).all()
    assert out["probabilities"].dtype == np.float32
    if hasattr(est, "predict_proba"):
        np.testing.assert_allclose(out["probabilities"], est.predict_proba(rows(x)), atol=1e-5)


SKLEARN_REGRESSORS = {
    "mlp-regressor-standard": lambda: make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(6,), max_iter=300, random_state=0)),
    "linear-regression": lambda: LinearRegression(),
    "ridge": lambda: Ridge(alpha=0.5),
}


@pytest.mark.parametrize("case", list(SKLEARN_REGRESSORS))
def test_sklearn_regressor(chain, case: str) -> None:
    x, y = diabetes()
    est = SKLEARN_REGRESSORS[case]().fit(x, y)
    compiled, out = on_chain(est, rows(x), chain)
    assert [o.name for o in compiled.onnx_model.graph.output] == ["variable"]
    np.testing.assert_allclose(out["variable"][:, 0], est.predict(rows(x)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("make", "data"),
    [(lambda: Lasso(alpha=0.01), "diabetes"), (lambda: ElasticNet(alpha=0.01), "diabetes"),
     (lambda: make_pipeline(StandardScaler(), LinearSVR()), "diabetes"), (lambda: SGDRegressor(random_state=0), "diabetes"),
     (lambda: RidgeClassifier(), "iris"), (lambda: make_pipeline(StandardScaler(), RidgeClassifier()), "cancer"),
     (lambda: LinearSVC(), "iris")],
    ids=["lasso", "elastic-net", "linear-svr", "sgd-regressor", "ridge-classifier", "ridge-classifier-binary", "linear-svc-multiclass"],
)  # fmt: skip
def test_sklearn_other_linear_models_simulate(make, data: str) -> None:  # noqa: ANN001
    """The rest of the linear family, through the simulator only (the contract equals it, as above)."""
    x, y = diabetes() if data == "diabetes" else DATA[data]()
    est = make().fit(x, y)
    out = ml2sc.compile(est).simulate(x)
    if "label" in out:
        assert (out["label"] == est.predict(x)).all()
    else:
        np.testing.assert_allclose(out["variable"][:, 0], est.predict(x), rtol=1e-5, atol=1e-5)


# -- the package stays light ----------------------------------------------------------------------


def test_import_ml2sc_imports_no_framework(tmp_path) -> None:
    """``import ml2sc`` / ``ml2sc.frontends`` and compiling an ONNX file load no framework."""
    path = tmp_path / "m.onnx"
    est = LogisticRegression(max_iter=300).fit(*iris())
    onnx.save_model(ml2sc.export_sklearn(est), str(path))
    code = (
        "import sys, ml2sc, ml2sc.frontends\n"
        "from ml2sc.frontends import FrontendError, detect_framework\n"
        "heavy = ('torch', 'tensorflow', 'keras', 'sklearn', 'skl2onnx', 'tf2onnx')\n"
        "loaded = lambda: [m for m in heavy if m in sys.modules]\n"
        "assert not loaded(), loaded()\n"
        f"ml2sc.compile({str(path)!r}).simulate_raw([[0] * 4])\n"
        "assert not loaded(), loaded()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
