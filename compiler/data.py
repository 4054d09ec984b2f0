"""Input rows from the user: read a data file, check it against the compiled model.

Every check here raises a one-line ``Ml2scError`` naming the file (or "input rows"),
the row and column, and what was expected; all of them run before anything is
deployed or sent. ``read_array`` knows file formats (.npy, .npz, .csv); ``check_rows``
knows the model's width; ``check_range`` knows the contract's input range.
"""

from __future__ import annotations

import csv
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from ml2sc.ir.errors import Ml2scError

FORMATS = (".npy", ".npz", ".csv")
_READ_ERRORS = (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error, UnicodeDecodeError)


def describe(path: str | os.PathLike[str], what: str = "data") -> str:
    """How messages name a file: ``data file 'x.npy'``."""
    return f"{what} file '{os.fspath(path)}'"


def read_array(path: str | os.PathLike[str], what: str = "data") -> np.ndarray:
    """The numeric array in a .npy, .npz (exactly one array) or .csv file (an optional header line)."""
    p, name = Path(path), describe(path, what)
    if not p.is_file():
        raise Ml2scError(f"{name} not found")
    if p.suffix.lower() == ".csv":
        return _read_csv(p, name)
    try:
        loaded = np.load(p, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                keys = list(loaded.keys())
                if len(keys) != 1:
                    raise Ml2scError(f"{name} is an .npz archive of {len(keys)} arrays {keys}; expected exactly one")
                x = loaded[keys[0]]
        else:
            x = loaded
    except Ml2scError:
        raise
    except _READ_ERRORS as e:
        why = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "object arrays" in why.lower():
            why = "it holds Python objects (dtype object), not numbers"
        elif "pickle" in why.lower():
            why = "not a NumPy .npy/.npz file (no NumPy header)"
        raise Ml2scError(f"cannot read {name} ({', '.join(FORMATS)}): {why}") from None
    return _numeric(x, name)


def _read_csv(p: Path, name: str) -> np.ndarray:
    try:
        lines = [row for row in csv.reader(p.read_text().splitlines()) if row and any(c.strip() for c in row)]
    except (UnicodeDecodeError, csv.Error, OSError) as e:
        raise Ml2scError(f"cannot read {name} as CSV: {e}") from None
    if lines and not any(_is_number(c) for c in lines[0]):
        lines = lines[1:]  # a header line of column names
    if not lines:
        raise Ml2scError(f"{name} has no rows")
    width = len(lines[0])
    for r, row in enumerate(lines):
        if len(row) != width:
            raise Ml2scError(f"{name} row {r} has {len(row)} columns, row 0 has {width}")
        for c, cell in enumerate(row):
            if not _is_number(cell):
                raise Ml2scError(f"{name} row {r}, column {c} is '{cell.strip()}': expected a number")
    return np.asarray([[float(c) for c in row] for row in lines], dtype=np.float64)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _numeric(x: np.ndarray, name: str) -> np.ndarray:
    if x.dtype.kind not in "biuf":
        kind = {"U": "strings", "S": "bytes", "O": "Python objects", "c": "complex numbers"}.get(x.dtype.kind, "non-numbers")
        raise Ml2scError(f"{name} holds {kind} (dtype {x.dtype}); expected real numbers")
    return x


def check_rows(x: Any, n_inputs: int | None, source: str = "input rows",
               row_shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Rows of ``n_inputs`` (None: any equal number of) finite float32 values, as a 2-D array;
    ``source`` names them in errors. One row may come as a vector; rows of the model's own
    per-row shape (``row_shape``, e.g. C×H×W) are flattened."""
    x = np.asarray(x)
    want = f"(rows, {n_inputs})" if n_inputs is not None else "(rows, features)"
    if x.dtype.kind not in "biuf":
        x = _numeric(x, source)
    if x.ndim == 0:
        raise Ml2scError(f"{source} is a single number; expected shape {want}")
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim > 2 and row_shape is not None and tuple(x.shape[1:]) == tuple(row_shape):
        x = x.reshape(len(x), -1)
    if x.ndim != 2:
        raise Ml2scError(f"{source} has shape {x.shape} (rank {x.ndim}); expected {want}")
    if len(x) == 0:
        raise Ml2scError(f"{source} has no rows (shape {x.shape})")
    if n_inputs is not None and x.shape[1] != n_inputs:
        raise Ml2scError(f"{source} has {x.shape[1]} features per row, the model takes {n_inputs} (shape {x.shape})")
    _check_finite(x, source)
    with np.errstate(over="ignore"):
        x32 = x.astype(np.float32)
    _check_finite(x32, source, x, "does not fit in float32")
    return x32


def _check_finite(x: np.ndarray, source: str, original: np.ndarray | None = None, why: str = "") -> None:
    if x.dtype.kind != "f":
        return
    bad = np.argwhere(~np.isfinite(x))
    if len(bad):
        r, c = (int(i) for i in bad[0])
        value = (x if original is None else original)[r, c]
        what = why or "expected a finite number"
        more = f" ({len(bad)} such values)" if len(bad) > 1 else ""
        raise Ml2scError(f"{source} row {r}, column {c} is {value}: {what}{more}")


CALIBRATION_LIMIT = 2.0**127 / 1e18  # |x| from which the int8 contract saturates SD59x18 inputs (2^127)
OUTLIER_RATIO = 1e3  # a value this many typical deviations from its column's median is named as an outlier


def calibration_source(data: Any, what: str = "calibration") -> str:
    """How messages name calibration rows: the file (``calibration file 'x.npy'``) or ``calibration rows``."""
    return describe(data, what) if isinstance(data, str | os.PathLike) else f"{what} rows"


def check_calibration_range(x: np.ndarray, source: str = "calibration rows") -> np.ndarray:
    """Calibration rows inside the contract's input range |x| < 2^127/1e18 (about 1.7e20).

    The int8 contract saturates larger inputs before quantizing them, so such a value would
    describe an input the contract never sees; and it stretches a quantization range so far
    that the quantizer fails pages later ("requantization multiplier too large"), far from
    the cause. Refused here in one line naming the row and column."""
    with np.errstate(invalid="ignore"):
        bad = np.argwhere(np.abs(np.asarray(x, dtype=np.float64)) >= CALIBRATION_LIMIT)
    if len(bad):
        r, c = (int(i) for i in bad[0])
        more = f" ({len(bad)} such values)" if len(bad) > 1 else ""
        raise Ml2scError(f"{source} row {r}, column {c} is {float(x[r, c]):g}: calibration rows must lie in the "
                         f"contract's input range |x| < 2^127/1e18 = {CALIBRATION_LIMIT:.3g} (it saturates larger "
                         f"inputs){more}")
    return x


def outlier(x: np.ndarray) -> tuple[int, int, float, float] | None:
    """The value farthest from its column's median, in the column's typical deviations (the
    median absolute deviation, or of the nonzero deviations when most values are equal), as
    (row, column, value, ratio); None when no value lies OUTLIER_RATIO deviations out."""
    v = np.asarray(x, dtype=np.float64)
    if v.ndim != 2 or not len(v):
        return None
    dev = np.abs(v - np.median(v, axis=0))
    best: tuple[int, int, float, float] | None = None
    for c in range(v.shape[1]):
        nonzero = dev[:, c][dev[:, c] > 0]
        if not len(nonzero):
            continue
        typical = float(np.median(dev[:, c])) or float(np.median(nonzero))
        r = int(np.argmax(dev[:, c]))
        ratio = float(dev[r, c]) / typical
        if ratio >= OUTLIER_RATIO and (best is None or ratio > best[3]):
            best = (r, c, float(v[r, c]), ratio)
    return best


def with_outlier_hint(error: Ml2scError, x: np.ndarray, source: str = "calibration rows") -> Ml2scError:
    """``error`` (a quantization that failed or lost accuracy on calibration rows ``x``), with the
    rows' worst outlier named on the same line when there is one: a single extreme value sets
    a quantization range and is the usual cause, but the quantizer's message cannot say where."""
    found = outlier(x)
    if found is None:
        return error
    r, c, value, ratio = found
    return Ml2scError(f"{error}; likely cause: {source} row {r}, column {c} is {value:g}, {ratio:.2g} times its "
                      "column's typical deviation from the median (an outlier: drop or clip it)")


def check_range(rows: list[list[int]], x: np.ndarray, bits: int | None, decimals: int, source: str = "input rows") -> None:
    """The contract's input range: each fixed-point value v in [-2^bits, 2^bits) (prbmath's
    ``InputOutOfRange``); ``bits`` None: any int256 (e.g. int8, which quantizes on chain)."""
    bits = 255 if bits is None else bits
    lo, hi = -(2**bits), 2**bits
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            if not lo <= v < hi:
                limit = 2**bits / 10**decimals
                raise Ml2scError(f"{source} row {r}, column {c} is {float(x[r, c]):g}: outside the contract's input "
                                 f"range |x| < 2^{bits}/1e{decimals} = {limit:.6g} (the contract would revert"
                                 f"{' InputOutOfRange' if bits < 255 else ''})")


def onnx_row_shape(onnx_model: Any) -> tuple[int, ...] | None:
    """The first graph input's static per-row shape (dims after the batch dim), or None."""
    try:
        dims = onnx_model.graph.input[0].type.tensor_type.shape.dim
    except (AttributeError, IndexError):
        return None
    shape = tuple(d.dim_value for d in dims[1:])
    return shape if shape and all(shape) else None
