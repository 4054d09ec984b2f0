"""Static memory layout of a prbmath contract's forward pass.

Every IR value gets a fixed region ``[length word][elements...]`` so that Yul
can address elements with constant offsets (PUSH + MLOAD, no arithmetic) and
Solidity can view a region as an ``int256[] memory``. After the values comes
the result buffer, laid out as ABI-encoded ``int256[]`` return data
(``0x20``, length, elements) so that the entry points return it as is.

The first output is computed straight into the result buffer (no copy at the
end): its region's length word then sits on the result's length word, which the
result writer rewrites last (only softmax uses that word, and only while it runs).
Emitter and cost model both read this one plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from ml2sc.backends.common.memory import Memory, layer_labels
from ml2sc.ir.module import Module


@dataclass(frozen=True)
class Layout:
    memory: Memory  # value name -> its first element (the length word is 32 bytes below)
    result: int  # address of the ABI-encoded result (0x20, length, elements)
    n_outputs: int
    end: int  # first byte after everything: the free-memory pointer during a call
    first_in_place: bool

    def element(self, value: str, k: int) -> int:
        return self.memory.address(value, k)

    def at(self, value: str, k: int = 0) -> str:
        return self.memory.at(value, k)

    @property
    def result_data(self) -> int:
        return self.result + 64

    @property
    def result_bytes(self) -> int:
        return 64 + 32 * self.n_outputs


def plan_layout(module: Module) -> Layout:
    mem = Memory()
    labels = layer_labels(module)
    x = module.inputs[0]
    mem.alloc(x.name, -(-max(x.type.size, 1) // 4) * 4, "X", "input vector (padded to 4: packed rows unpack four lanes at a time)", header=1)
    for op in module.ops:
        name, what = labels[op.result.name]
        mem.alloc(op.result.name, max(op.result.type.size, 1), name, what, header=1)
        if op.tag("fuse"):  # the fused activation's old region, kept while proving the refactor exact
            mem.top += 32 * (1 + max(op.result.type.size, 1))
    n_out = sum(max(o.value.type.size, 1) for o in module.outputs)
    result = mem.top
    mem.alloc("RESULT", 2 + n_out, "RESULT", "ABI-encoded int256[] result: 0x20, length, outputs")
    first = module.outputs[0].value.name
    in_place = first != x.name
    if in_place:
        name, what = labels[first]
        mem.alias(first, name, result + 64, f"{what}, computed in place in the result")
    return Layout(mem, result, n_out, mem.top, in_place)
