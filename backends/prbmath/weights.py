"""Integer weights of a gemm row, as the emitter writes them and the simulator reads them.

A row is a list of integers K_i and a divisor D with y = sdiv(sum_i x_i K_i, D) + b.
Two encodings, chosen per gemm by ``quantize-fixed``:
- fixed: K_i = round(w_i * 1e18), D = 1e18 (SD59x18 weights, products at 1e36);
- binary: every float32 weight is exactly n_i / 2^k_i, so with s = max k_i,
  K_i = n_i * 2^(s - k_i) and D = 2^s represent the weights *exactly*. The
  immediates are the weights' mantissas (typically 3-5 bytes instead of 8),
  so the code is smaller and there is no weight rounding at all.
Both emitter and simulator call ``gemm_rows``: one definition, no drift.
"""

from __future__ import annotations

from fractions import Fraction

from ml2sc.backends.common.fixed import UNIT
from ml2sc.ir import ops
from ml2sc.ir.module import Constant, Module
from ml2sc.ir.types import FixedType, FloatType

Row = tuple[list[int], int]


def binary_row(values: tuple[float, ...] | list[float]) -> Row:
    fractions = [Fraction(v) for v in values]
    shift = max((f.denominator.bit_length() - 1 for f in fractions), default=0)
    return [f.numerator << (shift - (f.denominator.bit_length() - 1)) for f in fractions], 1 << shift


def immediate_bytes(ints: list[int]) -> int:
    """Code bytes the immediates need (PUSHn data; a negative one also costs a NOT)."""
    return sum((abs(v) - (v < 0)).bit_length() // 8 + 1 + (v < 0) for v in ints if v)


def gemm_rows(module: Module, op: ops.Gemm) -> list[Row]:
    w = module.constant(op.weight)
    if isinstance(w.type.element, FixedType):
        return [(list(r), UNIT) for r in w.rows()]
    return [binary_row(r) for r in w.rows()]


def prefer_binary(weight: Constant) -> bool:
    """Keep a float weight exact when its binary form is no larger than its SD59x18 form."""
    if not isinstance(weight.type.element, FloatType):
        return False
    from ml2sc.backends.common.fixed import to_fixed

    binary = sum(immediate_bytes(binary_row(r)[0]) + (binary_row(r)[1].bit_length() // 8) for r in weight.rows())
    fixed = sum(immediate_bytes([to_fixed(v, 18) for v in r]) + 8 for r in weight.rows())
    return binary <= fixed
