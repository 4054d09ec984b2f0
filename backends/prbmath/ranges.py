"""Overflow proof for the prbmath kernels: bound |value| through the model.

The emitted gemm accumulates raw products in unchecked int256 arithmetic (a
checked multiply-add would cost more than the multiply-add itself), so the
compiler must prove the accumulators cannot overflow. Given a bound on the
inputs it propagates a bound on every value; the contract then only has to
check its inputs against that bound (cheap, once per input), or not at all
when the input encoding itself is narrower (packed int64).
"""

from __future__ import annotations

from ml2sc.backends.common.fixed import UNIT, to_unit
from ml2sc.backends.prbmath.weights import gemm_rows
from ml2sc.ir import ops
from ml2sc.ir.module import Module

INT256_MAX = 2**255 - 1
MAX_INPUT_BITS = 127


def value_bounds(module: Module, input_bound: int) -> dict[str, int] | None:
    """Max |v| for every value given |input| <= input_bound, or None if some step could overflow."""
    unit = UNIT
    bounds = {module.inputs[0].name: input_bound}
    for op in module.ops:
        b = bounds[op.operands[0].name] if op.operands else 0
        match op:
            case ops.Gemm():
                rows = gemm_rows(module, op)
                bias = module.constant(op.bias).values if op.bias else (0,) * len(rows)
                accs = [(sum(abs(k) for k in ks) * b, div) for ks, div in rows]
                if max((a for a, _ in accs), default=0) > INT256_MAX:
                    return None
                out = max((a // div + abs(c) + 1 for (a, div), c in zip(accs, bias, strict=True)), default=0)
            case ops.Affine():
                s = module.constant(op.scale).values
                o = module.constant(op.offset).values
                if max(abs(v) for v in s) * b > INT256_MAX:
                    return None
                out = max(abs(sv) * b // unit + abs(ov) + 1 for sv, ov in zip(s, o, strict=True))
            case ops.LeakyRelu():
                a = abs(to_unit(op.alpha))
                if a * b > INT256_MAX:
                    return None
                out = max(b, a * b // unit + 1)
            case ops.HardSigmoid():
                a = abs(to_unit(op.alpha))
                if a * b > INT256_MAX:
                    return None
                out = unit
            case ops.Sigmoid() | ops.Tanh() | ops.Softmax():
                if 2 * b > INT256_MAX:
                    return None
                out = unit
            case ops.ArgMax() | ops.LabelMap():
                out = 2**63
            case _:
                out = b
        if out > INT256_MAX:
            return None
        bounds[op.result.name] = out
    return bounds


def max_input_bits(module: Module) -> int:
    """Largest k <= 127 such that inputs in [-2^k, 2^k) provably cause no overflow (0 if none)."""
    for k in range(MAX_INPUT_BITS, 0, -1):
        if value_bounds(module, 2**k) is not None:
            return k
    return 0
