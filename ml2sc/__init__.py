"""ml2sc: compile trained MLPs into Ethereum smart contracts.

``import ml2sc`` stays light: the frameworks (torch, tensorflow, sklearn) and
the chain are imported only when used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from ml2sc.compiler.driver import CompiledModel
    from ml2sc.frontends.errors import FrontendError
    from ml2sc.frontends.keras_frontend import export_keras
    from ml2sc.frontends.sklearn_frontend import export_sklearn
    from ml2sc.frontends.torch_frontend import export_torch


def compile(model: Any, backend: str = "prbmath", **kwargs: Any) -> CompiledModel:  # noqa: A001
    """Compile a model for ``backend``: a PyTorch module, a Keras model, a scikit-learn
    estimator or pipeline, an ``onnx.ModelProto`` or a path to a .onnx file.

    Keyword arguments (``pipeline``, ``name``, ``sample_input``, ``n_features``):
    see ``ml2sc.compiler.driver.compile``.
    """
    from ml2sc.compiler.driver import compile as _compile

    return _compile(model, backend=backend, **kwargs)


# The frontends, loaded on first access so that importing ml2sc imports no framework.
_LAZY = {
    "export_torch": "ml2sc.frontends.torch_frontend",
    "export_keras": "ml2sc.frontends.keras_frontend",
    "export_sklearn": "ml2sc.frontends.sklearn_frontend",
    "FrontendError": "ml2sc.frontends.errors",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ml2sc' has no attribute '{name}'")


__all__ = ["compile", "__version__", "export_torch", "export_keras", "export_sklearn", "FrontendError"]
