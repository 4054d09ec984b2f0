"""PRBMath v4's SD59x18 ``exp``/``exp2``, ported to exact Python for the backends' simulators.

Two backends reproduce PRBMath's exponential bit for bit: ``prbmath`` (through
``runtime_sol/FixedMath.sol``, which equals PRBMath's ``exp``) and
``ml2sc-baseline`` (which calls PRBMath itself). Like ``base.py`` and
``solidity.py`` this module is shared by backends and belongs to none, so the
64-factor table and the algorithm exist once.

Values are Python ints standing for SD59x18 numbers (value * 1e18), never
floats: float64 has 53 bits and would lose the low bits the chain keeps. The one
trap is division: the EVM truncates toward zero, Python's ``//`` floors, so
signed divisions go through ``sdiv``; a bare ``//`` appears only where both
operands are provably non-negative. An input the contract reverts on raises
``PrbRevert`` carrying the revert's signature.

Ported from @prb/math v4.1.0: ``src/sd59x18/Math.sol`` (``exp``, ``exp2``),
``src/Common.sol`` (``exp2``, the 64 constants) and ``src/sd59x18/Constants.sol``.
"""

from __future__ import annotations

from ml2sc.backends.common.fixed import INT256_MAX, INT256_MIN, sdiv  # noqa: F401 - re-exported: the simulators import them from here
from ml2sc.ir.errors import Ml2scError

UNIT = 10**18
UNIT_SQUARED = 10**36

LOG2_E = 1_442695040888963407
EXP_MIN_THRESHOLD = -41_446531673892822322  # exp(x) is 0 below this
EXP_MAX_INPUT = 133_084258667509499440  # exp(x) reverts above this
EXP2_MIN_THRESHOLD = -59_794705707972522261  # exp2(x) is 0 below this
EXP2_MAX_INPUT = 192 * UNIT - 1  # exp2(x) reverts above this

# Common.exp2's multipliers, in its source order: the one for bit 63 of the
# 64-bit fraction first, bit 0 last. C ~ 2^64 * 2^(2^-(64 - k)) for bit k,
# rounded by PRBMath; these exact values (not freshly computed ones) are what
# makes the port bit-exact. FixedMath.sol stores C - 2^64 for each of them.
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


class PrbRevert(Ml2scError, ValueError):
    """The contract reverts on this input.

    ``signature`` is the ABI signature of the revert data the EVM returns (a PRBMath
    custom error, or ``Panic(uint256)`` for checked arithmetic), so tests can compare
    the simulator's reason with the chain's selector, not only the fact of a revert.
    """

    def __init__(self, signature: str, detail: str = "") -> None:
        super().__init__(f"the contract reverts with {signature.split('(')[0]}{detail}")
        self.signature = signature


def common_exp2(x: int) -> int:
    """PRBMath ``Common.exp2``: 2^x for x in unsigned 192.64 fixed point, result in 1e18 units.

    Start from 0.5 as 2^191 and, from fraction bit 63 down to 0, multiply by the
    bit's factor and drop 64 bits; the order and every truncation match the
    Solidity. Finally scale to 1e18 and shift by the integer part (the shift
    from 191 rather than 192 re-doubles the 0.5).
    """
    if not 0 <= x < 192 << 64:
        raise PrbRevert("PRBMath_SD59x18_Exp2_InputTooBig(int256)", f" (Common.exp2 input {x})")
    result = 1 << 191
    for k, factor in zip(range(63, -1, -1), EXP2_FACTORS, strict=True):
        if x >> k & 1:
            result = result * factor >> 64
    return result * UNIT >> (191 - (x >> 64))


def exp2(x: int) -> int:
    """PRBMath SD59x18 ``exp2``: 2^x; a negative x goes through 1e36 / 2^-x."""
    if x < 0:
        if x < EXP2_MIN_THRESHOLD:
            return 0
        return UNIT_SQUARED // exp2(-x)  # both positive: // is truncation
    if x > EXP2_MAX_INPUT:
        raise PrbRevert("PRBMath_SD59x18_Exp2_InputTooBig(int256)", f"({x})")
    return common_exp2((x << 64) // UNIT)


def exp(x: int) -> int:
    """PRBMath SD59x18 ``exp``: e^x = 2^(x * log2(e)), the product truncated toward zero.

    0 below EXP_MIN_THRESHOLD; above EXP_MAX_INPUT PRBMath reverts with
    PRBMath_SD59x18_Exp_InputTooBig, and so does this (``PrbRevert``).
    """
    if x < EXP_MIN_THRESHOLD:
        return 0
    if x > EXP_MAX_INPUT:
        raise PrbRevert("PRBMath_SD59x18_Exp_InputTooBig(int256)", f"({x})")
    return exp2(sdiv(x * LOG2_E, UNIT))
