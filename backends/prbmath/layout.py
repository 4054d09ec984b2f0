"""Static memory layout of a prbmath contract's forward pass.

Every IR value gets a fixed region ``[length word][elements...]`` so that Yul
can address elements with constant offsets (PUSH + MLOAD, no arithmetic) and
Solidity can view a region as an ``int256[] memory``. After the values comes
the result buffer, laid out as ABI-encoded ``int256[]`` return data
(``0x20``, length, elements) so that the entry points return it as is.
"""

from __future__ import annotations

from dataclasses import dataclass

from ml2sc.ir.module import Module

FIRST_FREE = 0x80  # Solidity reserves 0x00-0x7f (scratch, free pointer, zero slot)


@dataclass(frozen=True)
class Layout:
    regions: dict[str, int]  # value name -> address of its length word
    result: int  # address of the ABI-encoded result (0x20, length, elements)
    n_outputs: int
    end: int  # first byte after everything: the free-memory pointer during a call

    def element(self, value: str, k: int) -> int:
        return self.regions[value] + 32 * (k + 1)

    @property
    def result_data(self) -> int:
        return self.result + 64

    @property
    def result_bytes(self) -> int:
        return 64 + 32 * self.n_outputs


def plan_layout(module: Module) -> Layout:
    addr = FIRST_FREE
    regions: dict[str, int] = {}
    for v in (*module.inputs, *(op.result for op in module.ops)):
        regions[v.name] = addr
        size = max(v.type.size, 1)
        if v in module.inputs:
            size = -(-size // 4) * 4  # packed rows unpack four lanes at a time
        addr += 32 * (1 + size)
    n_out = sum(max(o.value.type.size, 1) for o in module.outputs)
    return Layout(regions, addr, n_out, addr + 64 + 32 * n_out)
