"""ONNX frontend of the IR: ``import_onnx`` lowers a checked ONNX model to a float module."""

from ml2sc.ir.errors import OnnxImportError
from ml2sc.ir.onnx.importer import import_onnx

__all__ = ["OnnxImportError", "import_onnx"]
