"""Small rewriting helpers shared by the built-in passes (modules are immutable)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ml2sc.ir.module import Constant, Module, Output, Value, used_constants
from ml2sc.ir.ops import Op
from ml2sc.ir.types import F64, TensorType


def sole_user(module: Module, value: Value) -> Op | None:
    """The only op using ``value``, if it has exactly one user and is not a module output."""
    if any(o.value == value for o in module.outputs):
        return None
    users = module.users(value)
    return users[0] if len(users) == 1 else None


def rewire(module: Module, old: Value, new: Value) -> Module:
    """Make every use of ``old`` (operands and outputs) a use of ``new``."""

    def fix(op: Op) -> Op:
        changes = {f: new for f in op.operand_fields if getattr(op, f) == old}
        return replace(op, **changes) if changes else op

    return replace(
        module,
        ops=tuple(fix(op) for op in module.ops),
        outputs=tuple(Output(o.name, new if o.value == old else o.value) for o in module.outputs),
    )


def without_dead(module: Module) -> Module:
    """Drop ops whose results nothing uses, then constants no op references."""
    live = {o.value.name for o in module.outputs}
    kept: list[Op] = []
    for op in reversed(module.ops):
        if op.result.name in live:
            kept.append(op)
            live.update(v.name for v in op.operands)
    ops = tuple(reversed(kept))
    return replace(module, ops=ops, constants=used_constants(ops, module.constants))


def array(module: Module, name: str) -> np.ndarray:
    c = module.constant(name)
    return np.asarray(c.values, dtype=np.float64).reshape(c.type.shape)


def fresh_name(module: Module, base: str) -> str:
    taken = {c.name for c in module.constants}
    n = 0
    while f"{base}{n}" in taken:
        n += 1
    return f"{base}{n}"


def float_constant(name: str, values: np.ndarray) -> Constant:
    """A folded constant keeps float64 precision, so folding adds no float32 rounding."""
    arr = np.asarray(values, dtype=np.float64)
    return Constant(name, TensorType(tuple(arr.shape), F64), tuple(float(v) for v in arr.ravel()))


def set_constants(module: Module, new: list[Constant]) -> Module:
    by_name = {c.name: c for c in module.constants}
    for c in new:
        by_name[c.name] = c
    return replace(module, constants=tuple(by_name.values()))
