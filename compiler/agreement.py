"""How often a quantized compilation decides as the float model does, on calibration rows."""

from __future__ import annotations

import numpy as np

from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.reference import evaluate_all

MIN_AGREEMENT = 0.95  # compile/run refuse an int8 model below this (unless accept_loss)
MAX_ROWS = 2000  # rows simulated at most (the simulator is plain Python)


def decision(values: np.ndarray) -> np.ndarray:
    """Per row: a label as is; the argmax of several columns; one column: the side of 0.5."""
    v = np.asarray(values).reshape(len(values), -1)
    if v.dtype.kind in "iu" or v.shape[1] == 0:
        return v[:, 0] if v.shape[1] else v
    return (v[:, 0] >= 0.5).astype(np.int64) if v.shape[1] == 1 else v.argmax(axis=1)


def agreement(compiled: object, x: np.ndarray) -> float:
    """Share of rows on which the compiled model's simulator (bit-exact with the contract) and
    the float IR reference make the same decision on the first output."""
    rows = np.asarray(x, dtype=np.float64)[:MAX_ROWS]
    sim = compiled.simulate(rows)  # type: ignore[attr-defined]
    ref = evaluate_all(compiled.float_ir, rows)  # type: ignore[attr-defined]
    first = compiled.float_ir.outputs[0]  # type: ignore[attr-defined]
    got, want = decision(sim[first.name]), decision(ref[first.value.name])
    return float(np.mean(got == want)) if len(rows) else 1.0


def check_agreement(compiled: object, x: np.ndarray, accept_loss: bool = False,
                    threshold: float = MIN_AGREEMENT) -> float:
    """``agreement``, refused in one line below ``threshold`` unless ``accept_loss``."""
    value = agreement(compiled, x)
    if value < threshold and not accept_loss:
        raise Ml2scError(
            f"int8: the quantized model agrees with the float model on {value:.1%} of the calibration rows, "
            f"{threshold - value:.1%} below the {threshold:.0%} threshold; pass --accept-loss "
            "(accept_loss=True) to compile it anyway")
    return value
