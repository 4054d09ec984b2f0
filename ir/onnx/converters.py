"""Converters for the default ONNX domain (opsets 9-21): one function per op type.

Each converter takes the lowering state and one node and returns what each of
the node's outputs became (``None`` for an output it cannot provide, which is
an error only if something reads it). Constants are folded with numpy in
their ONNX dtype; weights that must be combined (Gemm alpha/beta, Div by a
constant) are combined in float64 and rounded to float32 once, when
``Lowering.constant`` stores them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import numpy_helper

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


def _fold(n: NodeView, fn: Callable[..., np.ndarray], *arrays: np.ndarray) -> Outputs:
    """Evaluate a node whose inputs are all constants (numpy follows ONNX broadcasting)."""
    try:
        return (Const(np.asarray(fn(*arrays))),)
    except (ValueError, TypeError) as e:
        raise n.fail(f"cannot fold constant inputs: {e}") from None


# -- linear algebra ------------------------------------------------------------


def convert_gemm(ctx: Lowering, n: NodeView) -> Outputs:
    """Y = alpha * A B' + beta * C, with A the data, B (and C) constants, folded into W and b."""
    x = ctx.vector(n, 0, "A")
    if not ctx.batched:
        raise n.fail("Gemm needs a 2-D input [N, K], but the model input is 1-D")
    if n.int_attr("transA", 0):
        raise n.fail("transA=1 is not supported; the data must be the left operand with one sample per row")
    b = ctx.const(n, 1, "B")
    trans_b = n.int_attr("transB", 0)
    if b.ndim != 2:
        raise n.fail(f"B must be a 2-D constant, got shape {list(b.shape)}")
    w = b if trans_b else b.T
    if w.shape[1] != x.dims[0]:
        raise n.fail(f"B has shape {list(b.shape)} (transB={trans_b}), which does not fit {x.dims[0]} input features")
    weight = scaled(w, n.float_attr("alpha", 1.0))
    bias = None
    if ctx.has_input(n, 2):
        c = ctx.row_constant(n, ctx.const(n, 2, "C"), (w.shape[0],), "C")
        bias = scaled(c, n.float_attr("beta", 1.0))
    c_name = n.inputs[2] if ctx.has_input(n, 2) else f"{n.outputs[0]}_bias"
    return (ctx.gemm(n.outputs[0], x, weight, bias, n.inputs[1], c_name),)


def convert_matmul(ctx: Lowering, n: NodeView) -> Outputs:
    """x @ B for a constant B of shape [K, M]: a gemm without bias (a following Add may fill it in)."""
    a, b = ctx.tensor(n, 0), ctx.tensor(n, 1)
    if isinstance(a, Const) and isinstance(b, Const):
        return _fold(n, np.matmul, a.array, b.array)
    if isinstance(a, Const):
        raise n.fail("the data must be the left operand of MatMul (x @ W); W @ x is not supported")
    x = ctx.vector(n, 0, "A")
    w = ctx.const(n, 1, "B")
    if w.ndim != 2 or w.shape[0] != x.dims[0]:
        raise n.fail(f"B must be a constant of shape [{x.dims[0]}, M] to multiply {ctx.onnx_shape(x.dims)}, got {list(w.shape)}")
    return (ctx.gemm(n.outputs[0], x, w.T, None, n.inputs[1], f"{n.outputs[0]}_bias"),)


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
    if not isinstance(gemm, ops.Gemm) or gemm.bias is not None or not ctx.sole_consumer(x_name):
        return None
    source = Data(gemm.input, gemm.input.type.shape)
    return ctx.gemm(n.outputs[0], source, ctx.constant_array(gemm.weight), offset, gemm.weight, c_name)


def convert_arithmetic(ctx: Lowering, n: NodeView) -> Outputs:
    """Add/Sub/Mul/Div of the data and a scalar or per-feature constant: an affine op."""
    a, b = ctx.tensor(n, 0), ctx.tensor(n, 1)
    if isinstance(a, Const) and isinstance(b, Const):
        return _fold(n, _FOLDS[n.op_type], a.array, b.array)
    if isinstance(a, Data) and isinstance(b, Data):
        raise n.fail(f"{n.op_type} of two computed tensors is not supported; one operand must be a constant")
    data_first = isinstance(a, Data)
    x = ctx.vector(n, 0 if data_first else 1)
    c_index = 1 if data_first else 0
    c = ctx.row_constant(n, ctx.const(n, c_index), x.dims, f"constant '{n.inputs[c_index]}'")
    scale, offset = _affine_terms(n, c, data_first)
    if n.op_type == "Add":
        fused = _fuse_bias(ctx, n, x, n.inputs[1 - c_index], n.inputs[c_index], offset)
        if fused is not None:
            return (fused,)
    return (ctx.affine(n.outputs[0], x, scale, offset),)


# -- activations ---------------------------------------------------------------


def convert_relu(ctx: Lowering, n: NodeView) -> Outputs:
    return (ctx.unary(n.outputs[0], ctx.vector(n), ops.Relu),)


