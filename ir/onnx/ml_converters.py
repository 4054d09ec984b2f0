"""Converters for the ``ai.onnx.ml`` ops that scikit-learn exports (via skl2onnx) use.

Their semantics follow onnxruntime's kernels, which is what a user compares
against: e.g. LinearClassifier picks its label from the raw scores and, for a
single score row z, reports [1 - z, z] unless post_transform is LOGISTIC.
"""

from __future__ import annotations

import numpy as np

from ml2sc.ir import ops
from ml2sc.ir.onnx.converters import as_float64, softmax_of, two_class_scores
from ml2sc.ir.onnx.lowering import Data, Lowering, NodeView, Outputs

STRING_LABELS = "string class labels are not supported; train the classifier on integer labels (e.g. via LabelEncoder) and map them to names outside the contract"
ZIPMAP_ADVICE = "ZipMap outputs a list of dicts, which a contract cannot return; export with options={id(model): {'zipmap': False}} (export_sklearn does this)"


def _per_feature(n: NodeView, name: str, values: np.ndarray, features: int) -> np.ndarray:
    """A Scaler attribute: one value for all features, or one per feature."""
    if values.size not in (1, features):
        raise n.fail(f"{name} has {values.size} values for {features} features")
    return np.broadcast_to(as_float64(values), (features,))


def convert_scaler(ctx: Lowering, n: NodeView) -> Outputs:
    """y = (x - offset) * scale, i.e. affine with scale and -offset * scale (float64, rounded once)."""
    x = ctx.vector(n)
    offset, scale = n.floats_attr("offset"), n.floats_attr("scale")
    if offset.size != scale.size:
        raise n.fail(f"offset has {offset.size} values but scale has {scale.size}; onnxruntime requires equal lengths")
    offset = _per_feature(n, "offset", offset, x.dims[0])
    scale = _per_feature(n, "scale", scale, x.dims[0])
    return (ctx.affine(n.outputs[0], x, scale, -offset * scale),)


def _linear_weights(n: NodeView, features: int, rows: int) -> np.ndarray:
    coefficients = n.floats_attr("coefficients")
    if coefficients.size != rows * features:
        raise n.fail(f"coefficients has {coefficients.size} values, expected {rows} x {features}")
    return coefficients.reshape(rows, features)


def _class_labels(n: NodeView) -> np.ndarray:
    if n.attr("classlabels_strings"):
        raise n.fail(STRING_LABELS)
    labels = np.asarray(n.attr("classlabels_ints", []), dtype=np.int64)
    if labels.size == 0:
        raise n.fail("classlabels_ints is missing")
    return labels


def _probabilities_hint(n: NodeView) -> str:
    return n.outputs[1] if len(n.outputs) > 1 and n.outputs[1] else f"{n.hint}_probabilities"


def _binary_classifier(ctx: Lowering, n: NodeView, x: Data, w: np.ndarray, b: np.ndarray,
                       transform: str) -> tuple[Data, Data]:
    """One score row z: label is positive iff z > 0; onnxruntime reports [1 - s, s].

    s is sigmoid(z) for LOGISTIC and z itself otherwise (onnxruntime applies no
    softmax to a single score). The label comes from argmax([0, z]), which
    picks the positive class iff z > 0 exactly as onnxruntime does.
    """
    scores = two_class_scores(ctx, f"{n.hint}_scores", x, w, b)
    if transform == "LOGISTIC":
        return scores, softmax_of(ctx, _probabilities_hint(n), scores)
    weight = np.vstack([-as_float64(w), as_float64(w)])
    bias = np.concatenate([1.0 - b, b])
    hint = _probabilities_hint(n)
    return scores, ctx.gemm(hint, x, weight, bias, f"{hint}_weight", f"{hint}_bias")


