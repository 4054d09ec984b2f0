"""SWAR packing for the matrix-vector kernel, and the proof that its lanes never overflow.

A layer's outputs are split into groups of ``lanes`` outputs. For group g and
input i, one 256-bit word holds the group's weights column, lane l (bits
[lL, (l+1)L), L = 256 // lanes) for output j = g * lanes + l:

    P_gi = sum_l W_ji * 2^(lL)   (mod 2^256; negative weights are fine)

The kernel computes ``acc = I_g + sum_i P_gi * q_i (mod 2^256)`` with one MUL and
one ADD per word, i.e. ``lanes`` multiply-accumulates. Because arithmetic mod
2^256 is a ring, acc = sum_l (I_gl + S_j) 2^(lL) (mod 2^256), with S_j the exact
dot product. The initial lane I_gl = -Smin_j is the *offset*: with Smin_j/Smax_j
the least/greatest value S_j can take for inputs in [qmin, qmax], every final
lane value v_j = S_j - Smin_j lies in [0, Smax_j - Smin_j]. If that is below
2^L for every lane, the lanes never borrow from or carry into each other, the
sum is below 2^256, so the packed word is exact and lane l is simply
``(acc >> lL) & (2^L - 1)``; then S_j = v_j + Smin_j. ``prove_lanes`` checks
exactly this, from the actual integer weights, and refuses otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ml2sc.ir.errors import Ml2scError

WORD = 256
MOD = 2**WORD


@dataclass(frozen=True)
class LanePlan:
    """How one qgemm is packed: lanes per word, lane width, and each output's offset."""

    lanes: int
    bits: int
    smin: tuple[int, ...]  # per output: least value of sum_i W_ji q_i
    smax: tuple[int, ...]

    @property
    def mask(self) -> int:
        return (1 << self.bits) - 1

    def groups(self, n_out: int) -> list[range]:
        return [range(g, min(g + self.lanes, n_out)) for g in range(0, n_out, self.lanes)]


def dot_bounds(rows: Sequence[Sequence[int]], qmin: int, qmax: int) -> tuple[list[int], list[int]]:
    """Per output, the least and greatest sum_i W_ji q_i over q_i in [qmin, qmax]."""
    lo = [sum(min(w * qmin, w * qmax) for w in row) for row in rows]
    hi = [sum(max(w * qmin, w * qmax) for w in row) for row in rows]
    return lo, hi


def needed_bits(rows: Sequence[Sequence[int]], qmin: int, qmax: int) -> int:
    """Lane width that holds every output's range of values (at least 1)."""
    lo, hi = dot_bounds(rows, qmin, qmax)
    return max([(h - lo_).bit_length() for lo_, h in zip(lo, hi, strict=True)] + [1])


def auto_lanes(rows: Sequence[Sequence[int]], qmin: int, qmax: int) -> int:
    """The most lanes per word the proof allows (never more than there are outputs, at most 32)."""
    bits = needed_bits(rows, qmin, qmax)
    return max(1, min(WORD // bits, len(rows), 32))


def prove_lanes(rows: Sequence[Sequence[int]], qmin: int, qmax: int, lanes: int, where: str) -> LanePlan:
    """The lane plan for ``lanes`` lanes, or a one-line Ml2scError if some lane could overflow."""
    bits = WORD // lanes
    lo, hi = dot_bounds(rows, qmin, qmax)
    for j, (a, b) in enumerate(zip(lo, hi, strict=True)):
        if (b - a).bit_length() > bits:
            raise Ml2scError(
                f"int8: {where}: {lanes} SWAR lanes of {bits} bits cannot hold output {j}'s range "
                f"[{a}, {b}] over {len(rows[j])} inputs (needs {(b - a).bit_length()} bits); "
                f"use at most {WORD // needed_bits(rows, qmin, qmax)} lanes"
            )
    return LanePlan(lanes, bits, tuple(lo), tuple(hi))


def pack_group(rows: Sequence[Sequence[int]], group: range, plan: LanePlan) -> list[int]:
    """The group's words, one per input: lane l holds W[group[l]][i] (two's complement mod 2^256)."""
    n_in = len(rows[0])
    return [sum(rows[j][i] << (plan.bits * lane) for lane, j in enumerate(group)) % MOD for i in range(n_in)]


def init_word(group: range, plan: LanePlan) -> int:
    """The accumulator's starting value: lane l holds the offset -Smin_j."""
    return sum(-plan.smin[j] << (plan.bits * lane) for lane, j in enumerate(group)) % MOD


def swar_dot(words: Sequence[int], q: Sequence[int], init: int, group: range, plan: LanePlan) -> list[int]:
    """What the EVM kernel computes (mod 2^256 MUL/ADD, then lane extraction): sum_i W_ji q_i per lane."""
    acc = init
    for w, v in zip(words, q, strict=True):
        acc = (acc + w * (v % MOD)) % MOD
    return [((acc >> (plan.bits * lane)) & plan.mask) + plan.smin[j] for lane, j in enumerate(group)]
