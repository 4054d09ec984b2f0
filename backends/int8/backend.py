"""The int8 backend object: pipeline, emission, input quantization, simulation."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import ClassVar

import numpy as np
from eth_utils import keccak

from ml2sc.backends.base import Backend, Program
from ml2sc.backends.int8 import numerics as nx
from ml2sc.backends.int8 import simulator
from ml2sc.backends.int8.emitter import emit_program
from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Module
from ml2sc.ir.printer import print_module
from ml2sc.ir.types import QuantType


def contract_name(module: Module) -> str:
    words = re.split(r"[^A-Za-z0-9]+", module.name)
    name = "".join(w[:1].upper() + w[1:] for w in words if w) or "Model"
    return name if name[0].isalpha() else f"Model{name}"


def _to_sd59x18(v: float) -> int:
    """The exact float32 value times 10^18, rounded half to even (as the prbmath backend sends)."""
    from fractions import Fraction

    return round(Fraction(float(np.float32(v))) * 10**18)


class Int8Backend(Backend):
    name: ClassVar[str] = "int8"
    description: ClassVar[str] = (
        "int8 weights and activations, SWAR kernels over weights in data contracts (EXTCODECOPY)")
    pipeline: ClassVar[str] = "canonicalize,fold-batchnorm,fuse-affine,quantize-int8"
    needs_calibration: ClassVar[bool] = True  # compile(..., calibration=rows) is required (bench, tools)

    def __init__(self) -> None:
        self._quantize: ops.Quantize | None = None

    def emit(self, module: Module) -> Program:
        unsupported = [op for op in module.ops if type(op) not in simulator.supported_ops()]
        if unsupported:
            raise Ml2scError(f"int8 backend: unsupported op '{unsupported[0].mnemonic}' "
                             f"({unsupported[0].result}); run the quantize-int8 pass first")
        portable = replace(module, attributes=tuple(a for a in module.attributes if a[0] != "source"))
        model_hash = "0x" + keccak(text=print_module(portable)).hex()
        program = emit_program(module, contract_name(module), model_hash)
        self._quantize = module.ops[0]  # type: ignore[assignment]
        return program

    def quantize_inputs(self, module: Module, x: np.ndarray) -> list[list[int]]:
        """Float rows -> SD59x18 integers, what ``predict`` takes (it quantizes to int8 on chain)."""
        rows = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
        return [[_to_sd59x18(v) for v in row] for row in rows]

    def simulate(self, module: Module, rows: list[list[int]]) -> list[list[int]]:
        return [simulator.simulate_row(module, row) for row in rows]

    def int8_row(self, row: list[int], module: Module | None = None) -> list[int]:
        """SD59x18 row -> the int8 values, exactly as the contract's ``predict`` quantizes it."""
        q = module.ops[0] if module is not None else self._quantize
        if not isinstance(q, ops.Quantize):
            raise Ml2scError("int8 backend: emit the module before packing rows")
        qt = q.result.type.element
        assert isinstance(qt, QuantType)
        return [nx.quantize_input(v, q.multiplier, q.shift, qt) for v in row]

    def pack_row(self, row: list[int]) -> bytes | None:
        """The ``predictPacked(bytes)`` argument: one two's complement byte per input, quantized off chain."""
        return bytes(v & 0xFF for v in self.int8_row(row))
