"""One entry for ``ml2sc.compile``: any supported model object -> ``onnx.ModelProto``.

The framework is recognised from the object's classes (``detect.py``), so only
the framework the user already has loaded is touched; ONNX models and paths go
straight to the importer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ml2sc.frontends.detect import detect_framework
from ml2sc.frontends.errors import FrontendError

if TYPE_CHECKING:
    import onnx

ACCEPTED = "a PyTorch nn.Module, a Keras 3 model, a scikit-learn estimator or Pipeline, an onnx.ModelProto or a path to a .onnx file"


def to_onnx(
    model: Any,
    sample_input: Any = None,
    n_features: int | None = None,
    name: str | None = None,
) -> onnx.ModelProto:
    """Export a framework model through its frontend; an ``onnx.ModelProto`` is returned as is.

    ``sample_input`` serves torch and Keras (input rows, when the width cannot be
    read off the first layer); ``n_features`` serves scikit-learn (default: the
    estimator's ``n_features_in_``). Paths are not handled here: the importer reads them.
    """
    framework = detect_framework(model)
    if framework == "onnx":
        return model
    if framework == "torch":
        from ml2sc.frontends.torch_frontend import export_torch

        return export_torch(model, sample_input, name=name)
    if framework == "keras":
        from ml2sc.frontends.keras_frontend import export_keras

        return export_keras(model, sample_input, name=name)
    if framework == "sklearn":
        from ml2sc.frontends.sklearn_frontend import export_sklearn

        if n_features is None and sample_input is not None:
            n_features = _width(sample_input)
        return export_sklearn(model, n_features, name=name)
    if framework == "tf_keras":
        raise FrontendError(f"{type(model).__name__} is a Keras 2 (tf_keras) model; ml2sc exports Keras 3 models (pip install 'keras>=3')")
    raise FrontendError(f"cannot compile a {type(model).__name__}: pass {ACCEPTED}")


def _width(sample_input: Any) -> int:
    shape = getattr(sample_input, "shape", None)
    if shape is None or len(shape) not in (1, 2):
        raise FrontendError("sample_input must be an array of input rows, shape [N, features]")
    return int(shape[-1])
