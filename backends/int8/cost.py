"""Cost features of an int8 contract (SWAR kernels, weights inline or in data contracts).

``ml2sc estimate --backend int8`` multiplies these counts by the coefficients that
``bench/fit_gas_model.py --backend int8`` fits into ``gas_model.json`` next to this
file. The unit of work is a SWAR word: one 256-bit word holds ``lanes`` int8 weights
of one input for a group of outputs, and costs one MLOAD/MUL/ADD at inference. Small
models keep their words as PUSH32 immediates (inline, ~39 code bytes a word); larger
ones put them in data contracts (32 bytes a word, copied with EXTCODECOPY), which is
decided by the place-weights pass (``int8.weights``), which the emitter reads too. Lookup tables
(sigmoid, tanh, softmax's exp) and the per-output requantization are counted too.
"""

from __future__ import annotations

from typing import Any

from ml2sc.backends.int8.emitter import CHUNK_TERMS, exp_table
from ml2sc.backends.int8.place_weights import weights_inline
from ml2sc.backends.int8.swar import init_word, pack_group, prove_lanes
from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Module

DATA_CONTRACT_BYTES = 24_576  # EIP-170: a data contract holds at most this
# Also fitted (bench/fit_gas_model.py): small models with their weights forced into data contracts,
# so that the data-contract terms are not learnt from the few large models alone.
FIT_VARIANTS = ("canonicalize,fold-batchnorm,fuse-affine,quantize-int8,place-weights{weights=data}",)

TERMS: dict[str, tuple[str, ...]] = {
    "deploy": (
        "contract", "inputs", "outputs", "inline_layers", "neurons", "groups", "inline_words", "inline_word_bytes",
        "init_bytes", "requant_bytes", "clamps", "table_words", "table_push_bytes", "data_words", "data_layers", "data_contracts", "data_bytes", "luts", "lut_elements", "softmax", "softmax_ops",
        "elementwise", "argmax", "label_classes",
    ),
    "inference_exec": (
        "contract", "inputs", "outputs", "gemms", "neurons", "groups", "inline_words", "data_words",
        "data_contracts", "chunks", "clamps", "luts", "lut_elements", "softmax", "softmax_ops", "elementwise",
        "argmax", "label_classes",
    ),
    "batch_extra": ("contract", "batch_rows", "batch_output_words", "batch_rows_data", "batch_inputs",
                    "batch_memory_gas"),
}


def pack_row(backend: Any, module: Module, row: list[int]) -> bytes:
    """The ``predictPacked(bytes)`` argument of a row, from the IR (the backend's own
    ``pack_row`` needs the module it last emitted; the estimate emits nothing)."""
    return bytes(v & 0xFF for v in backend.int8_row(row, module))


def _inline_words(module: Module, op: ops.QGemm, f: dict[str, float]) -> None:
    """Non-zero SWAR words of an inline qgemm and the bytes of their immediates."""
    rows = module.constant(op.weight).rows()
    plan = prove_lanes(rows, -128, 127, op.lanes, "cost")
    for group in plan.groups(len(rows)):
        words = [w for w in pack_group(rows, group, plan) if w]
        f["inline_words"] += len(words)
        f["inline_word_bytes"] += sum(_push_bytes(w) for w in words)
        f["init_bytes"] += _push_bytes(init_word(group, plan))


def _requant(module: Module, op: ops.QGemm, f: dict[str, float]) -> None:
    """Per output: the immediates of y = sar(S, v * M + C) and its clamps (as ``_requant_lane``)."""
    rq = next(u for u in module.users(op.result) if isinstance(u, ops.Requantize))
    rows = module.constant(op.weight).rows()
    plan = prove_lanes(rows, -128, 127, op.lanes, "cost")
    bias = module.constant(op.bias).values
    mult, shift = module.constant(rq.multiplier).values, module.constant(rq.shift).values
    z = rq.result.type.element.zero_point  # type: ignore[union-attr]
    for group in plan.groups(len(rows)):
        for lane, j in enumerate(group):
            m, sh = int(mult[j]), int(shift[j])
            c = (int(bias[j]) + plan.smin[j]) * m + (1 << (sh - 1)) + z * (1 << sh)
            f["requant_bytes"] += _nbytes(m) + _nbytes(c) + (_nbytes(plan.mask) if lane < len(group) - 1 else 0)
            y_lo, y_hi = c >> sh, ((plan.smax[j] - plan.smin[j]) * m + c) >> sh
            f["clamps"] += (y_lo < rq.qmin) + (y_hi > rq.qmax)


