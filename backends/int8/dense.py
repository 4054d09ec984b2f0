"""The dense weight layout: one byte per int8 weight, spread into SWAR lanes at run time.

Pre-spread SWAR words (``swar.py``) cost ~3.2 bytes of code per weight to deploy; here
every weight is one byte, ``u = W + 128`` (so 0..255, no sign to extend). A 256-bit word
holds ``L`` *rows* of ``N = 32 // L`` lanes of ``L`` bytes each (L = 4: 8 lanes of 32
bits; L = 3 for fan-in up to 258: 10 lanes of 24 bits). Row ``t`` of a word is the byte
at position ``31 - L*l - t`` of each lane ``l``; ``and(shr(8 t, word), MASK)`` puts it in
the low byte of lane ``l``, one SHR and one AND for N weights.

A row is a *bundle* of N consecutive outputs for one input. A pass over the layer's
inputs keeps ``A`` bundles in ``A`` accumulators; a word then serves ``B = L // A``
inputs (rows ``b * A + a``). Per input the kernel adds ``spread(row) * p`` to its
bundle's accumulator, with ``p = q - qmin`` the input in 0..255, so each lane sums
``u * p``: at most ``fan_in * 255 * 255`` and ``prove_dense`` checks that this fits in
``8 L`` bits, so lanes never carry into each other. Then

    sum_i W_ji q_i = lane_j - 128 * sum_i p_i + qmin * sum_i W_ji

(``u = W + 128``, ``q = p + qmin``). ``sum_i p_i`` is computed once per layer and
``qmin * sum_i W_ji`` folds into the requantization constants, which are per-output
records in the data contracts (10 bytes: multiplier, shift, bias) read in a loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ml2sc.ir.errors import Ml2scError

RECORD_BYTES = 10  # the widest record: multiplier (4 bytes), shift (1), bias + qmin * sum W (5, signed)


@dataclass(frozen=True)
class DensePass:
    """One sweep over the inputs: ``bundles`` accumulators, ``per_word`` inputs a word."""

    first_output: int
    bundles: int
    per_word: int
    words: int
    outputs: int  # real outputs in this pass (the last bundle may be partial)


class DensePlan(NamedTuple):
    """A layer's lanes (``lane_bytes`` each) and its passes over the inputs."""

    lane_bytes: int
    n_in: int
    n_out: int
    passes: tuple[DensePass, ...]

    @property
    def lanes(self) -> int:
        return 32 // self.lane_bytes

    @property
    def mask(self) -> int:
        """The low byte of every lane."""
        return sum(0xFF << (8 * self.lane_bytes * lane) for lane in range(self.lanes))

    @property
    def lane_mask(self) -> int:
        return (1 << (8 * self.lane_bytes)) - 1


def plan_dense(n_out: int, n_in: int, where: str) -> DensePlan:
    """The narrowest lanes whose sums cannot overflow, then passes of as many bundles as fit."""
    lane_bytes = next((b for b in (3, 4) if n_in * 255 * 255 < 2 ** (8 * b)), None)
    if lane_bytes is None:
        raise Ml2scError(f"int8: {where}: {n_in} inputs overflow the dense layout's 32-bit lanes")
    lanes = 32 // lane_bytes
    bundles = -(-n_out // lanes)
    passes, first = [], 0
    while first < n_out:
        left = -(-(n_out - first) // lanes)
        a = min(left, lane_bytes)
        per_word = lane_bytes // a
        count = min(n_out - first, a * lanes)
        passes.append(DensePass(first, a, per_word, -(-n_in // per_word), count))
        first += count
    assert sum(p.outputs for p in passes) == n_out and sum(p.bundles for p in passes) == bundles
    return DensePlan(lane_bytes, n_in, n_out, tuple(passes))


def pack_pass(rows: Sequence[Sequence[int]], plan: DensePlan, p: DensePass) -> bytes:
    """The pass's words: word w, row t = b * A + a holds u = W + 128 of input w * B + b for
    the outputs of bundle a, lane l at byte position 31 - L l - t (0 where there is none)."""
    lb, lanes = plan.lane_bytes, plan.lanes
    out = bytearray()
    for w in range(p.words):
        word = bytearray(32)
        for b in range(p.per_word):
            i = w * p.per_word + b
            if i >= plan.n_in:
                continue
            for a in range(p.bundles):
                for lane in range(lanes):
                    j = p.first_output + a * lanes + lane
                    if j - p.first_output < p.outputs:
                        word[31 - lb * lane - (b * p.bundles + a)] = rows[j][i] + 128
        out += word
    return bytes(out)


def record_width(biases: Sequence[int]) -> int:
    """Bytes per requantization record of a layer: 9 when every b' fits in 4 bytes, else 10."""
    return 9 if all(-(2**31) <= b < 2**31 for b in biases) else RECORD_BYTES


def pack_records(multipliers: Sequence[int], shifts: Sequence[int], biases: Sequence[int], width: int) -> bytes:
    """Per output: M (4 bytes), S (1), b' (width - 5, two's complement) with b' = bias + qmin sum W."""
    out = bytearray()
    bits = 8 * (width - 5)
    for m, s, b in zip(multipliers, shifts, biases, strict=True):
        if not (0 <= m < 2**32 and 0 < s < 256 and -(2 ** (bits - 1)) <= b < 2 ** (bits - 1)):
            raise Ml2scError(f"int8: dense requantization constants out of range (M={m}, S={s}, b={b})")
        out += m.to_bytes(4, "big") + s.to_bytes(1, "big") + (b % 2**bits).to_bytes(width - 5, "big")
    return bytes(out)


def dense_dot(data: bytes, p_values: Sequence[int], plan: DensePlan, p: DensePass) -> list[int]:
    """What the EVM kernel computes for one pass (spread, multiply, add mod 2^256, extract):
    per output, the lane sum of u * p. Used by the tests to check the packing."""
    accs = [0] * p.bundles
    for w in range(p.words):
        word = int.from_bytes(data[32 * w : 32 * w + 32], "big")
        for b in range(p.per_word):
            i = w * p.per_word + b
            x = p_values[i] if i < plan.n_in else 0
            for a in range(p.bundles):
                spread = (word >> (8 * (b * p.bundles + a))) & plan.mask
                accs[a] = (accs[a] + spread * x) % 2**256
    sums = []
    for k in range(p.outputs):
        a, lane = divmod(k, plan.lanes)
        sums.append((accs[a] >> (8 * plan.lane_bytes * lane)) & plan.lane_mask)
    return sums
