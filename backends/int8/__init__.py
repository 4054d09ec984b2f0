"""The int8 backend: integer-only int8 inference with SWAR kernels over weights in data contracts."""

from ml2sc.backends.int8.backend import Int8Backend

__all__ = ["Int8Backend"]
