"""Calibration: from sample activations to a quantized type (scale and zero point).

Per-tensor asymmetric quantization, the range always containing 0 (so that 0,
relu's floor and padding are exact). Three ways to pick the range from the
observed values:

- ``minmax``: the smallest and largest value seen (nothing clips on the samples);
- ``percentile``: the ``p``-th and ``(100 - p)``-th percentiles (outliers clip);
- ``mse``: of the min/max range shrunk by factors 1, 0.95, ..., 0.3, the one whose
  quantize-dequantize round trip has the least mean squared error on the samples.
"""

from __future__ import annotations

import numpy as np

from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.types import QuantType

METHODS = ("minmax", "percentile", "mse")


def _fake_quant(v: np.ndarray, lo: float, hi: float, bits: int) -> np.ndarray:
    q = quant_type(lo, hi, bits)
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    ints = np.clip(np.round(v / q.scale) + q.zero_point, qmin, qmax)
    return (ints - q.zero_point) * q.scale


def value_range(values: np.ndarray, method: str, percentile: float = 99.99, bits: int = 8) -> tuple[float, float]:
    """The real range [lo, hi] to represent, chosen from the calibration samples by ``method``."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise Ml2scError("int8: no calibration samples for a quantization range (pass at least one calibration row)")
    if not np.all(np.isfinite(v)):
        # the rows themselves are checked finite and within 2^127/1e18 (compiler/data.py), so the
        # float model overflows on them: no range can describe an infinite value
        bad = int(np.count_nonzero(~np.isfinite(v)))
        raise Ml2scError(f"int8: the float model overflows to inf/NaN on the calibration rows ({bad} of the "
                         f"{v.size} values of a layer's output); its weights are too large to quantize")
    if method == "minmax":
        return float(v.min()), float(v.max())
    if method == "percentile":
        if not 50 < percentile <= 100:
            raise Ml2scError(f"int8: percentile={percentile} must lie in (50, 100]")
        return float(np.percentile(v, 100 - percentile)), float(np.percentile(v, percentile))
    if method == "mse":
        lo, hi = min(float(v.min()), 0.0), max(float(v.max()), 0.0)
        candidates = [(lo * f, hi * f) for f in np.linspace(1.0, 0.3, 15)]
        errors = [float(np.mean((_fake_quant(v, a, b, bits) - v) ** 2)) for a, b in candidates]
        return candidates[int(np.argmin(errors))]
    raise Ml2scError(f"int8: unknown calibration method '{method}'; available: {', '.join(METHODS)}")


def quant_type(lo: float, hi: float, bits: int = 8) -> QuantType:
    """Signed ``bits``-bit type covering [min(lo, 0), max(hi, 0)]: scale = range / (2^bits - 1)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo < 1e-6:
        # A value that stays 0 on the calibration rows (e.g. a dead relu): any scale holds 0
        # exactly, but a tiny one would blow up the next layer's bias; take a unit range.
        hi = lo + 1.0
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    scale = (hi - lo) / (qmax - qmin)
    zero_point = int(np.clip(np.round(qmin - lo / scale), qmin, qmax))
    return QuantType(bits, float(scale), zero_point)
