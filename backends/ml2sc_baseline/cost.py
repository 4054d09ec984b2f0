"""Cost features of an ml2sc-baseline contract (ML2SC's style), counted on the IR.

``ml2sc estimate --backend ml2sc-baseline`` multiplies these counts by the
coefficients that ``bench/fit_gas_model.py --backend ml2sc-baseline`` fits and
writes to ``gas_model.json`` next to this file. The terms follow ML2SC's own
cost model: the code is loops, so deployment depends on which layers and
activation kinds exist, not on the weights; the upload pays a fresh storage
word per non-zero parameter (22,100 gas), per neuron row and per transaction,
plus its calldata (computed exactly here from the values); an inference reads
every weight from storage (cold: 2,100 gas each) and makes a PRBMath call per
multiply and add, and one ``exp`` per sigmoid/tanh/softmax element.
"""

from __future__ import annotations

from ml2sc.backends.ml2sc_baseline.backend import UPLOAD_CHUNK
from ml2sc.backends.ml2sc_baseline.emitter import gemm_layers
from ml2sc.ir import ops
from ml2sc.ir.module import Module

FUSABLE = {ops.Relu: "relu", ops.Sigmoid: "sigmoid", ops.Tanh: "tanh"}

TERMS: dict[str, tuple[str, ...]] = {
    "deploy": (
        "contract", "gemms", "outputs", "has_relu", "has_sigmoid", "has_tanh", "has_softmax",
        "activation_ops", "fused_ops", "label_argmax",
    ),
    "upload": (
        "upload_transactions", "parameters", "nonzero_parameters", "neurons", "gemms",
        "upload_calldata_gas",
    ),
    "inference_exec": (
        "contract", "inputs", "macs", "neurons", "gemms", "fused_relu", "fused_sigmoid", "fused_tanh",
        "relu", "sigmoid", "tanh", "softmax", "softmax_ops", "outputs",
    ),
}


def _word_gas(v: int) -> int:
    """Calldata gas of one int256 ABI word (two's complement): 4 per zero byte, 16 otherwise."""
    data = (v % 2**256).to_bytes(32, "big")
    zeros = data.count(0)
    return 4 * zeros + 16 * (32 - zeros)


def cost_features(module: Module, batch_rows: int = 50) -> dict[str, float]:
    """Counts of layers, neurons, parameters and activations (``batch_rows``: no predictBatch here)."""
    names = {t for terms in TERMS.values() for t in terms}
    f: dict[str, float] = dict.fromkeys(names, 0.0)
    f["contract"] = 1
    f["inputs"] = module.inputs[0].type.size
    f["outputs"] = sum(o.value.type.size for o in module.outputs)
    for op, layer in gemm_layers(module):
        weights = module.constant(op.weight).values
        biases = module.constant(op.bias).values if op.bias else (0,) * layer.n_out
        f["gemms"] += 1
        f["macs"] += layer.n_out * layer.n_in
        f["neurons"] += layer.n_out
        f["parameters"] += len(weights) + len(biases)
        f["nonzero_parameters"] += sum(1 for v in (*weights, *biases) if v)
        f["upload_transactions"] += -(-len(weights) // UPLOAD_CHUNK) + -(-len(biases) // UPLOAD_CHUNK)
        f["upload_calldata_gas"] += sum(_word_gas(int(v)) for v in (*weights, *biases))
        if op.tag("fuse"):  # the activation ML2SC's neuron loop applies (fuse-activation's tag)
            f[f"fused_{op.tag('fuse')}"] += layer.n_out
            f["fused_ops"] += 1
    f["upload_transactions"] += 1  # finalize()
    for op in module.ops:
        if type(op) in FUSABLE:
            f[FUSABLE[type(op)]] += op.result.type.size
            f["activation_ops"] += 1
        if isinstance(op, ops.Softmax):
            f["softmax"] += op.result.type.size
            f["softmax_ops"] += 1
    for kind, name in FUSABLE.items():
        f[f"has_{name}"] = float(any(isinstance(op, kind) or op.tag("fuse") == name for op in module.ops))
    f["has_softmax"] = float(f["softmax_ops"] > 0)
    f["label_argmax"] = float(module.outputs[0].value.type.size > 1)
    return f
