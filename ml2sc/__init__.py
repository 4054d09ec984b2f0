"""ml2sc: compile trained MLPs into Ethereum smart contracts.

``import ml2sc`` stays light: the frameworks (torch, tensorflow, sklearn) and
the chain are imported only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from ml2sc.compiler.driver import CompiledModel, DeployedModel
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


def attach(target: Any, rpc_url: str | None = None, **kwargs: Any) -> DeployedModel:
    """The deployed model of a record written by ``ml2sc deploy`` (its path, or the dict) or of a
    model's address (record looked up in ``deployments/<chain id>/``), on the node at ``rpc_url``
    (or ``chain=``): the handle ``.deploy()`` returns, once the chain's code matches the record.

    Keyword arguments (``chain``, ``key_env``, ``keystore``, ``directory``): see
    ``ml2sc.compiler.deployments.attach``.
    """
    from ml2sc.compiler.deployments import attach as _attach

    return _attach(target, rpc_url=rpc_url, **kwargs)


# The frontends, loaded on first access (through ml2sc.frontends, which imports each
# frontend module only when asked) so that importing ml2sc imports no framework.
_FRONTENDS = ("export_torch", "export_keras", "export_sklearn", "FrontendError")


def __getattr__(name: str) -> Any:
    if name not in _FRONTENDS:
        raise AttributeError(f"module 'ml2sc' has no attribute '{name}'")
    from ml2sc import frontends

    globals()[name] = value = getattr(frontends, name)
    return value


__all__ = ["compile", "attach", "__version__", "export_torch", "export_keras", "export_sklearn", "FrontendError"]
