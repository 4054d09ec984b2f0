"""Small rewriting helpers shared by the built-in passes (modules are immutable)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ml2sc.ir.module import Constant, Module, Output, Value, used_constants
from ml2sc.ir.ops import Gemm, Op
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


def replace_op(module: Module, old: Op, new: Op) -> Module:
    """``module`` with the op ``old`` (by identity) replaced by ``new``."""
    return replace(module, ops=tuple(new if o is old else o for o in module.ops))


def gemm_arrays(module: Module, gemm: Gemm) -> tuple[np.ndarray, np.ndarray]:
    """A gemm's weight and bias (zeros when it has none) as float64 arrays."""
    w = array(module, gemm.weight)
    b = array(module, gemm.bias) if gemm.bias else np.zeros(w.shape[0])
    return w, b


def with_gemm_constants(module: Module, gemm: Gemm, w: np.ndarray, b: np.ndarray, tag: str, **changes: object) -> Module:
    """Replace ``gemm`` by a copy using the float64 weight ``w`` and bias ``b`` (new constants
    ``w_<tag>N``, ``b_<tag>N``) and the other field ``changes``; the old constants are left for
    ``without_dead``."""
    module, (wn, bn) = add_float_constants(module, **{f"w_{tag}": w, f"b_{tag}": b})
    return replace_op(module, gemm, replace(gemm, weight=wn, bias=bn, **changes))


def add_float_constants(module: Module, **values: np.ndarray) -> tuple[Module, list[str]]:
    """Add each array as a float64 constant under a fresh name made from its keyword
    (``bn_scale`` -> ``bn_scale0``); returns the module and the new names, in order."""
    names = [fresh_name(module, base) for base in values]
    module = set_constants(module, [float_constant(n, v) for n, v in zip(names, values.values(), strict=True)])
    return module, names
