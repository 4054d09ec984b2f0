"""Lowering state shared by the converters.

The importer walks the ONNX graph once, in its (checked) topological order.
Every ONNX tensor name is bound to what it became: a ``Const`` (known at
import time: initializers, ``Constant`` nodes and anything folded from them)
or a ``Data`` (computed per input row: an IR value). Converters read their
inputs through ``Lowering`` so that "this must be a constant" and "this must
be a [N, F] float tensor" are checked in one place with one wording, and they
emit IR ops through it so that names and constants stay unique.

Converters only ever append ops; a rewrite (MatMul+Add fusion, the binary
classifier pattern) emits a new op and leaves the old one unused, and the
importer's final dead-code sweep drops it. That keeps every converter local.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import onnx

from ml2sc.ir import ops
from ml2sc.ir.errors import OnnxImportError
from ml2sc.ir.module import Constant, Value
from ml2sc.ir.types import F32, I64, ElementType, FloatType, TensorType

DEFAULT_DOMAIN = ""
ML_DOMAIN = "ai.onnx.ml"


def domain_label(domain: str) -> str:
    """How error messages spell a domain: the default one is 'ai.onnx'."""
    return domain or "ai.onnx"


def sanitize(name: str, fallback: str) -> str:
    """Map an ONNX name onto ``[A-Za-z0-9_]``, never empty and never starting with a digit."""
    s = re.sub(r"[^A-Za-z0-9_]+", "_", name)
    s = re.sub(r"_{2,}", "_", s).strip("_")
    if not s:
        return fallback
    return f"{fallback}_{s}" if s[0].isdigit() else s


@dataclass(frozen=True)
class Data:
    """A tensor computed per input row: an IR value plus the ONNX dims of one row.

    The IR knows two row types, a float vector ``(F,)`` and an i64 scalar
    (class index or label). ONNX may present the same row as ``[N, F]``,
    ``[N, 1]`` or ``[N]``; ``dims`` keeps the ONNX view (without the batch
    axis) so that axis attributes and reshapes are checked against what the
    model really computes, while reshapes that only add or drop a length-1
    axis leave the IR value untouched. An N-D row ``[C, H, W]`` is held as
    the flat vector of its ``C*H*W`` elements in C order.
    """

    value: Value
    dims: tuple[int, ...]
    transposed: bool = False  # ONNX holds it as [*dims, N] (W x' layouts): the batch axis is last

    @property
    def is_float(self) -> bool:
        return self.value.type.element.is_float

    @property
    def size(self) -> int:
        return int(np.prod(self.dims, dtype=np.int64))


@dataclass(frozen=True, eq=False)
class Const:
    """A tensor known at import time, in its ONNX dtype (float32 arithmetic stays float32)."""

    array: np.ndarray


Tensor = Data | Const
Outputs = tuple[Tensor | None, ...]


@dataclass(frozen=True)
class NodeView:
    """One ONNX node as converters see it: typed attribute access and error wording."""

    proto: onnx.NodeProto
    index: int
    opset: int

    @property
    def op_type(self) -> str:
        return self.proto.op_type

    @property
    def domain(self) -> str:
        return DEFAULT_DOMAIN if self.proto.domain in ("", "ai.onnx") else self.proto.domain

    @property
    def inputs(self) -> list[str]:
        return list(self.proto.input)

    @property
    def outputs(self) -> list[str]:
        return list(self.proto.output)

    @property
    def label(self) -> str:
        """``'name'``, or for unnamed nodes their position and first output."""
        if self.proto.name:
            return f"'{self.proto.name}'"
        first = self.proto.output[0] if self.proto.output else ""
        return f"#{self.index} producing '{first}'"

    @property
    def hint(self) -> str:
        """A name for IR values and constants that belong to the node as a whole."""
        return self.proto.name or (self.proto.output[0] if self.proto.output else self.op_type)

    def attr(self, name: str, default: object = None) -> object:
        for a in self.proto.attribute:
            if a.name == name:
                value = onnx.helper.get_attribute_value(a)
                return value.decode() if isinstance(value, bytes) else value
        return default

    def int_attr(self, name: str, default: int) -> int:
        return int(self.attr(name, default))

    def float_attr(self, name: str, default: float, allow_inf: bool = False) -> float:
        """A float attribute as the float32 ONNX stores (defaults rounded the same way); NaN/Inf refused."""
        value = float(np.float32(self.attr(name, default)))
        if np.isnan(value) or (np.isinf(value) and not allow_inf):
            raise self.fail(f"attribute '{name}' is {value}; only finite values are supported")
        return value

    def floats_attr(self, name: str) -> np.ndarray:
        values = np.asarray(self.attr(name, []), dtype=np.float32)
        if not np.all(np.isfinite(values)):
            raise self.fail(f"attribute '{name}' contains {_non_finite(values)}; only finite values are supported")
        return values

    def fail(self, reason: str) -> OnnxImportError:
        return OnnxImportError(f"node {self.label} ({self.op_type}): {reason}")


def _non_finite(array: np.ndarray) -> str:
    """'NaN', 'Inf' or 'NaN and Inf': what a float array holds that the IR cannot."""
    a = np.asarray(array, dtype=np.float64)
    kinds = [k for k, bad in (("NaN", np.isnan(a).any()), ("Inf", np.isinf(a).any())) if bad]
    return " and ".join(kinds)


def check_finite(n: NodeView, array: np.ndarray, what: str) -> np.ndarray:
    """``array`` if it is not a float array holding NaN or Inf, else an error naming the node and tensor."""
    if np.asarray(array).dtype.kind in "fc" and not np.all(np.isfinite(array)):
        raise n.fail(f"{what} contains {_non_finite(array)}; weights and constants must be finite")
    return array


def _float32_values(array: np.ndarray) -> tuple[float, ...]:
    # Converting float32 to a Python float is exact: the IR holds the source's values.
    return tuple(float(v) for v in np.asarray(array).astype(np.float32).ravel())


class Lowering:
    """What each ONNX tensor became, plus the IR ops and constants emitted so far."""

    def __init__(self, batch: int | None, batched: bool, consumers: Counter[str], graph_outputs: set[str]):
        self.batch = batch  # static batch size, or None when symbolic
        self.batched = batched  # False for a 1-D [F] model input
        self.env: dict[str, Tensor] = {}
        self.ops: list[ops.Op] = []
        self.constants: list[Constant] = []
        self._consumers = consumers
        self._graph_outputs = graph_outputs
        self._producers: dict[str, ops.Op] = {}
        self._value_names: set[str] = set()
        self._constant_names: set[str] = set()
        self._by_content: dict[tuple[TensorType, bytes], str] = {}
        self.node: NodeView | None = None  # the node being lowered, for errors about what it emits

    # -- shapes ---------------------------------------------------------------

    def rank(self, t: Data) -> int:
        return len(t.dims) + int(self.batched)

    def onnx_shape(self, dims: tuple[int, ...], transposed: bool = False) -> str:
        """A row's ONNX shape as messages show it, e.g. ``[N, 4]`` (``[4, N]`` when transposed)."""
        row = [str(d) for d in dims]
        parts = (row + ["N"] if transposed else ["N", *row]) if self.batched else row
        return "[" + ", ".join(parts) + "]"

    def reduced_axis(self, n: NodeView, t: Data, axis: int, what: str = "axis") -> int:
        """The row axis ``axis`` names, if a reduction over it is one over the whole row (else an error).

        The IR reduces (softmax, argmax) over a whole row, so the axis must not
        be the batch axis and every other row axis must have length 1.
        """
        rank = self.rank(t)
        normalized = axis + rank if axis < 0 else axis
        row_axis = normalized - int(self.batched)
        if not 0 <= normalized < rank or row_axis < 0:
            raise n.fail(f"{what}={axis} on a {self.onnx_shape(t.dims)} tensor reduces across samples; only axes within a row are supported")
        if any(d != 1 for i, d in enumerate(t.dims) if i != row_axis):
            raise n.fail(f"{what}={axis} on a {self.onnx_shape(t.dims)} tensor splits each row into several groups; "
                         "only an axis that holds every non-unit dimension of the row is supported")
        return row_axis

    def row_constant(self, n: NodeView, c: np.ndarray, x: Data, what: str) -> np.ndarray:
        """Broadcast constant ``c`` onto one row of ``x`` (flattened, C order), or fail if it varies across rows."""
        batch_last = (*x.dims, 1) if x.transposed else (1, *x.dims)
        target = batch_last if self.batched else x.dims
        try:
            shape = np.broadcast_shapes(c.shape, target)
        except ValueError:
            shape = None
        if shape != target:
            raise n.fail(f"{what} of shape {list(c.shape)} does not broadcast onto each row of a {self.onnx_shape(x.dims, x.transposed)} tensor")
        return np.broadcast_to(c, target).reshape(-1)

    # -- reading inputs -------------------------------------------------------

    def has_input(self, n: NodeView, i: int) -> bool:
        return i < len(n.inputs) and n.inputs[i] != ""

    def tensor(self, n: NodeView, i: int) -> Tensor:
        if not self.has_input(n, i):
            raise n.fail(f"required input {i} is missing")
        t = self.env.get(n.inputs[i])
        if t is None:
            raise n.fail(f"input '{n.inputs[i]}' is not defined by any initializer, graph input or earlier node")
        return t

    def data(self, n: NodeView, i: int, what: str = "input", transposed: bool = False) -> Data:
        """A data tensor; one in a transposed ([F, N]) layout only if the caller handles it."""
        t = self.tensor(n, i)
        if isinstance(t, Const):
            raise n.fail(f"{what} '{n.inputs[i]}' is a constant; expected a tensor computed from the model input")
        if t.transposed and not transposed:
            raise n.fail(f"{what} '{n.inputs[i]}' has the samples on its last axis ({self.onnx_shape(t.dims, True)}, "
                         "from W x' with the weights as the left operand); transpose it back to [N, F] first")
        return t

    def elementwise(self, n: NodeView, i: int = 0, what: str = "input", transposed: bool = False) -> Data:
        """A float data tensor of any row shape (held flat): what per-element IR ops take."""
        t = self.data(n, i, what, transposed)
        if not t.is_float:
            raise n.fail(f"{what} '{n.inputs[i]}' is an integer (class index) tensor; expected float features")
        return t

    def vector(self, n: NodeView, i: int = 0, what: str = "input") -> Data:
        """A float [N, F] (or [F]) data tensor: what every row-wise numeric IR op takes."""
        t = self.elementwise(n, i, what)
        if len(t.dims) != 1:
            raise n.fail(f"{what} '{n.inputs[i]}' has shape {self.onnx_shape(t.dims)}; expected [N, F] features")
        return t

    def const(self, n: NodeView, i: int, what: str = "input") -> np.ndarray:
        """A constant input, refused if it holds NaN or Inf."""
        t = self.tensor(n, i)
        if isinstance(t, Data):
            raise n.fail(f"{what} '{n.inputs[i]}' must be a constant (an initializer or Constant node), not computed from the model input")
        return check_finite(n, t.array, f"{what} '{n.inputs[i]}'")

    def sole_consumer(self, onnx_name: str) -> bool:
        """True when exactly one node reads ``onnx_name`` and it is no graph output (safe to fuse)."""
        return self._consumers[onnx_name] == 1 and onnx_name not in self._graph_outputs

    def is_used(self, onnx_name: str) -> bool:
        return self._consumers[onnx_name] > 0 or onnx_name in self._graph_outputs

    def producer(self, value: Value) -> ops.Op | None:
        return self._producers.get(value.name)

    def constant_array(self, name: str) -> np.ndarray:
        """The values of an emitted constant, shaped (float64 holds float32 values exactly)."""
        c = next(c for c in self.constants if c.name == name)
        return np.asarray(c.values, dtype=np.float64).reshape(c.type.shape)

    # -- emitting IR ----------------------------------------------------------

    def new_value(self, hint: str, type_: TensorType) -> Value:
        name = self._unique(sanitize(hint, "v"), self._value_names)
        return Value(name, type_)

    def emit(self, op: ops.Op) -> Value:
        self.ops.append(op)
        self._producers[op.result.name] = op
        return op.result

    def constant(self, hint: str, array: np.ndarray, element: ElementType = F32) -> str:
        """Add (or reuse, when identical) a module constant; float data is stored as exact float32."""
        array = np.asarray(array)
        type_ = TensorType(tuple(int(d) for d in array.shape), element)
        if isinstance(element, FloatType):
            with np.errstate(over="ignore", invalid="ignore"):
                raw = array.astype(np.float32)
            if self.node is not None:
                check_finite(self.node, raw, f"the weights it lowers to (@{sanitize(hint, 'c')}, in float32)")
            values: tuple[int | float, ...] = _float32_values(raw)
        else:
            raw = array.astype(np.int64)
            values = tuple(int(v) for v in raw.ravel())
        key = (type_, raw.tobytes())
        if key in self._by_content:
            return self._by_content[key]
        name = self._unique(sanitize(hint, "c"), self._constant_names)
        self.constants.append(Constant(name, type_, values))
        self._by_content[key] = name
        return name

    def gemm(self, hint: str, x: Data, weight: np.ndarray, bias: np.ndarray | None,
             weight_hint: str, bias_hint: str) -> Data:
        """Emit y = W x (+ b) for W of shape (out, in)."""
        out = int(weight.shape[0])
        w = self.constant(weight_hint, weight)
        b = self.constant(bias_hint, bias) if bias is not None else None
        result = self.new_value(hint, TensorType((out,), F32))
        return Data(self.emit(ops.Gemm(result, x.value, w, b)), (out,))

    def affine(self, hint: str, x: Data, scale: np.ndarray, offset: np.ndarray) -> Data:
        """Emit the per-element y = x * scale + offset (flat, float64 here, stored as float32 once)."""
        s = self.constant(f"{hint}_scale", np.reshape(scale, -1))
        o = self.constant(f"{hint}_offset", np.reshape(offset, -1))
        result = self.new_value(hint, x.value.type)
        return Data(self.emit(ops.Affine(result, x.value, s, o)), x.dims, x.transposed)

    def unary(self, hint: str, x: Data, cls: type[ops.Unary], **attrs: float) -> Data:
        result = self.new_value(hint, x.value.type)
        return Data(self.emit(cls(result, x.value, **attrs)), x.dims, x.transposed)

    def argmax(self, hint: str, x: Data, dims: tuple[int, ...]) -> Data:
        result = self.new_value(hint, TensorType((), I64))
        return Data(self.emit(ops.ArgMax(result, x.value)), dims)

    def label_map(self, hint: str, index: Data, classes: np.ndarray, classes_hint: str) -> Data:
        table = self.constant(classes_hint, classes, I64)
        result = self.new_value(hint, TensorType((), I64))
        return Data(self.emit(ops.LabelMap(result, index.value, table)), index.dims)

    @staticmethod
    def _unique(base: str, taken: set[str]) -> str:
        name, k = base, 1
        while name in taken:
            name = f"{base}_{k}"
            k += 1
        taken.add(name)
        return name
