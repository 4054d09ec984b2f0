"""The prbmath backend object: pipeline, emission, input quantization, simulation."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import ClassVar

import numpy as np
from eth_utils import keccak

from ml2sc.backends.base import Backend, Program
from ml2sc.backends.prbmath import ranges, simulator
from ml2sc.backends.prbmath.emitter import PACKED_INPUT_BYTES, emit_program
from ml2sc.backends.prbmath.fixed import to_fixed
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Module
from ml2sc.ir.printer import print_module
from ml2sc.ir.types import FixedType


def contract_name(module: Module) -> str:
    words = re.split(r"[^A-Za-z0-9]+", module.name)
    name = "".join(w[:1].upper() + w[1:] for w in words if w) or "Model"
    return name if name[0].isalpha() else f"Model{name}"


class PrbMathBackend(Backend):
    name: ClassVar[str] = "prbmath"
    description: ClassVar[str] = "SD59x18 fixed point (PRBMath number format and exp), weights as code immediates"
    pipeline: ClassVar[str] = "canonicalize,fold-batchnorm,fuse-affine,quantize-fixed{decimals=18}"

    def emit(self, module: Module) -> Program:
        self._check(module)
        bits = ranges.max_input_bits(module)
        if bits == 0:
            raise Ml2scError("prbmath backend: the weights are so large that even tiny inputs could overflow int256")
        # The hash covers the model, not where it was read from: drop the source path.
        portable = replace(module, attributes=tuple(a for a in module.attributes if a[0] != "source"))
        model_hash = "0x" + keccak(text=print_module(portable)).hex()
        return emit_program(module, contract_name(module), model_hash, bits)

    def _check(self, module: Module) -> None:
        unsupported = [op for op in module.ops if type(op) not in simulator.supported_ops()]
        if unsupported:
            raise Ml2scError(f"prbmath backend: unsupported op '{unsupported[0].mnemonic}'")
        if module.inputs[0].type.element != FixedType(18):
            raise Ml2scError(f"prbmath backend expects fixed<18> input, got {module.inputs[0].type} (run quantize-fixed)")

    def quantize_inputs(self, module: Module, x: np.ndarray) -> list[list[int]]:
        rows = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
        return [[to_fixed(float(v), 18) for v in row] for row in rows]

    def simulate(self, module: Module, rows: list[list[int]]) -> list[list[int]]:
        return [simulator.simulate_row(module, row) for row in rows]

    def pack_row(self, row: list[int]) -> list[int] | None:
        """The predictPacked words of a row (four int64 lanes each, first value most significant),
        or None if a value does not fit in int64."""
        limit = 2 ** (8 * PACKED_INPUT_BYTES - 1)
        if any(not -limit <= v < limit for v in row):
            return None
        padded = list(row) + [0] * (-len(row) % 4)
        blob = b"".join(v.to_bytes(PACKED_INPUT_BYTES, "big", signed=True) for v in padded)
        return [int.from_bytes(blob[i : i + 32], "big") for i in range(0, len(blob), 32)]
