"""The IR's operations: one small frozen dataclass per op, each with ``verify``.

An op's *fields* are its operands (``Value``), its constant references
(``str`` names of module constants, written ``@name``) and its attributes
(floats/ints, written ``{alpha = 0.01}``). The printer, parser and verifier
are driven by three class-level tuples naming those fields, so adding an op
is adding one class and one line in ``OPS``.

Numeric meaning depends on the element type: on ``f32`` values ops mean the
real-valued ONNX semantics; on ``fixed<d>`` values they mean the integer
algorithms documented by the backend that accepts them (see
``backends/prbmath/numerics.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, ClassVar

from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.types import FixedType, FloatType, IntType, QuantType, TensorType

if TYPE_CHECKING:
    from ml2sc.ir.module import Constant, Module, Value


class VerifyError(Ml2scError, ValueError):
    """Raised for IR that breaks an op's or the module's invariants."""


@dataclass(frozen=True)
class Op:
    """Base op. ``result`` is always the first field.

    ``tags`` are the op's discardable attributes (MLIR's term): string key/value pairs
    that analysis passes write and later stages read (``gemm ... {fuse = "relu"}``).
    They carry decisions, so that the emitter, the simulator and the cost model read one
    answer instead of each re-deriving it. Keyword-only, so subclasses keep positional fields.
    """

    result: Value
    tags: tuple[tuple[str, str], ...] = field(default=(), kw_only=True)

    mnemonic: ClassVar[str] = ""
    operand_fields: ClassVar[tuple[str, ...]] = ()
    constant_fields: ClassVar[tuple[str, ...]] = ()
    attribute_fields: ClassVar[tuple[str, ...]] = ()
    #: Whether the op also has integer semantics on quantized (``qi8<s, z>``) operands.
    accepts_quant: ClassVar[bool] = False

    @property
    def operands(self) -> tuple[Value, ...]:
        return tuple(getattr(self, f) for f in self.operand_fields)

    def constant_refs(self) -> tuple[str, ...]:
        return tuple(getattr(self, f) for f in self.constant_fields if getattr(self, f) is not None)

    def attrs(self) -> dict[str, float | int]:
        return {f: getattr(self, f) for f in self.attribute_fields}

    def tag(self, key: str, default: str | None = None) -> str | None:
        return dict(self.tags).get(key, default)

    def with_tag(self, key: str, value: str) -> Op:
        """This op with tag ``key`` set to ``value`` (tags stay sorted, so printing is canonical)."""
        items = dict(self.tags)
        items[key] = value
        return replace(self, tags=tuple(sorted(items.items())))

    def verify(self, module: Module) -> None:
        """Check operand/result types; subclasses add their own rules."""

    def fail(self, message: str) -> VerifyError:
        return VerifyError(f"{self.mnemonic} {self.result}: {message}")


def _numeric(op: Op, t: TensorType) -> None:
    if isinstance(t.element, QuantType) and op.accepts_quant:
        return
    if not isinstance(t.element, FloatType | FixedType):
        kinds = "a float, fixed-point or quantized" if op.accepts_quant else "a float or fixed-point"
        raise op.fail(f"expects {kinds} tensor, got {t}")


def _constant(op: Op, module: Module, name: str) -> Constant:
    try:
        return module.constant(name)
    except KeyError:
        raise op.fail(f"unknown constant @{name}") from None


def _same_format(op: Op, what: str, got: TensorType, want: TensorType) -> None:
    """Constants must share the value's number format; any float width goes with any float
    (folding passes keep float64 constants in a float32 model to avoid extra rounding)."""
    if isinstance(got.element, FloatType) and isinstance(want.element, FloatType):
        return
    if got.element != want.element:
        raise op.fail(f"{what} has element type {got.element}, expected {want.element}")


@dataclass(frozen=True)
class Unary(Op):
    """Elementwise op whose result has exactly its operand's type."""

    input: Value
    operand_fields: ClassVar[tuple[str, ...]] = ("input",)

    def verify(self, module: Module) -> None:
        _numeric(self, self.input.type)
        if self.result.type != self.input.type:
            raise self.fail(f"result type {self.result.type} must equal operand type {self.input.type}")


@dataclass(frozen=True)
class Relu(Unary):
    mnemonic: ClassVar[str] = "relu"
    accepts_quant: ClassVar[bool] = True


