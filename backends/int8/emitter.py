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
  contracts too. Values live at fixed, named memory addresses.
- Small models (the ``place-weights`` pass writes ``int8.weights = "inline"``) take
  the words as PUSH32 immediates instead: no data contract, no cold access.
The entry points are in ``entry.py``; the simulator (``simulator.py``) computes the
same integers.
"""

from __future__ import annotations

from ml2sc.backends.common import link, shell
from ml2sc.backends.common.dispatch import handles
from ml2sc.backends.common.memory import Memory, layer_labels
from ml2sc.backends.common.solidity import SolidityWriter
from ml2sc.backends.common.yul import chunked_sums, hex_lit, lit
from ml2sc.backends.int8 import numerics as nx
from ml2sc.backends.int8.dense import RECORD_BYTES, plan_dense
from ml2sc.backends.int8.dense_kernel import DenseKernels
from ml2sc.backends.int8.entry import INTERFACE, Int8Entry, qtype
from ml2sc.backends.int8.layout import DataBlob
from ml2sc.backends.int8.place_weights import weights_inline
from ml2sc.backends.int8.session import Session
from ml2sc.backends.int8.swar import LanePlan, init_word, pack_group, prove_lanes
from ml2sc.backends.int8.tiles import lane_requant
from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Module
from ml2sc.ir.types import QuantType

CHUNK_TERMS = 32  # multiply-accumulates per nested Yul expression


def exp_table(lo: tuple, hi: tuple) -> bytes:
    """Softmax's exp tables, exp_lo then the nonzero head of exp_hi, as entry - 1 in two bytes
    (the entries lie in [1, 2^16]; the kernel adds the 1 back)."""
    return b"".join((int(v) - 1).to_bytes(2, "big") for v in (*lo, *hi))


class Int8Emitter(Session, DenseKernels, Int8Entry):
    """Module -> Solidity: the forward pass here, the entry points in ``Int8Entry``."""

    backend = "int8"

    def __init__(self, module: Module) -> None:
        super().__init__(module)
        self.blob = DataBlob()
        self._check()
        # X holds q + 128 (cheaper to unpack) when only qgemms read the input: they fold it in.
        readers = self.m.users(self.quant.result)
        only_gemms = all(isinstance(op, ops.QGemm) for op in readers)
        self.xbias = 128 if only_gemms and all(o.value != self.quant.result for o in module.outputs) else 0
        self.inline = weights_inline(module)
        self.dense = module.attribute("int8.layout", "swar") == "dense"
        if self.dense and self.inline:
            raise Ml2scError("int8 backend: the dense layout keeps its weights in data contracts, not inline")
        self.split = module.attribute("int8.split") == "tiles"  # SWAR layers in tile contracts (tiles.py)
        self.mut = "pure" if self.inline and not self.split else "view"  # data contracts, tile calls: view
        self.dots: list[str] = []
        self._fns: dict[tuple, str] = {}  # kernel functions already written (a layer split over steps)
        self._prepare_tiles()
        self.mem = self._plan_memory()
        self.end = self.mem.top
        self._plan()  # tiles, units and steps (session.py): nothing for a model that fits one contract and one tx
        self.tables: list[tuple[str, bytes]] = []  # inline lookup tables: (constant name, 32-byte word)

    @property
    def linked(self) -> bool:
        """Data-contract addresses linked into the code (``common/link.py``) rather than kept in
        immutables: every model but those with tile contracts or an address book, whose
        constructors take the addresses."""
        return not self.tile_list and not self.book

    def _plan_memory(self) -> Memory:
        mem, labels = Memory(), layer_labels(self.m)
        mem.alloc("RESULT", 2 + self.n_out, "RESULT", "ABI-encoded int256[] result: 0x20, length, outputs")
        x_what = "int8 input, one word per value" + (" (holding q + 128)" if self.xbias else "")
        # inline tiles read a layer's input in place, with the word before it as their first argument
        pads = self.split and self.inline
        gemm_inputs = {op.input.name for op in self.m.ops if isinstance(op, ops.QGemm)}
        if pads:
            mem.alloc("XPAD", 1, "XPAD", "a tile call's first argument word")
        mem.alloc(self.quant.result.name, -(-self.n_in // 32) * 32, "X", x_what)
        for op in self.m.ops[1:]:
            if not isinstance(op, ops.QGemm):
                if pads and op.result.name in gemm_inputs:
                    mem.alloc(f"{op.result.name}.pad", 1, f"{labels[op.result.name][0]}PAD", "a tile call's first argument word")
                mem.alloc(op.result.name, max(op.result.type.size, 1), *labels[op.result.name])
        tables = [2 * 512 if isinstance(op, ops.QSoftmax) else 256 for op in self.m.ops
                  if isinstance(op, ops.QSoftmax | ops.TableLookup)]
        mem.alloc("TBL", (max(tables, default=0) + 63) // 32, "TBL", "lookup tables")
        fan_in = max((op.input.type.size for op in self.m.ops if isinstance(op, ops.QGemm)), default=0)
        window = fan_in
        if self.dense:  # a pass's words, then its records (and 32 bytes a record's mload may read past)
            window = max((p.words + -(-(RECORD_BYTES * p.outputs + 32) // 32) for op in self.m.ops
                          if isinstance(op, ops.QGemm) for p in plan_dense(*self.m.constant(op.weight).type.shape, "").passes),
                         default=0)
        mem.alloc("WIN", 0 if self.inline or self.split else window, "WIN", "one group of weight words")
        if self.dense:
            mem.alloc("ACC", 4, "ACC", "the accumulators of one pass, for the requantization loop (dense layout)")
            mem.alloc("PSUM", 1, "PSUM", "128 * the sum of the layer's inputs (dense layout)")
        if self.split and not self.inline:
            mem.alloc("TILEIN", self.tile_table + fan_in, "TILEIN",
                      "a tile contract's calldata: the data contracts' addresses, then the layer's input")
        return mem

    def _check(self) -> None:
        first = self.m.ops[0] if self.m.ops else None
        if not isinstance(first, ops.Quantize) or first.input != self.m.inputs[0]:
            raise Ml2scError("int8 backend: the module must start with quantize of its input (run quantize-int8)")
        self.quant: ops.Quantize = first
        if any(self.quant.input in op.operands for op in self.m.ops[1:]):
            raise Ml2scError("int8 backend: only the quantize op may read the fixed<18> input")
        if qtype(first.result.type.element).bits != 8:
            raise Ml2scError("int8 backend: the input must be quantized to 8 bits")
        for i, op in enumerate(self.m.ops):
            self.handler(op)  # one-line error for an op the backend lacks
            if isinstance(op, ops.QGemm):
                nxt = self.m.ops[i + 1] if i + 1 < len(self.m.ops) else None
                if not (isinstance(nxt, ops.Requantize) and nxt.input == op.result and self.m.users(op.result) == [nxt]):
                    raise Ml2scError(f"int8 backend: qgemm {op.result} must be followed by its only user, a requantize")

    def conventions(self) -> dict[str, object]:
        if self.split or self.steps:
            return self._session_conventions()
        return {"input_decimals": 18, "packed_input_bytes": 1, "data_contracts": self.blob.runtimes(),
                "metadata": {"abi_interface": f"ml2sc/{INTERFACE}.sol:{INTERFACE}", "data_bytes": str(len(self.blob.data)),
                             "weights": self.m.attribute("int8.weights") or "",
                             "weights_why": self.m.attribute("int8.weights.why") or "",
                             "layout": self.m.attribute("int8.layout") or "swar",
                             "layout_why": self.m.attribute("int8.layout.why") or ""}}

    # ----------------------------------------------------------------- file
    def source(self) -> str:
        w = self.w
        body = SolidityWriter()
        self.w = body
        self._forward()  # first: it fills the data blob the constants and constructor describe
        forward = body.text()
        self.w = w
        shell.file_header(w, self.backend, self.m, [
            "Integer-only: int8 activations and weights, SWAR matrix-vector kernels over weights read",
            "from data contracts with EXTCODECOPY, requantization by multiplier and shift.",
            f"Weights: {self.m.attribute('int8.weights')} ({self.m.attribute('int8.weights.why')}); "
            f"layout: {self.m.attribute('int8.layout') or 'swar'} ({self.m.attribute('int8.layout.why') or 'default'})."]
            + ([f"Split: the SWAR layers in {len(self.tile_list)} tile contracts ({self.m.attribute('int8.split.why')})."]
               if self.tile_list else [])
            + ([f"Steps: {self._session_conventions()['metadata']['steps_why']} (begin/step)."] if self.steps else []))
        w.line(f'import {{ {INTERFACE} }} from "ml2sc/{INTERFACE}.sol";')
        w.blank()
        with w.block(f"contract {self.contract}"):
            self._constants()
            self._session_constants()
            self._constructor()
            self._entry_points()
            self._session_entry_points()
            for line in forward.rstrip("\n").split("\n"):
                w.line(line) if line else w.blank()
            self._helpers()
        return w.text()

    def _constants(self) -> None:
        w = self.w
        first = self.m.outputs[0].value.type.element
        scale = first.scale if isinstance(first, QuantType) else 1.0
        zp = first.zero_point if isinstance(first, QuantType) else 0
        w.line(f"uint256 internal constant N_IN = {self.n_in};")
        w.line(f"uint256 internal constant N_OUT = {self.n_out};")
        w.comment("Memory map: one word per value.")
        self.mem.declare(w)
        w.line(f"uint256 internal constant RESULT_BYTES = {32 * (2 + self.n_out)};")
        w.line(f"uint256 internal constant MEM_END = {hex_lit(self.end)};")
        w.line("uint256 public constant inputScale = 1e18;")
        w.line(f"uint256 public constant outputScale = {nx.round_half_up(scale * 1e18)};")
        w.line(f"int256 public constant outputZeroPoint = {zp};")
        w.line(f"bytes32 public constant modelHash = {self.model_hash};")
        if self.tables:
            w.comment("Lookup tables, 32 one-byte entries (or 16 two-byte exp entries, see exp_table) a word, stored to TBL before use.")
        for name, word in self.tables:
            w.line(f"bytes32 internal constant {name} = 0x{word.hex()};")
        self.n_data = len(self.blob.runtimes()) if self.blob.data else 0
        if self.book:
            w.line("address internal immutable BOOK; // the data contracts' addresses, 20 bytes each: the code of a "
                   "contract the constructor created")
        for k in range(0 if self.book else self.n_data):
            if self.linked:
                w.line(f"uint256 internal constant D{k} = {link.literal(k)}; // data contract {k}: its address, linked")
            else:
                w.line(f"address internal immutable D{k}; // data contract {k}")
        if self.linked and self.n_data:
            w.comment("(The deployer replaces each PUSH32 of a D constant with the data contract's address once it is")
            w.comment("deployed, see backends/common/link.py: each EXTCODECOPY then names its address in the code.)")
        w.blank()

    def _forward(self) -> None:
        if self.steps:
            self._stepped_forward()
            return
        self.w.comment("The forward pass: reads the int8 input at X, leaves the ABI-encoded result at RESULT.")
        with self.w.block(f"function _forward() private {self.mut}"):
            if self.split and self.tile_table:
                self.w.line("_dataTable();")
            if not self.inline and not self.dense and not self.split:
                self.w.line("uint256 acc; // the SWAR accumulator of the current group")
            for op in self.m.ops[1:]:
                if not isinstance(op, ops.Requantize):
                    self.w.comment(self._describe(op))
                self.lower(op)
            sources = [self.mem.at(o.value.name) for o in self.m.outputs]
            shell.write_result(self.w, self.mem.address("RESULT"), self.slots, sources)
        for dot in self.dots:
            self.w.blank()
            self.w.lines(dot.split("\n"))

    def _describe(self, op: ops.Op) -> str:
        """``L1 = gemm + requantize (X) -> qi8<...>``, in the memory map's names."""
        regions = self.mem.regions
        if isinstance(op, ops.QGemm):
            rq = self.m.users(op.result)[0]
            return f"{regions[rq.result.name].name} = gemm + requantize ({regions[op.input.name].name}) -> {rq.result.type}"
        return f"{regions[op.result.name].name} = {op.mnemonic} ({regions[op.operands[0].name].name}) -> {op.result.type}"

    @handles(ops.Quantize, ops.Requantize)
    def _in_entry_or_gemm(self, op: ops.Op) -> None:
        """quantize runs in the entry points, requantize with its qgemm: nothing to write here."""

    def _copy(self, offset: int, length: int, dst: int) -> None:
        if self.dense:  # one helper that finds the data contracts at run time: less code per copy
            self.w.line(f"_copyBlob({hex_lit(offset)}, {hex_lit(length)}, {hex_lit(dst)});")
            return
        for c in self.blob.copies(offset, length, dst):
            if self.linked:
                self.w.line(f"_copy{c.contract}({hex_lit(c.src)}, {hex_lit(c.dst)}, {hex_lit(c.length)});")
            else:
                self.w.line(f"_copy(D{c.contract}, {hex_lit(c.src)}, {hex_lit(c.dst)}, {hex_lit(c.length)});")

    @handles(ops.QGemm)
    def _qgemm(self, op: ops.QGemm, lo: int = 0, hi: int | None = None) -> None:
        """The layer's groups (SWAR), passes (dense) or tile calls lo..hi-1 (all by default)."""
        w = self.w
        rq = self.m.users(op.result)[0]
        assert isinstance(rq, ops.Requantize)
        if self.dense:
            self._qgemm_dense(op, rq, lo, hi)
            return
        if self.split:
            self._qgemm_tiles(op, lo, hi)
            return
        weight = self.m.constant(op.weight)
        n_out, n_in = weight.type.shape
        rows = weight.rows()
        xb = self.xbias if op.input == self.quant.result else 0  # X holds q + xb
        plan = prove_lanes(rows, -128 + xb, 127 + xb, op.lanes, f"qgemm {op.result} ({n_in} inputs)")
        fn = self._fns.get((op.result.name,)) or f"_dot{len(self.dots)}"
        x = self.mem.address(op.input.name)
        if not self.inline and (op.result.name,) not in self._fns:
            self.dots.append(self._dot_function(fn, n_in, op.input.name))
            self._fns[(op.result.name,)] = fn
        # sum_i W (q_i + xb) = sum_i W q_i + xb sum_i W: take the surplus off the bias
        bias = [b - xb * sum(row) for b, row in zip(self.m.constant(op.bias).values, rows, strict=True)]
        mult, shift = self.m.constant(rq.multiplier).values, self.m.constant(rq.shift).values
        z = qtype(rq.result.type.element).zero_point
        if lo == 0:
            w.comment(f"{n_out} outputs in groups of {plan.lanes} lanes x {plan.bits} bits; acc = init + sum_i word_i * x_i")
        for group in plan.groups(n_out)[lo:hi]:
            words = pack_group(rows, group, plan)
            w.comment(f"outputs {group.start}..{group.stop - 1}")
            lanes = (plan, group, bias, mult, shift, z, rq)
            if self.inline:
                self._inline_group(words, init_word(group, plan), x, lanes)
                continue
            offset = self.blob.add(b"".join(v.to_bytes(32, "big") for v in words))
            self._copy(offset, 32 * n_in, self.mem.address("WIN"))
            w.line(f"acc = {fn}(0x{init_word(group, plan):064x});")
            with w.block("assembly"):
                self._requant_group(lanes)

    def _inline_group(self, words: list[int], init: int, x: int, lanes: tuple) -> None:
        """The group's dot product with its weight words as immediates, then its outputs."""
        with self.w.block("assembly"):
            self.w.line(f"let acc := {hex_lit(init)}")
            terms = [f"mul({hex_lit(wd)}, mload({hex_lit(x + 32 * i)}))" for i, wd in enumerate(words) if wd]
            for expr in chunked_sums(terms, CHUNK_TERMS):
                self.w.line(f"acc := add(acc, {expr})")
            self._requant_group(lanes)

    def _requant_group(self, lanes: tuple) -> None:
        plan, group, bias, mult, shift, z, rq = lanes
        for lane, j in enumerate(group):
            self._requant_lane(plan, lane, j, lane == len(group) - 1, (bias[j], mult[j], shift[j], z), rq)

    def _table(self, payload: bytes, name: str) -> None:
        """Bring a lookup table to TBL: copied from a data contract, or stored from named constants."""
        tbl = self.mem.address("TBL")
        if not self.inline:
            self.w.comment(f"table {name}: {len(payload)} bytes from the data contracts")
            self._copy(self.blob.add(payload), len(payload), tbl)
            return
        padded = payload + bytes(-len(payload) % 32)
        with self.w.block("assembly"):
            for k in range(0, len(padded), 32):
                word = f"{name}_{k // 32}"
                self.tables.append((word, padded[k:k + 32]))
                self.w.line(f"mstore({self.mem.at('TBL', k // 32)}, {word})")

    def _requant_lane(self, plan: LanePlan, lane: int, j: int, top: bool, consts: tuple[int, int, int, int],
                      rq: ops.Requantize) -> None:
        """y_j = clamp(sar(S, v * M + C)) with v the lane's value, C = (bias + Smin) M + 2^(S-1) + z 2^S."""
        r = lane_requant(plan, lane, j, top, consts, rq)
        v = "acc" if lane == 0 else f"shr({r.shift}, acc)"
        if r.mask is not None:
            v = f"and({v}, {hex_lit(r.mask)})"
        t = f"add(mul({v}, {r.m}), {hex_lit(r.c)})" if r.c >= 0 else f"sub(mul({v}, {r.m}), {hex_lit(-r.c)})"
        clamp = ""
        if r.lo is not None:
            clamp += f" if slt(y, {lit(r.lo)}) {{ y := {lit(r.lo)} }}"
        if r.hi is not None:
            clamp += f" if sgt(y, {lit(r.hi)}) {{ y := {lit(r.hi)} }}"
        self.w.line(f"{{ let y := sar({r.s}, {t}){clamp} mstore({self.mem.at(rq.result.name, j)}, y) }}")

    def _dot_function(self, name: str, n_in: int, x: str) -> str:
        """acc + sum_i mload(WIN + 32 i) * mload(x + 32 i), unrolled, in nested chunks (no stack juggling)."""
        lines = [f"/// acc + sum over {n_in} inputs of (SWAR weight word in the window) * (int8 input), mod 2^256.",
                 f"function {name}(uint256 acc) private pure returns (uint256 r) {{", "    assembly {", "        r := acc"]
        terms = [f"mul(mload({self.mem.at('WIN', i)}), mload({self.mem.at(x, i)}))" for i in range(n_in)]
        lines += [f"        r := add(r, {expr})" for expr in chunked_sums(terms, CHUNK_TERMS)]
        lines += ["    }", "}"]
        return "\n".join(lines)

    def _loop(self, n: int, body: str) -> None:
        with self.w.block("assembly"), self.w.block(f"for {{ let k := 0 }} lt(k, {n}) {{ k := add(k, 1) }}"):
            self.w.line(body)

    def _elementwise(self, op: ops.Op, body: str) -> None:
        src, dst = self.mem.at(op.operands[0].name), self.mem.at(op.result.name)
        self._loop(op.result.type.size, f"let v := mload(add({src}, shl(5, k))) {body} mstore(add({dst}, shl(5, k)), v)")

    @handles(ops.Relu)
    def _relu(self, op: ops.Relu) -> None:
        z = lit(qtype(op.result.type.element).zero_point)
        self._elementwise(op, f"if slt(v, {z}) {{ v := {z} }}")

    @handles(ops.LeakyRelu)
    def _leaky_relu(self, op: ops.LeakyRelu) -> None:
        q = qtype(op.result.type.element)
        lo, hi = nx.type_range(q)
        z, a = lit(q.zero_point), nx.leaky_multiplier(op.alpha)
        body = (f"if slt(v, {z}) {{ v := add({z}, sar({nx.LEAKY_SHIFT}, add(mul(sub(v, {z}), {lit(a)}), "
                f"{1 << (nx.LEAKY_SHIFT - 1)}))) if slt(v, {lit(lo)}) {{ v := {lit(lo)} }} "
                f"if sgt(v, {lit(hi)}) {{ v := {lit(hi)} }} }}")
        self._elementwise(op, body)

    @handles(ops.Clip)
    def _clip(self, op: ops.Clip) -> None:
        lo, hi = nx.clip_bounds(op.min, op.max, qtype(op.result.type.element))
        self._elementwise(op, f"if slt(v, {lit(lo)}) {{ v := {lit(lo)} }} if sgt(v, {lit(hi)}) {{ v := {lit(hi)} }}")

    @handles(ops.TableLookup)
    def _lut(self, op: ops.TableLookup) -> None:
        self._table(bytes(v & 0xFF for v in self.m.constant(op.table).values), f"{self.mem.name(op.result.name)}_TABLE")
        lo, _ = nx.type_range(qtype(op.input.type.element))
        self._elementwise(op, f"v := signextend(0, shr(248, mload(add(TBL, add(v, {-lo})))))")

    @handles(ops.QSoftmax)
    def _softmax(self, op: ops.QSoftmax) -> None:
        """exp_lo at TBL, then only the nonzero head of exp_hi (it decreases to 0: e is 0 beyond it)."""
        hi, lo = self.m.constant(op.exp_hi).values, self.m.constant(op.exp_lo).values
        k_hi = next((k for k, v in enumerate(hi) if v == 0), len(hi))
        self._table(exp_table(lo, hi[:k_hi]), f"{self.mem.name(op.result.name)}_EXP")
        src, dst, n = self.mem.at(op.input.name), self.mem.at(op.result.name), op.result.type.size
        w = self.w
        w.comment("d = max - q; e = exp_hi[d >> 8] * exp_lo[d & 255] >> 16 (0 once exp_hi is); y = (e << 16) / sum e")
        with w.block("assembly"):
            w.line(f"let m := mload({src})")
            w.line(f"for {{ let k := 1 }} lt(k, {n}) {{ k := add(k, 1) }} {{ let v := mload(add({src}, shl(5, k))) if sgt(v, m) {{ m := v }} }}")
            w.line("let total := 0")
            with w.block(f"for {{ let k := 0 }} lt(k, {n}) {{ k := add(k, 1) }}"):
                w.line(f"let d := sub(m, mload(add({src}, shl(5, k))))")
                w.line("let e := 0")
                w.line(f"if lt(d, {256 * k_hi}) {{ e := shr(16, mul(add(shr(240, mload(add(TBL, add(512, shl(1, shr(8, d)))))), 1), "
                       "add(shr(240, mload(add(TBL, shl(1, and(d, 255))))), 1))) }")
                w.line(f"mstore(add({dst}, shl(5, k)), e) total := add(total, e)")
            w.line(f"for {{ let k := 0 }} lt(k, {n}) {{ k := add(k, 1) }} {{ let p := add({dst}, shl(5, k)) mstore(p, div(shl(16, mload(p)), total)) }}")

    @handles(ops.ArgMax)
    def _argmax(self, op: ops.ArgMax) -> None:
        shell.argmax_op(self.w, self.mem.at(op.input.name), op.input.type.size, self.mem.at(op.result.name))

    @handles(ops.LabelMap)
    def _label_map(self, op: ops.LabelMap) -> None:
        classes = tuple(int(c) for c in self.m.constant(op.classes).values)
        shell.label_map(self.w, self.mem.at(op.input.name), self.mem.at(op.result.name), classes, lit)
