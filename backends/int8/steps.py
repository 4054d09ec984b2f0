"""Planning an inference over several transactions: units, their gas, steps, and the state between them.

A forward pass is a sequence of *units*: one SWAR group, one tile contract call, one dense
pass, or one whole other op (activation, softmax, argmax, ...). Each has an estimated
execution gas (``*_gas`` below: the opcodes the emitted code runs, cold accesses counted
as cold). When the whole inference would exceed the per-transaction cap (``int8.tx_gas_cap``,
default EIP-7825's 16,777,216), consecutive units are packed greedily into *steps* whose
estimated gas, including what a step transaction costs besides the units (base, calldata,
loading and saving the state, the event, the commitment), stays under ``STEP_MARGIN`` of
the cap; the tests check every step transaction's receipt against the cap.

Between steps the contract keeps nothing but a commitment (see ``session.py``); the state
travels in calldata and in the ``Step`` event. It holds only the *live* values at that
point: those computed before it that an op after it reads (or the model outputs), plus, in
the middle of a gemm, the outputs it has computed so far. Each value is as many bytes as
its type needs (1 for int8, 2 for 16-bit logits, 4 for softmax's qu32, 32 for indices), so
a 784-input boundary is 784 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ml2sc.backends.int8.place_weights import TX_GAS_CAP  # noqa: F401 - re-exported for the emitter
from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Module
from ml2sc.ir.types import QuantType

STEP_MARGIN = 0.9  # plan steps at this share of the cap: the estimates are not exact
TX_BASE = 21_000
COLD = 2_600  # cold account access (EXTCODECOPY / STATICCALL of a contract not yet touched)


@dataclass(frozen=True)
class Unit:
    """Part of the forward pass: op ``op`` (index in module.ops), its groups/passes/tiles lo..hi-1."""

    op: int
    lo: int
    hi: int
    gas: int


@dataclass(frozen=True)
class Region:
    """A value carried between steps: memory address, values, bytes a value, signed."""

    key: str
    address: int
    n: int
    width: int
    signed: bool

    @property
    def nbytes(self) -> int:
        return self.n * self.width


def value_width(element: object) -> tuple[int, bool]:
    """Bytes a value of this element type takes in the state, and whether it is sign-extended."""
    if isinstance(element, QuantType):
        return -(-element.bits // 8), element.signed
    return 32, True


def swar_group_gas(n_in: int, lanes: int, copies: int) -> int:
    """One SWAR group: EXTCODECOPYs (cold, 3 a word), the dot (PUSH2 MLOAD PUSH2 MLOAD MUL ADD: 20
    a word), ~90 a lane to requantize (extract, multiply, shift, two clamps, store)."""
    return copies * (COLD + 100) + 3 * n_in + 20 * n_in + 90 * lanes + 120


def dense_pass_gas(words: int, per_word: int, bundles: int, outputs: int, copies: int, record_bytes: int) -> int:
    """One dense pass: the copies, per word ~50 + per input 20 + per bundle row 35, ~120 an output
    (fitted on 784-128-10: 790,839 execution gas, ~240 a word of 4 bundles)."""
    return copies * (COLD + 100) + 3 * (words + record_bytes // 32 + 1) + words * (50 + per_word * (20 + 35 * bundles)) \
        + 120 * outputs + 4_500


def op_gas(op: ops.Op, module: Module) -> int:
    """A whole non-gemm op: elementwise loops ~45 a value, tables copied cold, softmax ~200 a value."""
    n = max(op.result.type.size, 1)
    if isinstance(op, ops.QSoftmax):
        return 2 * COLD + 250 * n + 1_500
    if isinstance(op, ops.TableLookup):
        return COLD + 60 * n + 300
    if isinstance(op, ops.ArgMax):
        return 40 * op.input.type.size + 100
    if isinstance(op, ops.LabelMap):
        return 30 * len(module.constant(op.classes).values) + 100
    return 50 * n + 100


def plan_steps(units: list[Unit], budget_of: object, cap: int) -> list[tuple[int, int]]:
    """Consecutive unit ranges, each with ``sum gas + budget_of(first, stop)`` within the margin of the cap.

    ``budget_of(u0, u1)`` is the step's cost besides its units (base, state in and out)."""
    limit = int(STEP_MARGIN * cap)
    steps, start = [], 0
    while start < len(units):
        stop, spent = start, 0
        while stop < len(units) and spent + units[stop].gas + budget_of(start, stop + 1) <= limit:  # type: ignore[operator]
            spent, stop = spent + units[stop].gas, stop + 1
        if stop == start:
            u = units[start]
            need = u.gas + budget_of(start, start + 1)  # type: ignore[operator]
            raise Ml2scError(f"int8: the smallest step of op {u.op} (one SWAR group, dense pass or op) needs ~{need:,} "
                             f"gas, over {STEP_MARGIN:.0%} of the per-transaction cap of {cap:,}; raise --tx-gas-cap")
        steps.append((start, stop))
        start = stop
    return steps


