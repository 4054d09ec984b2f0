"""Which framework a model object comes from, decided without importing any framework.

``import ml2sc`` and compiling a plain ONNX file must not pay for importing
torch, tensorflow or scikit-learn (seconds each, and they may not even be
installed). An object of a framework's class can only exist if that framework is
already imported, so looking at the names and modules of the classes in its MRO
is enough and imports nothing.
"""

from __future__ import annotations

import os
from typing import Any, Literal

Framework = Literal["path", "onnx", "torch", "keras", "tf_keras", "sklearn", "unknown"]

# (module prefix, class name) of each framework's root class; checked along the MRO.
_ROOTS: tuple[tuple[str, str, Framework], ...] = (
    ("onnx", "ModelProto", "onnx"),
    ("torch.nn", "Module", "torch"),
    ("keras", "Layer", "keras"),  # Keras 3: keras.src.layers.layer.Layer (Model derives from it)
    ("tf_keras", "Layer", "tf_keras"),  # Keras 2 as shipped separately
    ("tensorflow.python.keras", "Layer", "tf_keras"),  # Keras 2 inside old TensorFlow
    ("sklearn", "BaseEstimator", "sklearn"),
)


def detect_framework(model: Any) -> Framework:
    """'path', 'onnx', 'torch', 'keras', 'tf_keras', 'sklearn' or 'unknown'; imports nothing."""
    if isinstance(model, str | os.PathLike):
        return "path"
    for cls in type(model).__mro__:
        module = getattr(cls, "__module__", "") or ""
        for prefix, name, framework in _ROOTS:
            if cls.__name__ == name and (module == prefix or module.startswith(prefix + ".")):
                return framework
    return "unknown"
