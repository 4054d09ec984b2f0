"""The simulator skeleton: one row through the ops in order, each op by its handler.

A backend's simulator subclasses ``Simulator`` and gives one ``@handles`` method per
op, computing exactly the integers its emitted code computes. A ``fuse`` tag written
by the ``fuse-activation`` pass (``gemm {fuse = "relu"}``) applies the named
activation's own handler to the op's result, as the contract does inside the gemm.
"""

from __future__ import annotations

from ml2sc.backends.common.dispatch import OpDispatch
from ml2sc.ir import ops
from ml2sc.ir.module import Module

Vector = list[int]


class Simulator(OpDispatch):
    def __init__(self, module: Module) -> None:
        self.m = module

    def values(self, row: Vector, start: int = 0) -> dict[str, Vector]:
        """Every value of one row by name; ``start`` skips the first ops (``row`` is then the
        result of op ``start - 1``)."""
        first = self.m.ops[start - 1].result.name if start else self.m.inputs[0].name
        env: dict[str, Vector] = {first: list(row)}
        for op in self.m.ops[start:]:
            y = self.handler(op)(op, env[op.operands[0].name])
            fused = op.tag("fuse")
            if fused:
                activation = ops.OPS[fused](op.result, op.result)
                y = self.handler(activation)(activation, y)
            env[op.result.name] = y
        return env

    def run(self, row: Vector, start: int = 0) -> Vector:
        """One row -> the contract's flat output (all outputs concatenated)."""
        env = self.values(row, start)
        return [v for out in self.m.outputs for v in env[out.value.name]]
