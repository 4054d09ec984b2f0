"""The int8 backend object: pipeline, emission, input quantization, simulation."""

from __future__ import annotations

from typing import ClassVar

from ml2sc.backends.base import Backend, Program
from ml2sc.backends.int8 import numerics as nx
from ml2sc.backends.int8.emitter import Int8Emitter
from ml2sc.backends.int8.simulator import Int8Simulator
from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Module
from ml2sc.ir.types import QuantType


class Int8Backend(Backend):
    name: ClassVar[str] = "int8"
    description: ClassVar[str] = (
        "int8 weights and activations, SWAR kernels over weights in data contracts (EXTCODECOPY)")
    pipeline: ClassVar[str] = "canonicalize,fold-batchnorm,fuse-affine,quantize-int8,place-weights"
    emitter: ClassVar[type | None] = Int8Emitter
    simulator: ClassVar[type | None] = Int8Simulator
    cost_model: ClassVar[str | None] = "ml2sc.backends.int8.cost"
    needs_calibration: ClassVar[bool] = True  # compile(..., calibration=rows) is required (bench, tools)

    def __init__(self) -> None:
        self._quantize: ops.Quantize | None = None
        self._module: Module | None = None  # the emitted module (per-feature quantize params live in it)

    def emit(self, module: Module) -> Program:
        program = Int8Emitter(module).program()
        self._quantize = module.ops[0]  # type: ignore[assignment]
        self._module = module
        return program


    def int8_row(self, row: list[int], module: Module | None = None) -> list[int]:
        """SD59x18 row -> the int8 values, exactly as the contract's ``predict`` quantizes it."""
        q = module.ops[0] if module is not None else self._quantize
        if not isinstance(q, ops.Quantize):
            raise Ml2scError("int8 backend: emit the module before packing rows")
        qt = q.result.type.element
        assert isinstance(qt, QuantType)
        mod = module if module is not None else self._module
        params = mod.constant(q.params).values if q.params and mod is not None else None
        quantizers = nx.input_quantizers(q.multiplier, q.shift, qt, params, len(row))  # type: ignore[arg-type]
        return [nx.quantize_input(v, a, s, t) for v, (a, s, t) in zip(row, quantizers, strict=True)]

    def pack_row(self, row: list[int]) -> bytes | None:
        """The ``predictPacked(bytes)`` argument: one two's complement byte per input, quantized off chain."""
        return bytes(v & 0xFF for v in self.int8_row(row))
