"""fold-batchnorm: inference batch norm becomes part of the preceding gemm, or an affine."""

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
            w = array(module, gemm.weight) * s[:, None]
            b = array(module, gemm.bias) if gemm.bias else np.zeros(len(s))
            wn, bnm = fresh_name(module, "w_bn"), fresh_name(module, "b_bn")
            module = set_constants(module, [float_constant(wn, w), float_constant(bnm, s * (b - mean) + beta)])
            module = replace(module, ops=tuple(replace(o, weight=wn, bias=bnm) if o is gemm else o for o in module.ops))
            return without_dead(rewire(module, bn.result, gemm.result))
        sn, on = fresh_name(module, "bn_scale"), fresh_name(module, "bn_offset")
        module = set_constants(module, [float_constant(sn, s), float_constant(on, beta - mean * s)])
        affine = ops.Affine(bn.result, bn.input, sn, on)
        return without_dead(replace(module, ops=tuple(affine if o is bn else o for o in module.ops)))