@dataclass(frozen=True)
class Sigmoid(Unary):
    mnemonic: ClassVar[str] = "sigmoid"


@dataclass(frozen=True)
class Tanh(Unary):
    mnemonic: ClassVar[str] = "tanh"


@dataclass(frozen=True)
class Softmax(Unary):
    """Softmax over the (only) feature axis."""

    mnemonic: ClassVar[str] = "softmax"


@dataclass(frozen=True)
class LeakyRelu(Unary):
    alpha: float = 0.01
    mnemonic: ClassVar[str] = "leaky_relu"
    accepts_quant: ClassVar[bool] = True
    attribute_fields: ClassVar[tuple[str, ...]] = ("alpha",)


@dataclass(frozen=True)
class HardSigmoid(Unary):
    """max(0, min(1, alpha * x + beta))."""

    alpha: float = 0.2
    beta: float = 0.5
    mnemonic: ClassVar[str] = "hard_sigmoid"
    attribute_fields: ClassVar[tuple[str, ...]] = ("alpha", "beta")


@dataclass(frozen=True)
class Clip(Unary):
    """min(max(x, min), max): ONNX Clip, e.g. ReLU6."""

    min: float = 0.0
    max: float = 6.0
    mnemonic: ClassVar[str] = "clip"
    accepts_quant: ClassVar[bool] = True
    attribute_fields: ClassVar[tuple[str, ...]] = ("min", "max")

    def verify(self, module: Module) -> None:
        super().verify(module)
        if self.min > self.max:
            raise self.fail(f"min {self.min} is greater than max {self.max}")


def _vector_constant(op: Op, module: Module, name: str, n: int, like: TensorType) -> None:
    c = _constant(op, module, name)
    if c.type.shape != (n,):
        raise op.fail(f"@{name} has shape {c.type.shape}, expected ({n},)")
    _same_format(op, f"@{name}", c.type, like)


@dataclass(frozen=True)
class Gemm(Op):
    """y = W x + b with W of shape (out, in); transposes and alpha/beta are folded at import."""

    input: Value
    weight: str
    bias: str | None = None
    mnemonic: ClassVar[str] = "gemm"
    operand_fields: ClassVar[tuple[str, ...]] = ("input",)
    constant_fields: ClassVar[tuple[str, ...]] = ("weight", "bias")

    def verify(self, module: Module) -> None:
        t = self.input.type
        _numeric(self, t)
        if len(t.shape) != 1:
            raise self.fail(f"input must be a vector, got {t}")
        w = _constant(self, module, self.weight)
        if len(w.type.shape) != 2 or w.type.shape[1] != t.shape[0]:
            raise self.fail(f"weight @{self.weight} has shape {w.type.shape}, expected (N, {t.shape[0]})")
        if not (isinstance(t.element, FixedType) and isinstance(w.type.element, FloatType)):
            _same_format(self, f"weight @{self.weight}", w.type, t)  # fixed input may take exact float weights
        out = w.type.shape[0]
        if self.bias is not None:
            _vector_constant(self, module, self.bias, out, t)
        if self.result.type != TensorType((out,), t.element):
            raise self.fail(f"result type {self.result.type}, expected {TensorType((out,), t.element)}")


@dataclass(frozen=True)
class Affine(Op):
    """Per-feature y = x * scale + offset (scalers, folded normalisations)."""

    input: Value
    scale: str
    offset: str
    mnemonic: ClassVar[str] = "affine"
    operand_fields: ClassVar[tuple[str, ...]] = ("input",)
    constant_fields: ClassVar[tuple[str, ...]] = ("scale", "offset")

    def verify(self, module: Module) -> None:
        t = self.input.type
        _numeric(self, t)
        if len(t.shape) != 1:
            raise self.fail(f"input must be a vector, got {t}")
        _vector_constant(self, module, self.scale, t.shape[0], t)
        _vector_constant(self, module, self.offset, t.shape[0], t)
        if self.result.type != t:
            raise self.fail(f"result type {self.result.type} must equal operand type {t}")


