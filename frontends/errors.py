"""The error a framework frontend raises for a model it will not export.

A ``FrontendError`` is an ``Ml2scError``: one line that names the framework's own
layer or estimator (``Conv2D``, ``RandomForestClassifier``), never an ONNX op, so
the user sees what to change in their training script. The CLI prints it as one
line with exit code 2, like every other user error.
"""

from __future__ import annotations

from ml2sc.ir.errors import Ml2scError


class FrontendError(Ml2scError):
    """A PyTorch, Keras or scikit-learn model that ml2sc cannot export or compile."""