def _multiclass_probabilities(n: NodeView, ctx: Lowering, scores: Data, transform: str) -> Data:
    hint = _probabilities_hint(n)
    match transform:
        case "NONE":
            return scores
        case "LOGISTIC":
            return ctx.unary(hint, scores, ops.Sigmoid)
        case "SOFTMAX":
            return softmax_of(ctx, hint, scores)
    raise n.fail(f"post_transform '{transform}' is not supported (NONE, LOGISTIC and SOFTMAX are)")


def convert_linear_classifier(ctx: Lowering, n: NodeView) -> Outputs:
    """Scores W x + b; label = classlabels[argmax(scores)]; probabilities per post_transform."""
    x = ctx.vector(n)
    labels = _class_labels(n)
    b = as_float64(n.floats_attr("intercepts"))
    if b.size == 0:
        raise n.fail("intercepts is missing (onnxruntime sizes the classifier by it)")
    w = _linear_weights(n, x.dims[0], b.size)
    transform = str(n.attr("post_transform", "NONE"))
    if b.size == 1:
        if labels.size != 2:
            raise n.fail(f"one score row needs exactly 2 class labels, got {labels.size}")
        if transform not in ("NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO"):
            raise n.fail(f"post_transform '{transform}' is not supported for a binary classifier")
        scores, probabilities = _binary_classifier(ctx, n, x, w, b, transform)
    else:
        if labels.size != b.size:
            raise n.fail(f"{labels.size} class labels for {b.size} score rows")
        scores = ctx.gemm(f"{n.hint}_scores", x, w, b, f"{n.hint}_weight", f"{n.hint}_bias")
        probabilities = _multiclass_probabilities(n, ctx, scores, transform)
    index = ctx.argmax(f"{n.hint}_index", scores, ())
    label = ctx.label_map(n.outputs[0], index, labels, f"{n.hint}_classes")
    return (label, probabilities)


def convert_linear_regressor(ctx: Lowering, n: NodeView) -> Outputs:
    """y = W x + b with ``targets`` rows."""
    x = ctx.vector(n)
    transform = str(n.attr("post_transform", "NONE"))
    if transform != "NONE":
        raise n.fail(f"post_transform '{transform}' is not supported (only NONE)")
    targets = n.int_attr("targets", 1)
    w = _linear_weights(n, x.dims[0], targets)
    b = n.floats_attr("intercepts")
    if b.size not in (0, targets):
        raise n.fail(f"intercepts has {b.size} values for {targets} targets")
    bias = b if b.size else None
    return (ctx.gemm(n.outputs[0], x, w, bias, f"{n.hint}_weight", f"{n.hint}_bias"),)


def convert_array_feature_extractor(ctx: Lowering, n: NodeView) -> Outputs:
    """skl2onnx's label lookup classes[argmax]: a label map through an i64 table."""
    classes = ctx.const(n, 0, "X")
    index = ctx.data(n, 1, "Y")
    if classes.dtype.kind in "OSU":
        raise n.fail(STRING_LABELS)
    if classes.dtype.kind not in "iu" or classes.ndim != 1:
        raise n.fail(f"the class table must be a 1-D integer constant, got {classes.dtype} of shape {list(classes.shape)}")
    if index.is_float:
        raise n.fail("only class-label lookups (a constant table indexed by an ArgMax result) are supported")
    return (ctx.label_map(n.outputs[0], index, classes, n.inputs[0]),)


def convert_normalizer(ctx: Lowering, n: NodeView) -> Outputs:
    """Only L1 normalisation of a softmax, which skl2onnx appends to LogisticRegression: a no-op."""
    x = ctx.vector(n)
    norm = str(n.attr("norm", "MAX"))
    if norm == "L1" and isinstance(ctx.producer(x.value), ops.Softmax):
        return (x,)
    raise n.fail(f"Normalizer(norm='{norm}') is not supported; only L1 after a softmax (a no-op) is")


def convert_zipmap(ctx: Lowering, n: NodeView) -> Outputs:
    raise n.fail(ZIPMAP_ADVICE)
