"""Lowering of fixed<18> IR to a Solidity contract (SD59x18 numbers).

Design, driven by measured gas (see docs/backends.md):
- weights are immediates in the code (PUSH8 for typical SD59x18 weights):
  the cheapest read the EVM has (3 gas), immutable, no storage;
- each gemm output is one unrolled chain of MUL/ADD at scale 10^36 and a
  single ``sdiv`` by 10^18, so a multiply-accumulate costs ~17 gas; negative
  weights subtract their magnitude so no immediate is sign-extended to 32 bytes;
- values live at fixed memory addresses (``layout.py``);
- nonlinearities call ``FixedMath`` (PRBMath's exp algorithm, compact form).
The simulator (``simulator.py``) mirrors every integer operation here.
"""

from __future__ import annotations

from collections.abc import Callable

from eth_utils import keccak

from ml2sc.backends.base import OutputSlot, Program
from ml2sc.backends.prbmath.fixed import UNIT, to_unit
from ml2sc.backends.prbmath.layout import Layout, plan_layout
from ml2sc.backends.prbmath.weights import gemm_rows
from ml2sc.backends.solidity import SolidityWriter
from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Module
from ml2sc.ir.types import FixedType, IntType

SOLIDITY_PRAGMA = "0.8.30"
PACKED_INPUT_BYTES = 8
U = str(UNIT)


TILE = 10  # inputs on the stack at once; measured: 12 overflows solc's 16 reachable slots with mixed signs and a bias, 11 fits


def _sum(terms: list[tuple[str, int]]) -> str:
    """x0 * k0 + x1 * k1 + ... (all k > 0) as one nested expression.

    Yul evaluates arguments right to left, so ``add(t0, add(t1, ...))`` keeps
    the stack depth constant with no DUP/SWAP/POP per term.
    """
    factors = [f"mul({x}, {k})" for x, k in terms]
    expr = factors[-1]
    for f in reversed(factors[:-1]):
        expr = f"add({f}, {expr})"
    return expr


def _update(acc: str | None, terms: list[tuple[str, int]]) -> str:
    """acc + sum of x * k, with the negative weights summed apart and subtracted once.

    One SUB per tile instead of one NOT per negative weight (and no 32-byte immediates).
    """
    pos = [(x, k) for x, k in terms if k > 0]
    neg = [(x, -k) for x, k in terms if k < 0]
    expr = _sum(pos) if pos else None
    if acc is not None:
        expr = f"add({acc}, {expr})" if expr else acc
    if neg:
        expr = f"sub({expr or 0}, {_sum(neg)})"
    return expr or "0"


def _divisor_text(div: int) -> str:
    return str(div) if div == UNIT or div < 2**16 else f"shl({div.bit_length() - 1}, 1)"


def _selector(signature: str) -> str:
    return keccak(text=signature)[:4].hex()


def _hex(addr: int) -> str:
    return f"0x{addr:x}"


def _lit(c: int) -> str:
    """A Yul literal for a signed constant (Yul has no negative literals)."""
    return str(c) if c >= 0 else f"sub(0, {-c})"


def _plus(expr: str, c: int) -> str:
    """expr + c, subtracting the magnitude of a negative constant instead of pushing 32 bytes."""
    if c == 0:
        return expr
    return f"add({expr}, {c})" if c > 0 else f"sub({expr}, {-c})"


def _times(expr: str, c: int) -> str:
    """expr * c for a signed constant, as mul (c >= 0) or 0 - expr * |c|."""
    return f"mul({expr}, {c})" if c >= 0 else f"sub(0, mul({expr}, {-c}))"


