"""Lowering of int8 IR to a model contract plus data contracts (see docs/backends.md, int8).

- Weights live in data contracts as SWAR words (``swar.py``): per layer and per
  group of ``lanes`` outputs, one 256-bit word per input. A group's words are
  EXTCODECOPY'd into one memory window, then one shared, fully unrolled Yul
  function per layer does ``acc += mload(window_i) * mload(x_i)`` for every
  input: one MUL and one ADD for ``lanes`` multiply-accumulates.
- Each output is then cut out of its lane and requantized with immediates:
  y = sar(S, v * M + C) (C folds the lane offset, the rounding and the zero
  point), clamped (a fused relu is a raised lower bound).
- Lookup tables (sigmoid, tanh, the softmax exp) are copied from the data
  contracts too. Values live at fixed memory addresses (``layout.Memory``).
- Small models (``weights=auto`` under INLINE_BYTES, or ``weights=inline``) take
  the words as PUSH32 immediates instead: no data contract, no cold access.
The simulator (``simulator.py``) computes the same integers.
"""

from __future__ import annotations

from ml2sc.backends.base import Program
from ml2sc.backends.int8 import numerics as nx
from ml2sc.backends.int8.layout import DataBlob, Memory
from ml2sc.backends.int8.shell import INTERFACE, ContractShell
from ml2sc.backends.int8.shell import hex_lit as _hex
from ml2sc.backends.int8.shell import lit as _lit
from ml2sc.backends.int8.shell import qtype as _qt
from ml2sc.backends.int8.swar import LanePlan, init_word, pack_group, prove_lanes
from ml2sc.backends.solidity import SolidityWriter
from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Module
from ml2sc.ir.types import QuantType

SOLIDITY_PRAGMA = "0.8.30"
CHUNK_TERMS = 32  # multiply-accumulates per nested Yul expression
INLINE_BYTES = 14_000  # weights=auto: immediates in the model's code when they take at most this (of 24,576)
WEIGHT_MODES = ("auto", "data", "inline")


def _chunks(terms: list[str]) -> list[str]:
    """Terms summed as nested add(t0, add(t1, ...)) of CHUNK_TERMS each: Yul evaluates right to
    left, so the stack stays flat with no DUP/SWAP/POP per term."""
    out = []
    for start in range(0, len(terms), CHUNK_TERMS):
        part = terms[start : start + CHUNK_TERMS]
        expr = part[-1]
        for t in reversed(part[:-1]):
            expr = f"add({t}, {expr})"
        out.append(expr)
    return out


