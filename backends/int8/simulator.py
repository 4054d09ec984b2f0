"""Bit-exact Python model of the int8 contracts: the integers the EVM computes, op by op.

The SWAR kernel's packed arithmetic is exact whenever ``swar.prove_lanes``
holds (the emitter refuses otherwise), so a qgemm is simulated as the plain
integer dot product; ``swar.swar_dot`` emulates the packed words themselves and
the tests check the two agree.
"""

from __future__ import annotations

import numpy as np

from ml2sc.backends.common.dispatch import handles
from ml2sc.backends.common.simulator import Simulator, Vector
from ml2sc.backends.int8 import numerics as nx
from ml2sc.ir import ops
from ml2sc.ir.module import Module
from ml2sc.ir.types import QuantType


def _qtype(op: ops.Op) -> QuantType:
    q = op.result.type.element
    assert isinstance(q, QuantType)
    return q


class Int8Simulator(Simulator):
    backend = "int8"

    @handles(ops.Quantize)
    def quantize(self, op: ops.Quantize, x: Vector) -> Vector:
        params = self.m.constant(op.params).values if op.params else None
        quantizers = nx.input_quantizers(op.multiplier, op.shift, _qtype(op), params, len(x))  # type: ignore[arg-type]
        return [nx.quantize_input(v, a, s, q) for v, (a, s, q) in zip(x, quantizers, strict=True)]

    @handles(ops.QGemm)
    def qgemm(self, op: ops.QGemm, x: Vector) -> Vector:
        """The exact integer dot products: in int64 with numpy when no sum can leave 2^62 (the
        weights are int8, the inputs 8 or 16 bits: always, in practice), else in Python integers."""
        w = self.m.constant(op.weight)
        n_out, n_in = w.type.shape
        bias = self.m.constant(op.bias).values
        if n_in * 128 * max((abs(v) for v in x), default=0) < 2**62 and all(abs(b) < 2**62 for b in bias):
            cache = self.__dict__.setdefault("_matrices", {})
            if op.weight not in cache:
                cache[op.weight] = np.asarray(w.values, dtype=np.int64).reshape(n_out, n_in)
            matrix = cache[op.weight]
            if int(np.abs(matrix).max(initial=0)) <= 128:
                dots = matrix @ np.asarray(x, dtype=np.int64)
                return [int(b) + int(d) for b, d in zip(bias, dots, strict=True)]
        return [b + sum(wv * xv for wv, xv in zip(w.values[j * n_in : (j + 1) * n_in], x, strict=True))
                for j, b in enumerate(bias)]

    @handles(ops.Requantize)
    def requantize(self, op: ops.Requantize, x: Vector) -> Vector:
        mult, shift = self.m.constant(op.multiplier).values, self.m.constant(op.shift).values
        z = _qtype(op).zero_point
        return [nx.requantize(a, mj, sj, z, op.qmin, op.qmax) for a, mj, sj in zip(x, mult, shift, strict=True)]

    @handles(ops.Relu)
    def relu(self, op: ops.Relu, x: Vector) -> Vector:
        z = _qtype(op).zero_point
        return [max(v, z) for v in x]

    @handles(ops.LeakyRelu)
    def leaky_relu(self, op: ops.LeakyRelu, x: Vector) -> Vector:
        q = _qtype(op)
        lo, hi = nx.type_range(q)
        a = nx.leaky_multiplier(op.alpha)
        return [nx.leaky_relu(v, q.zero_point, a, lo, hi) for v in x]

    @handles(ops.Clip)
    def clip(self, op: ops.Clip, x: Vector) -> Vector:
        lo, hi = nx.clip_bounds(op.min, op.max, _qtype(op))
        return [nx.clamp(v, lo, hi) for v in x]

    @handles(ops.TableLookup)
    def lut(self, op: ops.TableLookup, x: Vector) -> Vector:
        table = self.m.constant(op.table).values
        lo, _ = nx.type_range(op.input.type.element)  # type: ignore[arg-type]
        return [table[v - lo] for v in x]

    @handles(ops.QSoftmax)
    def softmax(self, op: ops.QSoftmax, x: Vector) -> Vector:
        return nx.softmax(x, self.m.constant(op.exp_hi).values, self.m.constant(op.exp_lo).values)

    @handles(ops.ArgMax)
    def argmax(self, op: ops.ArgMax, x: Vector) -> Vector:
        return [nx.argmax(x)]

    @handles(ops.LabelMap)
    def label_map(self, op: ops.LabelMap, x: Vector) -> Vector:
        return [self.m.constant(op.classes).values[x[0]]]


def run_row(module: Module, x: Vector, start: int = 0) -> dict[str, Vector]:
    """Every value of one row, by name; ``start`` = 1 skips the quantize op (x is already int8)."""
    return Int8Simulator(module).values(x, start)


def simulate_row(module: Module, x: Vector, packed: bool = False) -> Vector:
    """One row (SD59x18 integers, or int8 when ``packed``) -> the contract's flat output."""
    return Int8Simulator(module).run(x, start=1 if packed else 0)
