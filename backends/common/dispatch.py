"""Op type -> method dispatch, the one style every emitter and simulator uses.

A method marked ``@handles(ops.Gemm)`` is the class's code for gemm; subclasses
inherit and may override handlers like any method. An op with no handler is a
one-line error naming the backend, the op and its result, never a KeyError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.ops import Op

F = TypeVar("F", bound=Callable[..., Any])


def handles(*op_types: type[Op]) -> Callable[[F], F]:
    """Mark a method as the handler of ``op_types``."""

    def mark(fn: F) -> F:
        fn.__handles__ = op_types  # type: ignore[attr-defined]
        return fn

    return mark


class OpDispatch:
    """Collects the ``@handles`` methods of a class and its bases into one table."""

    backend: ClassVar[str] = ""
    _handlers: ClassVar[dict[type[Op], str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[type[Op], str] = {}
        for klass in reversed(cls.__mro__):
            for name, member in vars(klass).items():
                for op_type in getattr(member, "__handles__", ()):
                    table[op_type] = name
        cls._handlers = table

    @classmethod
    def supported_ops(cls) -> frozenset[type[Op]]:
        return frozenset(cls._handlers)

    def handler(self, op: Op) -> Callable[..., Any]:
        name = self._handlers.get(type(op))
        if name is None:
            raise Ml2scError(f"{self.backend} backend: unsupported op '{op.mnemonic}' ({op.result})")
        return getattr(self, name)
