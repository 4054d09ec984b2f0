"""Integer semantics of the int8 backend: the one definition the pass, simulator and emitter share.

Every function here is plain Python integer arithmetic; ``>>`` on a negative
int floors, exactly as the EVM's ``sar``. The quantization pass uses the
builders (multipliers, tables) to fill the IR's constants; the simulator uses
the kernels to compute what the contract computes, and the emitter writes the
same formulas in Yul (see docs/backends.md, int8 section).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.types import QuantType

INPUT_SATURATION = 2**127  # SD59x18 inputs beyond +-2^127 saturate before quantization
LEAKY_SHIFT = 16  # leaky_relu: (q - z) * round(alpha * 2^16) >> 16
SOFTMAX_BITS = 16  # qsoftmax tables and output are scaled by 2^16
SOFTMAX_TYPE = QuantType(32, 2.0**-SOFTMAX_BITS, 0, signed=False)


def type_range(q: QuantType) -> tuple[int, int]:
    """The integers a quantized type can hold."""
    return (-(2 ** (q.bits - 1)), 2 ** (q.bits - 1) - 1) if q.signed else (0, 2**q.bits - 1)


def clamp(v: int, lo: int, hi: int) -> int:
    return lo if v < lo else hi if v > hi else v


def round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


# ----------------------------------------------------------------- multipliers


def multiplier_shift(real: float, bits: int = 31) -> tuple[int, int]:
    """(M, S) with M / 2^S ~= real and 2^(bits-1) <= M < 2^bits (gemmlowp's normalised form).

    Tiny multipliers keep S at 127 (M then has fewer bits); a multiplier of 2^(bits-2)
    or more cannot be expressed with S >= 1 and is refused.
    """
    if not real > 0 or not math.isfinite(real):
        raise Ml2scError(f"int8: cannot requantize with multiplier {real!r}")
    frac, exp = math.frexp(real)  # real = frac * 2^exp, frac in [0.5, 1)
    shift = bits - exp
    if shift < 1:
        raise Ml2scError(f"int8: requantization multiplier {real:.3g} is too large (output scale too small)")
    shift = min(shift, 127)
    m = round_half_up(real * 2.0**shift)
    if m >= 2**bits:  # frac rounded up to 1.0
        m, shift = m // 2, shift - 1
    return m, shift


def input_multiplier(scale: float) -> tuple[int, int]:
    """(A, S) turning an SD59x18 integer into units of ``scale``: A / 2^S ~= 1 / (10^18 scale)."""
    return multiplier_shift(1.0 / (1e18 * scale), bits=64)


# ----------------------------------------------------------------- kernels


def quantize_input(x: int, a: int, s: int, q: QuantType) -> int:
    """SD59x18 x -> q: saturate to +-2^127, q = ((x * A + 2^(S-1)) >> S) + z, clamp."""
    x = clamp(x, -INPUT_SATURATION, INPUT_SATURATION)
    lo, hi = type_range(q)
    return clamp(((x * a + (1 << (s - 1))) >> s) + q.zero_point, lo, hi)


def input_quantizers(multiplier: int, shift: int, q: QuantType, params: tuple[int, ...] | None,
                     n: int) -> list[tuple[int, int, QuantType]]:
    """(A_i, S_i, type_i) for each of the ``n`` inputs of a ``quantize`` op: the op's one
    multiplier, shift and type for every input, or row i of its per-feature ``params``
    (type_i: 8 bits, zero point z_i; its scale, folded into the weights, is not needed here)."""
    if params is None:
        return [(multiplier, shift, q)] * n
    if 3 * n != len(params):
        raise Ml2scError(f"int8: a row of {n} inputs for a model that takes {len(params) // 3}")
    return [(params[3 * i], params[3 * i + 1], QuantType(8, 1.0, params[3 * i + 2])) for i in range(n)]


def input_thresholds(a: int, s: int, q: QuantType) -> tuple[int, int]:
    """(v_lo, v_hi): quantize_input gives the type's minimum for x <= v_lo and its maximum for x >= v_hi.

    The formula is nondecreasing in x, so a contract can test these two bounds instead of
    saturating and clamping; both lie well inside +-2^127 (checked), where saturation is moot.
    """
    lo, hi = type_range(q)
    r = 1 << (s - 1)
    v_lo = -((-((lo - q.zero_point + 1) * 2**s - r)) // a) - 1  # ceil(...) - 1
    v_hi = -((-((hi - q.zero_point) * 2**s - r)) // a)
    if not -INPUT_SATURATION < v_lo < v_hi < INPUT_SATURATION:
        raise Ml2scError(f"int8: input scale {q.scale!r} is too extreme to quantize SD59x18 inputs")
    return v_lo, v_hi


def requantize(acc: int, m: int, s: int, z: int, qmin: int, qmax: int) -> int:
    """y = clamp(((acc * M + 2^(S-1)) >> S) + z, qmin, qmax)."""
    return clamp(((acc * m + (1 << (s - 1))) >> s) + z, qmin, qmax)


def leaky_multiplier(alpha: float) -> int:
    return round_half_up(alpha * 2**LEAKY_SHIFT)


def leaky_relu(q: int, z: int, a: int, lo: int, hi: int) -> int:
    """q if q >= z else z + (((q - z) * A + 2^15) >> 16), clamped to the type."""
    if q >= z:
        return q
    return clamp(z + (((q - z) * a + (1 << (LEAKY_SHIFT - 1))) >> LEAKY_SHIFT), lo, hi)


def clip_bounds(lo_real: float, hi_real: float, q: QuantType) -> tuple[int, int]:
    """Integer bounds of clip(min, max) on a quantized value (infinite bounds: the type's)."""
    lo, hi = type_range(q)
    qlo = lo if lo_real == -math.inf else clamp(round_half_up(lo_real / q.scale) + q.zero_point, lo, hi)
    qhi = hi if hi_real == math.inf else clamp(round_half_up(hi_real / q.scale) + q.zero_point, lo, hi)
    return qlo, qhi


def softmax(q: list[int], exp_hi: tuple[int, ...], exp_lo: tuple[int, ...]) -> list[int]:
    """d = max - q_i; e = (hi[d >> 8] * lo[d & 255]) >> 16; y = (e << 16) // sum(e)."""
    m = max(q)
    e = [(exp_hi[(m - v) >> 8] * exp_lo[(m - v) & 255]) >> SOFTMAX_BITS for v in q]
    total = sum(e)
    return [(v << SOFTMAX_BITS) // total for v in e]


def argmax(q: list[int]) -> int:
    return max(range(len(q)), key=lambda i: (q[i], -i))


# ----------------------------------------------------------------- tables


def function_table(f: Callable[[float], float], q_in: QuantType, q_out: QuantType) -> tuple[int, ...]:
    """table[k] = quantized f(real value of integer k + qmin_in), for the 256 integers of q_in."""
    lo_in, _ = type_range(q_in)
    lo, hi = type_range(q_out)
    return tuple(
        clamp(round_half_up(f(q_in.scale * (k + lo_in - q_in.zero_point)) / q_out.scale) + q_out.zero_point, lo, hi)
        for k in range(256)
    )


def exp_tables(scale: float) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(exp_hi, exp_lo): 2^16 exp(-256 s k) and 2^16 exp(-s k) for k = 0..255, rounded.

    exp_lo is at least 1, so every stored table entry lies in [1, 2^16] and fits two bytes as
    entry - 1 (exp_hi is cut at its first 0, since e is 0 from there on anyway)."""
    unit = 2**SOFTMAX_BITS
    hi = tuple(round_half_up(unit * math.exp(-256 * scale * k)) for k in range(256))
    lo = tuple(max(1, round_half_up(unit * math.exp(-scale * k))) for k in range(256))
    return hi, lo
