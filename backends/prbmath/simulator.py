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
  gemm {fuse = "relu"}: the gemm, then relu (the ``fuse-activation`` pass's tag)
"""

from __future__ import annotations

from ml2sc.backends.common.dispatch import handles
from ml2sc.backends.common.fixed import UNIT, to_unit
from ml2sc.backends.common.simulator import Simulator, Vector
from ml2sc.backends.prbmath import numerics
from ml2sc.backends.prbmath.weights import gemm_rows
from ml2sc.ir import ops


class PrbMathSimulator(Simulator):
    backend = "prbmath"

    @handles(ops.Gemm)
    def gemm(self, op: ops.Gemm, x: Vector) -> Vector:
        rows = gemm_rows(self.m, op)
        bias = self.m.constant(op.bias).values if op.bias else (0,) * len(rows)
        return [
            numerics.sdiv(sum(a * k for a, k in zip(x, ks, strict=True)), div) + c
            for (ks, div), c in zip(rows, bias, strict=True)
        ]

    @handles(ops.Affine)
    def affine(self, op: ops.Affine, x: Vector) -> Vector:
        s, o = self.m.constant(op.scale).values, self.m.constant(op.offset).values
        return [numerics.sdiv(v * sv, UNIT) + ov for v, sv, ov in zip(x, s, o, strict=True)]

    @handles(ops.Relu)
    def relu(self, op: ops.Relu, x: Vector) -> Vector:
        return [max(v, 0) for v in x]

    @handles(ops.LeakyRelu)
    def leaky_relu(self, op: ops.LeakyRelu, x: Vector) -> Vector:
        a = to_unit(op.alpha)
        return [v if v >= 0 else numerics.sdiv(v * a, UNIT) for v in x]

    @handles(ops.HardSigmoid)
    def hard_sigmoid(self, op: ops.HardSigmoid, x: Vector) -> Vector:
        a, b = to_unit(op.alpha), to_unit(op.beta)
        return [min(max(numerics.sdiv(v * a, UNIT) + b, 0), UNIT) for v in x]

    @handles(ops.Clip)
    def clip(self, op: ops.Clip, x: Vector) -> Vector:
        lo, hi = to_unit(op.min), to_unit(op.max)
        return [min(max(v, lo), hi) for v in x]

    @handles(ops.Sigmoid)
    def sigmoid(self, op: ops.Sigmoid, x: Vector) -> Vector:
        return [numerics.sigmoid(v) for v in x]

    @handles(ops.Tanh)
    def tanh(self, op: ops.Tanh, x: Vector) -> Vector:
        return [numerics.tanh(v) for v in x]

    @handles(ops.Softmax)
    def softmax(self, op: ops.Softmax, x: Vector) -> Vector:
        return numerics.softmax(list(x))

    @handles(ops.ArgMax)
    def argmax(self, op: ops.ArgMax, x: Vector) -> Vector:
        return [max(range(len(x)), key=lambda i: (x[i], -i))]

    @handles(ops.LabelMap)
    def label_map(self, op: ops.LabelMap, x: Vector) -> Vector:
        return [self.m.constant(op.classes).values[x[0]]]
