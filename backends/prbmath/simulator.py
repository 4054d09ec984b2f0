"""Bit-exact Python model of the contracts the prbmath emitter writes.

Every op performs the same integer operations as its Solidity/Yul
counterpart, in the same order, with the same truncation (EVM ``sdiv``
truncates toward zero). The EVM tests compare this with on-chain results row
by row, so a divergence in either is caught at once.

Integer semantics, with U = 10^18 and A = round(attribute * U):
  gemm        y_j = sdiv(sum_i x_i * K_ji, D_j) + b_j    (one division per output; K, D from weights.py)
  affine      y_i = sdiv(x_i * s_i, U) + o_i
  relu        max(x, 0)
  leaky_relu  x if x >= 0 else sdiv(x * A, U)
  hard_sigmoid min(max(sdiv(x * A, U) + B, 0), U)
  clip        min(max(x, lo), hi)
  sigmoid, tanh, softmax: ``numerics`` (PRBMath's exp algorithm, bit for bit)
  argmax      index of the first maximum; label_map: classes[index]
"""

from __future__ import annotations

from collections.abc import Callable

from ml2sc.backends.prbmath import numerics
from ml2sc.backends.prbmath.fixed import UNIT, to_unit
from ml2sc.backends.prbmath.weights import gemm_rows
from ml2sc.ir import ops
from ml2sc.ir.module import Module

Vector = list[int]


def _gemm(op: ops.Gemm, x: Vector, m: Module) -> Vector:
    rows = gemm_rows(m, op)
    bias = m.constant(op.bias).values if op.bias else (0,) * len(rows)
    return [
        numerics.sdiv(sum(a * k for a, k in zip(x, ks, strict=True)), div) + c
        for (ks, div), c in zip(rows, bias, strict=True)
    ]


def _affine(op: ops.Affine, x: Vector, m: Module) -> Vector:
    s, o = m.constant(op.scale).values, m.constant(op.offset).values
    return [numerics.sdiv(v * sv, UNIT) + ov for v, sv, ov in zip(x, s, o, strict=True)]


def _leaky(op: ops.LeakyRelu, x: Vector, m: Module) -> Vector:
    a = to_unit(op.alpha)
    return [v if v >= 0 else numerics.sdiv(v * a, UNIT) for v in x]


def _hard_sigmoid(op: ops.HardSigmoid, x: Vector, m: Module) -> Vector:
    a, b = to_unit(op.alpha), to_unit(op.beta)
    return [min(max(numerics.sdiv(v * a, UNIT) + b, 0), UNIT) for v in x]


def _clip(op: ops.Clip, x: Vector, m: Module) -> Vector:
    lo, hi = to_unit(op.min), to_unit(op.max)
    return [min(max(v, lo), hi) for v in x]


def _argmax(op: ops.ArgMax, x: Vector, m: Module) -> Vector:
    return [max(range(len(x)), key=lambda i: (x[i], -i))]


def _label_map(op: ops.LabelMap, x: Vector, m: Module) -> Vector:
    return [m.constant(op.classes).values[x[0]]]


_KERNELS: dict[type[ops.Op], Callable[..., Vector]] = {
    ops.Gemm: _gemm,
    ops.Affine: _affine,
    ops.Relu: lambda op, x, m: [max(v, 0) for v in x],
    ops.LeakyRelu: _leaky,
    ops.Sigmoid: lambda op, x, m: [numerics.sigmoid(v) for v in x],
    ops.Tanh: lambda op, x, m: [numerics.tanh(v) for v in x],
    ops.Softmax: lambda op, x, m: numerics.softmax(list(x)),
    ops.HardSigmoid: _hard_sigmoid,
    ops.Clip: _clip,
    ops.ArgMax: _argmax,
    ops.LabelMap: _label_map,
}


def simulate_row(module: Module, x: Vector) -> Vector:
    """One input row (SD59x18 integers) -> the contract's flat output (all outputs concatenated)."""
    env: dict[str, Vector] = {module.inputs[0].name: list(x)}
    for op in module.ops:
        env[op.result.name] = _KERNELS[type(op)](op, env[op.operands[0].name], module)
    return [v for out in module.outputs for v in env[out.value.name]]


def supported_ops() -> frozenset[type[ops.Op]]:
    return frozenset(_KERNELS)
