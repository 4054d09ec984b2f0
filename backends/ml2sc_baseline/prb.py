"""PRBMath v4 SD59x18, the handful of functions the baseline contracts call, in exact Python.

The ml2sc-baseline contracts do every operation through PRBMath (as ML2SC did),
so the simulator has to reproduce PRBMath's results bit for bit, including
where it reverts. This is a port, not an import: backends never import each
other (the prbmath backend has its own port of ``exp``), and this one needs
PRBMath's checked ``mul``/``div``/``add``/``sub`` as well.

Values are Python ints standing for SD59x18 numbers (value * 1e18). Every
input the contract would revert on raises ``PrbRevert`` carrying the signature
of the revert the EVM gives: PRBMath's custom error, or the Solidity panic of a
checked ``+``/``-`` or of a division by zero.

Ported from @prb/math 4.1.0: ``src/sd59x18/Math.sol`` (mul, div, abs, exp,
exp2), ``src/sd59x18/Helpers.sol`` (add, sub, unary minus), ``src/Common.sol``
(mulDiv18, mulDiv, exp2 and its 64 factors) and ``src/sd59x18/Constants.sol``.
"""

from __future__ import annotations

from ml2sc.ir.errors import Ml2scError

UNIT = 10**18
UNIT_SQUARED = 10**36
HALF_UNIT = UNIT // 2
INT256_MIN = -(2**255)
INT256_MAX = 2**255 - 1

LOG2_E = 1_442695040888963407
EXP_MIN_THRESHOLD = -41_446531673892822322  # exp(x) is 0 below this
EXP_MAX_INPUT = 133_084258667509499440  # exp(x) reverts above this
EXP2_MIN_THRESHOLD = -59_794705707972522261  # exp2(x) is 0 below this
EXP2_MAX_INPUT = 192 * UNIT - 1  # exp2(x) reverts above this

# Common.exp2's multipliers in source order: bit 63 of the 64-bit fraction first,
# bit 0 last. They are PRBMath's own rounded values (a test checks them against
# node_modules/@prb/math/src/Common.sol), which is what makes the port bit-exact.
EXP2_FACTORS: tuple[int, ...] = (
    0x16A09E667F3BCC909, 0x1306FE0A31B7152DF, 0x1172B83C7D517ADCE, 0x10B5586CF9890F62A,
    0x1059B0D31585743AE, 0x102C9A3E778060EE7, 0x10163DA9FB33356D8, 0x100B1AFA5ABCBED61,
    0x10058C86DA1C09EA2, 0x1002C605E2E8CEC50, 0x100162F3904051FA1, 0x1000B175EFFDC76BA,
    0x100058BA01FB9F96D, 0x10002C5CC37DA9492, 0x1000162E525EE0547, 0x10000B17255775C04,
    0x1000058B91B5BC9AE, 0x100002C5C89D5EC6D, 0x10000162E43F4F831, 0x100000B1721BCFC9A,
    0x10000058B90CF1E6E, 0x1000002C5C863B73F, 0x100000162E430E5A2, 0x1000000B172183551,
    0x100000058B90C0B49, 0x10000002C5C8601CC, 0x1000000162E42FFF0, 0x10000000B17217FBB,
    0x1000000058B90BFCE, 0x100000002C5C85FE3, 0x10000000162E42FF1, 0x100000000B17217F8,
    0x10000000058B90BFC, 0x1000000002C5C85FE, 0x100000000162E42FF, 0x1000000000B17217F,
    0x100000000058B90C0, 0x10000000002C5C860, 0x1000000000162E430, 0x10000000000B17218,
    0x1000000000058B90C, 0x100000000002C5C86, 0x10000000000162E43, 0x100000000000B1721,
    0x10000000000058B91, 0x1000000000002C5C8, 0x100000000000162E4, 0x1000000000000B172,
    0x100000000000058B9, 0x10000000000002C5D, 0x1000000000000162E, 0x10000000000000B17,
    0x1000000000000058C, 0x100000000000002C6, 0x10000000000000163, 0x100000000000000B1,
    0x10000000000000059, 0x1000000000000002C, 0x10000000000000016, 0x1000000000000000B,
    0x10000000000000006, 0x10000000000000003, 0x10000000000000001, 0x10000000000000001,
)


class PrbRevert(Ml2scError):
    """The contract reverts on this input.

    ``signature`` is the ABI signature of the revert data the EVM returns (a PRBMath
    custom error, or ``Panic(uint256)`` for checked arithmetic), so tests can compare
    the simulator's reason with the chain's selector, not only the fact of a revert.
    """

    def __init__(self, signature: str, detail: str = "") -> None:
        super().__init__(f"the contract reverts with {signature.split('(')[0]}{detail}")
        self.signature = signature


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


def _common_exp2(x: int) -> int:
    """``Common.exp2``: 2^x with x unsigned 192.64 fixed point, result in 1e18 units.

    From 0.5 as 2^191, multiply by the factor of each set fraction bit (63 down
    to 0) dropping 64 bits each time; then scale to 1e18 and shift by the integer part.
    """
    result = 1 << 191
    for k, factor in zip(range(63, -1, -1), EXP2_FACTORS, strict=True):
        if x >> k & 1:
            result = result * factor >> 64
    return result * UNIT >> (191 - (x >> 64))


def exp2(x: int) -> int:
    """``exp2``: a negative x is 1e36 / 2^-x (0 below EXP2_MIN_THRESHOLD); reverts above 192."""
    if x < 0:
        if x < EXP2_MIN_THRESHOLD:
            return 0
        return UNIT_SQUARED // exp2(-x)  # both positive: // truncates like the EVM
    if x > EXP2_MAX_INPUT:
        raise PrbRevert("PRBMath_SD59x18_Exp2_InputTooBig(int256)", f"({x})")
    return _common_exp2((x << 64) // UNIT)


def exp(x: int) -> int:
    """``exp``: 2^(x·log2(e)), the product divided by 1e18 truncating toward zero (signed ``/``).

    0 below EXP_MIN_THRESHOLD; reverts with Exp_InputTooBig above EXP_MAX_INPUT (~133.08).
    """
    if x < EXP_MIN_THRESHOLD:
        return 0
    if x > EXP_MAX_INPUT:
        raise PrbRevert("PRBMath_SD59x18_Exp_InputTooBig(int256)", f"({x})")
    p = x * LOG2_E
    q = abs(p) // UNIT
    return exp2(-q if p < 0 else q)
