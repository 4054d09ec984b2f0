"""Which ONNX ops the importer lowers: converters keyed by (domain, op type, since_version).

As in onnx2torch, a node is resolved through its schema: the model's opset for
the node's domain picks ``onnx.defs.get_schema(op, opset, domain)``, and that
schema's ``since_version`` (the opset at which the op's current definition
appeared) picks the converter. Every definition of an op reachable from the
supported opsets has an entry, so a converter implements exactly one
definition's semantics; versions whose semantics are the same share one
function (the per-version notes say what changed). A definition added by a
newer onnx release has no entry and is refused naming its version.
"""

from __future__ import annotations

from collections.abc import Callable

import onnx

from ml2sc.ir.errors import OnnxImportError
from ml2sc.ir.onnx import converters as c
from ml2sc.ir.onnx import ml_converters as ml
from ml2sc.ir.onnx import shape_converters as s
from ml2sc.ir.onnx.lowering import (
    DEFAULT_DOMAIN,
    ML_DOMAIN,
    Lowering,
    NodeView,
    Outputs,
    domain_label,
)

Converter = Callable[[Lowering, NodeView], Outputs]

MIN_OPSET = 9
MAX_OPSET = onnx.defs.onnx_opset_version()  # the newest the installed onnx knows
DEFAULT_OPSETS = range(MIN_OPSET, MAX_OPSET + 1)
ML_OPSETS = range(1, onnx.defs.C.schema_version_map()[ML_DOMAIN][1] + 1)


def _same(convert: Converter, *versions: int) -> dict[int, Converter]:
    return dict.fromkeys(versions, convert)


# since_version -> converter, per (domain, op). Reachable definitions from opset 9 on.
_DEFAULT: dict[str, dict[int, Converter]] = {
    # 7: numpy broadcasting (no 'broadcast'/'axis'); 13, 14: more types only.
    "Add": _same(c.convert_arithmetic, 7, 13, 14),
    "Sub": _same(c.convert_arithmetic, 7, 13, 14),
    "Mul": _same(c.convert_arithmetic, 7, 13, 14),
    "Div": _same(c.convert_arithmetic, 7, 13, 14),
    # 11: negative axis; 12: select_last_index; 13: bfloat16.
    "ArgMax": _same(c.convert_argmax, 1, 11, 12, 13),
    # 9: 'spatial' removed, statistics outputs optional; 14: training_mode; 15: types.
    "BatchNormalization": {9: c.convert_batch_norm_9, 14: c.convert_batch_norm_14, 15: c.convert_batch_norm_14},
    # 13+: bfloat16, 19: saturate (float8 only), 21-25, 28: narrow types.
    "Cast": _same(s.convert_cast, 9, 13, 19, 21, 23, 24, 25, 28),
    # 6: bounds as attributes (default -/+FLT_MAX); 11: optional inputs; 12, 13: types.
    "Clip": {6: c.convert_clip_6, 11: c.convert_clip_11, 12: c.convert_clip_11, 13: c.convert_clip_11},
    "Concat": _same(c.convert_concat, 4, 11, 13),
    "Constant": _same(s.convert_constant, 9, 11, 12, 13, 19, 21, 23, 24, 25),
    # 7: ratio attribute, mask output; 10: bool mask; 12: ratio/training_mode inputs; 13, 22: types.
    "Dropout": {7: s.convert_dropout_7, 10: s.convert_dropout_7, 12: s.convert_dropout_12,
                13: s.convert_dropout_12, 22: s.convert_dropout_12},
    # 11: negative axis; later: types.
    "Flatten": _same(s.convert_flatten, 9, 11, 13, 21, 23, 24, 25),
    # 9: C required; 11: C optional; 13: bfloat16.
    "Gemm": _same(c.convert_gemm, 9, 11, 13),
    "HardSigmoid": _same(c.convert_hard_sigmoid, 6, 22),
    "Identity": _same(s.convert_identity, 1, 13, 14, 16, 19, 21, 23, 24, 25),
    "LeakyRelu": _same(c.convert_leaky_relu, 6, 16),
    "MatMul": _same(c.convert_matmul, 9, 13),
    "Relu": _same(c.convert_relu, 6, 13, 14),
    # 14: allowzero; later: types.
    "Reshape": _same(s.convert_reshape, 5, 13, 14, 19, 21, 23, 24, 25),
    "Sigmoid": _same(c.convert_sigmoid, 6, 13),
    # 1, 11: coerced to 2-D at axis (default 1); 13: one axis (default -1).
    "Softmax": {1: c.convert_softmax_1, 11: c.convert_softmax_1, 13: c.convert_softmax_13},
    "Tanh": _same(c.convert_tanh, 6, 13),
    "Transpose": _same(s.convert_transpose, 1, 13, 21, 23, 24, 25),
}

_ML: dict[str, dict[int, Converter]] = {
    "ArrayFeatureExtractor": {1: ml.convert_array_feature_extractor},
    "LinearClassifier": {1: ml.convert_linear_classifier},
    "LinearRegressor": {1: ml.convert_linear_regressor},
    "Normalizer": {1: ml.convert_normalizer},
    "Scaler": {1: ml.convert_scaler},
    # Known but never compilable: registered so that the error carries the fix.
    "ZipMap": {1: ml.convert_zipmap},
}

REGISTRY: dict[tuple[str, str, int], Converter] = {
    **{(DEFAULT_DOMAIN, op, v): f for op, table in _DEFAULT.items() for v, f in table.items()},
    **{(ML_DOMAIN, op, v): f for op, table in _ML.items() for v, f in table.items()},
}

SUPPORTED = ", ".join(sorted({op for _, op, _ in REGISTRY} - {"ZipMap"}))


def _since_version(n: NodeView) -> int | None:
    try:
        return onnx.defs.get_schema(n.op_type, n.opset, n.domain).since_version
    except onnx.defs.SchemaError:
        return None


def lookup(n: NodeView) -> Converter:
    """The converter for ``n``'s definition at the model's opset, or an error naming op, node, domain and opset."""
    where = f"node {n.label}, domain '{domain_label(n.domain)}', opset {n.opset}"
    known = {v for d, op, v in REGISTRY if (d, op) == (n.domain, n.op_type)}
    if not known:
        raise OnnxImportError(f"unsupported ONNX op '{n.op_type}' ({where}); supported: {SUPPORTED}")
    opsets = DEFAULT_OPSETS if n.domain == DEFAULT_DOMAIN else ML_OPSETS
    if n.opset not in opsets:
        raise OnnxImportError(f"ONNX op '{n.op_type}' ({where}) is supported for opsets {opsets[0]}-{opsets[-1]} of its domain only")
    since = _since_version(n)
    convert = REGISTRY.get((n.domain, n.op_type, since)) if since is not None else None
    if convert is None:
        definition = "has no definition" if since is None else f"resolves to its opset-{since} definition, which is not supported"
        raise OnnxImportError(f"ONNX op '{n.op_type}' ({where}) {definition}; supported definitions: "
                              + ", ".join(f"opset {v}" for v in sorted(known)))
    return convert
