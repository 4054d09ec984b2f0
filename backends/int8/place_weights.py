"""place-weights: decide where an int8 model's SWAR weight words live, and say why.

Inline, the words are PUSH32 immediates in the model's own code: a multiply-accumulate
word costs 17 gas instead of 20 and no cold data contract is touched (2,600 gas), but
every group of outputs has its own code (~39 bytes a word), so only small models fit.
Otherwise they go to data contracts read with EXTCODECOPY. The decision is written on
the module (``int8.weights``, and ``int8.weights.why``) for the emitter and the cost
model to read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Module
from ml2sc.ir.passes import ModulePass

INLINE_BYTES = 14_000  # auto: immediates in the model's code when they take at most this (of 24,576)
WEIGHT_MODES = ("auto", "data", "inline")


def inline_code_bytes(module: Module) -> int:
    """About how many bytes of code the weights and tables take as immediates."""
    size = 0
    for op in module.ops:
        if isinstance(op, ops.QGemm):
            n_out, n_in = module.constant(op.weight).type.shape
            size += 39 * n_in * -(-n_out // op.lanes)
        elif isinstance(op, ops.TableLookup | ops.QSoftmax):
            size += 36 * (8 if isinstance(op, ops.TableLookup) else 64)
    return size


def weights_inline(module: Module) -> bool:
    """The decision the pass wrote; a one-line error if no pass decided."""
    mode = module.attribute("int8.weights", "auto")
    if mode not in ("data", "inline"):
        raise Ml2scError(f"int8 backend: weights={mode} is undecided; end the pipeline with place-weights")
    return mode == "inline"


@dataclass(frozen=True)
class PlaceWeights(ModulePass):
    """Put int8 weights inline (code immediates) or in data contracts; writes int8.weights and why."""

    name: ClassVar[str] = "place-weights"
    weights: str = "auto"  # auto | inline | data; auto keeps a choice quantize-int8{weights=...} recorded

    def apply(self, module: Module) -> Module:
        mode = self.weights if self.weights != "auto" else module.attribute("int8.weights", "auto")
        if mode not in WEIGHT_MODES:
            raise Ml2scError(f"int8 backend: weights={mode} is not one of {', '.join(WEIGHT_MODES)}")
        why = "asked for"
        if mode == "auto":
            size = inline_code_bytes(module)
            mode = "inline" if size <= INLINE_BYTES else "data"
            why = f"{size} bytes of weight immediates {'<=' if mode == 'inline' else '>'} {INLINE_BYTES}"
        return module.with_attribute("int8.weights", mode).with_attribute("int8.weights.why", why)
