"""Framework frontends: PyTorch, Keras 3 and scikit-learn models to ONNX for ml2sc.

``ml2sc.compile(model)`` calls these for you; call them yourself to get (and
save, or inspect) the ``onnx.ModelProto`` that ml2sc compiles:

    export_torch(module, sample_input)    # torch.nn.Module
    export_keras(model)                   # keras.Model, TensorFlow backend
    export_sklearn(estimator)             # MLP / linear model / scaler Pipeline

Importing this package imports no framework (nor onnx): each name below is
loaded on first access, and each frontend imports its framework when called.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ml2sc.frontends.detect import detect_framework
    from ml2sc.frontends.dispatch import to_onnx
    from ml2sc.frontends.errors import FrontendError
    from ml2sc.frontends.keras_frontend import export_keras
    from ml2sc.frontends.sklearn_frontend import export_sklearn
    from ml2sc.frontends.torch_frontend import export_torch
    from ml2sc.ir.errors import OnnxImportError

_LAZY = {
    "FrontendError": "ml2sc.frontends.errors",
    "detect_framework": "ml2sc.frontends.detect",
    "to_onnx": "ml2sc.frontends.dispatch",
    "export_torch": "ml2sc.frontends.torch_frontend",
    "export_keras": "ml2sc.frontends.keras_frontend",
    "export_sklearn": "ml2sc.frontends.sklearn_frontend",
    "OnnxImportError": "ml2sc.ir.errors",
}

__all__ = [
    "FrontendError", "OnnxImportError", "detect_framework", "export_keras", "export_sklearn",
    "export_torch", "to_onnx",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ml2sc.frontends' has no attribute '{name}'")
