"""quantize-fixed: the float IR becomes decimal fixed point (SD59x18 by default)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from ml2sc.backends.common.fixed import to_fixed
from ml2sc.backends.prbmath.weights import prefer_binary
from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Constant, Module, Output, Value
from ml2sc.ir.passes import ModulePass
from ml2sc.ir.types import FixedType, FloatType, TensorType


@dataclass(frozen=True)
class QuantizeFixed(ModulePass):
    """Convert values to fixed<decimals>; weights stay exact floats when smaller, else are rounded once.

    A gemm whose weights stay float32 means: fixed-point input times the exact
    weights, truncated toward zero once per output (see backends/prbmath/weights.py).
    """

    name: ClassVar[str] = "quantize-fixed"
    decimals: int = 18
    exact_weights: bool = True  # keep a gemm's float32 weights exact (binary) when that is smaller

    def apply(self, module: Module) -> Module:
        fixed = FixedType(self.decimals)
        if any(isinstance(op, ops.BatchNorm) for op in module.ops):
            raise Ml2scError("quantize-fixed: batch_norm must be folded first (run fold-batchnorm)")

        def convert_type(t: TensorType) -> TensorType:
            return t.with_element(fixed) if isinstance(t.element, FloatType) else t

        values: dict[str, Value] = {}

        def convert_value(v: Value) -> Value:
            if v.name not in values:
                values[v.name] = Value(v.name, convert_type(v.type))
            return values[v.name]

        inputs = tuple(convert_value(v) for v in module.inputs)
        new_ops = []
        for op in module.ops:
            changes = {f: convert_value(getattr(op, f)) for f in op.operand_fields}
            new_ops.append(replace(op, result=convert_value(op.result), **changes))
        exact = {
            op.weight for op in module.ops
            if self.exact_weights and isinstance(op, ops.Gemm) and prefer_binary(module.constant(op.weight))
        }
        shared = {name for op in module.ops if not isinstance(op, ops.Gemm) for name in op.constant_refs()}
        exact -= shared | {op.bias for op in module.ops if isinstance(op, ops.Gemm)}
        return replace(
            module,
            inputs=inputs,
            ops=tuple(new_ops),
            outputs=tuple(Output(o.name, convert_value(o.value)) for o in module.outputs),
            constants=tuple(c if c.name in exact else self._constant(c, fixed) for c in module.constants),
        ).with_attribute("number_format", str(fixed))

    def _constant(self, c: Constant, fixed: FixedType) -> Constant:
        if not isinstance(c.type.element, FloatType):
            return c
        try:
            values = tuple(to_fixed(v, self.decimals) for v in c.values)
        except ValueError as e:
            raise Ml2scError(f"quantize-fixed: constant @{c.name}: {e}") from None
        return Constant(c.name, c.type.with_element(fixed), values)
