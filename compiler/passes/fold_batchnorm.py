"""fold-batchnorm: inference batch norm becomes part of the preceding gemm, or an affine."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ml2sc.compiler.passes.rewrite import (
    add_float_constants,
    array,
    gemm_arrays,
    replace_op,
    rewire,
    sole_user,
    with_gemm_constants,
    without_dead,
)
from ml2sc.ir import ops
from ml2sc.ir.module import Module
from ml2sc.ir.passes import ModulePass


@dataclass(frozen=True)
class FoldBatchNorm(ModulePass):
    """Fold batch_norm into the gemm before it (W' = s*W, b' = s*(b - mean) + beta), else turn it into an affine."""

    name: ClassVar[str] = "fold-batchnorm"

    def apply(self, module: Module) -> Module:
        while True:
            bn = next((op for op in module.ops if isinstance(op, ops.BatchNorm)), None)
            if bn is None:
                return module
            module = self._fold(module, bn)

    def _fold(self, module: Module, bn: ops.BatchNorm) -> Module:
        gamma, beta, mean, var = (array(module, n) for n in (bn.scale, bn.bias, bn.mean, bn.var))
        s = gamma / np.sqrt(var + bn.epsilon)
        gemm = module.producer(bn.input)
        if isinstance(gemm, ops.Gemm) and sole_user(module, bn.input) is bn:
            w, b = gemm_arrays(module, gemm)
            module = with_gemm_constants(module, gemm, w * s[:, None], s * (b - mean) + beta, "bn")
            return without_dead(rewire(module, bn.result, gemm.result))
        module, (sn, on) = add_float_constants(module, bn_scale=s, bn_offset=beta - mean * s)
        affine = ops.Affine(bn.result, bn.input, sn, on)
        return without_dead(replace_op(module, bn, affine))
