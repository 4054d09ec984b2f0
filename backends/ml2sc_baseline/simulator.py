"""Bit-exact Python model of the contracts the ml2sc-baseline emitter writes.

Each kernel performs the PRBMath calls the Solidity makes, in the same order
(``prb`` reproduces each call, reverts included), so the EVM tests can demand
equality for every output integer:

  gemm     y_n = b_n + sum_i mul(x_i, W_ni), accumulated left to right with checked adds
  relu     v >= 0 ? v : 0                                     (ML2SC: ``x.gte(zero)``)
  sigmoid  UNIT.div(UNIT.add(exp(-v)))                        (ML2SC's 1 / (1 + e^-x))
  tanh     t = (UNIT - e).div(UNIT + e), e = exp(-(|v| + |v|)); -t for v < 0
  softmax  e_k = exp(v_k - max v); y_k = e_k.div(sum e)

The order of the adds matters only for where an overflow reverts (integer adds
are exact); the order of nothing else is free either, so it is kept anyway.
"""

from __future__ import annotations

from ml2sc.backends.common.dispatch import handles
from ml2sc.backends.common.simulator import Simulator, Vector
from ml2sc.backends.ml2sc_baseline import prb
from ml2sc.ir import ops
from ml2sc.ir.module import Module


def gemm(x: Vector, weights: tuple[int, ...], bias: tuple[int, ...]) -> Vector:
    """One ML2SC layer: each neuron starts at its bias and adds x_i * w_ni for i = 0, 1, ..."""
    n_in = len(x)
    out = []
    for n, b in enumerate(bias):
        acc = b
        for i in range(n_in):
            acc = prb.add(acc, prb.mul(x[i], weights[n * n_in + i]))
        out.append(acc)
    return out


def relu(v: int) -> int:
    return v if v >= 0 else 0


def sigmoid(v: int) -> int:
    return prb.div(prb.UNIT, prb.add(prb.UNIT, prb.exp(prb.neg(v))))


def tanh(v: int) -> int:
    a = prb.abs_(v)
    e = prb.exp(prb.neg(prb.add(a, a)))
    t = prb.div(prb.sub(prb.UNIT, e), prb.add(prb.UNIT, e))
    return prb.neg(t) if v < 0 else t


def softmax(v: Vector) -> Vector:
    m = v[0]
    for x in v[1:]:
        if x > m:
            m = x
    e = [prb.exp(prb.sub(x, m)) for x in v]
    s = 0
    for x in e:
        s = prb.add(s, x)
    return [prb.div(x, s) for x in e]


def gemm_constants(module: Module, op: ops.Gemm) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The layer's weights (row-major, out x in) and biases exactly as they are uploaded."""
    weights = tuple(int(v) for v in module.constant(op.weight).values)
    n_out = op.result.type.size
    bias = tuple(int(v) for v in module.constant(op.bias).values) if op.bias else (0,) * n_out
    return weights, bias


class Ml2scBaselineSimulator(Simulator):
    """The same PRBMath calls as the contract, in the same order; raises PrbRevert where it reverts."""

    backend = "ml2sc-baseline"

    @handles(ops.Gemm)
    def _gemm(self, op: ops.Gemm, x: Vector) -> Vector:
        return gemm(x, *gemm_constants(self.m, op))

    @handles(ops.Softmax)
    def _softmax(self, op: ops.Softmax, x: Vector) -> Vector:
        return softmax(x)

    @handles(ops.Relu)
    def _relu(self, op: ops.Relu, x: Vector) -> Vector:
        return [relu(v) for v in x]

    @handles(ops.Sigmoid)
    def _sigmoid(self, op: ops.Sigmoid, x: Vector) -> Vector:
        return [sigmoid(v) for v in x]

    @handles(ops.Tanh)
    def _tanh(self, op: ops.Tanh, x: Vector) -> Vector:
        return [tanh(v) for v in x]


def simulate_row(module: Module, x: Vector) -> Vector:
    """One input row (SD59x18) -> the flat output of ``predict``; raises PrbRevert where it reverts."""
    return Ml2scBaselineSimulator(module).run(x)


def label(first_output: Vector) -> int:
    """``_label``: a single score is class 1 when >= 0.5; several give the index of the first maximum."""
    if len(first_output) == 1:
        return int(first_output[0] >= prb.HALF_UNIT)
    best = 0
    for k in range(1, len(first_output)):
        if first_output[k] > first_output[best]:
            best = k
    return best
