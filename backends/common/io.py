"""How a contract's inputs and outputs meet Python: SD59x18 input rows and output slots."""

from __future__ import annotations

import numpy as np

from ml2sc.backends.base import OutputSlot
from ml2sc.backends.common.fixed import to_fixed
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Module
from ml2sc.ir.types import FixedType, QuantType


def sd59x18_rows(x: np.ndarray) -> list[list[int]]:
    """Float rows -> SD59x18 integers: what ``predict(int256[])`` takes on every built-in backend
    (int8 quantizes them on chain)."""
    return fixed_rows(x, 18)


def fixed_rows(x: np.ndarray, decimals: int) -> list[list[int]]:
    """Float rows -> decimal fixed point: each value's exact float32 times 10^decimals, rounded
    half to even; NaN or infinity is refused naming its row and column."""
    rows = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
    bad = np.argwhere(~np.isfinite(rows))
    if len(bad):
        r, c = bad[0]
        raise Ml2scError(f"input row {r}, column {c} is {rows[r, c]}: only finite numbers can be sent to the contract")
    return [[to_fixed(float(v), decimals) for v in row] for row in rows]


def output_slots(module: Module) -> tuple[OutputSlot, ...]:
    """Where each output sits in the flat ``int256[]`` result, and how to read it back.

    Read from the output's element type: ``fixed<d>`` has d decimals, ``qi8<s, z>`` is
    real = s (q - z), an integer type is a class index or label.
    """
    slots, offset = [], 0
    for o in module.outputs:
        size = max(o.value.type.size, 1)
        el = o.value.type.element
        decimals = el.decimals if isinstance(el, FixedType) else None
        scale, zp = (el.scale, el.zero_point) if isinstance(el, QuantType) else (None, 0)
        slots.append(OutputSlot(o.name, offset, size, o.value.type.shape, decimals, scale, zp))
        offset += size
    return tuple(slots)
