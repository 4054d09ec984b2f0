"""Tile contracts: a SWAR layer's groups of outputs as assembled EVM code, for models over EIP-170.

A SWAR model contract holds, per layer, one unrolled dot function (~10 bytes an input) and
~40 bytes of requantization per output: 784-512-256-10 needs ~76 KB, three times the
24,576-byte limit. When the model would not fit (``int8.split = "tiles"``, decided by
``place-weights``), every qgemm + requantize moves into *tile contracts*, each computing a
consecutive range of the layer's SWAR groups. The model contract keeps the interface,
quantization, the other ops and the memory map, and STATICCALLs each tile with

    calldata = [address of data contract 0 .. n-1] [input word 0 .. n_in-1]

(the layer's input words exactly as the model's memory holds them); the tile returns its
outputs as words, which the call writes straight into the model's memory map.

A tile is assembled here, not compiled by solc (as prbmath's stage contracts are): its
bytes, and so its code hash, are known when the model contract is written, so the model's
constructor checks each tile's ``codehash`` as it checks the data contracts', and the
driver deploys tiles as data contracts (journal, resume). The arithmetic is the Yul
kernel's, instruction for instruction (``lane_requant`` gives both their constants):

    per group:  EXTCODECOPY the group's words to memory 0   (PUSH len PUSH src PUSH 0 PUSH a CALLDATALOAD)
                acc = init + sum_i mload(32 i) * calldataload(x_i)   (a shared subroutine, JUMP/JUMPDEST)
                per output: y = sar(S, and(shr(b, acc), mask) * M + C), clamped, MSTORE to the output buffer
    RETURN the output buffer
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from ml2sc.backends.common.evm import (
    ADD,
    AND,
    CALLDATALOAD,
    CODE_SIZE_LIMIT,
    DUP1,
    DUP2,
    EXTCODECOPY,
    ISZERO,
    JUMP,
    JUMPDEST,
    JUMPI,
    MLOAD,
    MSTORE,
    MUL,
    NOT,
    POP,
    PUSH2,
    RETURN,
    SAR,
    SGT,
    SHR,
    SLT,
    SUB,
    SWAP1,
    push_unsigned,
)
from ml2sc.backends.int8.layout import Copy
from ml2sc.backends.int8.swar import LanePlan
from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError


class LaneRequant(NamedTuple):
    """One output's requantization from its SWAR lane: y = clamp(sar(s, v * m + c)) with
    v = and(shr(shift, acc), mask) (no AND for the top lane); ``lo``/``hi`` the clamp bounds
    that can trigger (None: the bound cannot be reached, no code)."""

    shift: int
    mask: int | None
    m: int
    c: int
    s: int
    lo: int | None
    hi: int | None


def lane_requant(plan: LanePlan, lane: int, j: int, top: bool, consts: tuple[int, int, int, int],
                 rq: ops.Requantize) -> LaneRequant:
    """Output j's requantization from its lane (the Yul kernel and the tile contracts both write it):
    C = (bias + Smin) M + 2^(S-1) + z 2^S; clamps only where the lane's range can reach them."""
    bias, m, s, z = consts
    c = (bias + plan.smin[j]) * m + (1 << (s - 1)) + z * (1 << s)
    vmax = plan.smax[j] - plan.smin[j]
    y_lo, y_hi = c >> s, (vmax * m + c) >> s
    return LaneRequant(plan.bits * lane, None if top else plan.mask, m, c, s,
                       rq.qmin if y_lo < rq.qmin else None, rq.qmax if y_hi > rq.qmax else None)


@dataclass(frozen=True)
class GroupCode:
    """What a tile needs of one SWAR group: its copies (destination relative to the window),
    its initial accumulator, and each output's requantization (output index within the tile)."""

    copies: tuple[Copy, ...]
    init: int
    lanes: tuple[tuple[int, LaneRequant], ...]


