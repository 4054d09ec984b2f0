"""Bit-exact Python twins of the contract's fixed-point nonlinearities.

The simulator must predict every output integer of a deployed model, so these
functions return exactly what ``runtime_sol/FixedMath.sol`` returns on chain,
which in turn is exactly what PRBMath v4's SD59x18 ``exp`` returns (the tests
compare all three bit for bit). All values are SD59x18: an int scaled by 1e18.

Only Python ints are used, never floats: float64 has 53 bits and would lose
the low bits the chain keeps. The one trap is division: Solidity and the EVM
truncate toward zero, Python's ``//`` floors, so ``-7 // 2 == -4`` while the
chain computes ``-3``. Signed divisions go through ``sdiv``; a bare ``//``
appears only where both operands are provably non-negative (then the two agree).

PRBMath's ``exp``/``exp2`` and their constants are shared with the ml2sc-baseline
backend in ``ml2sc.backends.common.prb_exp``.
"""

from __future__ import annotations

from ml2sc.backends.common.prb_exp import (  # noqa: F401 - re-exported: the simulator and tests use numerics.*
    EXP2_FACTORS,
    EXP2_MIN_THRESHOLD,
    EXP_MAX_INPUT,
    EXP_MIN_THRESHOLD,
    INT256_MAX,
    INT256_MIN,
    LOG2_E,
    UNIT,
    UNIT_SQUARED,
    PrbRevert,
    common_exp2,
    exp,
    exp2,
    sdiv,
)

# An input the contract reverts on (PRBMath's InputTooBig, FixedMath_ExpPositive).
ExpInputError = PrbRevert


def exp_neg(x: int) -> int:
    """``FixedMath.expNeg``: e^x for x <= 0, equal to PRBMath's ``exp(sd(x))``.

    The contract reverts with FixedMath_ExpPositive for x > 0 (its callers never
    pass one), so this raises ExpInputError there.
    """
    if x > 0:
        raise PrbRevert("FixedMath_ExpPositive()", f" (expNeg input {x})")
    return exp(x)


def sigmoid(x: int) -> int:
    """``FixedMath.sigmoid``: 1 / (1 + e^-x), exponentiating only -|x| so nothing overflows.

    x >= 0: 1e36 / (1e18 + e); x < 0: e * 1e18 / (1e18 + e), with e = e^-|x|.
    """
    e = exp_neg(-abs(x))
    return (UNIT_SQUARED if x >= 0 else e * UNIT) // (UNIT + e)


def tanh(x: int) -> int:
    """``FixedMath.tanh``: (1 - e) / (1 + e) with e = e^-2|x|, negated for x < 0.

    For |x| above ~20.72 e is 0 and the result is exactly +-1e18; that covers
    |x| > 2^254, where the contract uses e^-|x| because -2|x| is not an int256.
    """
    e = exp_neg(-2 * abs(x))
    t = (UNIT - e) * UNIT // (UNIT + e)
    return -t if x < 0 else t


def softmax(v: list[int]) -> list[int]:
    """``FixedMath.softmax``: e_i = e^(v_i - max v), then e_i * 1e18 / sum(e).

    Subtracting the max keeps every exponent <= 0 and makes the largest e_i
    exactly 1e18, so the sum is never 0. The contract reverts if some v_i - max
    leaves int256; so does this (OverflowError). An empty list stays empty.
    """
    if not v:
        return []
    m = max(v)
    if min(v) - m < INT256_MIN:
        raise OverflowError("softmax: v_i - max(v) overflows int256 (the contract reverts)")
    e = [exp_neg(x - m) for x in v]
    s = sum(e)
    return [ei * UNIT // s for ei in e]
