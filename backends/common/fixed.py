"""Exact conversion between float32 values and decimal fixed point.

A float32 weight converts to a Python float exactly, and a Fraction of that
float is its exact rational value; rounding that rational once (half to even)
is the only rounding a weight ever sees. No float64 arithmetic in between,
so there is no double rounding.
"""

from __future__ import annotations

import math
from fractions import Fraction


def to_fixed(value: float, decimals: int) -> int:
    """round(value * 10**decimals), exactly; infinities and NaN are refused."""
    if not math.isfinite(value):
        raise ValueError(f"cannot represent {value} in fixed point")
    return round(Fraction(value) * 10**decimals)


def from_fixed(value: int, decimals: int) -> float:
    """The nearest float64 to value / 10**decimals (correctly rounded)."""
    return float(Fraction(value, 10**decimals))


UNIT = 10**18  # SD59x18's one
INT256_MAX = 2**255 - 1
INT256_MIN = -(2**255)


def to_unit(value: float) -> int:
    """An op attribute (alpha, beta, clip bound) in SD59x18; infinities saturate to int256 limits."""
    if math.isinf(value):
        return 2**255 - 1 if value > 0 else -(2**255)
    return to_fixed(value, 18)


def sdiv(a: int, b: int) -> int:
    """The EVM's SDIV (and Solidity's signed ``/``): the quotient truncated toward zero.

    Python's ``//`` rounds toward minus infinity instead, which differs whenever
    the exact quotient is negative and not whole: ``-7 // 2 == -4`` but
    ``sdiv(-7, 2) == -3``. Like the opcode, division by zero gives 0 (Solidity
    code reverts before it gets there) and INT256_MIN / -1 wraps to INT256_MIN.
    """
    if b == 0:
        return 0
    q = abs(a) // abs(b)
    q = -q if (a < 0) != (b < 0) else q
    return INT256_MIN if q == INT256_MAX + 1 else q
