"""Fixed memory maps: every value of the forward pass at a constant, named address.

Regions are allocated upwards from 0x80 (Solidity's scratch space and free-memory
pointer lie below). Each region gets a name after the layer it holds (``L1`` for the
first gemm's output, ``L1_TANH`` for its activation), declared as a Solidity constant
with what it holds and used in the comment of every layer that writes it. The code
itself addresses words by literal: measured, solc's legacy optimizer does not fold
``add(L1, 0x40)`` everywhere (a 300-input layer grew by 1.4 KB), and a PUSH of the
literal is the cheapest read there is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ml2sc.backends.common.solidity import SolidityWriter
from ml2sc.backends.common.yul import hex_lit
from ml2sc.ir import ops
from ml2sc.ir.module import Module

FIRST_FREE = 0x80


@dataclass(frozen=True)
class Region:
    name: str  # the Solidity constant
    address: int
    words: int
    what: str  # the comment next to the constant


@dataclass
class Memory:
    """A bump allocator of named regions; ``alias`` places a value inside another region."""

    top: int = FIRST_FREE
    regions: dict[str, Region] = field(default_factory=dict)

    def alloc(self, key: str, words: int, name: str, what: str, header: int = 0) -> int:
        """``words`` words for ``key``, after ``header`` words (e.g. an int256[] length word)."""
        address = self.top + 32 * header
        self.regions[key] = Region(name, address, words, what)
        self.top = address + 32 * words
        return address

    def alias(self, key: str, name: str, address: int, what: str) -> None:
        self.regions[key] = Region(name, address, 0, what)

    def address(self, key: str, k: int = 0) -> int:
        return self.regions[key].address + 32 * k

    def at(self, key: str, k: int = 0) -> str:
        """Word k of a region as a Yul literal."""
        return hex_lit(self.address(key, k))

    def name(self, key: str) -> str:
        return self.regions[key].name

    def declare(self, w: SolidityWriter) -> None:
        """One constant per region, in address order, each with what it holds."""
        seen: set[str] = set()
        for r in sorted(self.regions.values(), key=lambda r: (r.address, r.words == 0)):
            if r.name not in seen:
                w.line(f"uint256 internal constant {r.name} = {hex_lit(r.address)}; // {r.what}")
                seen.add(r.name)


def layer_labels(module: Module) -> dict[str, tuple[str, str]]:
    """IR value -> (region name, description) with layers numbered as the user sees them.

    Layer k is the k-th gemm (``gemm``/``qgemm``) with the ops that follow it up to the
    next one; ops before the first gemm belong to the input (``IN_...``).
    """
    labels: dict[str, tuple[str, str]] = {}
    taken: set[str] = set()
    layer = 0
    for op in module.ops:
        if isinstance(op, ops.Gemm | ops.QGemm):
            layer += 1
        size = op.result.type.size
        fused = f" + {op.tag('fuse')}" if op.tag("fuse") else ""
        if isinstance(op, ops.QGemm):  # int32 accumulators, kept in SWAR lanes, never in memory
            name, what = f"L{layer}_ACC", f"layer {layer}: gemm accumulators"
        elif isinstance(op, ops.Gemm | ops.Requantize):
            name, what = f"L{layer}", f"layer {layer}: gemm{fused}, {size} values"
        elif isinstance(op, ops.ArgMax | ops.LabelMap):
            name, what = op.mnemonic.upper(), f"{op.mnemonic} of layer {layer}"
        else:
            prefix = f"L{layer}" if layer else "IN"
            name, what = f"{prefix}_{op.mnemonic.upper()}", f"{'layer ' + str(layer) if layer else 'input'}: {op.mnemonic}, {size} values"
        base, n = name, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        labels[op.result.name] = (name, what)
    return labels
