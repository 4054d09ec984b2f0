"""Element and tensor types of the IR.

Number formats live in the types, not in side tables: a value typed
``fixed<18>`` *is* an integer scaled by 10^18, and a pass that changes the
format must change the type. That keeps emitters and simulators honest: they
read the format from the value they are handed.
"""

from __future__ import annotations

from dataclasses import dataclass


class ElementType:
    """Base of every element type; subclasses are frozen dataclasses."""

    def __str__(self) -> str:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    @property
    def is_float(self) -> bool:
        return isinstance(self, FloatType)


@dataclass(frozen=True)
class FloatType(ElementType):
    """IEEE float of ``bits`` bits: what the frontends and onnxruntime compute in."""

    bits: int = 32

    def __str__(self) -> str:
        return f"f{self.bits}"


@dataclass(frozen=True)
class IntType(ElementType):
    """Plain integer: class labels (i64), accumulators (i32), packed int8 data."""

    bits: int
    signed: bool = True

    def __str__(self) -> str:
        return f"{'i' if self.signed else 'u'}{self.bits}"


@dataclass(frozen=True)
class FixedType(ElementType):
    """Decimal fixed point: integer ``v`` stands for ``v / 10**decimals`` (SD59x18 is fixed<18>)."""

    decimals: int

    def __str__(self) -> str:
        return f"fixed<{self.decimals}>"

    @property
    def unit(self) -> int:
        return 10**self.decimals


@dataclass(frozen=True)
class QuantType(ElementType):
    """Affine-quantized integer: real = scale * (q - zero_point), q in ``bits`` bits."""

    bits: int
    scale: float
    zero_point: int
    signed: bool = True

    def __str__(self) -> str:
        kind = "qi" if self.signed else "qu"
        return f"{kind}{self.bits}<{self.scale!r}, {self.zero_point}>"


F32 = FloatType(32)
F64 = FloatType(64)
I64 = IntType(64)


@dataclass(frozen=True)
class TensorType:
    """A tensor of static shape; the batch dimension is implicit and never written."""

    shape: tuple[int, ...]
    element: ElementType

    def __str__(self) -> str:
        dims = "".join(f"{d}x" for d in self.shape)
        return f"tensor<{dims}{self.element}>"

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def with_element(self, element: ElementType) -> TensorType:
        return TensorType(self.shape, element)


def vector(n: int, element: ElementType = F32) -> TensorType:
    """Shorthand for the common case: a per-row feature vector."""
    return TensorType((n,), element)
