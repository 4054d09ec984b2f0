"""Cost features of a prbmath contract, counted on the IR the emitter sees.

``ml2sc estimate`` multiplies these counts by coefficients fitted on measured
runs (``bench/fit_gas_model.py --backend prbmath`` writes ``gas_model.json`` next
to this file). Each count follows what ``emitter.py`` writes for it, so that one
coefficient prices one kind of code: a multiply-accumulate is ``PUSHn K, DUP x,
MUL, ADD`` (4 bytes + the immediate, ~14 gas), an input tile loads its inputs onto
the stack, each (tile, output) pair ends in an ``mstore`` of a partial sum or in the
output's one ``sdiv`` and bias, and every sigmoid/tanh/softmax element runs one
``FixedMath.expNeg`` (~3,900 gas). Deployment pays ~216 gas per code byte, so its
terms are the byte counts (immediates included); execution does not depend on the
width of a PUSH, so its terms are the operation counts.

The same form as ML2SC's cost model (deployment, upload, inference terms in
layers, neurons and weights), with finer terms because our code is unrolled.
"""

from __future__ import annotations

from ml2sc.backends.common.fixed import UNIT
from ml2sc.backends.prbmath.emitter import TILE
from ml2sc.backends.prbmath.layout import plan_layout
from ml2sc.backends.prbmath.weights import gemm_rows
from ml2sc.ir import ops
from ml2sc.ir.module import Module
from ml2sc.ir.types import IntType

EXP_OPS = (ops.Sigmoid, ops.Tanh, ops.Softmax)
EXP_TABLE_BYTES = 320  # FixedMath.expNeg copies its 288-byte table (plus length) above the free pointer

# Which features enter which fitted quantity (see compiler/estimate.py for the quantities).
TERMS: dict[str, tuple[str, ...]] = {
    "deploy": (
        "contract", "inputs", "outputs", "gemms", "tiles", "macs", "weight_bytes", "input_loads",
        "partial_sums", "neurons", "bias_bytes", "binary_divisors", "relu_fused",
        "relu", "leaky_relu", "hard_sigmoid", "clip", "affine", "sigmoid", "tanh", "softmax_ops",
        "has_exp", "has_sigmoid", "has_tanh", "has_softmax", "argmax_ops", "label_classes", "classify_argmax",
        "output_copies",
    ),
    "inference_exec": (
        "contract", "packed_words", "outputs", "gemms", "macs", "input_loads", "sum_groups",
        "partial_sums", "neg_groups", "neurons", "relu_fused", "relu", "leaky_relu", "hard_sigmoid",
        "clip", "affine", "sigmoid", "tanh", "softmax", "softmax_ops", "argmax", "label_classes",
        "output_copies", "memory_gas",
    ),
    # predictBatch of n rows costs n times one inference's execution plus these terms
    # (its loop, the per-row mcopy of the outputs, the growing result buffer, minus the
    # predictPacked entry each row no longer pays).
    "batch_extra": ("contract", "batch_rows", "batch_output_words", "batch_memory_gas"),
}


# Pipelines besides the default that bench/fit_gas_model.py also measures, so that their terms
# are fitted too: SD59x18 weights (an 8-byte immediate and a 1e18 divisor per neuron).
FIT_VARIANTS = ("canonicalize,fold-batchnorm,fuse-affine,quantize-fixed{decimals=18,exact_weights=false}",)


def memory_gas(words: int) -> int:
    """The EVM's memory expansion cost for ``words`` 32-byte words (yellow paper C_mem)."""
    return 3 * words + words * words // 512


def _nbytes(v: int) -> int:
    return (abs(v).bit_length() + 7) // 8


def _gemm_features(module: Module, op: ops.Gemm, f: dict[str, float]) -> None:
    rows = gemm_rows(module, op)
    n = op.input.type.size
    tiles = [range(t0, min(t0 + TILE, n)) for t0 in range(0, n, TILE)]
    f["gemms"] += 1
    f["tiles"] += len(tiles)
    f["input_loads"] += n
    f["neurons"] += len(rows)
    for ks, div in rows:
        nonzero = [k for k in ks if k]
        f["macs"] += len(nonzero)
        f["weight_bytes"] += sum(_nbytes(k) for k in nonzero)
        f["binary_divisors"] += div != UNIT
        groups = [[ks[i] for i in tile if ks[i]] for tile in tiles]
        groups = [g for g in groups if g]
        f["sum_groups"] += len(groups)
        f["partial_sums"] += max(len(groups) - 1, 0)
        f["neg_groups"] += sum(any(k < 0 for k in g) for g in groups)
    if op.bias:
        f["bias_bytes"] += sum(_nbytes(int(b)) for b in module.constant(op.bias).values if b)


def cost_features(module: Module, batch_rows: int = 50) -> dict[str, float]:
    """Counts of everything the prbmath emitter writes per model, layer, neuron and weight."""
    names = {t for terms in TERMS.values() for t in terms}
    f: dict[str, float] = dict.fromkeys(names, 0.0)
    n_in = module.inputs[0].type.size
    layout = plan_layout(module)
    f["contract"] = 1
    f["inputs"] = n_in
    f["packed_words"] = -(-n_in // 4)
    f["outputs"] = layout.n_outputs
    f["relu_fused"] = sum(op.result.type.size for op in module.ops if op.tag("fuse") == "relu")
    elementwise = {ops.Relu: "relu", ops.LeakyRelu: "leaky_relu", ops.HardSigmoid: "hard_sigmoid",
                   ops.Clip: "clip", ops.Affine: "affine", ops.Sigmoid: "sigmoid", ops.Tanh: "tanh",
                   ops.Softmax: "softmax", ops.ArgMax: "argmax"}
    for op in module.ops:
        if isinstance(op, ops.Gemm):
            _gemm_features(module, op, f)
        elif isinstance(op, ops.LabelMap):
            f["label_classes"] += module.constant(op.classes).type.size
        elif type(op) in elementwise:
            f[elementwise[type(op)]] += op.operands[0].type.size
    f["softmax_ops"] = sum(isinstance(op, ops.Softmax) for op in module.ops)
    f["argmax_ops"] = sum(isinstance(op, ops.ArgMax) for op in module.ops)
    for kind, name in ((ops.Sigmoid, "has_sigmoid"), (ops.Tanh, "has_tanh"), (ops.Softmax, "has_softmax")):
        f[name] = float(any(isinstance(op, kind) for op in module.ops))
    f["has_exp"] = float(any(isinstance(op, EXP_OPS) for op in module.ops))
    first = module.outputs[0].value
    has_label = any(isinstance(o.value.type.element, IntType) for o in module.outputs)
    f["classify_argmax"] = float(not has_label and max(first.type.size, 1) > 1)
    f["output_copies"] = sum(max(o.value.type.size, 1) for o in module.outputs[1:])
    # Memory: the values and the result buffer, plus expNeg's table above them.
    exp_bytes = EXP_TABLE_BYTES if any(isinstance(op, EXP_OPS) for op in module.ops) else 0
    f["memory_gas"] = memory_gas((layout.end + exp_bytes + 31) // 32)
    batch_end = layout.end + 64 + 32 * layout.n_outputs * batch_rows + exp_bytes
    f["batch_rows"] = batch_rows
    f["batch_output_words"] = batch_rows * layout.n_outputs
    f["batch_memory_gas"] = memory_gas((batch_end + 31) // 32) - batch_rows * f["memory_gas"]
    return f
