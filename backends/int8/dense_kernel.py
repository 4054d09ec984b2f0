"""Yul for the dense layout (``dense.py``): a looped spread-multiply-add kernel per layer
and a looped requantization reading per-output records, so the code stays a few hundred
bytes however wide the layer is (deployment then costs about one byte of code per weight).

``Int8Emitter`` mixes this in; it provides ``w``, ``m``, ``mem``, ``blob``, ``quant``,
``xbias``, ``dots`` (extra private functions) and ``_copy``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ml2sc.backends.common.yul import hex_lit, lit
from ml2sc.backends.int8 import numerics as nx
from ml2sc.backends.int8.dense import (
    DensePass,
    DensePlan,
    pack_pass,
    pack_records,
    plan_dense,
    record_width,
)
from ml2sc.backends.int8.layout import CHUNK
from ml2sc.ir import ops
from ml2sc.ir.types import QuantType

if TYPE_CHECKING:
    from ml2sc.backends.common.memory import Memory
    from ml2sc.backends.common.solidity import SolidityWriter
    from ml2sc.backends.int8.layout import DataBlob
    from ml2sc.ir.module import Module

UNROLL = 2  # words per loop iteration
BOOK_MIN = 100  # more data contracts than this: an address book (see DenseKernels.book)


def _runs(passes: tuple[DensePass, ...]) -> list[list[DensePass]]:
    """Consecutive passes of the same shape, which one loop (and one kernel function) serves."""
    runs: list[list[DensePass]] = []
    for p in passes:
        same = runs and (runs[-1][0].bundles, runs[-1][0].per_word, runs[-1][0].words, runs[-1][0].outputs) == (
            p.bundles, p.per_word, p.words, p.outputs)
        runs[-1].append(p) if same else runs.append([p])
    return runs


class DenseKernels:
    w: SolidityWriter
    m: Module
    mem: Memory
    blob: DataBlob
    quant: ops.Quantize
    xbias: int
    dots: list[str]
    _fns: dict[tuple, str]

    def _copy(self, offset: int, length: int, dst: int) -> None: ...

    def _qgemm_dense(self, op: ops.QGemm, rq: ops.Requantize, lo: int = 0, hi: int | None = None) -> None:
        """P = 128 sum p, then per pass: copy its words and records, call its kernel. Passes lo..hi-1
        only when the layer is split over steps (P is then recomputed by each step: it is not state)."""
        rows = self.m.constant(op.weight).rows()
        n_out, n_in = len(rows), len(rows[0])
        plan = plan_dense(n_out, n_in, f"qgemm {op.result}")
        qin = op.input.type.element
        assert isinstance(qin, QuantType)
        qmin = nx.type_range(qin)[0]
        off = -qmin - (self.xbias if op.input == self.quant.result else 0)  # p = word + off, in 0..255
        x = self.mem.address(op.input.name)
        bias = [int(b) + qmin * sum(int(v) for v in row) for b, row in zip(self.m.constant(op.bias).values, rows, strict=True)]
        mult = [int(v) for v in self.m.constant(rq.multiplier).values]
        shift = [int(v) for v in self.m.constant(rq.shift).values]
        self.w.comment(f"dense: {n_out} outputs in passes of up to {plan.lane_bytes * plan.lanes} over {n_in} "
                       f"one-byte weights; lanes of {8 * plan.lane_bytes} bits")
        with self.w.block("assembly"):
            self.w.line(f"let s := 0 for {{ let i := {hex_lit(x)} }} lt(i, {hex_lit(x + 32 * n_in)}) {{ i := add(i, 32) }} {{ s := add(s, mload(i)) }}")
            total = f"add(s, {lit(n_in * off)})" if off else "s"
            self.w.line(f"mstore({self.mem.at('PSUM')}, shl(7, {total})) // P = 128 * sum of p")
        width = record_width(bias)
        for group in _runs(plan.passes[lo:hi]):
            p = group[0]
            key = (op.result.name, p.bundles, p.per_word, p.words, p.outputs)
            fn = self._fns.get(key) or f"_dense{len(self.dots)}"
            if key not in self._fns:
                self.dots.append(self._dense_function(fn, plan, p, x, off, rq, width))
                self._fns[key] = fn
            start = None
            for q in group:  # consecutive passes: consecutive payloads of one size
                span = slice(q.first_output, q.first_output + q.outputs)
                payload = pack_pass(rows, plan, q) + pack_records(mult[span], shift[span], bias[span], width)
                offset = self.blob.add(payload)
                start = offset if start is None else start
                if (offset + len(payload) - 1) // CHUNK - offset // CHUNK >= 2:  # touches three data contracts
                    self._copy_three = True
            size = 32 * p.words + width * p.outputs
            out = self.mem.address(rq.result.name, p.first_output)
            last = p.first_output + len(group) * p.outputs - 1
            self.w.comment(f"outputs {p.first_output}..{last}, {p.outputs} a pass: the pass's weight words, then its records")
            if len(group) == 1:
                self.w.line(f"_copyBlob({hex_lit(start)}, {hex_lit(size)}, WIN); {fn}({hex_lit(out)}, {p.outputs});")
                continue
            with self.w.block(f"for (uint256 k; k < {len(group)}; ++k)"):
                self.w.line(f"_copyBlob({hex_lit(start)} + k * {hex_lit(size)}, {hex_lit(size)}, WIN);")
                self.w.line(f"{fn}({hex_lit(out)} + k * {hex_lit(32 * p.outputs)}, {p.outputs});")

    def _copy_blob_function(self) -> None:
        """Blob bytes [offset, offset + len) to memory dst, from whichever data contracts hold them."""
        w, n = self.w, len(self.blob.runtimes())
        w.comment(f"Bytes [offset, offset + len) of the data contracts' payloads ({CHUNK} bytes each, back to back) to dst.")
        if n == 1 and self.linked:  # type: ignore[attr-defined]
            with w.block("function _copyBlob(uint256 offset, uint256 len, uint256 dst) private view"):
                w.line('assembly ("memory-safe") { extcodecopy(D0, dst, add(offset, 1), len) } // after its STOP byte')
            return
        if getattr(self, "_copy_three", False):
            # a pass longer than one contract's bytes (fan-in above ~760) that straddles three: a loop
            with (w.block("function _copyBlob(uint256 offset, uint256 len, uint256 dst) private view"), w.block("unchecked"),
                  w.block("while (len != 0)")):
                w.line(f"uint256 local = offset % {CHUNK};")
                w.line(f"uint256 n = len < {CHUNK} - local ? len : {CHUNK} - local;")
                w.line(f"_copyFrom(offset / {CHUNK}, dst, local + 1, n);")
                w.line("offset += n; dst += n; len -= n;")
            self._data_function(n)
            return
        with w.block("function _copyBlob(uint256 offset, uint256 len, uint256 dst) private view"), w.block("unchecked"):
            w.line(f"uint256 local = offset % {CHUNK};")
            w.line(f"uint256 first = len < {CHUNK} - local ? len : {CHUNK} - local;")
            w.line(f"_copyFrom(offset / {CHUNK}, dst, local + 1, first);")
            with w.block("if (first < len)"):
                w.line(f"_copyFrom(offset / {CHUNK} + 1, dst + first, 1, len - first);")
        self._data_function(n)

    @property
    def book(self) -> bool:
        """Many data contracts (dense models above ~2.4M weights): their addresses in an address-book
        contract, not in one immutable each (237 immutables and checks overflow EIP-3860's 49,152-byte
        initcode, and a lookup chain of 237 comparisons costs ~2,600 gas a copy)."""
        return self.dense and len(self.blob.runtimes()) > BOOK_MIN  # type: ignore[attr-defined]

    def _data_function(self, n: int) -> None:
        w = self.w
        if self.book:
            w.comment("Data contract k's bytes [src, src + len) to dst; its address is 20 bytes of the address")
            w.comment("book's code (after its STOP byte).")
            with w.block("function _copyFrom(uint256 k, uint256 dst, uint256 src, uint256 len) private view"):
                w.line("address book = BOOK;")
                w.line('assembly ("memory-safe") { extcodecopy(book, 0, add(1, mul(20, k)), 20) '
                       "extcodecopy(shr(96, mload(0)), dst, src, len) }")
            return
        w.comment("Data contract k's bytes [src, src + len) to dst: each EXTCODECOPY's address is the linked")
        w.comment("PUSH32 right before it.")
        with w.block(f"function _copyFrom(uint256{' k' if n > 1 else ''}, uint256 dst, uint256 src, uint256 len) private view"), \
                w.block('assembly ("memory-safe")'):
            if n == 1:
                w.line("extcodecopy(D0, dst, src, len)")
                return
            w.line("switch k")
            for i in range(n - 1):
                w.line(f"case {i} {{ extcodecopy(D{i}, dst, src, len) }}")
            w.line(f"default {{ extcodecopy(D{n - 1}, dst, src, len) }}")

    def _dense_function(self, name: str, plan: DensePlan, p: DensePass, x: int, off: int, rq: ops.Requantize,
                        width: int) -> str:
        lines = [f"/// {p.bundles} bundles of {plan.lanes} outputs, {p.per_word} input(s) a word: spread, multiply, add;",
                 "/// then each output requantized from its record.",
                 f"function {name}(uint256 out, uint256 count) private pure {{", "    assembly {"]
        # The mask as (2^(8 L N) - 1) / (2^(8 L) - 1) * 0xff, a few bytes of code instead of a PUSH32.
        # 2^(8 L N) - 1 comes from not(returndatasize()): this contract makes no calls, so the
        # return data is always empty, and solc cannot fold the expression back into a PUSH32.
        top = 256 - 8 * plan.lane_bytes * plan.lanes
        all_ones = f"shr({top}, not(returndatasize()))" if top else "not(returndatasize())"
        ones = f"div({all_ones}, {hex_lit(plan.lane_mask)})"
        body = [f"let mask := mul({ones}, 0xff) // {hex_lit(plan.mask)}", " ".join(f"let a{a} := 0" for a in range(p.bundles))]
        win, loop_words = self.mem.address("WIN"), p.words - p.words % UNROLL
        step_x = 32 * p.per_word
        if loop_words:
            body.append(f"for {{ let w := {hex_lit(win)} let x := {hex_lit(x)} }} lt(w, {hex_lit(win + 32 * loop_words)}) "
                        f"{{ w := add(w, {hex_lit(32 * UNROLL)}) x := add(x, {hex_lit(step_x * UNROLL)}) }} {{")
            for u in range(UNROLL):
                body += ["    " + line for line in self._word(p, f"add(w, {hex_lit(32 * u)})" if u else "w",
                                                             lambda b, u=u: f"add(x, {hex_lit(step_x * u + 32 * b)})" if step_x * u + 32 * b else "x", off)]
            body.append("}")
        for k in range(loop_words, p.words):
            body += self._word(p, hex_lit(win + 32 * k), lambda b, k=k: hex_lit(x + step_x * k + 32 * b), off)
        body += self._requant(plan, p, rq, width)
        lines += ["        " + line for line in body]
        lines += ["    }", "}"]
        return "\n".join(lines)

    def _word(self, p: DensePass, word: str, x_at: object, off: int) -> list[str]:
        """One weight word: for each of its inputs, each bundle's row spread and multiplied."""
        out = [f"{{ let v := mload({word})"]
        for b in range(p.per_word):
            out.append(f"  let p{b} := add(mload({x_at(b)}), {lit(off)})" if off else f"  let p{b} := mload({x_at(b)})")  # type: ignore[operator]
            for a in range(p.bundles):
                t = b * p.bundles + a
                row = f"and(shr({8 * t}, v), mask)" if t else "and(v, mask)"
                out.append(f"  a{a} := add(a{a}, mul({row}, p{b}))")
        out.append("}")
        return out

    def _requant(self, plan: DensePlan, p: DensePass, rq: ops.Requantize, width: int) -> list[str]:
        """y_j = clamp(sar(S, (lane_j - P + b') M + 2^(S-1) + z 2^S)), b', M and S from record j
        (the records follow the pass's words in the window); one loop over the outputs."""
        q = rq.result.type.element
        assert isinstance(q, QuantType)
        req, acc = self.mem.address("WIN") + 32 * p.words, self.mem.address("ACC")
        bits = 8 * plan.lane_bytes
        out = [" ".join(f"mstore({hex_lit(acc + 32 * a)}, a{a})" for a in range(p.bundles)),
               f"let P := mload({self.mem.at('PSUM')})",
               "for { let j := 0 } lt(j, count) { j := add(j, 1) } {",
               f"  let r := mload(add({hex_lit(req)}, mul(j, {width}))) let s := byte(4, r)"]
        lane = (f"and(shr(mul(mod(j, {plan.lanes}), {bits}), mload(add({hex_lit(acc)}, shl(5, div(j, {plan.lanes}))))), "
                f"{hex_lit(plan.lane_mask)})") if p.bundles > 1 else f"and(shr(mul(j, {bits}), a0), {hex_lit(plan.lane_mask)})"
        out.append(f"  let y := sar(s, add(mul(add(sub({lane}, P), sar({256 - 8 * (width - 5)}, shl(40, r))), shr(224, r)), "
                   f"add(shl(sub(s, 1), 1), shl(s, {lit(q.zero_point)}))))")
        out.append(f"  if slt(y, {lit(rq.qmin)}) {{ y := {lit(rq.qmin)} }} if sgt(y, {lit(rq.qmax)}) {{ y := {lit(rq.qmax)} }}")
        out += ["  mstore(add(out, shl(5, j)), y)", "}"]
        if p.bundles == 1:
            out.pop(0)
        return out
