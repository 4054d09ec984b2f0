"""Which ONNX ops the importer lowers, and for which opsets of their domain.

The table is keyed by (domain, op type); the opset checked against an entry's
range is the version of the node's domain that the model imports. Converters
that behave differently across that range (Softmax's default axis, Clip's
bounds, Dropout's training_mode) branch on ``NodeView.opset`` themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ml2sc.ir.errors import OnnxImportError
from ml2sc.ir.onnx import converters as c
from ml2sc.ir.onnx import ml_converters as ml
from ml2sc.ir.onnx.lowering import (
    DEFAULT_DOMAIN,
    ML_DOMAIN,
    Lowering,
    NodeView,
    Outputs,
    domain_label,
)

Converter = Callable[[Lowering, NodeView], Outputs]

DEFAULT_OPSETS = range(9, 22)
ML_OPSETS = range(1, 6)


@dataclass(frozen=True)
class Support:
    """A converter and the opsets of its domain it was written and tested for."""

    convert: Converter
    opsets: range


def _default(convert: Converter) -> Support:
    return Support(convert, DEFAULT_OPSETS)


def _ml(convert: Converter) -> Support:
    return Support(convert, ML_OPSETS)


REGISTRY: dict[tuple[str, str], Support] = {
    (DEFAULT_DOMAIN, "Add"): _default(c.convert_arithmetic),
    (DEFAULT_DOMAIN, "ArgMax"): _default(c.convert_argmax),
    (DEFAULT_DOMAIN, "BatchNormalization"): _default(c.convert_batch_norm),
    (DEFAULT_DOMAIN, "Cast"): _default(c.convert_cast),
    (DEFAULT_DOMAIN, "Clip"): _default(c.convert_clip),
    (DEFAULT_DOMAIN, "Concat"): _default(c.convert_concat),
    (DEFAULT_DOMAIN, "Constant"): _default(c.convert_constant),
    (DEFAULT_DOMAIN, "Div"): _default(c.convert_arithmetic),
    (DEFAULT_DOMAIN, "Dropout"): _default(c.convert_dropout),
    (DEFAULT_DOMAIN, "Flatten"): _default(c.convert_flatten),
    (DEFAULT_DOMAIN, "Gemm"): _default(c.convert_gemm),
    (DEFAULT_DOMAIN, "HardSigmoid"): _default(c.convert_hard_sigmoid),
    (DEFAULT_DOMAIN, "Identity"): _default(c.convert_identity),
    (DEFAULT_DOMAIN, "LeakyRelu"): _default(c.convert_leaky_relu),
    (DEFAULT_DOMAIN, "MatMul"): _default(c.convert_matmul),
    (DEFAULT_DOMAIN, "Mul"): _default(c.convert_arithmetic),
    (DEFAULT_DOMAIN, "Relu"): _default(c.convert_relu),
    (DEFAULT_DOMAIN, "Reshape"): _default(c.convert_reshape),
    (DEFAULT_DOMAIN, "Sigmoid"): _default(c.convert_sigmoid),
    (DEFAULT_DOMAIN, "Softmax"): _default(c.convert_softmax),
    (DEFAULT_DOMAIN, "Sub"): _default(c.convert_arithmetic),
    (DEFAULT_DOMAIN, "Tanh"): _default(c.convert_tanh),
    (ML_DOMAIN, "ArrayFeatureExtractor"): _ml(ml.convert_array_feature_extractor),
    (ML_DOMAIN, "LinearClassifier"): _ml(ml.convert_linear_classifier),
    (ML_DOMAIN, "LinearRegressor"): _ml(ml.convert_linear_regressor),
    (ML_DOMAIN, "Normalizer"): _ml(ml.convert_normalizer),
    (ML_DOMAIN, "Scaler"): _ml(ml.convert_scaler),
    # Known but never compilable: registered so that the error carries the fix.
    (ML_DOMAIN, "ZipMap"): _ml(ml.convert_zipmap),
}

SUPPORTED = ", ".join(sorted({op for _, op in REGISTRY} - {"ZipMap"}))


def lookup(n: NodeView) -> Converter:
    """The converter for ``n``, or an error naming the op, node, domain, opset and what is supported."""
    support = REGISTRY.get((n.domain, n.op_type))
    where = f"node {n.label}, domain '{domain_label(n.domain)}', opset {n.opset}"
    if support is None:
        raise OnnxImportError(f"unsupported ONNX op '{n.op_type}' ({where}); supported: {SUPPORTED}")
    if n.opset not in support.opsets:
        first, last = support.opsets[0], support.opsets[-1]
        raise OnnxImportError(f"ONNX op '{n.op_type}' ({where}) is supported for opsets {first}-{last} of its domain only")
    return support.convert
