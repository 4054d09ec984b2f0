"""The int8 contract's entry points, constructor and input handling.

Split from ``emitter.py`` (the forward pass) to keep each file readable; ``Int8Emitter``
inherits these methods and provides the attributes they read (``mem``, ``quant``, ``xbias``,
``inline``, ``mut``, ``blob``). The pieces every backend shares are in ``common/shell``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from eth_utils import keccak

from ml2sc.backends.base import OutputSlot
from ml2sc.backends.common import shell
from ml2sc.backends.common.emitter import Emitter
from ml2sc.backends.common.yul import hex_lit, lit
from ml2sc.backends.int8 import numerics as nx
from ml2sc.ir import ops
from ml2sc.ir.types import QuantType

if TYPE_CHECKING:
    from ml2sc.backends.common.memory import Memory
    from ml2sc.backends.int8.layout import DataBlob

INTERFACE = "IML2SCInt8Model"  # runtime_sol/IML2SCInt8Model.sol
UNROLL_UNPACK = 256  # inputs up to which _unpack stores to constant addresses (7 bytes of code each)


def qtype(t: object) -> QuantType:
    """The element type of a quantized value (the verifier guarantees it)."""
    assert isinstance(t, QuantType)
    return t


XOR_128 = "0x" + "80" * 32  # flips every byte's top bit: int8 q -> unsigned q + 128


def _byte(k: int, biased: bool) -> str:
    """Input k of the word ``v``: byte k (0 = most significant) sign-extended, or, when the
    word was XORed with XOR_128, the byte itself (q + 128, no sign extension needed)."""
    if biased:
        return f"byte({k}, v)"
    return f"signextend(0, {'v' if k == 31 else f'shr({248 - 8 * k}, v)'})"


def _byte_at(k: str, biased: bool) -> str:
    """As ``_byte`` with a variable index: the k-th byte of ``v`` (sign-extended unless biased)."""
    return f"byte({k}, v)" if biased else f"signextend(0, byte({k}, v))"


class Int8Entry(Emitter):
    """Entry points and helpers of the int8 model contract (the base of ``Int8Emitter``)."""

    mem: Memory
    blob: DataBlob
    quant: ops.Quantize
    xbias: int
    inline: bool
    dense: bool
    mut: str

    def _constructor(self) -> None:
        w = self.w
        runtimes = self.blob.runtimes() if self.blob.data else ()
        if not runtimes:
            return
        w.comment("The data contracts, deployed first and linked into this code (D0, D1, ...): each one's code hash")
        w.comment("is checked against the compiled weights (an unlinked copy fails here: nothing is at a placeholder).")
        with w.block("constructor()"):
            w.line("bytes32 h;")
            for k, code in enumerate(runtimes):
                w.line(f'assembly ("memory-safe") {{ h := extcodehash(D{k}) }}')
                w.line(f"if (h != 0x{keccak(code).hex()}) revert {INTERFACE}.DataContractHash({k});")
        w.blank()

    # --------------------------------------------------------- entry points
    def _entry_points(self) -> None:
        w = self.w
        w.comment("predict: SD59x18 inputs, quantized on chain.")
        with w.block(f"function predict(int256[] calldata x) external {self.mut}"):
            w.line("_quantizeRow(x);")
            w.line("_forward();")
            w.line("assembly { return(RESULT, RESULT_BYTES) }")
        w.blank()
        w.comment("predictPacked: the row quantized off chain, one int8 byte per input (the cheapest entry).")
        with w.block(f"function predictPacked(bytes calldata q) external {self.mut}"):
            w.line("if (q.length != N_IN) _lengthError(N_IN, q.length);")
            w.line("uint256 offset;")
            w.line('assembly ("memory-safe") { mstore(0x40, MEM_END) offset := q.offset }')
            w.line("_unpack(offset);")
            w.line("_forward();")
            w.line("assembly { return(RESULT, RESULT_BYTES) }")
        w.blank()
        w.comment("predictBatch: rows packed as in predictPacked, back to back; outputs back to back.")
        shell.predict_batch(w, shell.BatchShape("bytes", "N_IN", "N_IN", "_unpack"), self.mut, "RESULT")
        w.blank()
        self._classify()
        w.blank()

    def _classify(self) -> None:
        w = self.w
        slots = self.slots
        label = next((s for s in slots if s.scale is None), None)
        address = self._slot_addr(label) if label else 0
        with shell.classify(w, self.mut, "_quantizeRow", label, address) as needs_rule:
            if not needs_rule:
                return
            first, out = slots[0], self.m.outputs[0].value
            if first.size == 1:
                q = qtype(out.type.element)
                threshold = nx.round_half_up(q.zero_point + 0.5 / q.scale)  # least q with scale (q - z) >= 0.5
                while q.scale * (threshold - 1 - q.zero_point) >= 0.5:
                    threshold -= 1
                while q.scale * (threshold - q.zero_point) < 0.5:
                    threshold += 1
                w.comment(f"a single score: class 1 when it is at least 0.5, i.e. q >= {threshold}")
                w.line(f"assembly {{ label := iszero(slt(mload({hex_lit(self._slot_addr(first))}), {lit(threshold)})) }}")
                return
            src = self.m.producer(out)
            base, n = hex_lit(self._slot_addr(first)), first.size
            if isinstance(src, ops.QSoftmax):
                base = self.mem.at(src.input.name)
                w.comment("the index of the first maximum of the logits the softmax reads (no ties from rounding)")
            else:
                w.comment("the index of the first maximum of the first output")
            with w.block("assembly"):
                shell.argmax_loop(w, base, n, "label")

    def _slot_addr(self, slot: OutputSlot) -> int:
        return self.mem.address("RESULT") + 64 + 32 * slot.offset

    # -------------------------------------------------------------- forward
    def _helpers(self) -> None:
        w = self.w
        q = self.quant
        qt = qtype(q.result.type.element)
        lo, hi = nx.type_range(qt)
        w.blank()
        if q.params:
            self._quantize_per_feature()
        else:
            self._quantize_per_tensor(q, qt, lo, hi)
        w.blank()
        self._unpack_function()

    def _quantize_per_tensor(self, q: ops.Quantize, qt: QuantType, lo: int, hi: int) -> None:
        w = self.w
        v_lo, v_hi = nx.input_thresholds(q.multiplier, q.shift, qt)
        w.comment("SD59x18 -> int8 (numerics.quantize_input): q = sar(S, x * A + 2^(S-1)) + z, clamped. The formula")
        w.comment(f"only runs strictly between the thresholds where it reaches the clamp bounds ({lo}, {hi}),")
        w.comment("so the product cannot overflow and no separate saturation or clamp is needed.")
        with w.block("function _quantizeRow(int256[] calldata x) private pure"):
            w.line("if (x.length != N_IN) _lengthError(N_IN, x.length);")
            with w.block('assembly ("memory-safe")'):
                w.line("mstore(0x40, MEM_END)")
                with w.block("for { let i := 0 } lt(i, N_IN) { i := add(i, 1) }"):
                    w.line("let v := calldataload(add(x.offset, shl(5, i)))")
                    zp = qt.zero_point + self.xbias
                    qexpr = f"sar({q.shift}, add(mul(v, {q.multiplier}), {hex_lit(1 << (q.shift - 1))}))"
                    qexpr = f"add({qexpr}, {zp})" if zp >= 0 else f"sub({qexpr}, {-zp})"
                    w.line(f"let q := {lit(lo + self.xbias)}")
                    w.line(f"if sgt(v, {lit(v_lo)}) {{ q := {lit(hi + self.xbias)} if slt(v, {lit(v_hi)}) {{ q := {qexpr} }} }}")
                    w.line("mstore(add(X, shl(5, i)), q)")

    def _quantize_per_feature(self) -> None:
        """Per-feature input quantization (``quantize`` with @params), unrolled: feature i has its
        own multiplier, shift, zero point and thresholds as immediates."""
        w, q = self.w, self.quant
        assert q.params is not None
        quantizers = nx.input_quantizers(0, 0, qtype(q.result.type.element), self.m.constant(q.params).values,  # type: ignore[arg-type]
                                         self.n_in)
        lo, hi = -128 + self.xbias, 127 + self.xbias
        w.comment("SD59x18 -> int8 per feature (numerics.quantize_input with row i of the quantize op's params):")
        w.comment("q_i = sar(S_i, x_i * A_i + 2^(S_i-1) + z_i 2^S_i), run only strictly between feature i's thresholds")
        w.comment(f"where it reaches the clamp bounds ({lo}, {hi}), so the product cannot overflow.")
        with w.block("function _quantizeRow(int256[] calldata x) private pure"):
            w.line("if (x.length != N_IN) _lengthError(N_IN, x.length);")
            with w.block('assembly ("memory-safe")'):
                w.line("mstore(0x40, MEM_END)")
                w.line("let o := x.offset")
                for i, (a, sh, qi) in enumerate(quantizers):
                    v_lo, v_hi = nx.input_thresholds(a, sh, qi)
                    c = (1 << (sh - 1)) + ((qi.zero_point + self.xbias) << sh)  # rounding and zero point, before the shift
                    prod = "mul(v, " + hex_lit(a) + ")"
                    body = f"add({prod}, {hex_lit(c)})" if c >= 0 else f"sub({prod}, {hex_lit(-c)})"
                    load = "calldataload(o)" if i == 0 else f"calldataload(add(o, {hex_lit(32 * i)}))"
                    w.line(f"{{ let v := {load} let q := {lit(lo)}")
                    w.line(f"  if sgt(v, {lit(v_lo)}) {{ q := {lit(hi)} if slt(v, {lit(v_hi)}) {{ q := sar({sh}, {body}) }} }}")
                    w.line(f"  mstore({self.mem.at(q.result.name, i)}, q) }}")

    def _unpack_function(self) -> None:
        w = self.w
        if self.xbias:
            w.comment("Packed int8 bytes at calldata offset src -> one word per input at X, holding q + 128")
            w.comment("(only qgemms read X; they fold the 128 into their constants): one XOR per 32 bytes and")
            w.comment("a BYTE per input instead of a shift and a sign extension.")
        else:
            w.comment("Packed int8 bytes at calldata offset src -> one sign-extended word per input at X.")
        with w.block("function _unpack(uint256 src) private pure"), w.block("assembly"):
            if self.n_in <= UNROLL_UNPACK:
                self._unpack_unrolled()
            elif self.dense:  # deployment first: a loop of 32 bytes, not 32 stores
                end = self.mem.address(self.quant.result.name) + 32 * 32 * (-(-self.n_in // 32))
                with w.block(f"for {{ let s := src let d := X }} lt(d, {hex_lit(end)}) {{ s := add(s, 32) }}"):
                    w.line(f"let v := {self._load_word('s')}")
                    w.line(f"for {{ let k := 0 }} lt(k, 32) {{ k := add(k, 1) d := add(d, 32) }} {{ mstore(d, {_byte_at('k', bool(self.xbias))}) }}")
            else:
                end = self.mem.address(self.quant.result.name) + 32 * 32 * (-(-self.n_in // 32))
                with w.block(f"for {{ let s := src let d := X }} lt(d, {hex_lit(end)}) {{ s := add(s, 32) d := add(d, 1024) }}"):
                    w.line(f"let v := {self._load_word('s')}")
                    parts = [f"mstore({'d' if k == 0 else f'add(d, {hex_lit(32 * k)})'}, {_byte(k, bool(self.xbias))})"
                             for k in range(32)]
                    for i in range(0, 32, 4):
                        w.line(" ".join(parts[i : i + 4]))
        w.blank()
        if self.dense:
            self._copy_blob_function()
        else:
            self._copy_function()
        shell.length_error(w, f"{INTERFACE}.InputLength")

    def _copy_function(self) -> None:
        w = self.w
        if not self.inline:
            w.comment("Weights and tables from a data contract into memory.")
            if not self.linked:  # type: ignore[attr-defined]
                with w.block("function _copy(address d, uint256 src, uint256 dst, uint256 len) private view"):
                    w.line('assembly ("memory-safe") { extcodecopy(d, dst, src, len) }')
                return
            w.comment("(One per data contract: its address is the PUSH32 right before the EXTCODECOPY.)")
            for k in range(len(self.blob.runtimes()) if self.blob.data else 0):
                with w.block(f"function _copy{k}(uint256 src, uint256 dst, uint256 len) private view"):
                    w.line(f'assembly ("memory-safe") {{ extcodecopy(D{k}, dst, src, len) }}')

    def _unpack_unrolled(self) -> None:
        """Exactly n_in stores to constant addresses: no loop, no padding, no address arithmetic."""
        for word in range(-(-self.n_in // 32)):
            self.w.line(f"{{ let v := {self._load_word('src' if word == 0 else f'add(src, {hex_lit(32 * word)})')}")
            stores = [f"mstore({self.mem.at(self.quant.result.name, 32 * word + k)}, {_byte(k, bool(self.xbias))})"
                      for k in range(min(32, self.n_in - 32 * word))]
            for i in range(0, len(stores), 4):
                self.w.line("  " + " ".join(stores[i : i + 4]))
            self.w.line("}")

    def _load_word(self, offset: str) -> str:
        if not self.xbias:
            return f"calldataload({offset})"
        if self.dense:  # 0x8080...80 from not(returndatasize()) (no calls: empty): bytes, not a PUSH32
            return f"xor(calldataload({offset}), mul(div(not(returndatasize()), 0xff), 0x80))"
        return f"xor(calldataload({offset}), {XOR_128})"