class _Emitter(ContractShell):
    """Module -> Solidity: the forward pass here, the entry points in ``ContractShell``."""

    def __init__(self, module: Module, contract: str, model_hash: str) -> None:
        self.m, self.contract, self.model_hash = module, contract, model_hash
        self.w = SolidityWriter()
        self.blob = DataBlob()
        self.mem = Memory()
        self.n_in = module.inputs[0].type.size
        self.n_out = sum(max(o.value.type.size, 1) for o in module.outputs)
        self._check()
        # X holds q + 128 (cheaper to unpack) when only qgemms read the input: they fold it in.
        readers = self.m.users(self.quant.result)
        only_gemms = all(isinstance(op, ops.QGemm) for op in readers)
        self.xbias = 128 if only_gemms and all(o.value != self.quant.result for o in module.outputs) else 0
        self.inline = self._inline_weights()
        self.mut = "pure" if self.inline else "view"  # reading data contracts makes the entries view
        self.mem.alloc("RESULT", 2 + self.n_out)
        self.x = self.mem.alloc(self.quant.result.name, -(-self.n_in // 32) * 32)
        for op in module.ops[1:]:
            if not isinstance(op, ops.QGemm):
                self.mem.alloc(op.result.name, max(op.result.type.size, 1))
        tables = [2048 if isinstance(op, ops.QSoftmax) else 256 for op in module.ops
                  if isinstance(op, ops.QSoftmax | ops.TableLookup)]
        self.tbl = self.mem.alloc("TBL", (max(tables, default=0) + 63) // 32)
        fan_in = max((op.input.type.size for op in module.ops if isinstance(op, ops.QGemm)), default=0)
        self.win = self.mem.alloc("WIN", 0 if self.inline else fan_in)
        self.end = self.mem.top
        self.dots: list[str] = []

    def _inline_weights(self) -> bool:
        """Weights as PUSH32 immediates (no data contract, no cold EXTCODECOPY) for small models.

        Inline, a multiply-accumulate word costs 17 gas instead of 20 and the 2,600 gas of
        a cold data contract disappears, but every group has its own code (39 bytes per word).
        """
        mode = self.m.attribute("int8.weights", "auto")
        if mode not in WEIGHT_MODES:
            raise Ml2scError(f"int8 backend: weights={mode} is not one of {', '.join(WEIGHT_MODES)}")
        if mode != "auto":
            return mode == "inline"
        size = 0
        for op in self.m.ops:
            if isinstance(op, ops.QGemm):
                n_out, n_in = self.m.constant(op.weight).type.shape
                size += 39 * n_in * -(-n_out // op.lanes)
            elif isinstance(op, ops.TableLookup | ops.QSoftmax):
                size += 36 * (8 if isinstance(op, ops.TableLookup) else 64)
        return size <= INLINE_BYTES

    def _check(self) -> None:
        first = self.m.ops[0] if self.m.ops else None
        if not isinstance(first, ops.Quantize) or first.input != self.m.inputs[0]:
            raise Ml2scError("int8 backend: the module must start with quantize of its input (run quantize-int8)")
        self.quant: ops.Quantize = first
        if any(self.quant.input in op.operands for op in self.m.ops[1:]):
            raise Ml2scError("int8 backend: only the quantize op may read the fixed<18> input")
        if _qt(first.result.type.element).bits != 8:
            raise Ml2scError("int8 backend: the input must be quantized to 8 bits")
        for i, op in enumerate(self.m.ops):
            if isinstance(op, ops.QGemm):
                nxt = self.m.ops[i + 1] if i + 1 < len(self.m.ops) else None
                if not (isinstance(nxt, ops.Requantize) and nxt.input == op.result and self.m.users(op.result) == [nxt]):
                    raise Ml2scError(f"int8 backend: qgemm {op.result} must be followed by its only user, a requantize")

    # ----------------------------------------------------------------- file
    def emit(self) -> str:
        w = self.w
        body = SolidityWriter()
        self.w = body
        self._forward()
        forward = body.text()
        self.w = w
        w.line("// SPDX-License-Identifier: MIT")
        w.comment(f"Generated by ml2sc (int8 backend) from model '{self.m.name}'. Do not edit.")
        w.comment("Integer-only: int8 activations and weights, SWAR matrix-vector kernels over weights read")
        w.comment("from data contracts with EXTCODECOPY, requantization by multiplier and shift.")
        w.comment(self._summary())
        w.line(f"pragma solidity {SOLIDITY_PRAGMA};")
        w.blank()
        self._interface()
        w.blank()
        with w.block(f"contract {self.contract}"):
            self._constants()
            self._constructor()
            self._entry_points()
            for line in forward.rstrip("\n").split("\n"):
                w.line(line) if line else w.blank()
            self._helpers()
        return w.text()

    def _summary(self) -> str:
        parts = [f"input {self.n_in}"]
        for op in self.m.ops[1:]:
            if isinstance(op, ops.QGemm):
                parts.append(f"qgemm({op.result.type.size}, {op.lanes} lanes)")
            elif not isinstance(op, ops.Requantize):
                parts.append(op.mnemonic)
        return "Model: " + " -> ".join(parts)

    def _constants(self) -> None:
        w = self.w
        first = self.m.outputs[0].value.type.element
        scale = first.scale if isinstance(first, QuantType) else 1.0
        zp = first.zero_point if isinstance(first, QuantType) else 0
        w.line(f"uint256 internal constant N_IN = {self.n_in};")
        w.line(f"uint256 internal constant N_OUT = {self.n_out};")
        w.line(f"uint256 internal constant X = {_hex(self.x)}; // int8 input, one word per value")
        w.line(f"uint256 internal constant RESULT = {_hex(self.mem.regions['RESULT'])}; // ABI-encoded int256[] result")
        w.line(f"uint256 internal constant RESULT_BYTES = {32 * (2 + self.n_out)};")
        w.line(f"uint256 internal constant TBL = {_hex(self.tbl)}; // lookup tables")
        w.line(f"uint256 internal constant WIN = {_hex(self.win)}; // one group of SWAR weight words")
        w.line(f"uint256 internal constant MEM_END = {_hex(self.end)};")
        w.line("uint256 public constant inputScale = 1e18;")
        w.line(f"uint256 public constant outputScale = {nx.round_half_up(scale * 1e18)};")
        w.line(f"int256 public constant outputZeroPoint = {zp};")
        w.line(f"bytes32 public constant modelHash = {self.model_hash};")
        self.n_data = len(self.blob.runtimes()) if self.blob.data else 0
        for k in range(self.n_data):
            w.line(f"address internal immutable D{k};")
        w.blank()

    def _forward(self) -> None:
        w = self.w
        w.comment("The forward pass: reads the int8 input at X, leaves the ABI-encoded result at RESULT.")
        with w.block(f"function _forward() private {self.mut}"):
            if not self.inline:
                w.line("uint256 acc; // the SWAR accumulator of the current group")
            ops_ = self.m.ops
            for i, op in enumerate(ops_[1:], start=1):
                if isinstance(op, ops.Requantize):
                    continue
                w.comment(f"layer {i}: {op.mnemonic} -> {op.result.type}" if not isinstance(op, ops.QGemm)
                          else f"layer {i}: qgemm + requantize -> {ops_[i + 1].result.type}")
                self._lower(op, ops_[i + 1] if isinstance(op, ops.QGemm) else None)
            self._write_result()
        for dot in self.dots:
            w.blank()
            w.lines(dot.split("\n"))

    def _lower(self, op: ops.Op, requant: ops.Op | None) -> None:
        match op:
            case ops.QGemm():
                assert isinstance(requant, ops.Requantize)
                self._qgemm(op, requant)
            case ops.Relu():
                self._elementwise(op, f"if slt(v, {_lit(_qt(op.result.type.element).zero_point)}) {{ v := {_lit(_qt(op.result.type.element).zero_point)} }}")
            case ops.LeakyRelu():
                q = _qt(op.result.type.element)
                lo, hi = nx.type_range(q)
                z, a = _lit(q.zero_point), nx.leaky_multiplier(op.alpha)
                body = (f"if slt(v, {z}) {{ v := add({z}, sar({nx.LEAKY_SHIFT}, add(mul(sub(v, {z}), {_lit(a)}), "
                        f"{1 << (nx.LEAKY_SHIFT - 1)}))) if slt(v, {_lit(lo)}) {{ v := {_lit(lo)} }} "
                        f"if sgt(v, {_lit(hi)}) {{ v := {_lit(hi)} }} }}")
                self._elementwise(op, body)
            case ops.Clip():
                lo, hi = nx.clip_bounds(op.min, op.max, _qt(op.result.type.element))
                self._elementwise(op, f"if slt(v, {_lit(lo)}) {{ v := {_lit(lo)} }} if sgt(v, {_lit(hi)}) {{ v := {_lit(hi)} }}")
            case ops.TableLookup():
                self._lut(op)
            case ops.QSoftmax():
                self._softmax(op)
            case ops.ArgMax():
                self._argmax(op)
            case ops.LabelMap():
                self._label_map(op)
            case _:
                raise Ml2scError(f"int8 backend: no lowering for op '{op.mnemonic}' ({op.result})")

    def _copy(self, offset: int, length: int, dst: int) -> None:
        for c in self.blob.copies(offset, length, dst):
            self.w.line(f"_copy(D{c.contract}, {_hex(c.src)}, {_hex(c.dst)}, {_hex(c.length)});")

    def _qgemm(self, op: ops.QGemm, rq: ops.Requantize) -> None:
        w = self.w
        weight = self.m.constant(op.weight)
        n_out, n_in = weight.type.shape
        rows = weight.rows()
        xb = self.xbias if op.input == self.quant.result else 0  # X holds q + xb
        plan = prove_lanes(rows, -128 + xb, 127 + xb, op.lanes, f"qgemm {op.result} ({n_in} inputs)")
        fn = f"_dot{len(self.dots)}"
        x = self.mem.regions[op.input.name]
        if not self.inline:
            self.dots.append(self._dot_function(fn, n_in, x))
        # sum_i W (q_i + xb) = sum_i W q_i + xb sum_i W: take the surplus off the bias
        bias = [b - xb * sum(row) for b, row in zip(self.m.constant(op.bias).values, rows, strict=True)]
        mult, shift = self.m.constant(rq.multiplier).values, self.m.constant(rq.shift).values
        z = _qt(rq.result.type.element).zero_point
        out = self.mem.regions[rq.result.name]
        w.comment(f"{n_out} outputs in groups of {plan.lanes} lanes x {plan.bits} bits; acc = init + sum_i word_i * x_i")
        for group in plan.groups(n_out):
            words = pack_group(rows, group, plan)
            w.comment(f"outputs {group.start}..{group.stop - 1}")
            if self.inline:
                self._inline_group(words, init_word(group, plan), x, plan, group, bias, mult, shift, z, rq, out)
                continue
            offset = self.blob.add(b"".join(v.to_bytes(32, "big") for v in words))
            self._copy(offset, 32 * n_in, self.win)
            w.line(f"acc = {fn}(0x{init_word(group, plan):064x});")
            with w.block("assembly"):
                for lane, j in enumerate(group):
                    self._requant_lane(plan, lane, j, lane == len(group) - 1, bias[j], mult[j], shift[j], z, rq, out)

    def _inline_group(self, words: list[int], init: int, x: int, plan: LanePlan, group: range, bias: tuple,
                      mult: tuple, shift: tuple, z: int, rq: ops.Requantize, out: int) -> None:
        """The group's dot product with its weight words as immediates, then its outputs."""
        with self.w.block("assembly"):
            self.w.line(f"let acc := {_hex(init)}")
            for expr in _chunks([f"mul({_hex(wd)}, mload({_hex(x + 32 * i)}))" for i, wd in enumerate(words) if wd]):
                self.w.line(f"acc := add(acc, {expr})")
            for lane, j in enumerate(group):
                self._requant_lane(plan, lane, j, lane == len(group) - 1, bias[j], mult[j], shift[j], z, rq, out)

    def _table(self, payload: bytes) -> None:
        """Bring a lookup table to TBL: copied from a data contract, or stored from immediates."""
        if not self.inline:
            self._copy(self.blob.add(payload), len(payload), self.tbl)
            return
        padded = payload + bytes(-len(payload) % 32)
        with self.w.block("assembly"):
            for k in range(0, len(padded), 32):
                self.w.line(f"mstore({_hex(self.tbl + k)}, 0x{padded[k:k + 32].hex()})")

    def _requant_lane(self, plan: LanePlan, lane: int, j: int, top: bool, bias: int, m: int, s: int, z: int,
                      rq: ops.Requantize, out: int) -> None:
        """y_j = clamp(sar(S, v * M + C)) with v the lane's value, C = (bias + Smin) M + 2^(S-1) + z 2^S."""
        v = "acc" if lane == 0 else f"shr({plan.bits * lane}, acc)"
        if not top:
            v = f"and({v}, {_hex(plan.mask)})"
        c = (bias + plan.smin[j]) * m + (1 << (s - 1)) + z * (1 << s)
        t = f"add(mul({v}, {m}), {_hex(c)})" if c >= 0 else f"sub(mul({v}, {m}), {_hex(-c)})"
        vmax = plan.smax[j] - plan.smin[j]
        y_lo, y_hi = c >> s, (vmax * m + c) >> s
        clamp = ""
        if y_lo < rq.qmin:
            clamp += f" if slt(y, {_lit(rq.qmin)}) {{ y := {_lit(rq.qmin)} }}"
        if y_hi > rq.qmax:
            clamp += f" if sgt(y, {_lit(rq.qmax)}) {{ y := {_lit(rq.qmax)} }}"
        self.w.line(f"{{ let y := sar({s}, {t}){clamp} mstore({_hex(out + 32 * j)}, y) }}")

    def _dot_function(self, name: str, n_in: int, x: int) -> str:
        """acc + sum_i mload(WIN + 32 i) * mload(x + 32 i), unrolled, in nested chunks (no stack juggling)."""
        lines = [f"/// acc + sum over {n_in} inputs of (SWAR weight word in the window) * (int8 input), mod 2^256.",
                 f"function {name}(uint256 acc) private pure returns (uint256 r) {{", "    assembly {", "        r := acc"]
        terms = [f"mul(mload({_hex(self.win + 32 * i)}), mload({_hex(x + 32 * i)}))" for i in range(n_in)]
        lines += [f"        r := add(r, {expr})" for expr in _chunks(terms)]
        lines += ["    }", "}"]
        return "\n".join(lines)

    def _loop(self, n: int, body: str) -> None:
        with self.w.block("assembly"), self.w.block(f"for {{ let k := 0 }} lt(k, {n}) {{ k := add(k, 1) }}"):
            self.w.line(body)

    def _elementwise(self, op: ops.Op, body: str) -> None:
        src, dst = self.mem.regions[op.operands[0].name], self.mem.regions[op.result.name]
        self._loop(op.result.type.size, f"let v := mload(add({_hex(src)}, shl(5, k))) {body} mstore(add({_hex(dst)}, shl(5, k)), v)")

    def _lut(self, op: ops.TableLookup) -> None:
        self._table(bytes(v & 0xFF for v in self.m.constant(op.table).values))
        lo, _ = nx.type_range(_qt(op.input.type.element))
        self._elementwise(op, f"v := signextend(0, shr(248, mload(add(TBL, add(v, {-lo})))))")

    def _softmax(self, op: ops.QSoftmax) -> None:
        """exp_lo at TBL, then only the nonzero head of exp_hi (it decreases to 0: e is 0 beyond it)."""
        hi, lo = self.m.constant(op.exp_hi).values, self.m.constant(op.exp_lo).values
        k_hi = next((k for k, v in enumerate(hi) if v == 0), len(hi))
        self._table(b"".join(v.to_bytes(4, "big") for v in (*lo, *hi[:k_hi])))
        src, dst, n = self.mem.regions[op.input.name], self.mem.regions[op.result.name], op.result.type.size
        w = self.w
        w.comment("d = max - q; e = exp_hi[d >> 8] * exp_lo[d & 255] >> 16 (0 once exp_hi is); y = (e << 16) / sum e")
        with w.block("assembly"):
            w.line(f"let m := mload({_hex(src)})")
            w.line(f"for {{ let k := 1 }} lt(k, {n}) {{ k := add(k, 1) }} {{ let v := mload(add({_hex(src)}, shl(5, k))) if sgt(v, m) {{ m := v }} }}")
            w.line("let total := 0")
            with w.block(f"for {{ let k := 0 }} lt(k, {n}) {{ k := add(k, 1) }}"):
                w.line(f"let d := sub(m, mload(add({_hex(src)}, shl(5, k))))")
                w.line("let e := 0")
                w.line(f"if lt(d, {256 * k_hi}) {{ e := shr(16, mul(shr(224, mload(add(TBL, add(1024, shl(2, shr(8, d)))))), "
                       "shr(224, mload(add(TBL, shl(2, and(d, 255))))))) }")
                w.line(f"mstore(add({_hex(dst)}, shl(5, k)), e) total := add(total, e)")
            w.line(f"for {{ let k := 0 }} lt(k, {n}) {{ k := add(k, 1) }} {{ let p := add({_hex(dst)}, shl(5, k)) mstore(p, div(shl(16, mload(p)), total)) }}")

    def _argmax(self, op: ops.ArgMax) -> None:
        n, base = op.input.type.size, self.mem.regions[op.input.name]
        with self.w.block("assembly"):
            self.w.line(f"let best := mload({_hex(base)}) let idx := 0")
            with self.w.block(f"for {{ let k := 1 }} lt(k, {n}) {{ k := add(k, 1) }}"):
                self.w.line(f"let v := mload(add({_hex(base)}, shl(5, k)))")
                self.w.line("if sgt(v, best) { best := v idx := k }")
            self.w.line(f"mstore({_hex(self.mem.regions[op.result.name])}, idx)")

    def _label_map(self, op: ops.LabelMap) -> None:
        classes = self.m.constant(op.classes).values
        with self.w.block("assembly"):
            self.w.line(f"let idx := mload({_hex(self.mem.regions[op.input.name])}) let label := {_lit(classes[0])}")
            for k, c in enumerate(classes[1:], start=1):
                self.w.line(f"if eq(idx, {k}) {{ label := {_lit(c)} }}")
            self.w.line(f"mstore({_hex(self.mem.regions[op.result.name])}, label)")

    def _write_result(self) -> None:
        res = self.mem.regions["RESULT"]
        with self.w.block('assembly ("memory-safe")'):
            self.w.line(f"mstore(RESULT, 0x20) mstore({_hex(res + 32)}, N_OUT)")
            for slot, out in zip(self.output_slots(), self.m.outputs, strict=True):
                src = self.mem.regions[out.value.name]
                self.w.line(f"mcopy({_hex(self._slot_addr(slot))}, {_hex(src)}, {32 * slot.size}) // {slot.name}")

    # -------------------------------------------------------------- helpers
def emit_program(module: Module, contract: str, model_hash: str) -> Program:
    e = _Emitter(module, contract, model_hash)
    source = e.emit()
    file = f"{contract}.sol"
    return Program(
        contract_name=contract,
        sources={file: source},
        main_file=file,
        n_inputs=e.n_in,
        input_decimals=18,
        packed_input_bytes=1,
        outputs=e.output_slots(),
        metadata={"abi_interface": INTERFACE, "data_bytes": str(len(e.blob.data))},
        data_contracts=e.blob.runtimes(),
    )
