"""canonicalize: remove what computes nothing, name things the simple way."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from ml2sc.compiler.passes.rewrite import rewire, without_dead
from ml2sc.ir import ops
from ml2sc.ir.module import Module
from ml2sc.ir.passes import ModulePass
from ml2sc.ir.types import FixedType


@dataclass(frozen=True)
class Canonicalize(ModulePass):
    """Drop identity affines and dead ops/constants; clip(0, inf) becomes relu."""

    name: ClassVar[str] = "canonicalize"

    def apply(self, module: Module) -> Module:
        for op in module.ops:
            if isinstance(op, ops.Affine) and self._is_identity(module, op):
                module = rewire(module, op.result, op.input)
        module = replace(module, ops=tuple(self._simplify(op) for op in module.ops))
        return without_dead(module)

    @staticmethod
    def _is_identity(module: Module, op: ops.Affine) -> bool:
        """Scale one and offset zero in the value's own number format (on fixed<d>, one is 10^d)."""
        element = op.input.type.element
        one = 10**element.decimals if isinstance(element, FixedType) else 1
        return all(v == one for v in module.constant(op.scale).values) and all(
            v == 0 for v in module.constant(op.offset).values
        )

    @staticmethod
    def _simplify(op: ops.Op) -> ops.Op:
        if isinstance(op, ops.Clip) and op.min == 0 and op.max == float("inf"):
            return ops.Relu(op.result, op.input)
        return op
