"""fuse-affine: per-feature scale/offset disappears into a neighbouring gemm.

A StandardScaler in front of an MLP costs nothing on chain after this pass:
affine -> gemm becomes W' = W diag(s), b' = b + W o; gemm -> affine becomes
W' = diag(s) W, b' = s b + o. Folded constants are float64 (no extra rounding).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from ml2sc.compiler.passes.rewrite import (
    array,
    float_constant,
    fresh_name,
    rewire,
    set_constants,
    sole_user,
    without_dead,
)
from ml2sc.ir import ops
from ml2sc.ir.module import Module
from ml2sc.ir.passes import ModulePass


@dataclass(frozen=True)
class FuseAffine(ModulePass):
    """Fold affine ops into the gemm that consumes or produces them."""

    name: ClassVar[str] = "fuse-affine"

    def apply(self, module: Module) -> Module:
        changed = True
        while changed:
            changed = False
            for op in module.ops:
                if isinstance(op, ops.Affine):
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
        w = array(module, gemm.weight)
        b = array(module, gemm.bias) if gemm.bias else np.zeros(w.shape[0])
        return self._replace_gemm(module, gemm, w * s[None, :], b + w @ o, new_input=aff.input)

    def _into_previous(self, module: Module, aff: ops.Affine) -> Module | None:
        gemm = module.producer(aff.input)
        if not isinstance(gemm, ops.Gemm) or sole_user(module, aff.input) is not aff:
            return None
        s, o = array(module, aff.scale), array(module, aff.offset)
        w = array(module, gemm.weight)
        b = array(module, gemm.bias) if gemm.bias else np.zeros(w.shape[0])
        module = self._replace_gemm(module, gemm, w * s[:, None], s * b + o, new_input=gemm.input)
        return without_dead(rewire(module, aff.result, gemm.result))

    def _replace_gemm(self, module: Module, gemm: ops.Gemm, w: np.ndarray, b: np.ndarray, new_input: object) -> Module:
        wn, bn = fresh_name(module, "w_fused"), fresh_name(module, "b_fused")
        module = set_constants(module, [float_constant(wn, w), float_constant(bn, b)])
        new = replace(gemm, input=new_input, weight=wn, bias=bn)
        return without_dead(replace(module, ops=tuple(new if o is gemm else o for o in module.ops)))
