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

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, ClassVar

from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.types import FixedType, FloatType, IntType, TensorType

if TYPE_CHECKING:
    from ml2sc.ir.module import Constant, Module, Value


class VerifyError(Ml2scError, ValueError):
    """Raised for IR that breaks an op's or the module's invariants."""


@dataclass(frozen=True)
class Op:
    """Base op. ``result`` is always the first field."""

    result: Value

    mnemonic: ClassVar[str] = ""
    operand_fields: ClassVar[tuple[str, ...]] = ()
    constant_fields: ClassVar[tuple[str, ...]] = ()
    attribute_fields: ClassVar[tuple[str, ...]] = ()

    @property
    def operands(self) -> tuple[Value, ...]:
        return tuple(getattr(self, f) for f in self.operand_fields)

    def constant_refs(self) -> tuple[str, ...]:
        return tuple(getattr(self, f) for f in self.constant_fields if getattr(self, f) is not None)

    def attrs(self) -> dict[str, float | int]:
        return {f: getattr(self, f) for f in self.attribute_fields}

    def verify(self, module: Module) -> None:
        """Check operand/result types; subclasses add their own rules."""

    def fail(self, message: str) -> VerifyError:
        return VerifyError(f"{self.mnemonic} {self.result}: {message}")


def _numeric(op: Op, t: TensorType) -> None:
    if not isinstance(t.element, FloatType | FixedType):
        raise op.fail(f"expects a float or fixed-point tensor, got {t}")


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


OPS: dict[str, type[Op]] = {
    cls.mnemonic: cls
    for cls in (Gemm, Affine, BatchNorm, Relu, LeakyRelu, Sigmoid, Tanh, Softmax,
                HardSigmoid, Clip, ArgMax, LabelMap)
}


def op_field_names(cls: type[Op]) -> list[str]:
    """All dataclass fields of an op class after ``result``, in declaration order."""
    return [f.name for f in fields(cls)][1:]
