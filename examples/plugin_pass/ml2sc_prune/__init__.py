"""An ml2sc pass plugin: zero the gemm weights whose magnitude is below a threshold.

The prbmath backend skips zero weights entirely (no PUSH, no MUL, no ADD), so
pruning trades a little accuracy for deployment and inference gas. Install
with ``pip install -e examples/plugin_pass`` and use it in a pipeline:
``--pipeline "canonicalize,prune-weights{threshold=0.01},quantize-fixed"``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from ml2sc.ir import ops
from ml2sc.ir.module import Constant, Module
from ml2sc.ir.passes import ModulePass


@dataclass(frozen=True)
class PruneWeights(ModulePass):
    """Zero every float gemm weight with |w| < threshold."""

    name: ClassVar[str] = "prune-weights"
    threshold: float = 1e-3

    def apply(self, module: Module) -> Module:
        weights = {op.weight for op in module.ops if isinstance(op, ops.Gemm)}
        constants = tuple(self._prune(c) if c.name in weights else c for c in module.constants)
        return replace(module, constants=constants)

    def _prune(self, c: Constant) -> Constant:
        if not all(isinstance(v, float) for v in c.values):
            return c
        return replace(c, values=tuple(0.0 if abs(v) < self.threshold else v for v in c.values))