@dataclass
class Asm:
    """A tiny assembler: opcodes, minimal PUSHes, PUSH2 label references, JUMPDEST labels."""

    items: list[bytes | tuple[str, str]] = field(default_factory=list)

    def op(self, *codes: int) -> Asm:
        self.items.append(bytes(codes))
        return self

    def push(self, v: int) -> Asm:
        """The shortest PUSH of a constant; a negative one as NOT of its complement (as Yul ``lit``)."""
        if v < 0:
            return self.push(-v - 1).op(NOT)
        self.items.append(push_unsigned(v))
        return self

    def ref(self, label: str) -> Asm:
        self.items.append(("ref", label))
        return self

    def label(self, label: str) -> Asm:
        self.items.append(("label", label))
        return self

    def size(self) -> int:
        return sum(len(i) if isinstance(i, bytes) else (3 if i[0] == "ref" else 1) for i in self.items)

    def assemble(self) -> bytes:
        where, at = {}, 0
        for i in self.items:
            if isinstance(i, tuple) and i[0] == "label":
                where[i[1]] = at
            at += len(i) if isinstance(i, bytes) else (3 if i[0] == "ref" else 1)
        out = bytearray()
        for i in self.items:
            if isinstance(i, bytes):
                out += i
            elif i[0] == "ref":
                out += bytes([PUSH2]) + where[i[1]].to_bytes(2, "big")
            else:
                out.append(JUMPDEST)
        return bytes(out)


def group_asm(g: GroupCode, k: int, table: int, out: int) -> Asm:
    """One group: copy its words to the window (memory 0), call the dot subroutine, requantize."""
    a = Asm()
    for c in g.copies:
        a.push(c.length).push(c.src).push(c.dst).push(32 * c.contract).op(CALLDATALOAD, EXTCODECOPY)
    a.ref(f"ret{k}").push(g.init).ref("dot").op(JUMP).label(f"ret{k}")
    for n, (j, r) in enumerate(g.lanes):
        a.op(DUP1)
        if r.shift:
            a.push(r.shift).op(SHR)
        if r.mask is not None:
            a.push(r.mask).op(AND)
        a.push(r.m).op(MUL)
        if r.c >= 0:
            a.push(r.c).op(ADD)
        else:
            a.push(-r.c).op(SWAP1, SUB)
        a.push(r.s).op(SAR)
        if r.lo is not None:  # if slt(y, lo) { y := lo }
            a.push(r.lo).op(DUP2, SLT, ISZERO).ref(f"lo{k}_{n}").op(JUMPI, POP).push(r.lo).label(f"lo{k}_{n}")
        if r.hi is not None:  # if sgt(y, hi) { y := hi }
            a.push(r.hi).op(DUP2, SGT, ISZERO).ref(f"hi{k}_{n}").op(JUMPI, POP).push(r.hi).label(f"hi{k}_{n}")
        a.push(out + 32 * j).op(MSTORE)
    return a.op(POP)


def dot_asm(n_in: int, table: int) -> Asm:
    """The shared dot subroutine: stack [ret, acc] -> [acc + sum_i mload(32 i) * x_i], back to ret."""
    a = Asm().label("dot")
    for i in range(n_in):
        a.push(32 * i).op(MLOAD).push(32 * (table + i)).op(CALLDATALOAD, MUL, ADD)
    return a.op(SWAP1, JUMP)


def tile_code(groups: list[GroupCode], n_in: int, table: int, n_outputs: int) -> bytes:
    """The runtime code of a tile: the groups, RETURN of the outputs, then the dot subroutine.
    Memory: the window at 0 (n_in words), the outputs after it."""
    out = 32 * n_in
    a = Asm()
    for k, g in enumerate(groups):
        a.items += group_asm(g, k, table, out).items
    a.push(32 * n_outputs).push(out).op(RETURN)
    a.items += dot_asm(n_in, table).items
    return a.assemble()


def split_groups(sizes: list[int], gas: list[int], fixed: int, budget: int | None) -> list[range]:
    """Consecutive groups per tile: at most CODE_SIZE_LIMIT bytes (``fixed`` for the dot subroutine
    and the return, plus each group's size) and, when stepping, at most ``budget`` gas."""
    tiles, start = [], 0
    while start < len(sizes):
        stop, size, spent = start, fixed, 0
        while stop < len(sizes) and size + sizes[stop] <= CODE_SIZE_LIMIT and (
                budget is None or stop == start or spent + gas[stop] <= budget):
            size, spent, stop = size + sizes[stop], spent + gas[stop], stop + 1
        if stop == start:
            raise Ml2scError(f"int8: one SWAR group with {fixed:,} bytes of dot code does not fit in a "
                             f"{CODE_SIZE_LIMIT:,}-byte tile contract")
        tiles.append(range(start, stop))
        start = stop
    return tiles