def live_regions(module: Module, at: Unit | None, regions: dict[str, tuple[int, int, int, bool]]) -> list[Region]:
    """The values the state carries just before unit ``at`` (None: after the last unit; the
    result is then sent instead). ``regions``: value name -> (address, n, width, signed)."""
    if at is None:
        return []
    op_index = at.op
    produced: dict[str, int] = {}
    for i, op in enumerate(module.ops):
        if isinstance(op, ops.QGemm):
            continue
        if isinstance(op, ops.Requantize):
            produced[op.result.name] = i - 1  # complete with its qgemm
        else:
            produced[op.result.name] = i
    outputs = {o.value.name for o in module.outputs}
    live = []
    for name, (address, n, width, signed) in regions.items():
        p = produced.get(name)
        if p is None:
            continue
        partial = at.lo > 0 and isinstance(module.ops[op_index], ops.QGemm) and p == op_index
        done = p < op_index
        if not (done or partial):
            continue
        readers = [i for i, op in enumerate(module.ops) if any(v.name == name for v in op.operands)]
        if partial or name in outputs or any(i >= op_index for i in readers):
            live.append(Region(name, address, n, width, signed))
    return live


def memory_gas(top: int) -> int:
    """Memory expansion up to byte ``top``: 3 a word plus words^2 / 512."""
    words = -(-top // 32)
    return 3 * words + words * words // 512


LOAD_GAS = {1: 12, 0: 90}  # a value read from the state: int8 (32 a calldata word, unrolled), wider (a loop)
SAVE_GAS = {1: 40, 0: 90}  # a value written to the state


def step_overhead(moves: list[tuple[str, Region | None]], mem_end: int, tables: int) -> int:
    """A step transaction besides its units: base; calldata (16 a byte at worst); each region
    loaded, kept (copied from calldata) or saved; hashing the state in and out; the event (8 a
    byte); the commitment (SLOAD, SSTORE); dispatch; the data-contract table for tiles; memory."""
    b_in = sum(r.nbytes for kind, r in moves if kind == "load" and r)
    b_out = sum(r.nbytes for kind, r in moves if kind != "load" and r)
    gas = TX_BASE + 16 * (b_in + 100) + 8 * b_out + 12 * (b_in + b_out) // 32 + 2_500 + 5_000 + 11_000 + 40 * tables
    for kind, r in moves:
        assert r is not None
        if kind == "load":
            gas += LOAD_GAS[1 if r.width == 1 else 0] * r.n + 150
        elif kind == "keep":
            gas += 3 * r.nbytes // 32 + 100
        elif kind == "save":
            gas += SAVE_GAS[1 if r.width == 1 else 0] * r.n + 150
        else:  # the result, copied
            gas += 3 * r.n + 100
    return gas + memory_gas(mem_end + b_in + b_out + 128)


def begin_gas(n_in: int, state: int, mem_end: int) -> int:
    """begin(): base, the row in calldata, unpacking it, saving the first state, a new session
    (the counter and the commitment: up to two fresh SSTOREs), the event."""
    return (TX_BASE + 16 * (n_in + 100) + 25 * n_in + SAVE_GAS[1] * state + 8 * state + 2 * 22_100 + 5_000
            + memory_gas(mem_end + state + 128))
