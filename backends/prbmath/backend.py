"""The prbmath backend object: pipeline, emission, input quantization, simulation."""

from __future__ import annotations

from typing import ClassVar

from ml2sc.backends.base import Backend, Program
from ml2sc.backends.prbmath import ranges
from ml2sc.backends.prbmath.emitter import PACKED_INPUT_BYTES, PrbMathEmitter
from ml2sc.backends.prbmath.simulator import PrbMathSimulator
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Module
from ml2sc.ir.types import FixedType


class PrbMathBackend(Backend):
    name: ClassVar[str] = "prbmath"
    description: ClassVar[str] = "SD59x18 fixed point (PRBMath number format and exp), weights as code immediates"
    pipeline: ClassVar[str] = "canonicalize,fold-batchnorm,fuse-affine,quantize-fixed{decimals=18},fuse-activation{ops=relu}"
    emitter: ClassVar[type | None] = PrbMathEmitter
    simulator: ClassVar[type | None] = PrbMathSimulator
    cost_model: ClassVar[str | None] = "ml2sc.backends.prbmath.cost"

    def emit(self, module: Module) -> Program:
        self._check(module)
        bits = ranges.max_input_bits(module)
        if bits == 0:
            raise Ml2scError("prbmath backend: the weights are so large that even tiny inputs could overflow int256")
        split = {"stages": True, "none": False}.get(module.attribute("prbmath.split", "auto") or "auto")
        return PrbMathEmitter(module, bits, split).program()

    def spread(self, module: Module) -> Module | None:
        """The model with its largest gemms in stage contracts (``prbmath.split = "stages"``)."""
        if module.attribute("prbmath.split") == "stages":
            return None
        return module.with_attribute("prbmath.split", "stages")

    def _check(self, module: Module) -> None:
        for op in module.ops:
            PrbMathSimulator(module).handler(op)  # one-line error for an op the backend lacks
            if op.tag("fuse") not in (None, "relu"):
                raise Ml2scError(f"prbmath backend: cannot fuse '{op.tag('fuse')}' into {op.mnemonic} {op.result}")
        if module.inputs[0].type.element != FixedType(18):
            raise Ml2scError(f"prbmath backend expects fixed<18> input, got {module.inputs[0].type} (run quantize-fixed)")


    def pack_row(self, row: list[int]) -> list[int] | None:
        """The predictPacked words of a row (four int64 lanes each, first value most significant),
        or None if a value does not fit in int64."""
        limit = 2 ** (8 * PACKED_INPUT_BYTES - 1)
        if any(not -limit <= v < limit for v in row):
            return None
        padded = list(row) + [0] * (-len(row) % 4)
        blob = b"".join(v.to_bytes(PACKED_INPUT_BYTES, "big", signed=True) for v in padded)
        return [int.from_bytes(blob[i : i + 32], "big") for i in range(0, len(blob), 32)]
