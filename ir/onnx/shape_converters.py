"""Converters for the default-domain ops that only move or relabel data (no arithmetic).

A row is held flat in C order, so any reshape that keeps one row per sample
changes only its ONNX dims; a Transpose of a batched [N, F] tensor only flips
the ``transposed`` mark (W x' layouts); a Transpose within a row is a gemm
with a permutation matrix.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import onnx
from onnx import numpy_helper

from ml2sc.ir.onnx.converters import emit_linear, fold, linear_map
from ml2sc.ir.onnx.lowering import Const, Data, Lowering, NodeView, Outputs

FLOAT_TYPES = (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE)


def convert_identity(ctx: Lowering, n: NodeView) -> Outputs:
    return (ctx.tensor(n, 0),)


def convert_dropout_7(ctx: Lowering, n: NodeView) -> Outputs:
    """Opsets 7-11: identity at inference (ratio is an attribute); the mask output is unavailable."""
    return (ctx.tensor(n, 0), None)


def convert_dropout_12(ctx: Lowering, n: NodeView) -> Outputs:
    """Opset 12 on: ratio and training_mode are inputs; a true training_mode is refused."""
    if ctx.has_input(n, 2) and bool(np.any(ctx.const(n, 2, "training_mode"))):
        raise n.fail("training_mode is true; export the model in eval mode")
    return (ctx.tensor(n, 0), None)


def _untransposed(ctx: Lowering, n: NodeView, t: Data) -> Data:
    """A [1, N] tensor (W x' with one output) is one value per sample: the same as [N]."""
    if not t.transposed:
        return t
    if t.dims != (1,):
        raise n.fail(f"input '{n.inputs[0]}' has the samples on its last axis ({ctx.onnx_shape(t.dims, True)}); transpose it back to [N, F] first")
    return Data(t.value, ())


def convert_flatten(ctx: Lowering, n: NodeView) -> Outputs:
    """Flatten to [d0*..*d(axis-1), rest]: kept when the first factor is the batch (one row per sample)."""
    t = ctx.tensor(n, 0)
    axis = n.int_attr("axis", 1)
    if isinstance(t, Const):
        split = axis + t.array.ndim if axis < 0 else axis
        return fold(n, lambda a: a.reshape(int(np.prod(a.shape[:split])), -1), t.array)
    t = _untransposed(ctx, n, t)
    rank = ctx.rank(t)
    split = (axis + rank if axis < 0 else axis) - int(ctx.batched)
    if not ctx.batched and 0 <= split <= len(t.dims):
        return (replace(t, dims=(int(np.prod(t.dims[:split], dtype=np.int64)), int(np.prod(t.dims[split:], dtype=np.int64)))),)
    if split < 0 or int(np.prod(t.dims[:split], dtype=np.int64)) != 1:
        raise n.fail(f"Flatten(axis={axis}) of {ctx.onnx_shape(t.dims)} mixes the samples of the batch; only axis=1 (one row per sample) is supported")
    return (replace(t, dims=(int(np.prod(t.dims[split:], dtype=np.int64)),)),)


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
        if out is None or not out or out[0] != batch:
            return None
        rows.add(out[1:])
    return rows.pop() if len(rows) == 1 else None


def convert_reshape(ctx: Lowering, n: NodeView) -> Outputs:
    """Reshapes that keep one row per sample ([N, 1, 28, 28] -> [N, 784], [N, 1] -> [N]) change only dims."""
    t = ctx.tensor(n, 0)
    target = [int(d) for d in ctx.const(n, 1, "shape").ravel()]
    allowzero = bool(n.int_attr("allowzero", 0))
    if isinstance(t, Const):
        out = resolve_reshape(t.array.shape, target, allowzero)
        if out is None:
            raise n.fail(f"cannot reshape a constant of shape {list(t.array.shape)} to {target}")
        return (Const(t.array.reshape(out)),)
    t = _untransposed(ctx, n, t)
    dims = _reshaped_row(ctx, t.dims, target, allowzero)
    if dims is None:
        raise n.fail(f"reshaping {ctx.onnx_shape(t.dims)} to {target} does not keep one row per sample")
    return (replace(t, dims=dims),)


def convert_transpose(ctx: Lowering, n: NodeView) -> Outputs:
    """[N, F] <-> [F, N] flips the layout mark; a permutation within each row is a permutation gemm."""
    t = ctx.tensor(n, 0)
    perm_attr = n.attr("perm")
    if isinstance(t, Const):
        return fold(n, lambda a: np.transpose(a, perm_attr), t.array)
    rank = ctx.rank(t)
    perm = list(perm_attr) if perm_attr is not None else list(range(rank))[::-1]
    if ctx.batched and rank == 2 and perm == [1, 0]:
        return (replace(t, transposed=not t.transposed),)
    x = ctx.elementwise(n)
    if perm == list(range(rank)):
        return (x,)
    if ctx.batched and perm[0] != 0:
        raise n.fail(f"perm={perm} moves the batch axis of {ctx.onnx_shape(x.dims)}; only permutations within a row are supported")
    row_perm = [p - 1 for p in perm[1:]] if ctx.batched else perm
    fn = (lambda e: np.transpose(e, [0, *(p + 1 for p in row_perm)])) if ctx.batched else (lambda e: np.transpose(e, row_perm))
    weight, dims = linear_map(ctx, n, x, fn, "Transpose")
    return (emit_linear(ctx, n, x, weight, dims, f"{n.hint}_permutation"),)


def convert_cast(ctx: Lowering, n: NodeView) -> Outputs:
    """Casts to FLOAT/DOUBLE of float data vanish (the IR is float32), as do int64 casts of class indices."""
    to = n.int_attr("to", 0)
    t = ctx.tensor(n, 0)
    if isinstance(t, Const):
        return fold(n, lambda a: a.astype(onnx.helper.tensor_dtype_to_np_dtype(to)), t.array)
    name = onnx.TensorProto.DataType.Name(to)
    if to in FLOAT_TYPES and t.is_float:
        return (t,)
    if to == onnx.TensorProto.INT64 and not t.is_float:
        return (t,)
    kind = "float" if t.is_float else "int64 class-index"
    raise n.fail(f"Cast of a {kind} tensor to {name} is not supported (it would round every value to {name})")


def convert_constant(ctx: Lowering, n: NodeView) -> Outputs:
    """A Constant node is an initializer written inline (its values are checked where they are read)."""
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
