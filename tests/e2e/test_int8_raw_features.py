"""int8 on raw, unscaled features: StandardScaler -> MLP on breast cancer (feature ranges differ
by 10^4). One input scale drowned the small features (~40-60% agreement); per-feature input
quantization (quantize-int8{inputs=auto} picks it) keeps the decisions. Plus the agreement check."""

from __future__ import annotations

import numpy as np
import pytest

import ml2sc
from ml2sc.ir.errors import Ml2scError


@pytest.fixture(scope="module")
def case():
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from ml2sc.frontends.dispatch import to_onnx

    x, y = load_breast_cancer(return_X_y=True)
    x_tr, x_te, y_tr, _ = train_test_split(x.astype(np.float32), y, test_size=0.25, random_state=0)
    pipe = Pipeline([("scale", StandardScaler()), ("mlp", MLPClassifier((16,), max_iter=2000, random_state=0))])
    pipe.fit(x_tr, y_tr)
    return to_onnx(pipe, n_features=30, name="bc_raw"), x_tr, x_te


def _onnx_labels(proto, x):
    import onnxruntime as ort

    sess = ort.InferenceSession(proto.SerializeToString())
    return sess.run(None, {sess.get_inputs()[0].name: x})[0].ravel()


@pytest.mark.evm
def test_raw_features_int8_on_chain(case):
    proto, x_tr, x_te = case
    compiled = ml2sc.compile(proto, backend="int8", calibration=x_tr)
    assert "quantize %x, @x.q.params" in compiled.ir_text  # inputs=auto chose per-feature scales
    assert compiled.agreement is not None and compiled.agreement >= 0.99
    rows = compiled.quantize(x_te)
    sim = compiled.simulate_raw(rows)
    deployed = compiled.deploy("embedded", progress=False)
    assert deployed.predict_raw(rows, packed=True) == sim  # predictPacked: per-feature bytes
    assert deployed.predict_raw(rows[:20], packed=False) == sim[:20]  # predict(int256[]): quantized on chain
    labels = compiled.simulate(x_te)[compiled.program.outputs[0].name].ravel()
    assert np.mean(labels == _onnx_labels(proto, x_te)) >= 0.99


def test_refusal_and_accept_loss(case):
    proto, x_tr, _ = case
    tensor = "canonicalize,fold-batchnorm,fuse-affine,quantize-int8{inputs=tensor},place-weights"
    with pytest.raises(Ml2scError, match=r"agrees with the float model on .*% of the calibration rows.*95% threshold"):
        ml2sc.compile(proto, backend="int8", pipeline=tensor, calibration=x_tr)
    compiled = ml2sc.compile(proto, backend="int8", pipeline=tensor, calibration=x_tr, accept_loss=True)
    assert compiled.agreement is not None and compiled.agreement < 0.95
