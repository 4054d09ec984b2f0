"""Cost features of an int8 contract (SWAR kernels, weights inline or in data contracts).

``ml2sc estimate --backend int8`` multiplies these counts by the coefficients that
``bench/fit_gas_model.py --backend int8`` fits into ``gas_model.json`` next to this
file. The unit of work is a SWAR word: one 256-bit word holds ``lanes`` int8 weights
of one input for a group of outputs, and costs one MLOAD/MUL/ADD at inference. Small
models keep their words as PUSH32 immediates (inline, ~39 code bytes a word); larger
ones put them in data contracts (32 bytes a word, copied with EXTCODECOPY), which is
decided here by the emitter's own rule so the right terms apply. Lookup tables
(sigmoid, tanh, softmax's exp) and the per-output requantization are counted too.
"""

from __future__ import annotations

from ml2sc.backends.int8.emitter import CHUNK_TERMS, INLINE_BYTES
from ml2sc.ir import ops
from ml2sc.ir.module import Module

DATA_CONTRACT_BYTES = 24_576  # EIP-170: a data contract holds at most this
# Also fitted (bench/fit_gas_model.py): small models with their weights forced into data contracts,
# so that the data-contract terms are not learnt from the few large models alone.
FIT_VARIANTS = ("canonicalize,fold-batchnorm,fuse-affine,quantize-int8{weights=data}",)

TERMS: dict[str, tuple[str, ...]] = {
    "deploy": (
        "contract", "inputs", "outputs", "gemms", "neurons", "groups", "inline_words", "data_words",
        "data_layers", "data_contracts", "data_bytes", "luts", "lut_elements", "softmax", "softmax_ops",
        "elementwise", "argmax", "label_classes",
    ),
    "inference_exec": (
        "contract", "inputs", "outputs", "gemms", "neurons", "groups", "inline_words", "data_words",
        "data_contracts", "chunks", "luts", "lut_elements", "softmax", "softmax_ops", "elementwise",
        "argmax", "label_classes",
    ),
    "batch_extra": ("contract", "batch_rows", "batch_output_words", "batch_rows_data"),
}


def _inline(module: Module) -> bool:
    """The emitter's rule (``_Emitter._inline_weights``): immediates while they stay small."""
    mode = module.attribute("int8.weights", "auto")
    if mode != "auto":
        return mode == "inline"
    size = 0
    for op in module.ops:
        if isinstance(op, ops.QGemm):
            n_out, n_in = module.constant(op.weight).type.shape
            size += 39 * n_in * -(-n_out // op.lanes)
        elif isinstance(op, ops.TableLookup | ops.QSoftmax):
            size += 36 * (8 if isinstance(op, ops.TableLookup) else 64)
    return size <= INLINE_BYTES


def cost_features(module: Module, batch_rows: int = 50) -> dict[str, float]:
    """Counts of SWAR words, groups, outputs, tables and contracts of the int8 contract."""
    names = {t for terms in TERMS.values() for t in terms}
    f: dict[str, float] = dict.fromkeys(names, 0.0)
    inline = _inline(module)
    f["contract"] = 1
    f["inputs"] = module.inputs[0].type.size
    f["outputs"] = sum(max(o.value.type.size, 1) for o in module.outputs)
    table_bytes = 0
    for op in module.ops:
        if isinstance(op, ops.QGemm):
            n_out, n_in = module.constant(op.weight).type.shape
            groups = -(-n_out // op.lanes)
            f["gemms"] += 1
            f["neurons"] += n_out
            f["groups"] += groups
            f["chunks"] += groups * -(-n_in // CHUNK_TERMS)
            f["inline_words" if inline else "data_words"] += n_in * groups
            f["data_layers"] += not inline
        elif isinstance(op, ops.TableLookup):
            f["luts"] += 1
            f["lut_elements"] += op.result.type.size
            table_bytes += 256
        elif isinstance(op, ops.QSoftmax):
            f["softmax_ops"] += 1
            f["softmax"] += op.result.type.size
            table_bytes += 2048
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
    return f
