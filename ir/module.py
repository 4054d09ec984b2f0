"""Values, constants and the module container.

A module is one function over one input row: an ordered list of ops in SSA
form (each result named once, used only after its definition), module-level
constants for weights, and named outputs that keep the ONNX graph's output
names so that results can be handed back keyed as onnxruntime keys them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ml2sc.ir.types import TensorType

if TYPE_CHECKING:
    from ml2sc.ir.ops import Op

Scalar = int | float


@dataclass(frozen=True)
class Value:
    """An SSA value: ``%name`` of a tensor type."""

    name: str
    type: TensorType

    def __str__(self) -> str:
        return f"%{self.name}"


@dataclass(frozen=True)
class Constant:
    """A named module constant (``@name``), values flattened in row-major order.

    Values are Python ints or floats held in a tuple, so that constants compare
    and hash exactly; a float constant holds the exact value of its float32
    source (converting float32 to a Python float is exact).
    """

    name: str
    type: TensorType
    values: tuple[Scalar, ...]

    def __str__(self) -> str:
        return f"@{self.name}"

    def rows(self) -> list[tuple[Scalar, ...]]:
        """Values of a 2-D constant, one tuple per row."""
        rows, cols = self.type.shape
        return [self.values[r * cols : (r + 1) * cols] for r in range(rows)]


@dataclass(frozen=True)
class Output:
    """A function result: the ONNX output name and the value it returns."""

    name: str
    value: Value


@dataclass(frozen=True)
class Module:
    """One compiled model: inputs, ops, constants, outputs and free-form metadata."""

    name: str
    inputs: tuple[Value, ...]
    ops: tuple[Op, ...]
    outputs: tuple[Output, ...]
    constants: tuple[Constant, ...] = ()
    attributes: tuple[tuple[str, str], ...] = field(default=())

    def constant(self, name: str) -> Constant:
        for c in self.constants:
            if c.name == name:
                return c
        raise KeyError(f"no constant @{name}")

    def attribute(self, key: str, default: str | None = None) -> str | None:
        return dict(self.attributes).get(key, default)

    def with_attribute(self, key: str, value: str) -> Module:
        attrs = dict(self.attributes)
        attrs[key] = value
        return replace(self, attributes=tuple(sorted(attrs.items())))

    def walk(self) -> Iterator[Op]:
        yield from self.ops

    def users(self, value: Value) -> list[Op]:
        return [op for op in self.ops if value in op.operands]

    def producer(self, value: Value) -> Op | None:
        for op in self.ops:
            if op.result == value:
                return op
        return None

    def __str__(self) -> str:
        from ml2sc.ir.printer import print_module

        return print_module(self)


def used_constants(ops: tuple[Op, ...] | list[Op], constants: tuple[Constant, ...]) -> tuple[Constant, ...]:
    """The constants still referenced by ``ops``, in their original order (drops dead weights)."""
    names = {c for op in ops for c in op.constant_refs()}
    return tuple(c for c in constants if c.name in names)
