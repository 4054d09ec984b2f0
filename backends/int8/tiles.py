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
    PUSH0,
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
    return requant_asm(a, g.lanes, k, out)


def requant_asm(a: Asm, lanes: tuple[tuple[int, LaneRequant], ...], k: int, out: int) -> Asm:
    """Stack [acc] -> []: each lane's output requantized, clamped and stored at ``out + 32 j``."""
    for n, (j, r) in enumerate(lanes):
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


@dataclass(frozen=True)
class InlineGroup:
    """One SWAR group of a layer whose words are immediates (``inline`` weights over EIP-170)."""

    words: tuple[int, ...]  # one per input
    init: int  # the initial accumulator
    lanes: tuple[tuple[int, LaneRequant], ...]  # output index in the layer, requantization
    start: int  # the layer's first output in the group


@dataclass(frozen=True)
class Segment:
    """Inputs ``lo .. hi - 1`` of group ``g``: a tile's share of it."""

    g: int
    lo: int
    hi: int


@dataclass(frozen=True)
class InlineTile:
    """A tile of consecutive segments of a layer's stream of words (group 0's inputs 0..n-1, then
    group 1's, ...). Only its first segment may start inside a group (its accumulator so far
    comes in) and only its last may end inside one (its accumulator goes out, after the outputs)."""

    segments: tuple[Segment, ...]
    start: int  # the first output it returns (of its first segment's group)
    stop: int  # one past the last output it returns
    carries: bool  # its last segment ends inside its group: one more word returned

    @property
    def returned(self) -> int:
        return self.stop - self.start + self.carries


def _word_asm(a: Asm, word: int, i: int) -> Asm:
    """acc += word * x_i: ``PUSH32 word, PUSH 32(i + 1), CALLDATALOAD, MUL, ADD``, 17 gas."""
    return a.push(word).push(32 * (i + 1)).op(CALLDATALOAD, MUL, ADD)


def inline_tile_code(tile: InlineTile, groups: list[InlineGroup], n_in: int) -> bytes:
    """The runtime code of an inline tile. Calldata: the accumulator carried in (word 0, read by
    a first segment that starts inside its group), then the layer's ``n_in`` input words. Each
    output is requantized as by ``group_asm`` and stored at ``32 (j - start)``, a carried
    accumulator after them; RETURN of ``returned`` words. No EXTCODECOPY, no memory window."""
    a = Asm()
    for k, seg in enumerate(tile.segments):
        g = groups[seg.g]
        if seg.lo == 0:
            a.push(g.init)
        else:
            a.op(PUSH0, CALLDATALOAD)
        for i in range(seg.lo, seg.hi):
            if g.words[i]:
                _word_asm(a, g.words[i], i)
        if seg.hi == n_in:
            requant_asm(a, tuple((j - tile.start, r) for j, r in g.lanes), k, 0)
        else:
            a.push(32 * (tile.stop - tile.start)).op(MSTORE)
    a.push(32 * tile.returned).op(PUSH0, RETURN)
    return a.assemble()


def plan_inline_tiles(groups: list[InlineGroup], n_in: int, limit: int = CODE_SIZE_LIMIT) -> list[InlineTile]:
    """Cut a layer's stream of words into the fewest tiles of at most ``limit`` bytes, greedily:
    each tile takes whole groups while they fit, then as many words of the next group as fit."""
    def word_bytes(w: int, i: int) -> int:
        return 0 if w == 0 else _word_asm(Asm(), w, i).size()

    widest = 32 * max((j for g in groups for j, _ in g.lanes), default=0)

    def requant_bytes(g: InlineGroup) -> int:  # stored at most `widest` bytes into the outputs
        return requant_asm(Asm(), tuple((0, r) for _, r in g.lanes), 0, widest).size()

    tail = 3 + 2 + 3 + 1  # PUSH2 count, PUSH0, RETURN (+ slack)
    carry_bytes = 4  # PUSH2 slot, MSTORE
    tiles: list[InlineTile] = []
    segments: list[Segment] = []
    size = tail

    def flush(carries: bool) -> None:
        nonlocal segments, size
        start = groups[segments[0].g].start
        done = [groups[s.g] for s in segments if s.hi == n_in]
        stop = max((j for g in done for j, _ in g.lanes), default=start - 1) + 1
        tiles.append(InlineTile(tuple(segments), start, max(stop, start), carries))
        segments, size = [], tail

    for gi, g in enumerate(groups):
        costs = [word_bytes(w, i) for i, w in enumerate(g.words)]
        lo = 0
        while lo < n_in:
            head = len(push_unsigned(g.init)) if lo == 0 else 2
            rest = sum(costs[lo:]) + requant_bytes(g)
            if size + head + rest <= limit:
                segments.append(Segment(gi, lo, n_in))
                size += head + rest
                break
            room, hi = limit - size - head - carry_bytes, lo
            while hi < n_in - 1 and costs[hi] <= room:  # the last word goes with the requantization
                room -= costs[hi]
                hi += 1
            if hi == lo:  # not one more word fits: close this tile, go on in the next
                if not segments:
                    raise Ml2scError(f"int8: a requantization of {requant_bytes(g):,} bytes does not fit a tile contract")
                flush(False)
                continue
            segments.append(Segment(gi, lo, hi))
            flush(True)
            lo = hi
        if size + 40 > limit and segments:
            flush(False)
    if segments:
        flush(False)
    return tiles


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
