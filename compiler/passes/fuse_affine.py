"""fuse-affine: per-feature scale/offset disappears into a neighbouring gemm.

A StandardScaler in front of an MLP costs nothing on chain after this pass:
affine -> gemm becomes W' = W diag(s), b' = b + W o; gemm -> affine becomes
W' = diag(s) W, b' = s b + o. Folded constants are float64 (no extra rounding).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ml2sc.compiler.passes.rewrite import (
    array,
    gemm_arrays,
    rewire,
    sole_user,
    with_gemm_constants,
    without_dead,
)
from ml2sc.ir import ops
from ml2sc.ir.module import Module
from ml2sc.ir.passes import ModulePass
from ml2sc.ir.types import FloatType


@dataclass(frozen=True)
class FuseAffine(ModulePass):
    """Fold affine ops into the gemm that consumes or produces them."""

    name: ClassVar[str] = "fuse-affine"

    def apply(self, module: Module) -> Module:
        changed = True
        while changed:
            changed = False
            for op in module.ops:
                if isinstance(op, ops.Affine) and isinstance(op.input.type.element, FloatType):  # real arithmetic only
                    fused = self._into_next(module, op) or self._into_previous(module, op)
                    if fused is not None:
                        module, changed = fused, True
                        break
        return module

    def _into_next(self, module: Module, aff: ops.Affine) -> Module | None:
        gemm = sole_user(module, aff.result)
        if not isinstance(gemm, ops.Gemm):
            return None
        s, o = array(module, aff.scale), array(module, aff.offset)
        w, b = gemm_arrays(module, gemm)
        return without_dead(with_gemm_constants(module, gemm, w * s[None, :], b + w @ o, "fused", input=aff.input))

    def _into_previous(self, module: Module, aff: ops.Affine) -> Module | None:
        gemm = module.producer(aff.input)
        if not isinstance(gemm, ops.Gemm) or sole_user(module, aff.input) is not aff:
            return None
        s, o = array(module, aff.scale), array(module, aff.offset)
        w, b = gemm_arrays(module, gemm)
        module = with_gemm_constants(module, gemm, w * s[:, None], s * b + o, "fused")
        return without_dead(rewire(module, aff.result, gemm.result))
