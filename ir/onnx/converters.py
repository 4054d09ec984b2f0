"""Converters for the default ONNX domain: one function per op definition (``registry`` maps versions).

Each converter takes the lowering state and one node and returns what each of
the node's outputs became (``None`` for an output it cannot provide, which is
an error only if something reads it). Constants are folded with numpy in
their ONNX dtype; weights that must be combined (Gemm alpha/beta, Div by a
constant) are combined in float64 and rounded to float32 once, when
``Lowering.constant`` stores them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ml2sc.ir import ops
from ml2sc.ir.module import Value
from ml2sc.ir.onnx.lowering import Const, Data, Lowering, NodeView, Outputs

# -- shared helpers -------------------------------------------------------------


def as_float64(array: np.ndarray) -> np.ndarray:
    return np.asarray(array, dtype=np.float64)


def scaled(array: np.ndarray, factor: float) -> np.ndarray:
    """``factor * array`` in float64 (left as-is when factor is 1, so values stay bit-exact)."""
    return array if factor == 1.0 else factor * as_float64(array)


def softmax_of(ctx: Lowering, hint: str, x: Data) -> Data:
    return ctx.unary(hint, x, ops.Softmax)


def two_class_scores(ctx: Lowering, hint: str, x: Data, w: np.ndarray, b: np.ndarray | None) -> Data:
    """Scores [0, z] for z = w x + b, as a 2-row gemm with a zero first row.

    softmax([0, z]) = [1 - sigmoid(z), sigmoid(z)] exactly, and argmax([0, z])
    picks the positive class iff z > 0, which is how binary classifiers with a
    single logit (skl2onnx's MLPClassifier, LinearClassifier) define both
    outputs. One gemm plus a softmax keeps the IR free of concat ops.
    """
    weight = np.vstack([np.zeros((1, w.shape[1])), as_float64(w)])
    bias = None if b is None else np.concatenate([[0.0], as_float64(b).ravel()])
    return ctx.gemm(hint, x, weight, bias, f"{hint}_weight", f"{hint}_bias")


def fold(n: NodeView, fn: Callable[..., np.ndarray], *arrays: np.ndarray) -> Outputs:
    """Evaluate a node whose inputs are all constants (numpy follows ONNX broadcasting)."""
    try:
        return (Const(np.asarray(fn(*arrays))),)
    except (ValueError, TypeError) as e:
        raise n.fail(f"cannot fold constant inputs: {e}") from None


# -- linear algebra ------------------------------------------------------------


def linear_map(ctx: Lowering, n: NodeView, x: Data, fn: Callable[[np.ndarray], np.ndarray],
               what: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """(W, row dims) such that ``fn`` of one row of ``x`` is ``W @ row`` (rows flat, C order).

    ``fn`` is linear and applied to a batch (or, for an unbatched model, to one
    row); feeding it the identity basis reads its matrix off exactly (products
    with 0 and 1 only). An ``fn`` that mixes samples or moves the batch axis is
    refused: its output must keep one row per input row for batches of 1 and 2.
    """
    size = x.size
    basis = np.eye(size).reshape(size, *x.dims)
    try:
        if not ctx.batched:
            rows = [np.asarray(fn(e)) for e in basis]
            return np.stack(rows).reshape(size, -1).T, rows[0].shape
        y = np.asarray(fn(basis))
        dims = y.shape[1:]
        if y.shape[0] != size or any(np.asarray(fn(np.zeros((b, *x.dims)))).shape != (b, *dims) for b in (1, 2)):
            raise ValueError("the batch axis moves")
    except ValueError:
        raise n.fail(f"{what} of a {ctx.onnx_shape(x.dims)} tensor mixes the samples of the batch; "
                     "only maps that keep one row per sample are supported") from None
    return y.reshape(size, -1).T, dims


def emit_linear(ctx: Lowering, n: NodeView, x: Data, weight: np.ndarray, dims: tuple[int, ...], w_hint: str) -> Data:
    y = ctx.gemm(n.outputs[0], x, weight, None, w_hint, f"{n.outputs[0]}_bias")
    return Data(y.value, dims)


def _gemm_bias(ctx: Lowering, n: NodeView, rows: int, transposed: bool) -> np.ndarray | None:
    """Gemm's C as one bias per output feature; C may not vary along the batch axis of Y."""
    if not ctx.has_input(n, 2):
        return None
    c = ctx.const(n, 2, "C")
    c2 = c.reshape((1,) * (2 - c.ndim) + c.shape)
    batch_axis = 1 if transposed else 0
    if c2.ndim != 2:
        raise n.fail(f"C must have at most 2 dimensions, got shape {list(c.shape)}")
    if c2.shape[batch_axis] > 1:
        first = np.take(c2, [0], axis=batch_axis)
        if not np.array_equal(c2, np.broadcast_to(first, c2.shape)):
            raise n.fail(f"C of shape {list(c.shape)} gives each sample its own bias (it depends on the batch); "
                         "only biases shared by every sample are supported")
        c2 = first
    target = (rows, 1) if transposed else (1, rows)
    try:
        return scaled(np.broadcast_to(c2, target).reshape(rows), n.float_attr("beta", 1.0))
    except ValueError:
        raise n.fail(f"C of shape {list(c.shape)} does not broadcast onto the {rows} outputs of each sample") from None


def _gemm_fold(ctx: Lowering, n: NodeView) -> Outputs:
    a = ctx.const(n, 0, "A")
    b = ctx.const(n, 1, "B")
    a = a.T if n.int_attr("transA", 0) else a
    b = b.T if n.int_attr("transB", 0) else b
    c = ctx.const(n, 2, "C") if ctx.has_input(n, 2) else np.zeros((), a.dtype)
    alpha, beta = n.float_attr("alpha", 1.0), n.float_attr("beta", 1.0)
    return fold(n, lambda a, b, c: (alpha * (a @ b) + beta * c).astype(a.dtype), a, b, c)


def convert_gemm(ctx: Lowering, n: NodeView) -> Outputs:
    """Y = alpha * A' B' + beta * C with one operand constant, folded into W and b.

    Data on the left: A' must hold one sample per row ([N, K], or [K, N] with
    transA=1). Data on the right (weights on the left): B' must hold one
    sample per column ([N, K] with transB=1, or [K, N]); Y is then [M, N],
    held as a row per sample marked ``transposed`` until a Transpose restores it.
    """
    a, b = ctx.tensor(n, 0), ctx.tensor(n, 1)
    if isinstance(a, Const) and isinstance(b, Const):
        return _gemm_fold(ctx, n)
    if isinstance(a, Data) and isinstance(b, Data):
        raise n.fail("Gemm of two computed tensors is not supported; one of A and B must be a constant")
    if not ctx.batched:
        raise n.fail("Gemm needs a 2-D input [N, K], but the model input is 1-D")
    data_left = isinstance(a, Data)
    i, flag, role = (0, "transA", "A") if data_left else (1, "transB", "B")
    x = ctx.elementwise(n, i, role, transposed=True)
    trans = bool(n.int_attr(flag, 0))
    if len(x.dims) != 1 or x.transposed != (trans == data_left):
        layout = ctx.onnx_shape(x.dims, x.transposed)
        raise n.fail(f"{role} is {layout} with {flag}={int(trans)}, so the product mixes the samples of the batch")
    w = ctx.const(n, 1 - i, "B" if data_left else "A")
    if w.ndim != 2:
        raise n.fail(f"{'B' if data_left else 'A'} must be a 2-D constant, got shape {list(w.shape)}")
    other_trans = n.int_attr("transB" if data_left else "transA", 0)
    weight = (w if other_trans else w.T) if data_left else (w.T if other_trans else w)
    if weight.shape[1] != x.dims[0]:
        raise n.fail(f"the constant has shape {list(w.shape)}, which does not fit {x.dims[0]} features per sample")
    weight = scaled(weight, n.float_attr("alpha", 1.0))
    bias = _gemm_bias(ctx, n, weight.shape[0], not data_left)
    c_name = n.inputs[2] if ctx.has_input(n, 2) else f"{n.outputs[0]}_bias"
    y = ctx.gemm(n.outputs[0], x, weight, bias, n.inputs[1 - i], c_name)
    return (replace(y, transposed=not data_left),)


def convert_matmul(ctx: Lowering, n: NodeView) -> Outputs:
    """x @ B or A @ x with one constant operand: a gemm (a following Add may fill in its bias)."""
    a, b = ctx.tensor(n, 0), ctx.tensor(n, 1)
    if isinstance(a, Const) and isinstance(b, Const):
        return fold(n, np.matmul, ctx.const(n, 0, "A"), ctx.const(n, 1, "B"))
    if isinstance(a, Data) and isinstance(b, Data):
        raise n.fail("MatMul of two computed tensors is not supported; one operand must be a constant")
    if isinstance(a, Data):
        x, w = ctx.elementwise(n, 0, "A"), ctx.const(n, 1, "B")
        if len(x.dims) == 1 and w.ndim == 2 and w.shape[0] == x.dims[0]:
            return (ctx.gemm(n.outputs[0], x, w.T, None, n.inputs[1], f"{n.outputs[0]}_bias"),)
        weight, dims = linear_map(ctx, n, x, lambda e: np.matmul(e, w), "A @ B")
        return (emit_linear(ctx, n, x, weight, dims, n.inputs[1]),)
    x, w = ctx.elementwise(n, 1, "B", transposed=True), ctx.const(n, 0, "A")
    if x.transposed:
        if w.ndim != 2 or w.shape[1] != x.dims[0]:
            raise n.fail(f"A must be a constant of shape [M, {x.dims[0]}] to multiply {ctx.onnx_shape(x.dims, True)}, got {list(w.shape)}")
        y = ctx.gemm(n.outputs[0], x, w, None, n.inputs[0], f"{n.outputs[0]}_bias")
        return (replace(y, transposed=True),)
    if ctx.batched and len(x.dims) == 1:
        raise n.fail(f"A @ x with x of shape {ctx.onnx_shape(x.dims)} mixes the samples of the batch; use x @ W' (or W @ x' then Transpose)")
    weight, dims = linear_map(ctx, n, x, lambda e: np.matmul(w, e), "A @ B")
    return (emit_linear(ctx, n, x, weight, dims, n.inputs[0]),)


# -- elementwise arithmetic with a constant -----------------------------------

_FOLDS = {
    "Add": np.add,
    "Sub": np.subtract,
    "Mul": np.multiply,
    "Div": lambda a, b: np.divide(a, b) if a.dtype.kind == "f" else np.trunc(a / b).astype(a.dtype),
}


def _affine_terms(n: NodeView, c: np.ndarray, data_first: bool) -> tuple[np.ndarray, np.ndarray]:
    """(scale, offset) in float64 such that the node computes x * scale + offset."""
    c = as_float64(c)
    one, zero = np.ones_like(c), np.zeros_like(c)
    match n.op_type, data_first:
        case "Add", _:
            return one, c
        case "Sub", True:
            return one, -c
        case "Sub", False:
            return -one, c
        case "Mul", _:
            return c, zero
        case "Div", True:
            if np.any(c == 0):
                raise n.fail("division by a constant containing zero")
            return 1.0 / c, zero
    raise n.fail("c / x is not an affine function of x; only x / c is supported")


def _fuse_bias(ctx: Lowering, n: NodeView, x: Data, x_name: str, c_name: str, offset: np.ndarray) -> Data | None:
    """MatMul + Add: give the bias-less gemm producing ``x`` this bias, if nothing else reads ``x``."""
    gemm = ctx.producer(x.value)
    if not isinstance(gemm, ops.Gemm) or gemm.bias is not None or not ctx.sole_consumer(x_name) or len(x.dims) != 1:
        return None
    source = Data(gemm.input, gemm.input.type.shape)
    y = ctx.gemm(n.outputs[0], source, ctx.constant_array(gemm.weight), offset, gemm.weight, c_name)
    return replace(y, transposed=x.transposed)


def convert_arithmetic(ctx: Lowering, n: NodeView) -> Outputs:
    """Add/Sub/Mul/Div of the data and a constant that is the same for every row: an affine op per element."""
    a, b = ctx.tensor(n, 0), ctx.tensor(n, 1)
    if isinstance(a, Const) and isinstance(b, Const):
        return fold(n, _FOLDS[n.op_type], ctx.const(n, 0, "A"), ctx.const(n, 1, "B"))
    if isinstance(a, Data) and isinstance(b, Data):
        raise n.fail(f"{n.op_type} of two computed tensors is not supported; one operand must be a constant")
    data_first = isinstance(a, Data)
    x = ctx.elementwise(n, 0 if data_first else 1, transposed=True)
    c_index = 1 if data_first else 0
    c = ctx.row_constant(n, ctx.const(n, c_index), x, f"constant '{n.inputs[c_index]}'")
    scale, offset = _affine_terms(n, c, data_first)
    if n.op_type == "Add":
        fused = _fuse_bias(ctx, n, x, n.inputs[1 - c_index], n.inputs[c_index], offset)
        if fused is not None:
            return (fused,)
    return (ctx.affine(n.outputs[0], x, scale, offset),)


# -- activations (per element, any row shape) -------------------------------------


def convert_relu(ctx: Lowering, n: NodeView) -> Outputs:
    return (ctx.unary(n.outputs[0], ctx.elementwise(n, transposed=True), ops.Relu),)


def convert_sigmoid(ctx: Lowering, n: NodeView) -> Outputs:
    return (ctx.unary(n.outputs[0], ctx.elementwise(n, transposed=True), ops.Sigmoid),)


def convert_tanh(ctx: Lowering, n: NodeView) -> Outputs:
    return (ctx.unary(n.outputs[0], ctx.elementwise(n, transposed=True), ops.Tanh),)


def convert_leaky_relu(ctx: Lowering, n: NodeView) -> Outputs:
    alpha = n.float_attr("alpha", 0.01)
    return (ctx.unary(n.outputs[0], ctx.elementwise(n, transposed=True), ops.LeakyRelu, alpha=alpha),)


def convert_hard_sigmoid(ctx: Lowering, n: NodeView) -> Outputs:
    alpha, beta = n.float_attr("alpha", 0.2), n.float_attr("beta", 0.5)
    return (ctx.unary(n.outputs[0], ctx.elementwise(n, transposed=True), ops.HardSigmoid, alpha=alpha, beta=beta),)


def convert_softmax_1(ctx: Lowering, n: NodeView) -> Outputs:
    """Opsets 1-12: the input is coerced to 2-D [d0*..*d(axis-1), rest] (default axis 1), softmax per row of that."""
    x = ctx.elementwise(n)
    axis = n.int_attr("axis", 1)
    rank = ctx.rank(x)
    split = (axis + rank if axis < 0 else axis) - int(ctx.batched)
    if not 0 <= split <= len(x.dims) or int(np.prod(x.dims[:split], dtype=np.int64)) != 1:
        raise n.fail(f"axis={axis} on a {ctx.onnx_shape(x.dims)} tensor (opset {n.opset}: softmax over the dimensions "
                     "from axis on) does not take one softmax per sample; only axes that do are supported")
    return (softmax_of(ctx, n.outputs[0], x),)


def convert_softmax_13(ctx: Lowering, n: NodeView) -> Outputs:
    """Opset 13 on: softmax along one axis (default -1); the IR's is over the whole row."""
    x = ctx.elementwise(n)
    ctx.reduced_axis(n, x, n.int_attr("axis", -1))
    return (softmax_of(ctx, n.outputs[0], x),)


def _clip_bound(ctx: Lowering, n: NodeView, i: int, default: float) -> float:
    """A constant bound input: a scalar, +-inf allowed (an open side), NaN refused."""
    if not ctx.has_input(n, i):
        return default
    role = "min" if i == 1 else "max"
    t = ctx.tensor(n, i)
    if isinstance(t, Data):
        raise n.fail(f"{role} '{n.inputs[i]}' must be a constant, not computed from the model input")
    if t.array.size != 1:
        raise n.fail(f"{role} must be a scalar, got shape {list(t.array.shape)}")
    value = float(np.float32(t.array.ravel()[0]))
    if np.isnan(value):
        raise n.fail(f"{role} '{n.inputs[i]}' is NaN")
    return value


def _clip(ctx: Lowering, n: NodeView, lo: float, hi: float) -> Outputs:
    x = ctx.elementwise(n, transposed=True)
    if lo > hi or lo == float("inf") or hi == float("-inf"):
        raise n.fail(f"min {lo} is greater than max {hi}" if lo > hi else f"bounds [{lo}, {hi}] leave no finite value")
    return (ctx.unary(n.outputs[0], x, ops.Clip, min=lo, max=hi),)


def convert_clip_6(ctx: Lowering, n: NodeView) -> Outputs:
    """Opsets 6-10: bounds are attributes, defaulting to -/+FLT_MAX (kept as -/+inf: equal on every float32 input)."""
    return _clip(ctx, n, n.float_attr("min", float("-inf"), allow_inf=True), n.float_attr("max", float("inf"), allow_inf=True))


def convert_clip_11(ctx: Lowering, n: NodeView) -> Outputs:
    """Opset 11 on: bounds are optional scalar inputs; a missing one is unbounded."""
    return _clip(ctx, n, _clip_bound(ctx, n, 1, float("-inf")), _clip_bound(ctx, n, 2, float("inf")))


# -- normalisation, reductions ---------------------------------------------------


def _per_channel(c: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
    """A [C] parameter expanded onto a [C, d1, ...] row, flat in C order."""
    return np.broadcast_to(c.reshape(c.shape[0], *([1] * (len(dims) - 1))), dims).reshape(-1)


def _batch_norm(ctx: Lowering, n: NodeView) -> Outputs:
    x = ctx.elementwise(n)
    if not ctx.batched or not x.dims:
        raise n.fail("BatchNormalization needs an input [N, C, ...], but the model input is 1-D")
    names = []
    for i, role in enumerate(("scale", "B", "mean", "var"), start=1):
        c = ctx.const(n, i, role)
        if c.shape != x.dims[:1]:
            raise n.fail(f"{role} has shape {list(c.shape)}, expected [{x.dims[0]}]")
        names.append(ctx.constant(n.inputs[i], _per_channel(c, x.dims)))
    result = ctx.new_value(n.outputs[0], x.value.type)
    op = ops.BatchNorm(result, x.value, *names, epsilon=n.float_attr("epsilon", 1e-5))
    return (Data(ctx.emit(op), x.dims), None, None, None, None)


def convert_batch_norm_9(ctx: Lowering, n: NodeView) -> Outputs:
    """Opsets 9-13: inference over channel axis 1; the statistics outputs (training only) are unavailable."""
    return _batch_norm(ctx, n)


def convert_batch_norm_14(ctx: Lowering, n: NodeView) -> Outputs:
    """Opset 14 on: as 9, plus the training_mode attribute, which must be 0."""
    if n.int_attr("training_mode", 0):
        raise n.fail("training_mode=1 is not supported; export the model in eval mode")
    return _batch_norm(ctx, n)


def convert_argmax(ctx: Lowering, n: NodeView) -> Outputs:
    """ArgMax over an axis holding the whole row, first maximum on ties: an i64 class index per row."""
    x = ctx.elementwise(n)
    axis = ctx.reduced_axis(n, x, n.int_attr("axis", 0))
    if n.int_attr("select_last_index", 0):
        raise n.fail("select_last_index=1 is not supported (the IR returns the first maximum)")
    keep = n.int_attr("keepdims", 1)
    dims = tuple(1 if i == axis else d for i, d in enumerate(x.dims) if keep or i != axis)
    return (ctx.argmax(n.outputs[0], x, dims),)


def _one_minus_sigmoid_pair(ctx: Lowering, parts: list[object]) -> Value | None:
    """z when ``parts`` is [1 - sigmoid(z), sigmoid(z)] with z of one feature, else None."""
    if len(parts) != 2 or not all(isinstance(p, Data) for p in parts):
        return None
    neg, pos = parts
    sigmoid, complement = ctx.producer(pos.value), ctx.producer(neg.value)
    if not isinstance(sigmoid, ops.Sigmoid) or sigmoid.input.type.shape != (1,):
        return None
    if not isinstance(complement, ops.Affine) or complement.input != pos.value:
        return None
    if ctx.constant_array(complement.scale).tolist() != [-1.0] or ctx.constant_array(complement.offset).tolist() != [1.0]:
        return None
    return sigmoid.input


def convert_concat(ctx: Lowering, n: NodeView) -> Outputs:
    """Only the binary-classifier idiom Concat(1 - sigmoid(z), sigmoid(z)), rebuilt as softmax([0, z])."""
    parts = [ctx.tensor(n, i) for i in range(len(n.inputs))]
    axis = n.int_attr("axis", 0)
    if all(isinstance(p, Const) for p in parts):
        return fold(n, lambda *a: np.concatenate(a, axis=axis), *(p.array for p in parts))
    z = _one_minus_sigmoid_pair(ctx, parts)
    if z is None:
        raise n.fail("Concat of computed tensors is only supported as the [1 - sigmoid(z), sigmoid(z)] pair of a binary classifier")
    ctx.reduced_axis(n, parts[1], axis)
    gemm = ctx.producer(z)
    hint = f"{n.outputs[0]}_scores"
    if isinstance(gemm, ops.Gemm):
        w = ctx.constant_array(gemm.weight)
        b = ctx.constant_array(gemm.bias) if gemm.bias else None
        scores = two_class_scores(ctx, hint, Data(gemm.input, gemm.input.type.shape), w, b)
    else:
        scores = two_class_scores(ctx, hint, Data(z, (1,)), np.ones((1, 1)), None)
    return (softmax_of(ctx, n.outputs[0], scores),)
