"""User-facing errors.

Every error a user can cause (a model we cannot read, an op we cannot compile,
a bad option) derives from ``Ml2scError``; the CLI turns any ``Ml2scError``
into a one-line message and exit code 2, so messages are a single line that
names the problem precisely. Anything else escaping is a bug and keeps its
traceback.
"""

from __future__ import annotations


class Ml2scError(Exception):
    """Base of all user-facing errors; the message is one line."""


class OnnxImportError(Ml2scError):
    """The ONNX model cannot be read or cannot be lowered to the IR."""
