"""PRBMath v4 SD59x18, the handful of functions the baseline contracts call, in exact Python.

The ml2sc-baseline contracts do every operation through PRBMath (as ML2SC did),
so the simulator has to reproduce PRBMath's results bit for bit, including
where it reverts. ``exp``/``exp2`` come from ``ml2sc.backends.common.prb_exp`` (shared with the prbmath
backend); this module adds PRBMath's checked ``mul``/``div``/``add``/``sub``.

Values are Python ints standing for SD59x18 numbers (value * 1e18). Every
input the contract would revert on raises ``PrbRevert`` carrying the signature
of the revert the EVM gives: PRBMath's custom error, or the Solidity panic of a
checked ``+``/``-`` or of a division by zero.

Ported from @prb/math 4.1.0: ``src/sd59x18/Math.sol`` (mul, div, abs, exp,
exp2), ``src/sd59x18/Helpers.sol`` (add, sub, unary minus), ``src/Common.sol``
(mulDiv18, mulDiv, exp2 and its 64 factors) and ``src/sd59x18/Constants.sol``.
"""

from __future__ import annotations

from ml2sc.backends.common.prb_exp import (  # noqa: F401 - re-exported: the simulator and tests use prb.*
    EXP2_FACTORS,
    EXP2_MAX_INPUT,
    EXP2_MIN_THRESHOLD,
    EXP_MAX_INPUT,
    EXP_MIN_THRESHOLD,
    INT256_MAX,
    INT256_MIN,
    UNIT,
    UNIT_SQUARED,
    PrbRevert,
    exp,
    exp2,
)

HALF_UNIT = UNIT // 2
PANIC = "Panic(uint256)"


def _int256(v: int, what: str) -> int:
    """Solidity's checked int256 arithmetic: a result outside int256 panics (0x11)."""
    if not INT256_MIN <= v <= INT256_MAX:
        raise PrbRevert(PANIC, f" 0x11: {what} overflows int256")
    return v


def add(x: int, y: int) -> int:
    """``x.add(y)``: checked ``+``."""
    return _int256(x + y, "SD59x18 add")


def sub(x: int, y: int) -> int:
    """``x.sub(y)``: checked ``-``."""
    return _int256(x - y, "SD59x18 sub")


def neg(x: int) -> int:
    """``-x`` (PRBMath's ``unary``): checked, so it panics for the minimum only."""
    return _int256(-x, "SD59x18 unary minus")


def abs_(x: int) -> int:
    """``x.abs()``: reverts with PRBMath_SD59x18_Abs_MinSD59x18 for the minimum."""
    if x == INT256_MIN:
        raise PrbRevert("PRBMath_SD59x18_Abs_MinSD59x18()")
    return -x if x < 0 else x


def _signed(result_abs: int, x: int, y: int, error: str) -> int:
    """Shared tail of mul and div: range check of |result|, then the sign of x * y."""
    if result_abs > INT256_MAX:
        raise PrbRevert(f"{error}(int256,int256)", f"({x}, {y})")
    return result_abs if (x < 0) == (y < 0) or result_abs == 0 else -result_abs


def mul(x: int, y: int) -> int:
    """``x.mul(y)``: |x|·|y| / 1e18 rounded down (mulDiv18), then the sign: truncation toward zero.

    Reverts for an int256-minimum operand (Mul_InputTooSmall), in mulDiv18 when the
    quotient needs more than 256 bits (MulDiv18_Overflow), and when the result leaves
    SD59x18 (Mul_Overflow).
    """
    if INT256_MIN in (x, y):
        raise PrbRevert("PRBMath_SD59x18_Mul_InputTooSmall()")
    product = abs(x) * abs(y)
    if product >> 256 >= UNIT:
        raise PrbRevert("PRBMath_MulDiv18_Overflow(uint256,uint256)", f"({abs(x)}, {abs(y)})")
    return _signed(product // UNIT, x, y, "PRBMath_SD59x18_Mul_Overflow")


def div(x: int, y: int) -> int:
    """``x.div(y)``: |x|·1e18 / |y| rounded down (mulDiv), then the sign: truncation toward zero.

    mulDiv divides a 512-bit product: while it fits in 256 bits a zero divisor panics
    (0x12); above, it reverts with MulDiv_Overflow unless the quotient fits (never for 0).
    """
    if INT256_MIN in (x, y):
        raise PrbRevert("PRBMath_SD59x18_Div_InputTooSmall()")
    product = abs(x) * UNIT
    if product >> 256 == 0 and y == 0:
        raise PrbRevert(PANIC, " 0x12: division by zero in mulDiv")
    if product >> 256 >= abs(y):
        raise PrbRevert("PRBMath_MulDiv_Overflow(uint256,uint256,uint256)", f"({abs(x)}, {UNIT}, {abs(y)})")
    return _signed(product // abs(y), x, y, "PRBMath_SD59x18_Div_Overflow")