class _Emitter:
    def __init__(self, module: Module, contract: str, model_hash: str, input_bits: int) -> None:
        self.m = module
        self.contract = contract
        self.model_hash = model_hash
        self.input_bits = input_bits
        self.first_in_place = False
        self.fused_relu = self._fusable_relus(module)
        self.layout: Layout = plan_layout(module)
        for relu, gemm in self.fused_relu.items():  # a fused relu writes in place
            self.layout.regions[relu] = self.layout.regions[gemm]
        self._place_first_output()
        self.w = SolidityWriter()
        self.n_in = module.inputs[0].type.size
        self.packed_words = (self.n_in + 3) // 4
        self.uses_fixedmath = any(isinstance(op, ops.Sigmoid | ops.Tanh | ops.Softmax) for op in module.ops)

    def _place_first_output(self) -> None:
        """Compute the first output straight into the result buffer: no copy at the end.

        Its region's length word then sits on the result's length word, which
        _write_result rewrites last (only softmax uses that word, and only while it runs).
        """
        first = self.m.outputs[0].value.name
        if first == self.m.inputs[0].name:
            return
        names = [first] + [r for r, g in self.fused_relu.items() if g == first or r == first]
        names += [g for r, g in self.fused_relu.items() if r == first]
        for name in set(names):
            self.layout.regions[name] = self.layout.result + 32
        self.first_in_place = True

    @staticmethod
    def _fusable_relus(module: Module) -> dict[str, str]:
        """relu result -> gemm result, for each relu whose gemm feeds nothing else."""
        fused = {}
        for op in module.ops:
            producer = module.producer(op.operands[0]) if isinstance(op, ops.Relu) else None
            if isinstance(producer, ops.Gemm) and module.users(producer.result) == [op] and not any(
                o.value == producer.result for o in module.outputs
            ):
                fused[op.result.name] = producer.result.name
        return fused

    # ----------------------------------------------------------------- file
    def emit(self) -> str:
        w = self.w
        w.line("// SPDX-License-Identifier: MIT")
        w.comment(f"Generated by ml2sc (prbmath backend) from model '{self.m.name}'. Do not edit.")
        w.comment("Numbers are SD59x18: int256 scaled by 1e18. Weights are code immediates.")
        w.comment(self._summary())
        w.line(f"pragma solidity {SOLIDITY_PRAGMA};")
        w.blank()
        w.line('import { IML2SCModel } from "ml2sc/IML2SCModel.sol";')
        if self.uses_fixedmath:
            w.line('import { FixedMath } from "ml2sc/FixedMath.sol";')
        w.blank()
        w.comment("Implements IML2SCModel. The functions returning int256[] write their ABI-encoded result")
        w.comment("from assembly and so declare no Solidity return type (that saves solc's unreachable")
        w.comment("encoder, ~84 bytes); the artifact's ABI is IML2SCModel's, whose selectors they match.")
        with w.block(f"contract {self.contract}"):
            self._constants()
            self._entry_points()
            self._forward()
            self._helpers()
        return w.text()

    def _summary(self) -> str:
        parts = [f"input {self.n_in}"]
        for op in self.m.ops:
            size = op.result.type.size
            parts.append(f"{op.mnemonic}({size})" if op.mnemonic in ("gemm", "affine") else op.mnemonic)
        return "Model: " + " -> ".join(parts)

    def _constants(self) -> None:
        w, lay = self.w, self.layout
        w.line(f"uint256 internal constant N_IN = {self.n_in};")
        w.line(f"uint256 internal constant N_OUT = {lay.n_outputs};")
        w.comment("Inputs must lie in [-2^INPUT_BITS, 2^INPUT_BITS): the compiler proved that the unchecked")
        w.comment("kernels cannot overflow there; predict and predictBatch check it (InputOutOfRange).")
        w.line(f"uint256 internal constant INPUT_BITS = {self.input_bits};")
        w.line(f"uint256 internal constant X = {_hex(lay.regions[self.m.inputs[0].name] + 32)}; // input vector")
        w.line(f"uint256 internal constant RESULT = {_hex(lay.result)}; // ABI-encoded int256[] result")
        w.line(f"uint256 internal constant MEM_END = {_hex(lay.end)};")
        w.line("uint256 public constant inputScale = 1e18;")
        w.line("uint256 public constant outputScale = 1e18;")
        w.line(f"bytes32 public constant modelHash = {self.model_hash};")
        w.blank()

    # --------------------------------------------------------- entry points
    def _entry_points(self) -> None:
        w, lay = self.w, self.layout
        w.comment("One row of N_IN SD59x18 inputs -> N_OUT SD59x18 outputs.")
        with w.block("function predict(int256[] calldata x) external pure"):
            w.line("_loadRow(x);")
            w.line("_forward();")
            w.line(f"assembly {{ return(RESULT, {lay.result_bytes}) }}")
        w.blank()
        words = self.packed_words
        w.comment(f"Cheapest entry: the row packed as {words} words of four int64 lanes (SD59x18, first input")
        w.comment("in the most significant lane): a quarter of the calldata of predict, no range check needed.")
        with w.block("function predictPacked(uint256[] calldata row) external pure"):
            w.line(f"if (row.length != {words}) _lengthError({words}, row.length);")
            w.line("uint256 offset;")
            w.line('assembly ("memory-safe") { mstore(0x40, MEM_END) offset := row.offset }')
            w.line("_unpack(offset);")
            w.line("_forward();")
            w.line(f"assembly {{ return(RESULT, {lay.result_bytes}) }}")
        w.blank()
        w.comment(f"Many rows in one call: rows packed as in predictPacked, {words} words each, back to back;")
        w.comment("the result holds the outputs of each row back to back.")
        with w.block("function predictBatch(uint256[] calldata rows) external pure"), w.block("unchecked"):
            w.line(f"uint256 n = rows.length / {words};")
            w.line(f"if (n == 0 || n * {words} != rows.length) _lengthError({words}, rows.length);")
            w.comment("the result buffer lives at MEM_END; reserve it so nothing else allocates over it")
            with w.block('assembly ("memory-safe")'):
                w.line(f"mstore(MEM_END, 0x20) mstore({_hex(lay.end + 32)}, mul(n, N_OUT))")
                w.line(f"mstore(0x40, add({_hex(lay.end + 64)}, mul(n, {32 * lay.n_outputs})))")
            w.line("uint256 offset;")
            w.line('assembly ("memory-safe") { offset := rows.offset }')
            with w.block("for (uint256 r; r < n; ++r)"):
                w.line(f"_unpack(offset + r * {32 * words});")
                w.line("_forward();")
                w.line(f'assembly ("memory-safe") {{ mcopy(add({_hex(lay.end + 64)}, mul(r, {32 * lay.n_outputs})), {_hex(lay.result_data)}, {32 * lay.n_outputs}) }}')
            w.line(f"assembly {{ return(MEM_END, add(64, mul(n, {32 * lay.n_outputs}))) }}")
        w.blank()
        self._classify()

    def _classify(self) -> None:
        w = self.w
        label = next((o for o in self.m.outputs if isinstance(o.value.type.element, IntType)), None)
        slots = self.output_slots()
        with w.block("function classify(int256[] calldata x) external pure returns (int256 label)"):
            w.line("_loadRow(x);")
            w.line("_forward();")
            if label is not None:
                slot = next(s for s in slots if s.name == label.name)
                w.comment(f"the model's own label output '{label.name}'")
                w.line(f"assembly {{ label := mload({_hex(self.layout.result_data + 32 * slot.offset)}) }}")
                return
            first = slots[0]
            base = self.layout.result_data + 32 * first.offset
            if first.size == 1:
                w.comment("a single score: class 1 when it is at least 0.5")
                w.line(f"assembly {{ label := iszero(slt(mload({_hex(base)}), {UNIT // 2})) }}")
                return
            w.comment("the index of the first maximum of the first output")
            with w.block("assembly"):
                w.line(f"let best := mload({_hex(base)})")
                with w.block(f"for {{ let k := 1 }} lt(k, {first.size}) {{ k := add(k, 1) }}"):
                    w.line(f"let v := mload(add({_hex(base)}, shl(5, k)))")
                    w.line("if sgt(v, best) { best := v label := k }")

    # -------------------------------------------------------------- forward
    def _forward(self) -> None:
        w = self.w
        w.blank()
        w.comment("The forward pass: reads the input vector at X, leaves the ABI-encoded result at RESULT.")
        with w.block("function _forward() private pure"):
            for i, op in enumerate(self.m.ops):
                if op.result.name in self.fused_relu:
                    continue
                relu = " + relu" if op.result.name in self.fused_relu.values() else ""
                w.comment(f"layer {i}: {op.mnemonic}{relu} -> {op.result.type}")
                self._lower(op)
            self._write_result()

    def _lower(self, op: ops.Op) -> None:
        lowerers: dict[type[ops.Op], Callable] = {
            ops.Gemm: self._gemm, ops.Affine: self._affine, ops.Relu: self._relu,
            ops.LeakyRelu: self._leaky_relu, ops.HardSigmoid: self._hard_sigmoid, ops.Clip: self._clip,
            ops.Sigmoid: self._fixedmath, ops.Tanh: self._fixedmath, ops.Softmax: self._softmax,
            ops.ArgMax: self._argmax, ops.LabelMap: self._label_map,
        }
        if type(op) not in lowerers:
            raise Ml2scError(f"prbmath backend: no lowering for op '{op.mnemonic}' ({op.result})")
        lowerers[type(op)](op)

    def _in(self, op: ops.Op, k: int) -> str:
        return f"mload({_hex(self.layout.element(op.operands[0].name, k))})"

    def _out(self, op: ops.Op, k: int) -> int:
        return self.layout.element(op.result.name, k)

    def _gemm(self, op: ops.Gemm) -> None:
        w = self.w
        rows = gemm_rows(self.m, op)
        bias = self.m.constant(op.bias).values if op.bias else (0,) * len(rows)
        exact = rows and rows[0][1] != UNIT
        form = "exact float32 weights K/2^s" if exact else "SD59x18 weights, products at 1e36"
        w.comment(f"y_j = sdiv(sum_i x_i * K_ji, D_j) + b_j for {len(rows)} outputs ({form})")
        n = op.input.type.size
        relu = op.result.name in self.fused_relu.values()
        tiles = [range(t0, min(t0 + TILE, n)) for t0 in range(0, n, TILE)]
        last_tile = {j: max((t for t, tile in enumerate(tiles) if any(ks[i] for i in tile)), default=-1)
                     for j, (ks, _) in enumerate(rows)}
        started: set[int] = set()
        for t, tile in enumerate(tiles):
            with w.block("assembly"):
                w.line(f"// inputs {tile[0]}..{tile[-1]} on the stack; partial sums accumulate in the output slots")
                w.line(" ".join(f"let x{i - tile[0]} := {self._in(op, i)}" for i in tile))
                for j, (ks, div) in enumerate(rows):
                    terms = [(f"x{i - tile[0]}", ks[i]) for i in tile if ks[i]]
                    if not terms:
                        continue
                    slot = _hex(self._out(op, j))
                    acc = _update(f"mload({slot})" if j in started else None, terms)
                    started.add(j)
                    if t == last_tile[j]:
                        self._finish(slot, acc, div, bias[j], relu)
                    else:
                        w.line(f"mstore({slot}, {acc})")
        untouched = [j for j in range(len(rows)) if j not in started]
        if untouched:
            with w.block("assembly"):
                for j in untouched:
                    self._finish(_hex(self._out(op, j)), "0", rows[j][1], bias[j], relu)

    def _finish(self, slot: str, acc: str, div: int, bias: int, relu: bool) -> None:
        """Store sdiv(acc, D) + b (and relu if fused): the output's one division."""
        y = _plus(f"sdiv({acc}, {_divisor_text(div)})" if div != 1 else acc, bias)
        self.w.line(f"{{ let y := {y} mstore({slot}, mul(y, sgt(y, 0))) }}" if relu else f"mstore({slot}, {y})")

    def _affine(self, op: ops.Affine) -> None:
        s, o = self.m.constant(op.scale).values, self.m.constant(op.offset).values
        with self.w.block("assembly"):
            for k, (sv, ov) in enumerate(zip(s, o, strict=True)):
                scaled = f"sdiv({_times(self._in(op, k), sv)}, {U})"
                self.w.line(f"mstore({_hex(self._out(op, k))}, {_plus(scaled, ov)})")

    def _elementwise(self, op: ops.Op, body: str) -> None:
        """Yul per element with ``v`` bound to the input; ``body`` computes ``r``."""
        with self.w.block("assembly"):
            for k in range(op.result.type.size):
                self.w.line(f"{{ let v := {self._in(op, k)} {body} mstore({_hex(self._out(op, k))}, r) }}")

    def _relu(self, op: ops.Relu) -> None:
        self._elementwise(op, "let r := mul(v, sgt(v, 0))")

    def _leaky_relu(self, op: ops.LeakyRelu) -> None:
        a = to_unit(op.alpha)
        self._elementwise(op, f"let r := v if slt(v, 0) {{ r := sdiv({_times('v', a)}, {U}) }}")

    def _hard_sigmoid(self, op: ops.HardSigmoid) -> None:
        a, b = to_unit(op.alpha), to_unit(op.beta)
        scaled = _plus(f"sdiv({_times('v', a)}, {U})", b)
        self._elementwise(op, f"let r := {scaled} if slt(r, 0) {{ r := 0 }} if sgt(r, {U}) {{ r := {U} }}")

    def _clip(self, op: ops.Clip) -> None:
        lo, hi = to_unit(op.min), to_unit(op.max)
        body = "let r := v"
        if op.min != float("-inf"):
            body += f" if slt(r, {_lit(lo)}) {{ r := {_lit(lo)} }}"
        if op.max != float("inf"):
            body += f" if sgt(r, {_lit(hi)}) {{ r := {_lit(hi)} }}"
        self._elementwise(op, body)

    def _fixedmath(self, op: ops.Sigmoid | ops.Tanh) -> None:
        fn = "sigmoid" if isinstance(op, ops.Sigmoid) else "tanh"
        for k in range(op.result.type.size):
            src = self.layout.element(op.operands[0].name, k)
            self.w.line(f"_store({_hex(self._out(op, k))}, FixedMath.{fn}(_load({_hex(src)})));")

    def _softmax(self, op: ops.Softmax) -> None:
        n = op.result.type.size
        src, dst = self.layout.element(op.operands[0].name, 0), self.layout.regions[op.result.name]
        self.w.line(f'assembly ("memory-safe") {{ mstore({_hex(dst)}, {n}) mcopy({_hex(dst + 32)}, {_hex(src)}, {32 * n}) }}')
        self.w.line(f"FixedMath.softmax(_vector({_hex(dst)}));")

    def _argmax(self, op: ops.ArgMax) -> None:
        n = op.operands[0].type.size
        base = self.layout.element(op.operands[0].name, 0)
        with self.w.block("assembly"):
            self.w.line(f"let best := mload({_hex(base)}) let idx := 0")
            with self.w.block(f"for {{ let k := 1 }} lt(k, {n}) {{ k := add(k, 1) }}"):
                self.w.line(f"let v := mload(add({_hex(base)}, shl(5, k)))")
                self.w.line("if sgt(v, best) { best := v idx := k }")
            self.w.line(f"mstore({_hex(self._out(op, 0))}, idx)")

    def _label_map(self, op: ops.LabelMap) -> None:
        classes = self.m.constant(op.classes).values
        with self.w.block("assembly"):
            self.w.line(f"let idx := {self._in(op, 0)} let label := {_lit(classes[0])}")
            for k, c in enumerate(classes[1:], start=1):
                self.w.line(f"if eq(idx, {k}) {{ label := {_lit(c)} }}")
            self.w.line(f"mstore({_hex(self._out(op, 0))}, label)")

    def _write_result(self) -> None:
        lay = self.layout
        with self.w.block('assembly ("memory-safe")'):
            self.w.line(f"mstore(RESULT, 0x20) mstore({_hex(lay.result + 32)}, N_OUT)")
            for k, slot in enumerate(self.output_slots()):
                if k == 0 and self.first_in_place:
                    self.w.line(f"// '{slot.name}' was computed in place")
                    continue
                out = self.m.outputs[k]
                src = lay.element(out.value.name, 0)
                self.w.line(f"mcopy({_hex(lay.result_data + 32 * slot.offset)}, {_hex(src)}, {32 * slot.size}) // {slot.name}")

    # -------------------------------------------------------------- helpers
    def _helpers(self) -> None:
        w = self.w
        w.blank()
        w.comment("Checks the row length and range, then copies the row to X (shared by the int256[] entries).")
        with w.block("function _loadRow(int256[] calldata x) private pure"):
            w.line("if (x.length != N_IN) _lengthError(N_IN, x.length);")
            w.line("_checkRange(x);")
            w.line(f'assembly ("memory-safe") {{ mstore(0x40, MEM_END) calldatacopy(X, x.offset, {32 * self.n_in}) }}')
        w.blank()
        w.comment("Unpacks four int64 lanes per word into the input vector at X (its region is padded to 4).")
        with w.block("function _unpack(uint256 offset) private pure"):
            with w.block("assembly"), w.block(f"for {{ let s := offset let d := X }} lt(d, {_hex(self.layout.element(self.m.inputs[0].name, 4 * self.packed_words))}) {{ s := add(s, 32) d := add(d, 128) }}"):
                w.line("let v := calldataload(s)")
                w.line("mstore(d, sar(192, v)) mstore(add(d, 32), sar(192, shl(64, v)))")
                w.line("mstore(add(d, 64), sar(192, shl(128, v))) mstore(add(d, 96), signextend(7, v))")
            if self.input_bits < 64:
                w.line("_checkMemoryRange();")
        w.comment("One copy of the InputLength revert for every entry point.")
        with w.block("function _lengthError(uint256 expected, uint256 got) private pure"):
            w.line("revert IML2SCModel.InputLength(expected, got);")
        w.comment("Reverts unless every value v of x lies in [-2^INPUT_BITS, 2^INPUT_BITS):")
        w.comment("exactly then v >> INPUT_BITS (arithmetic) is 0 or -1, i.e. adding 1 gives 1 or 0.")
        with w.block("function _checkRange(int256[] calldata x) private pure"):
            self._range_loop("calldataload(add(x.offset, shl(5, i)))", "x.length")
        if self.input_bits < 8 * PACKED_INPUT_BYTES:
            w.comment("The same check on the decoded packed row at X.")
            with w.block("function _checkMemoryRange() private pure"):
                self._range_loop("mload(add(X, shl(5, i)))", "N_IN")
        if self.uses_fixedmath:
            w.blank()
            with w.block("function _load(uint256 p) private pure returns (int256 v)"):
                w.line('assembly ("memory-safe") { v := mload(p) }')
        if any(isinstance(op, ops.Sigmoid | ops.Tanh) for op in self.m.ops):
            with w.block("function _store(uint256 p, int256 v) private pure"):
                w.line('assembly ("memory-safe") { mstore(p, v) }')
        if any(isinstance(op, ops.Softmax) for op in self.m.ops):
            with w.block("function _vector(uint256 p) private pure returns (int256[] memory v)"):
                w.line('assembly ("memory-safe") { v := p }')

    def _range_loop(self, load: str, count: str) -> None:
        selector = _selector("InputOutOfRange(uint256,int256)")
        w = self.w
        with w.block("assembly"), w.block(f"for {{ let i := 0 }} lt(i, {count}) {{ i := add(i, 1) }}"):
            w.line(f"let v := {load}")
            with w.block("if gt(add(sar(INPUT_BITS, v), 1), 1)"):
                w.comment("revert InputOutOfRange(i, v)")
                w.line(f"mstore(0, shl(224, 0x{selector})) mstore(4, i) mstore(36, v) revert(0, 68)")

    def output_slots(self) -> tuple[OutputSlot, ...]:
        slots, offset = [], 0
        for o in self.m.outputs:
            size = max(o.value.type.size, 1)
            el = o.value.type.element
            decimals = el.decimals if isinstance(el, FixedType) else None
            slots.append(OutputSlot(o.name, offset, size, o.value.type.shape, decimals))
            offset += size
        return tuple(slots)


def emit_program(module: Module, contract: str, model_hash: str, input_bits: int) -> Program:
    e = _Emitter(module, contract, model_hash, input_bits)
    source = e.emit()
    file = f"{contract}.sol"
    return Program(
        contract_name=contract,
        sources={file: source},
        main_file=file,
        n_inputs=e.n_in,
        input_decimals=18,
        packed_input_bytes=PACKED_INPUT_BYTES,
        outputs=e.output_slots(),
        metadata={"input_bits": str(input_bits), "abi_interface": "ml2sc/IML2SCModel.sol:IML2SCModel"},
    )
