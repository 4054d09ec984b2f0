"""Stage contracts: a gemm's rows as straight-line EVM code, for models over the code size limit.

When a model does not fit in one contract (EIP-170, 24,576 bytes), every gemm moves into
*stage contracts*: each holds a contiguous range of one gemm's outputs (a gemm's outputs
are independent), at most ``STAGE_LIMIT`` bytes. The entry contract keeps the
``IML2SCModel`` interface and everything else, and STATICCALLs each stage with the gemm's
input vector as raw int256 words in calldata; the stage returns its outputs as raw words,
which the call writes straight into the entry's memory map.

A stage is assembled here, not compiled by solc: its code is straight-line (no jumps, no
dispatcher, no ABI), so its bytes, and so its code hash, are known when the entry contract
is written. The entry's constructor checks each stage address against that hash, and the
driver deploys stages like data contracts (journal, resume).

The arithmetic is the emitter's (and the simulator's): per output, sum_i x_i K_i, one
``sdiv`` by D, the bias, a fused relu. Sums are taken mod 2^256 in another order than the
Yul kernel, which changes nothing: ``ranges.py`` proved every true partial and final sum fits
int256, so the wrapped sum equals the exact one. Code, per input tile of ``TILE`` inputs:

    PUSH off CALLDATALOAD               (each input of the tile onto the stack, once)
    per output: PUSH K DUP x MUL [ADD]  (positive weights; K = 1: DUP x alone)
                PUSH a MLOAD ADD        (the partial sum of the previous tiles)
                PUSH K DUP x MUL [ADD]  (negative weights' magnitudes) SWAP1 SUB
                PUSH a MSTORE           (or, in the output's last tile: sdiv, bias, relu, MSTORE)
    POP ...                             (the tile's inputs)

then ``PUSH size PUSH0 RETURN``: the outputs, from memory address 0.
"""

from __future__ import annotations

from ml2sc.backends.common.evm import (
    ADD,
    CALLDATALOAD,
    CODE_SIZE_LIMIT,
    DUP1,
    MLOAD,
    MSTORE,
    MUL,
    POP,
    PUSH0,
    RETURN,
    SDIV,
    SGT,
    SHL,
    SUB,
    SWAP1,
    push_unsigned,
)
from ml2sc.backends.common.evm import AssembledContract as Stage
from ml2sc.backends.prbmath.weights import Row
from ml2sc.ir.errors import Ml2scError

STAGE_LIMIT = CODE_SIZE_LIMIT
TILE = 13  # inputs on the stack: the deepest DUP is then x0 under pos, neg and K (13 + 3 = 16)


def push(v: int) -> bytes:
    """The shortest PUSH of a non-negative constant (large powers of two as ``1 << s``)."""
    if v < 0:
        raise ValueError("push of a negative constant")
    if v & (v - 1) == 0 and v.bit_length() > 24:  # 2^s: PUSH1 1 PUSH1 s SHL (5 bytes)
        return push(1) + push(v.bit_length() - 1) + bytes([SHL])
    return push_unsigned(v)


def dup(depth: int) -> bytes:
    if not 1 <= depth <= 16:
        raise ValueError(f"DUP{depth} does not exist")
    return bytes([DUP1 + depth - 1])


def _tiles(n: int) -> list[range]:
    return [range(t0, min(t0 + TILE, n)) for t0 in range(0, n, TILE)]


def _sum(terms: list[tuple[int, int]], depth0: int) -> bytes:
    """sum of x_i * k (k > 0) onto the stack; x_i is at depth ``depth0 - i`` before anything is pushed."""
    out = bytearray()
    for n, (i, k) in enumerate(terms):
        extra = 1 if k != 1 else 0  # the PUSH K above the DUP
        if k != 1:
            out += push(k)
        out += dup(depth0 - i + extra + (1 if n else 0))
        if k != 1:
            out.append(MUL)
        if n:
            out.append(ADD)
    return bytes(out)


