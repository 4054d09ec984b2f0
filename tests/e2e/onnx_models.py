"""Small models trained in-test on data that ships with scikit-learn, exported to ONNX."""

from __future__ import annotations

import io

import numpy as np
import onnx
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris


def iris() -> tuple[np.ndarray, np.ndarray]:
    d = load_iris()
    x = (d.data - d.data.mean(0)) / d.data.std(0)
    return x.astype(np.float32), d.target


def breast_cancer_minmax() -> tuple[np.ndarray, np.ndarray]:
    """ML2SC's preprocessing: min-max over the whole set; label 1 = malignant."""
    d = load_breast_cancer()
    x = (d.data - d.data.min(0)) / (d.data.max(0) - d.data.min(0))
    return x.astype(np.float32), 1 - d.target


def diabetes() -> tuple[np.ndarray, np.ndarray]:
    d = load_diabetes()
    return d.data.astype(np.float32), d.target.astype(np.float32)


def torch_mlp(activation: str, n_in: int, n_hidden: int, n_out: int, head: str, seed: int = 0):  # noqa: ANN201
    import torch

    acts = {"relu": torch.nn.ReLU(), "tanh": torch.nn.Tanh(), "sigmoid": torch.nn.Sigmoid(),
            "leaky_relu": torch.nn.LeakyReLU(0.05), "hardsigmoid": torch.nn.Hardsigmoid()}
    heads = {"sigmoid": torch.nn.Sigmoid(), "softmax": torch.nn.Softmax(dim=1), "none": torch.nn.Identity()}
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(n_in, n_hidden), torch.nn.BatchNorm1d(n_hidden), acts[activation], torch.nn.Dropout(0.1),
        torch.nn.Linear(n_hidden, n_out), heads[head],
    )


def train_torch(model, x: np.ndarray, y: np.ndarray, head: str, steps: int = 150):  # noqa: ANN001, ANN201
    import torch

    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    xt = torch.from_numpy(x)
    for _ in range(steps):
        opt.zero_grad()
        out = model(xt)
        if head == "softmax":
            loss = torch.nn.functional.nll_loss(torch.log(out + 1e-9), torch.from_numpy(y).long())
        elif head == "sigmoid":
            loss = torch.nn.functional.binary_cross_entropy(out[:, 0], torch.from_numpy(y).float())
        else:
            loss = torch.nn.functional.mse_loss(out[:, 0], torch.from_numpy(y).float())
        loss.backward()
        opt.step()
    return model.eval()


def export_torch_onnx(model, n_in: int, dynamo: bool) -> onnx.ModelProto:  # noqa: ANN001
    import torch

    sample = (torch.zeros(2, n_in),)
    if dynamo:
        prog = torch.onnx.export(model, sample, dynamo=True, input_names=["x"], output_names=["y"],
                                 dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False)
        return prog.model_proto
    buf = io.BytesIO()
    torch.onnx.export(model, sample, buf, dynamo=False, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    return onnx.load_model_from_string(buf.getvalue())


def sklearn_onnx(estimator, x: np.ndarray) -> onnx.ModelProto:  # noqa: ANN001
    from skl2onnx import to_onnx

    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    options = {id(final): {"zipmap": False}} if hasattr(final, "predict_proba") else None
    return to_onnx(estimator, x[:1], options=options, target_opset={"": 21, "ai.onnx.ml": 1})