def convert_sigmoid(ctx: Lowering, n: NodeView) -> Outputs:
    return (ctx.unary(n.outputs[0], ctx.vector(n), ops.Sigmoid),)


def convert_tanh(ctx: Lowering, n: NodeView) -> Outputs:
    return (ctx.unary(n.outputs[0], ctx.vector(n), ops.Tanh),)


def convert_leaky_relu(ctx: Lowering, n: NodeView) -> Outputs:
    alpha = n.float_attr("alpha", 0.01)
    return (ctx.unary(n.outputs[0], ctx.vector(n), ops.LeakyRelu, alpha=alpha),)


def convert_hard_sigmoid(ctx: Lowering, n: NodeView) -> Outputs:
    alpha, beta = n.float_attr("alpha", 0.2), n.float_attr("beta", 0.5)
    return (ctx.unary(n.outputs[0], ctx.vector(n), ops.HardSigmoid, alpha=alpha, beta=beta),)


def convert_softmax(ctx: Lowering, n: NodeView) -> Outputs:
    """Softmax over the last axis; before opset 13 the default axis 1 is that axis of [N, F]."""
    x = ctx.vector(n)
    ctx.last_axis(n, x, n.int_attr("axis", 1 if n.opset < 13 else -1))
    return (softmax_of(ctx, n.outputs[0], x),)


def _clip_bound(ctx: Lowering, n: NodeView, i: int, default: float) -> float:
    if not ctx.has_input(n, i):
        return default
    c = ctx.const(n, i, "min" if i == 1 else "max")
    if c.size != 1:
        raise n.fail(f"{'min' if i == 1 else 'max'} must be a scalar, got shape {list(c.shape)}")
    return float(np.float32(c.ravel()[0]))


def convert_clip(ctx: Lowering, n: NodeView) -> Outputs:
    """Bounds are attributes before opset 11 and optional constant inputs from 11; missing means unbounded."""
    x = ctx.vector(n)
    if n.opset < 11:
        lo, hi = n.float_attr("min", float("-inf")), n.float_attr("max", float("inf"))
    else:
        lo, hi = _clip_bound(ctx, n, 1, float("-inf")), _clip_bound(ctx, n, 2, float("inf"))
    if lo > hi:
        raise n.fail(f"min {lo} is greater than max {hi}")
    return (ctx.unary(n.outputs[0], x, ops.Clip, min=lo, max=hi),)


# -- normalisation, reductions ---------------------------------------------------


def convert_batch_norm(ctx: Lowering, n: NodeView) -> Outputs:
    """Inference-mode BatchNormalization over the feature axis of [N, C]."""
    x = ctx.vector(n)
    if not ctx.batched:
        raise n.fail("BatchNormalization needs a 2-D input [N, C], but the model input is 1-D")
    if n.int_attr("training_mode", 0):
        raise n.fail("training_mode=1 is not supported; export the model in eval mode")
    names = []
    for i, role in enumerate(("scale", "B", "mean", "var"), start=1):
        c = ctx.const(n, i, role)
        if c.shape != x.dims:
            raise n.fail(f"{role} has shape {list(c.shape)}, expected [{x.dims[0]}]")
        names.append(ctx.constant(n.inputs[i], c))
    result = ctx.new_value(n.outputs[0], x.value.type)
    op = ops.BatchNorm(result, x.value, *names, epsilon=n.float_attr("epsilon", 1e-5))
    return (Data(ctx.emit(op), x.dims), None, None, None, None)


def convert_argmax(ctx: Lowering, n: NodeView) -> Outputs:
    """ArgMax over the last axis, first maximum on ties: an i64 class index per row."""
    x = ctx.vector(n)
    ctx.last_axis(n, x, n.int_attr("axis", 0))
    if n.int_attr("select_last_index", 0):
        raise n.fail("select_last_index=1 is not supported (the IR returns the first maximum)")
    dims = (1,) if n.int_attr("keepdims", 1) else ()
    return (ctx.argmax(n.outputs[0], x, dims),)


# -- ops that only move data --------------------------------------------------------


def convert_identity(ctx: Lowering, n: NodeView) -> Outputs:
    return (ctx.tensor(n, 0),)


def convert_dropout(ctx: Lowering, n: NodeView) -> Outputs:
    """Dropout is the identity at inference; its mask output is not available."""
    if n.opset >= 12 and ctx.has_input(n, 2) and bool(np.any(ctx.const(n, 2, "training_mode"))):
        raise n.fail("training_mode is true; export the model in eval mode")
    return (ctx.tensor(n, 0), None)


def convert_flatten(ctx: Lowering, n: NodeView) -> Outputs:
    """Flatten(axis=1) of a [N, F] tensor changes nothing."""
    t = ctx.tensor(n, 0)
    axis = n.int_attr("axis", 1)
    if isinstance(t, Const):
        split = axis + t.array.ndim if axis < 0 else axis
        return _fold(n, lambda a: a.reshape(int(np.prod(a.shape[:split])), -1), t.array)
    normalized = axis + ctx.rank(t) if axis < 0 else axis
    if not ctx.batched or normalized != 1:
        raise n.fail(f"only Flatten(axis=1) of a batched [N, ...] tensor is supported, got axis={axis} on {ctx.onnx_shape(t.dims)}")
    return (Data(t.value, (int(np.prod(t.dims)),)),)