def _row_code(tile: range, ks: list[int], slot: int, started: bool, last: bool, div: int, bias: int,
              relu: bool) -> bytes:
    """One output's share of one tile (the tile's inputs are on the stack, x_{tile[0]} deepest)."""
    t = len(tile)
    pos = [(i - tile[0], ks[i]) for i in tile if ks[i] > 0]
    neg = [(i - tile[0], -ks[i]) for i in tile if ks[i] < 0]
    # x_j (j in tile order) sits at depth t - j with nothing above the tile
    code = bytearray(_sum(pos, t))
    have = bool(pos)
    if started:
        code += push(slot) + bytes([MLOAD])
        if have:
            code.append(ADD)
        have = True
    if neg:
        code += _sum(neg, t + (1 if have else 0))
        code += bytes([SWAP1, SUB]) if have else bytes([PUSH0, SUB])
        have = True
    if not have:
        code.append(PUSH0)
    if last:
        code += _finish(div, bias, relu)
    code += push(slot) + bytes([MSTORE])
    return bytes(code)


def _finish(div: int, bias: int, relu: bool) -> bytes:
    """acc on the stack -> sdiv(acc, D) + b, clamped at 0 when relu is fused."""
    code = bytearray()
    if div != 1:
        code += push(div) + bytes([SWAP1, SDIV])
    if bias > 0:
        code += push(bias) + bytes([ADD])
    elif bias < 0:
        code += push(-bias) + bytes([SWAP1, SUB])
    if relu:
        code += bytes([PUSH0, DUP1 + 1, SGT, MUL])  # y * (y > 0)
    return bytes(code)


def assemble(rows: list[Row], bias: list[int] | tuple[int, ...], relu: bool, start: int, stop: int, n: int) -> bytes:
    """The runtime code computing outputs start..stop-1 of a gemm with ``n`` inputs."""
    tiles = _tiles(n)
    last = {j: max((t for t, tile in enumerate(tiles) if any(rows[j][0][i] for i in tile)), default=-1)
            for j in range(start, stop)}
    first = {j: min((t for t, tile in enumerate(tiles) if any(rows[j][0][i] for i in tile)), default=-1)
             for j in range(start, stop)}
    code = bytearray()
    for t, tile in enumerate(tiles):
        body = bytearray()
        for j in range(start, stop):
            ks, div = rows[j]
            if not any(ks[i] for i in tile):
                continue
            body += _row_code(tile, ks, 32 * (j - start), t > first[j], t == last[j], div, bias[j], relu)
        if not body:
            continue
        for i in tile:
            code += push(32 * i) + bytes([CALLDATALOAD])
        code += body
        code += bytes([POP]) * len(tile)
    for j in range(start, stop):
        if last[j] == -1:  # no weight at all: the output is its bias
            code += bytes([PUSH0]) + _finish(rows[j][1], bias[j], relu) + push(32 * (j - start)) + bytes([MSTORE])
    code += push(32 * (stop - start)) + bytes([PUSH0, RETURN])
    return bytes(code)


def gemm_size(rows: list[Row], bias: list[int] | tuple[int, ...], relu: bool, n: int) -> int:
    """Bytes of the whole gemm as one stage (the measure of whether a model needs splitting)."""
    return len(assemble(rows, bias, relu, 0, len(rows), n))


def split_gemm(value: str, input_: str, rows: list[Row], bias: list[int] | tuple[int, ...], relu: bool, n: int,
               limit: int = STAGE_LIMIT) -> list[Stage]:
    """The gemm's outputs cut into consecutive ranges, each assembled into at most ``limit`` bytes."""
    stages: list[Stage] = []
    start = 0
    while start < len(rows):
        # grow the range one output at a time while it fits (a row alone must fit)
        stop, code = start + 1, assemble(rows, bias, relu, start, start + 1, n)
        if len(code) > limit:
            raise Ml2scError(f"prbmath backend: one output of gemm {value} ({n} inputs) needs {len(code):,} bytes of "
                             f"code, over the {limit:,}-byte limit; splitting a single output over contracts is not "
                             "implemented")
        # estimate the row width to take big steps, then adjust
        while stop < len(rows):
            per_row = max(1, len(code) // (stop - start))
            guess = min(len(rows), max(stop + 1, start + (limit - 64) // per_row))
            trial = assemble(rows, bias, relu, start, guess, n)
            if len(trial) <= limit:
                stop, code = guess, trial
                if guess == len(rows):
                    break
                continue
            # too big: step back one row at a time from the guess
            while guess > stop + 1:
                guess -= 1
                trial = assemble(rows, bias, relu, start, guess, n)
                if len(trial) <= limit:
                    stop, code = guess, trial
                    break
            break
        stages.append(Stage(value, input_, n, start, stop, code))
        start = stop
    return stages
