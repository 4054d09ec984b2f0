"""Bit-exact Python model of the int8 contracts: the integers the EVM computes, op by op.

The SWAR kernel's packed arithmetic is exact whenever ``swar.prove_lanes``
holds (the emitter refuses otherwise), so a qgemm is simulated as the plain
integer dot product; ``swar.swar_dot`` emulates the packed words themselves and
the tests check the two agree.
"""

from __future__ import annotations

from collections.abc import Callable

from ml2sc.backends.int8 import numerics as nx
from ml2sc.ir import ops
from ml2sc.ir.module import Module
from ml2sc.ir.types import QuantType

Vector = list[int]


def _qtype(op: ops.Op) -> QuantType:
    q = op.result.type.element
    assert isinstance(q, QuantType)
    return q


def _quantize(op: ops.Quantize, x: Vector, m: Module) -> Vector:
    return [nx.quantize_input(v, op.multiplier, op.shift, _qtype(op)) for v in x]


def _qgemm(op: ops.QGemm, x: Vector, m: Module) -> Vector:
    w = m.constant(op.weight)
    n_in = w.type.shape[1]
    bias = m.constant(op.bias).values
    return [b + sum(wv * xv for wv, xv in zip(w.values[j * n_in : (j + 1) * n_in], x, strict=True))
            for j, b in enumerate(bias)]


def _requantize(op: ops.Requantize, x: Vector, m: Module) -> Vector:
    mult, shift = m.constant(op.multiplier).values, m.constant(op.shift).values
    z = _qtype(op).zero_point
    return [nx.requantize(a, mj, sj, z, op.qmin, op.qmax) for a, mj, sj in zip(x, mult, shift, strict=True)]


def _relu(op: ops.Relu, x: Vector, m: Module) -> Vector:
    z = _qtype(op).zero_point
    return [max(v, z) for v in x]


def _leaky(op: ops.LeakyRelu, x: Vector, m: Module) -> Vector:
    q = _qtype(op)
    lo, hi = nx.type_range(q)
    a = nx.leaky_multiplier(op.alpha)
    return [nx.leaky_relu(v, q.zero_point, a, lo, hi) for v in x]


def _clip(op: ops.Clip, x: Vector, m: Module) -> Vector:
    lo, hi = nx.clip_bounds(op.min, op.max, _qtype(op))
    return [nx.clamp(v, lo, hi) for v in x]


def _lut(op: ops.TableLookup, x: Vector, m: Module) -> Vector:
    table = m.constant(op.table).values
    lo, _ = nx.type_range(op.input.type.element)  # type: ignore[arg-type]
    return [table[v - lo] for v in x]


def _softmax(op: ops.QSoftmax, x: Vector, m: Module) -> Vector:
    return nx.softmax(x, m.constant(op.exp_hi).values, m.constant(op.exp_lo).values)


_KERNELS: dict[type[ops.Op], Callable[..., Vector]] = {
    ops.Quantize: _quantize,
    ops.QGemm: _qgemm,
    ops.Requantize: _requantize,
    ops.Relu: _relu,
    ops.LeakyRelu: _leaky,
    ops.Clip: _clip,
    ops.TableLookup: _lut,
    ops.QSoftmax: _softmax,
    ops.ArgMax: lambda op, x, m: [nx.argmax(x)],
    ops.LabelMap: lambda op, x, m: [m.constant(op.classes).values[x[0]]],
}


def supported_ops() -> frozenset[type[ops.Op]]:
    return frozenset(_KERNELS)


def run_row(module: Module, x: Vector, start: int = 0) -> dict[str, Vector]:
    """Every value of one row, by name; ``start`` = 1 skips the quantize op (x is already int8)."""
    name = module.ops[0].result.name if start else module.inputs[0].name
    env: dict[str, Vector] = {name: list(x)}
    for op in module.ops[start:]:
        env[op.result.name] = _KERNELS[type(op)](op, env[op.operands[0].name], module)
    return env


def simulate_row(module: Module, x: Vector, packed: bool = False) -> Vector:
    """One row (SD59x18 integers, or int8 when ``packed``) -> the contract's flat output."""
    env = run_row(module, x, start=1 if packed else 0)
    return [v for out in module.outputs for v in env[out.value.name]]
