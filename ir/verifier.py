"""Whole-module checks: SSA discipline, constants, outputs, then each op's own rules."""

from __future__ import annotations

from ml2sc.ir.module import Constant, Module
from ml2sc.ir.ops import VerifyError
from ml2sc.ir.types import FloatType


def _check_constant(c: Constant) -> None:
    if len(c.values) != c.type.size:
        raise VerifyError(f"constant @{c.name}: {len(c.values)} values for type {c.type} of size {c.type.size}")
    want = float if isinstance(c.type.element, FloatType) else int
    for bad in c.values:
        if type(bad) is not want:
            raise VerifyError(f"constant @{c.name}: value {bad!r} is not a {want.__name__} as {c.type.element} requires")


def verify(module: Module) -> Module:
    """Raise ``VerifyError`` naming the first broken invariant; return the module for chaining."""
    names: set[str] = set()
    for c in module.constants:
        if c.name in names:
            raise VerifyError(f"constant @{c.name} defined twice")
        names.add(c.name)
        _check_constant(c)

    defined: dict[str, object] = {}
    for v in module.inputs:
        if v.name in defined:
            raise VerifyError(f"input %{v.name} defined twice")
        defined[v.name] = v
    for op in module.ops:
        for operand in op.operands:
            if defined.get(operand.name) != operand:
                raise op.fail(f"operand %{operand.name} is used before it is defined (or with another type)")
        if op.result.name in defined:
            raise op.fail(f"%{op.result.name} is defined twice")
        op.verify(module)
        defined[op.result.name] = op.result

    if not module.outputs:
        raise VerifyError("module has no outputs")
    for out in module.outputs:
        if defined.get(out.value.name) != out.value:
            raise VerifyError(f"output '{out.name}' returns %{out.value.name}, which is not defined")
    return module