@dataclass(frozen=True)
class BatchNorm(Op):
    """Inference-mode batch normalisation; ``fold-batchnorm`` rewrites it away."""

    input: Value
    scale: str
    bias: str
    mean: str
    var: str
    epsilon: float = 1e-5
    mnemonic: ClassVar[str] = "batch_norm"
    operand_fields: ClassVar[tuple[str, ...]] = ("input",)
    constant_fields: ClassVar[tuple[str, ...]] = ("scale", "bias", "mean", "var")
    attribute_fields: ClassVar[tuple[str, ...]] = ("epsilon",)

    def verify(self, module: Module) -> None:
        t = self.input.type
        if not isinstance(t.element, FloatType) or len(t.shape) != 1:
            raise self.fail(f"expects a float vector, got {t}")
        for name in self.constant_refs():
            _vector_constant(self, module, name, t.shape[0], t)
        if self.result.type != t:
            raise self.fail(f"result type {self.result.type} must equal operand type {t}")


@dataclass(frozen=True)
class ArgMax(Op):
    """Index of the first maximum of a vector, as an i64 scalar."""

    input: Value
    mnemonic: ClassVar[str] = "argmax"
    accepts_quant: ClassVar[bool] = True
    operand_fields: ClassVar[tuple[str, ...]] = ("input",)

    def verify(self, module: Module) -> None:
        _numeric(self, self.input.type)
        if len(self.input.type.shape) != 1:
            raise self.fail(f"input must be a vector, got {self.input.type}")
        if self.result.type != TensorType((), IntType(64)):
            raise self.fail(f"result must be tensor<i64>, got {self.result.type}")


@dataclass(frozen=True)
class LabelMap(Op):
    """Class index -> class label through an i64 constant table (sklearn's classes_)."""

    input: Value
    classes: str
    mnemonic: ClassVar[str] = "label_map"
    operand_fields: ClassVar[tuple[str, ...]] = ("input",)
    constant_fields: ClassVar[tuple[str, ...]] = ("classes",)

    def verify(self, module: Module) -> None:
        scalar_i64 = TensorType((), IntType(64))
        if self.input.type != scalar_i64 or self.result.type != scalar_i64:
            raise self.fail("maps a tensor<i64> index to a tensor<i64> label")
        c = _constant(self, module, self.classes)
        if len(c.type.shape) != 1 or c.type.element != IntType(64):
            raise self.fail(f"@{self.classes} must be a tensor<Nxi64>, got {c.type}")


# ---------------------------------------------------------------------------
# Quantized ops (the int8 backend). Integer semantics, exact on any machine:
# ``q`` is the integer a ``qi8<s, z>`` value holds (real = s * (q - z)), ``>>``
# is an arithmetic shift (floor division by a power of two).


def _quant(op: Op, t: TensorType, what: str = "operand") -> QuantType:
    if not isinstance(t.element, QuantType):
        raise op.fail(f"{what} must be quantized (qi8<scale, zero_point>), got {t}")
    return t.element


def _int_vector(op: Op, module: Module, name: str, n: int) -> Constant:
    c = _constant(op, module, name)
    if c.type.shape != (n,) or not isinstance(c.type.element, IntType):
        raise op.fail(f"@{name} must be an integer tensor<{n}x..>, got {c.type}")
    return c


def _type_range(q: QuantType) -> tuple[int, int]:
    return (-(2 ** (q.bits - 1)), 2 ** (q.bits - 1) - 1) if q.signed else (0, 2**q.bits - 1)


