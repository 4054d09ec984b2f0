"""fuse-activation: a gemm and the activation that alone reads it become one op.

``%1 = gemm %x, @w, @b`` followed by ``%2 = relu %1`` (``%1`` read by nothing else and
no model output) becomes ``%2 = gemm %x, @w, @b {fuse = "relu"}``. The tag is the
decision; each backend's emitter, simulator and cost model read it instead of each
finding the pattern again: prbmath folds a relu into the gemm's store, ml2sc-baseline
applies the activation inside its neuron loop, as ML2SC does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Module
from ml2sc.ir.passes import ModulePass


@dataclass(frozen=True)
class FuseActivation(ModulePass):
    """Fuse each activation in `ops` (names joined by '+') into the gemm it alone reads: gemm {fuse = "relu"}."""

    name: ClassVar[str] = "fuse-activation"
    ops: str = "relu"

    def apply(self, module: Module) -> Module:
        kinds = self._kinds()
        outputs = {o.value.name for o in module.outputs}
        fused: dict[str, ops.Op] = {}  # gemm result -> the activation it absorbs
        for op in module.ops:
            producer = module.producer(op.operands[0]) if type(op) in kinds else None
            if (isinstance(producer, ops.Gemm) and not producer.tag("fuse")
                    and module.users(producer.result) == [op] and producer.result.name not in outputs):
                fused[producer.result.name] = op
        if not fused:
            return module
        absorbed = {act.result.name for act in fused.values()}
        new_ops = []
        for op in module.ops:
            if op.result.name in absorbed:
                continue
            act = fused.get(op.result.name)
            new_ops.append(replace(op, result=act.result).with_tag("fuse", act.mnemonic) if act else op)
        return replace(module, ops=tuple(new_ops))

    def _kinds(self) -> set[type[ops.Op]]:
        names = [n.strip() for n in self.ops.split("+") if n.strip()]
        allowed = {"relu", "sigmoid", "tanh"}
        bad = [n for n in names if n not in allowed]
        if bad:
            raise Ml2scError(f"fuse-activation: cannot fuse '{bad[0]}'; ops takes {'+'.join(sorted(allowed))}")
        return {ops.OPS[n] for n in names}
