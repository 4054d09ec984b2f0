"""Models that are not MLPs, in each framework: a one-line error naming the layer, never a traceback.

The library raises ``FrontendError`` naming the framework's own layer (``Conv2d``,
``LSTM``, ``RandomForestClassifier``); the CLI, given the framework's saved file
(``.pt``, ``.keras``, ``.pkl``), prints that line and exits 2. The CLI also
compiles supported models from those files, so the happy path is checked too.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import ml2sc

ENV = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}


def ml2sc_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ml2sc.compiler.cli", *args], capture_output=True, text=True, env=ENV)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def iris() -> tuple[np.ndarray, np.ndarray]:
    d = load_iris()
    return d.data.astype(np.float32), d.target


# -- PyTorch ------------------------------------------------------------------------------------


def test_torch_refuses_cnn_and_rnn_naming_the_layer(tmp_path: Path) -> None:
    from torch import nn

    cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2))
    with pytest.raises(ml2sc.FrontendError, match=r"unsupported PyTorch layer 'Conv2d' \(0\)"):
        ml2sc.compile(cnn)
    with pytest.raises(ml2sc.FrontendError, match="'LSTM'"):
        ml2sc.compile(nn.LSTM(4, 3))

    import torch

    torch.save(cnn, tmp_path / "cnn.pt")
    assert_one_line_error(ml2sc_cli("compile", str(tmp_path / "cnn.pt")), "'Conv2d'")
    torch.save(cnn.state_dict(), tmp_path / "weights.pt")
    assert_one_line_error(ml2sc_cli("compile", str(tmp_path / "weights.pt")), "state_dict")


def test_torch_file_compiles_from_the_cli(tmp_path: Path) -> None:
    import torch
    from torch import nn

    torch.manual_seed(0)
    torch.save(nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2), nn.Softmax(dim=1)), tmp_path / "mlp.pt")
    proc = ml2sc_cli("compile", str(tmp_path / "mlp.pt"), "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "Mlp.sol").exists()


# -- Keras ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keras():  # noqa: ANN201
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    return keras


def test_keras_refuses_cnn_and_rnn_naming_the_layer(keras, tmp_path: Path) -> None:  # noqa: ANN001
    from keras import layers

    cnn = keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(2, 3, name="conv"), layers.Flatten(), layers.Dense(2)])
    with pytest.raises(ml2sc.FrontendError, match=r"unsupported Keras layer 'Conv2D' \(conv\)"):
        ml2sc.compile(cnn)
    rnn = keras.Sequential([keras.Input((5, 3)), layers.LSTM(4, name="lstm"), layers.Dense(1)])
    with pytest.raises(ml2sc.FrontendError, match=r"'LSTM' \(lstm\)"):
        ml2sc.compile(rnn)
    odd = keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="gelu", name="dense_gelu")])
    with pytest.raises(ml2sc.FrontendError, match="activation 'gelu'.*dense_gelu"):
        ml2sc.compile(odd)

    cnn.save(tmp_path / "cnn.keras")
    assert_one_line_error(ml2sc_cli("compile", str(tmp_path / "cnn.keras")), "'Conv2D'", "(conv)")


def test_keras_file_compiles_from_the_cli(keras, tmp_path: Path) -> None:  # noqa: ANN001
    from keras import layers

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="relu"), layers.Dense(2, activation="softmax")])
    model.save(tmp_path / "net.keras")
    proc = ml2sc_cli("compile", str(tmp_path / "net.keras"), "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "Net.sol").exists()


# -- scikit-learn ---------------------------------------------------------------------------------


def test_sklearn_refuses_trees_and_other_steps(tmp_path: Path) -> None:
    x, y = iris()
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y)
    with pytest.raises(ml2sc.FrontendError, match="unsupported scikit-learn estimator 'RandomForestClassifier'"):
        ml2sc.compile(forest)
    pca = make_pipeline(PCA(2), LogisticRegression()).fit(x, y)
    with pytest.raises(ml2sc.FrontendError, match=r"'PCA' \(pipeline step 'pca'\)"):
        ml2sc.compile(pca)
    with pytest.raises(ml2sc.FrontendError, match="not fitted"):
        ml2sc.compile(LogisticRegression())
    with pytest.raises(ml2sc.FrontendError, match="class labels"):
        ml2sc.compile(LogisticRegression().fit(x, np.array(["a", "b", "c"])[y]))

    with (tmp_path / "forest.pkl").open("wb") as f:
        pickle.dump(forest, f)
    assert_one_line_error(ml2sc_cli("compile", str(tmp_path / "forest.pkl")), "'RandomForestClassifier'")


def test_sklearn_file_compiles_from_the_cli(tmp_path: Path) -> None:
    import joblib

    x, y = iris()
    joblib.dump(make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y), tmp_path / "clf.joblib")
    proc = ml2sc_cli("compile", str(tmp_path / "clf.joblib"), "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "Clf.sol").exists()


def test_unreadable_framework_file_is_one_line(tmp_path: Path) -> None:
    for name in ("broken.pt", "broken.keras", "broken.pkl"):
        (tmp_path / name).write_bytes(b"not a model")
        assert_one_line_error(ml2sc_cli("compile", str(tmp_path / name)), "cannot load model file", name)