@dataclass(frozen=True)
class Quantize(Op):
    """fixed<18> -> qi8: q = clamp(((x * multiplier + 2^(shift-1)) >> shift) + z, type range).

    ``multiplier / 2^shift`` approximates 1 / (10^18 * scale); inputs beyond
    +-2^127 saturate first, so the product never leaves int256.

    Per-feature form (``quantize %x, @params {multiplier = 0, shift = 0}``): ``params``
    is a ``tensor<Kx3x..>`` integer constant, row i = (A_i, S_i, z_i), and feature i is
    quantized with its own scale: q_i = clamp(((x_i * A_i + 2^(S_i-1)) >> S_i) + z_i).
    The result type is then the nominal ``qi8<1.0, 0>`` (there is no single scale) and
    only ``qgemm`` may read it: the quantization pass folds each s_i into the weights
    and each z_i into the bias.
    """

    input: Value
    params: str | None = None
    multiplier: int = 1
    shift: int = 1
    mnemonic: ClassVar[str] = "quantize"
    operand_fields: ClassVar[tuple[str, ...]] = ("input",)
    constant_fields: ClassVar[tuple[str, ...]] = ("params",)
    attribute_fields: ClassVar[tuple[str, ...]] = ("multiplier", "shift")

    def verify(self, module: Module) -> None:
        if not isinstance(self.input.type.element, FixedType):
            raise self.fail(f"operand must be fixed-point, got {self.input.type}")
        q = _quant(self, self.result.type, "result")
        if self.result.type.shape != self.input.type.shape:
            raise self.fail(f"result shape {self.result.type.shape} != operand shape {self.input.type.shape}")
        if self.params is None:
            if not (0 < self.multiplier < 2**120 and 1 <= self.shift <= 240):
                raise self.fail(f"multiplier {self.multiplier} / shift {self.shift} out of range")
            return
        if self.multiplier != 0 or self.shift != 0:
            raise self.fail("a per-feature quantize (with @params) takes multiplier = 0, shift = 0")
        if (q.bits, q.scale, q.zero_point, q.signed) != (8, 1.0, 0, True):
            raise self.fail(f"a per-feature quantize's result is the nominal qi8<1.0, 0>, got {q}")
        c = _constant(self, module, self.params)
        k = self.input.type.size
        if c.type.shape != (k, 3) or not isinstance(c.type.element, IntType):
            raise self.fail(f"@{self.params} must be an integer tensor<{k}x3x..> of (multiplier, shift, zero point) rows")
        for i, (a, s, z) in enumerate(c.rows()):
            if not (0 < a < 2**120 and 1 <= s <= 240 and -128 <= z <= 127):
                raise self.fail(f"@{self.params} row {i} (multiplier {a}, shift {s}, zero point {z}) out of range")
        readers = [op for op in module.ops if self.result in op.operands]
        if any(not isinstance(op, QGemm) for op in readers) or any(o.value == self.result for o in module.outputs):
            raise self.fail("a per-feature quantized input may only be read by qgemm")


@dataclass(frozen=True)
class QGemm(Op):
    """Integer matrix-vector product: acc_j = bias_j + sum_i W_ji * q_i (int32 accumulators).

    ``q`` are the raw integers of the quantized input (its zero point is folded into
    the bias by the quantization pass); W is int8 (per-output-channel scales live in
    the following ``requantize``). ``lanes`` is how many outputs the SWAR kernel
    packs per 256-bit word; the emitter proves they cannot overflow or refuses.
    """

    input: Value
    weight: str
    bias: str
    lanes: int = 1
    mnemonic: ClassVar[str] = "qgemm"
    operand_fields: ClassVar[tuple[str, ...]] = ("input",)
    constant_fields: ClassVar[tuple[str, ...]] = ("weight", "bias")
    attribute_fields: ClassVar[tuple[str, ...]] = ("lanes",)

    def verify(self, module: Module) -> None:
        q = _quant(self, self.input.type)
        if len(self.input.type.shape) != 1 or q.bits != 8:
            raise self.fail(f"input must be an 8-bit quantized vector, got {self.input.type}")
        w = _constant(self, module, self.weight)
        k = self.input.type.shape[0]
        if len(w.type.shape) != 2 or w.type.shape[1] != k or w.type.element != IntType(8):
            raise self.fail(f"weight @{self.weight} must be tensor<Nx{k}xi8>, got {w.type}")
        if any(not -127 <= v <= 127 for v in w.values):
            raise self.fail(f"weight @{self.weight} has values outside [-127, 127]")
        n = w.type.shape[0]
        _int_vector(self, module, self.bias, n)
        if self.result.type != TensorType((n,), IntType(32)):
            raise self.fail(f"result type {self.result.type}, expected {TensorType((n,), IntType(32))}")
        if not 1 <= self.lanes <= 32:
            raise self.fail(f"lanes = {self.lanes} must lie in [1, 32]")


