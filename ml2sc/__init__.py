"""ml2sc: compile trained MLPs into Ethereum smart contracts.

``import ml2sc`` stays light: the frameworks (torch, tensorflow, sklearn) and
the chain are imported only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from ml2sc.compiler.driver import CompiledModel


def compile(model: Any, backend: str = "prbmath", **kwargs: Any) -> CompiledModel:  # noqa: A001
    """Compile an ONNX model (object or path) for ``backend``; see ``ml2sc.compiler.driver.compile``."""
    from ml2sc.compiler.driver import compile as _compile

    return _compile(model, backend=backend, **kwargs)


__all__ = ["compile", "__version__"]