def _table(module: Module, op: ops.TableLookup | ops.QSoftmax) -> bytes:
    """The lookup table the emitter brings to memory (``_lut`` / ``_softmax``)."""
    if isinstance(op, ops.TableLookup):
        return bytes(v & 0xFF for v in module.constant(op.table).values)
    hi, lo = module.constant(op.exp_hi).values, module.constant(op.exp_lo).values
    k_hi = next((k for k, v in enumerate(hi) if v == 0), len(hi))
    return exp_table(lo, hi[:k_hi])


def _push_bytes(word: int) -> int:
    """Code bytes of a 256-bit constant: solc's optimizer writes a word whose top bytes are
    0xff (a negative top lane) as its complement and a NOT."""
    return min(_nbytes(word), _nbytes(word ^ (2**256 - 1)) + 1)


def _nbytes(v: int) -> int:
    return (abs(v).bit_length() + 7) // 8


def cost_features(module: Module, batch_rows: int = 50) -> dict[str, float]:
    """Counts of SWAR words, groups, outputs, tables and contracts of the int8 contract."""
    if module.attribute("int8.layout") == "dense":
        raise Ml2scError("ml2sc estimate --fitted: the int8 gas model is fitted on the SWAR layout; the dense layout "
                         "has no fitted model (drop --fitted: the counted estimate prices every layout)")
    names = {t for terms in TERMS.values() for t in terms}
    f: dict[str, float] = dict.fromkeys(names | {"macs"}, 0.0)
    inline = weights_inline(module)
    f["contract"] = 1
    f["inputs"] = module.inputs[0].type.size
    f["outputs"] = sum(max(o.value.type.size, 1) for o in module.outputs)
    table_bytes = 0
    for op in module.ops:
        if isinstance(op, ops.QGemm):
            n_out, n_in = module.constant(op.weight).type.shape
            groups = -(-n_out // op.lanes)
            f["gemms"] += 1
            f["macs"] += n_out * n_in  # reported by the fit script, not a term
            f["neurons"] += n_out
            f["groups"] += groups
            f["chunks"] += groups * -(-n_in // CHUNK_TERMS)
            _requant(module, op, f)
            if inline:
                _inline_words(module, op, f)
            else:
                f["data_words"] += n_in * groups
            f["data_layers"] += not inline
            f["inline_layers"] += inline
        elif isinstance(op, ops.TableLookup | ops.QSoftmax):
            table = _table(module, op)
            table_bytes += len(table)
            if inline:  # stored from immediates, a word at a time
                words = [int.from_bytes(table[k : k + 32].ljust(32, b"\0"), "big") for k in range(0, len(table), 32)]
                f["table_words"] += len(words)
                f["table_push_bytes"] += sum(_push_bytes(w) for w in words)
            lut = isinstance(op, ops.TableLookup)
            f["luts" if lut else "softmax_ops"] += 1
            f["lut_elements" if lut else "softmax"] += op.result.type.size
        elif isinstance(op, ops.Relu | ops.LeakyRelu | ops.Clip):
            f["elementwise"] += op.result.type.size
        elif isinstance(op, ops.ArgMax):
            f["argmax"] += op.input.type.size
        elif isinstance(op, ops.LabelMap):
            f["label_classes"] += module.constant(op.classes).type.size
    if not inline:
        f["data_bytes"] = 32 * f["data_words"] + table_bytes
        f["data_contracts"] = -(-f["data_bytes"] // DATA_CONTRACT_BYTES)
    f["batch_rows"] = batch_rows
    f["batch_output_words"] = batch_rows * f["outputs"]
    f["batch_rows_data"] = batch_rows * f["data_contracts"]  # warm EXTCODECOPY after the first row
    f["batch_inputs"] = batch_rows * f["inputs"]
    words = batch_rows * f["outputs"]  # the result buffer grows with the rows
    f["batch_memory_gas"] = 3 * words + words * words // 512
    return f