@dataclass(frozen=True)
class Requantize(Op):
    """int32 accumulators -> quantized: y_j = clamp(((acc_j * M_j + 2^(S_j-1)) >> S_j) + z, qmin, qmax).

    M_j / 2^S_j is the real multiplier s_in * s_w_j / s_out (gemmlowp style, per
    output channel); a fused relu or clip is a raised ``qmin`` / lowered ``qmax``.
    """

    input: Value
    multiplier: str
    shift: str
    qmin: int = -128
    qmax: int = 127
    mnemonic: ClassVar[str] = "requantize"
    operand_fields: ClassVar[tuple[str, ...]] = ("input",)
    constant_fields: ClassVar[tuple[str, ...]] = ("multiplier", "shift")
    attribute_fields: ClassVar[tuple[str, ...]] = ("qmin", "qmax")

    def verify(self, module: Module) -> None:
        t = self.input.type
        if len(t.shape) != 1 or t.element != IntType(32):
            raise self.fail(f"operand must be an i32 vector, got {t}")
        q = _quant(self, self.result.type, "result")
        if self.result.type.shape != t.shape:
            raise self.fail(f"result shape {self.result.type.shape} != operand shape {t.shape}")
        _int_vector(self, module, self.multiplier, t.shape[0])
        shifts = _int_vector(self, module, self.shift, t.shape[0])
        if any(not 1 <= s <= 127 for s in shifts.values):
            raise self.fail(f"shifts @{self.shift} must lie in [1, 127]")
        lo, hi = _type_range(q)
        if not lo <= self.qmin <= self.qmax <= hi:
            raise self.fail(f"clamp [{self.qmin}, {self.qmax}] is not inside {q}'s range [{lo}, {hi}]")


@dataclass(frozen=True)
class TableLookup(Op):
    """y = table[q - qmin]: any function of an 8-bit value as a 256-entry table (sigmoid, tanh)."""

    input: Value
    table: str
    mnemonic: ClassVar[str] = "lut"
    operand_fields: ClassVar[tuple[str, ...]] = ("input",)
    constant_fields: ClassVar[tuple[str, ...]] = ("table",)

    def verify(self, module: Module) -> None:
        q = _quant(self, self.input.type)
        if q.bits != 8:
            raise self.fail(f"a lookup table takes 8-bit values, got {self.input.type}")
        out = _quant(self, self.result.type, "result")
        if self.result.type.shape != self.input.type.shape:
            raise self.fail(f"result shape {self.result.type.shape} != operand shape {self.input.type.shape}")
        table = _int_vector(self, module, self.table, 256)
        lo, hi = _type_range(out)
        if any(not lo <= v <= hi for v in table.values):
            raise self.fail(f"table @{self.table} has values outside {out}'s range")


@dataclass(frozen=True)
class QSoftmax(Op):
    """Softmax from a table exp and integer normalisation, output at scale 2^-16.

    d_i = max(q) - q_i; e_i = (exp_hi[d_i >> 8] * exp_lo[d_i & 255]) >> 16 with
    exp_lo[k] = round(2^16 exp(-s k)), exp_hi[k] = round(2^16 exp(-256 s k));
    y_i = (e_i << 16) // sum(e).
    """

    input: Value
    exp_hi: str
    exp_lo: str
    mnemonic: ClassVar[str] = "qsoftmax"
    operand_fields: ClassVar[tuple[str, ...]] = ("input",)
    constant_fields: ClassVar[tuple[str, ...]] = ("exp_hi", "exp_lo")

    def verify(self, module: Module) -> None:
        q = _quant(self, self.input.type)
        if len(self.input.type.shape) != 1 or q.bits > 16:
            raise self.fail(f"operand must be a quantized vector of at most 16 bits, got {self.input.type}")
        out = _quant(self, self.result.type, "result")
        if self.result.type.shape != self.input.type.shape or out != QuantType(32, 2.0**-16, 0, signed=False):
            raise self.fail(f"result must be tensor<{self.input.type.shape[0]}xqu32<1.52587890625e-05, 0>>")
        for name in (self.exp_hi, self.exp_lo):
            table = _int_vector(self, module, name, 256)
            if any(not 0 <= v <= 2**16 for v in table.values):
                raise self.fail(f"table @{name} has values outside [0, 65536]")


OPS: dict[str, type[Op]] = {
    cls.mnemonic: cls
    for cls in (Gemm, Affine, BatchNorm, Relu, LeakyRelu, Sigmoid, Tanh, Softmax,
                HardSigmoid, Clip, ArgMax, LabelMap,
                Quantize, QGemm, Requantize, TableLookup, QSoftmax)
}


def op_field_names(cls: type[Op]) -> list[str]:
    """All dataclass fields of an op class after ``result``, in declaration order (no tags)."""
    return [f.name for f in fields(cls) if f.name not in ("result", "tags")]