def resolve_reshape(shape: tuple[int, ...], target: list[int], allowzero: bool) -> tuple[int, ...] | None:
    """ONNX Reshape's output shape (0 copies a dim unless allowzero, -1 is inferred), or None if invalid."""
    out = []
    for i, d in enumerate(target):
        if d == 0 and not allowzero:
            if i >= len(shape):
                return None
            out.append(shape[i])
        else:
            out.append(d)
    total = int(np.prod(shape))
    if out.count(-1) > 1 or any(d < -1 for d in out):
        return None
    if -1 in out:
        known = int(np.prod([d for d in out if d != -1]))
        if known == 0 or total % known:
            return None
        out[out.index(-1)] = total // known
    return tuple(out) if int(np.prod(out)) == total else None


def _reshaped_row(ctx: Lowering, dims: tuple[int, ...], target: list[int], allowzero: bool) -> tuple[int, ...] | None:
    """The new row dims if the reshape keeps the batch axis for every batch size, else None."""
    if not ctx.batched:
        return resolve_reshape(dims, target, allowzero)
    rows = set()
    for batch in (ctx.batch,) if ctx.batch is not None else (2, 3):
        out = resolve_reshape((batch, *dims), target, allowzero)
        if out is None or out[0] != batch:
            return None
        rows.add(out[1:])
    return rows.pop() if len(rows) == 1 else None


def convert_reshape(ctx: Lowering, n: NodeView) -> Outputs:
    """Reshapes that keep one row per sample ([N, F] -> [-1, F], [N, 1] -> [N]) change nothing."""
    t = ctx.tensor(n, 0)
    target = [int(d) for d in ctx.const(n, 1, "shape").ravel()]
    allowzero = bool(n.int_attr("allowzero", 0))
    if isinstance(t, Const):
        out = resolve_reshape(t.array.shape, target, allowzero)
        if out is None:
            raise n.fail(f"cannot reshape a constant of shape {list(t.array.shape)} to {target}")
        return (Const(t.array.reshape(out)),)
    dims = _reshaped_row(ctx, t.dims, target, allowzero)
    if dims is None or len(dims) > 1:
        raise n.fail(f"reshaping {ctx.onnx_shape(t.dims)} to {target} does not keep one [F] row per sample")
    return (Data(t.value, dims),)


def convert_cast(ctx: Lowering, n: NodeView) -> Outputs:
    """Casts between float types vanish (the IR is float32), as do int64 casts of class indices."""
    to = n.int_attr("to", 0)
    t = ctx.tensor(n, 0)
    if isinstance(t, Const):
        return _fold(n, lambda a: a.astype(onnx.helper.tensor_dtype_to_np_dtype(to)), t.array)
    name = onnx.TensorProto.DataType.Name(to)
    if to in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE) and t.is_float:
        return (t,)
    if to == onnx.TensorProto.INT64 and not t.is_float:
        return (t,)
    kind = "float" if t.is_float else "int64 class-index"
    raise n.fail(f"Cast of a {kind} tensor to {name} is not supported")


def convert_constant(ctx: Lowering, n: NodeView) -> Outputs:
    """A Constant node is an initializer written inline."""
    for a in n.proto.attribute:
        value = onnx.helper.get_attribute_value(a)
        match a.name:
            case "value":
                return (Const(numpy_helper.to_array(value)),)
            case "value_float" | "value_floats":
                return (Const(np.asarray(value, dtype=np.float32)),)
            case "value_int" | "value_ints":
                return (Const(np.asarray(value, dtype=np.int64)),)
            case "value_string" | "value_strings":
                return (Const(np.asarray(value, dtype=object)),)
    raise n.fail("only dense tensor, float, int and string constants are supported")


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
        return _fold(n, lambda *a: np.concatenate(a, axis=axis), *(p.array for p in parts))
    z = _one_minus_sigmoid_pair(ctx, parts)
    if z is None:
        raise n.fail("Concat of computed tensors is only supported as the [1 - sigmoid(z), sigmoid(z)] pair of a binary classifier")
    ctx.last_axis(n, parts[1], axis)
    gemm = ctx.producer(z)
    hint = f"{n.outputs[0]}_scores"
    if isinstance(gemm, ops.Gemm):
        w = ctx.constant_array(gemm.weight)
        b = ctx.constant_array(gemm.bias) if gemm.bias else None
        scores = two_class_scores(ctx, hint, Data(gemm.input, gemm.input.type.shape), w, b)
    else:
        scores = two_class_scores(ctx, hint, Data(z, (1,)), np.ones((1, 1)), None)
    return (softmax_of(ctx, n.outputs[0], scores),)
