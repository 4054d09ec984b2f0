"""EVM code the compiler writes byte by byte, without solc.

Models over EIP-170 move their largest layers into contracts assembled here: prbmath's stage
contracts (``backends/prbmath/stages.py``) and int8's tile contracts (``backends/int8/tiles.py``).
Both are straight-line pieces of one layer, so their bytes, and so their code hashes, are known
when the entry contract that checks them is written. This module holds what the two share: the
size limit, the opcodes, the shortest PUSH, and the record of one such contract.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import keccak

CODE_SIZE_LIMIT = 24_576  # EIP-170: the most runtime code one contract may hold

# the opcodes assembled contracts use
STOP, ADD, MUL, SUB, SDIV = 0x00, 0x01, 0x02, 0x03, 0x05
SLT, SGT, ISZERO, AND, NOT = 0x12, 0x13, 0x15, 0x16, 0x19
SHL, SHR, SAR = 0x1B, 0x1C, 0x1D
CALLDATALOAD, EXTCODECOPY = 0x35, 0x3C
POP, MLOAD, MSTORE, JUMP, JUMPI, JUMPDEST = 0x50, 0x51, 0x52, 0x56, 0x57, 0x5B
PUSH0, PUSH2, DUP1, DUP2, SWAP1, RETURN = 0x5F, 0x61, 0x80, 0x81, 0x90, 0xF3


def push_unsigned(v: int) -> bytes:
    """The shortest PUSH of a constant 0 <= v < 2^256: PUSH0 for zero, else PUSHn of its bytes."""
    if v == 0:
        return bytes([PUSH0])
    n = (v.bit_length() + 7) // 8
    return bytes([PUSH0 + n]) + v.to_bytes(n, "big")


@dataclass(frozen=True)
class AssembledContract:
    """One assembled contract: outputs ``start..stop-1`` of the layer whose result is ``value``,
    computed from ``input`` (``n_inputs`` words) by ``code``."""

    value: str  # the layer's result (IR value name)
    input: str  # the layer's input (IR value name)
    n_inputs: int
    start: int
    stop: int
    code: bytes

    @property
    def codehash(self) -> str:
        return "0x" + keccak(self.code).hex()

    @property
    def n_outputs(self) -> int:
        return self.stop - self.start
