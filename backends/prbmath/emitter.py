"""Lowering of fixed<18> IR to a Solidity contract (SD59x18 numbers).

Design, driven by measured gas (see docs/backends.md):
- weights are immediates in the code (PUSH8 for typical SD59x18 weights):
  the cheapest read the EVM has (3 gas), immutable, no storage;
- each gemm output is one unrolled chain of MUL/ADD at scale 10^36 and a
  single ``sdiv`` by 10^18, so a multiply-accumulate costs ~17 gas; negative
  weights subtract their magnitude so no immediate is sign-extended to 32 bytes;
- values live at fixed, named memory addresses (``layout.py``);
- a gemm tagged ``{fuse = "relu"}`` (the ``fuse-activation`` pass) clamps as it stores;
- nonlinearities call ``FixedMath`` (PRBMath's exp algorithm, compact form).
The simulator (``simulator.py``) mirrors every integer operation here.
"""

from __future__ import annotations

from ml2sc.backends.common import shell
from ml2sc.backends.common.dispatch import handles
from ml2sc.backends.common.emitter import Emitter
from ml2sc.backends.common.evm import CODE_SIZE_LIMIT
from ml2sc.backends.common.fixed import UNIT, from_fixed, to_unit
from ml2sc.backends.common.naming import selector
from ml2sc.backends.common.yul import dec_lit, hex_lit, nested_sum, plus, times
from ml2sc.backends.prbmath.layout import Layout, plan_layout
from ml2sc.backends.prbmath.stages import Stage, gemm_size, split_gemm
from ml2sc.backends.prbmath.weights import gemm_rows
from ml2sc.ir import ops
from ml2sc.ir.module import Module
from ml2sc.ir.types import IntType

PACKED_INPUT_BYTES = 8
U = str(UNIT)
TILE = 10  # inputs on the stack at once; measured: 12 overflows solc's 16 reachable slots with mixed signs and a bias, 11 fits
COMMENT_WEIGHTS = 64  # gemms with at most this many weights get each row's float values as a comment
# When to split: a model's one-contract runtime measured its gemms' code (as ``stages.assemble``
# writes it) plus 1.5-3.1 KB (entry points, helpers, ~15-25 bytes per sigmoid/tanh element) on
# fifteen models; the estimate below takes 2 KB + 30 bytes per element of the other ops (within
# ~550 bytes of solc on nine models near the limit). Over the limit by more than NEAR_BYTES the
# model is split at once; within SIZE_MARGIN under it to NEAR_BYTES over, it is emitted in one
# contract marked "near-limit", and the compiler splits it (Backend.spread) only if solc's code is
# over. Splitting moves gemms out, largest first, until the entry's estimate is SIZE_MARGIN under.
OTHER_BYTES, OTHER_BYTES_PER_ELEMENT, SIZE_MARGIN, NEAR_BYTES = 2_000, 30, 1_024, 2_048


def _update(acc: str | None, terms: list[tuple[str, int]]) -> str:
    """acc + sum of x * k, with the negative weights summed apart and subtracted once.

    One SUB per tile instead of one NOT per negative weight (and no 32-byte immediates).
    """
    pos = [_product(x, k) for x, k in terms if k > 0]
    neg = [_product(x, -k) for x, k in terms if k < 0]
    expr = nested_sum(pos) if pos else None
    if acc is not None:
        expr = f"add({acc}, {expr})" if expr else acc
    if neg:
        expr = f"sub({expr or 0}, {nested_sum(neg)})"
    return expr or "0"


def _product(x: str, k: int) -> str:
    return x if k == 1 else f"mul({x}, {k})"


def _divisor_text(div: int) -> str:
    return str(div) if div == UNIT or div < 2**16 else f"shl({div.bit_length() - 1}, 1)"


class PrbMathEmitter(Emitter):
    backend = "prbmath"

    def __init__(self, module: Module, input_bits: int, split: bool | None = None) -> None:
        """``split``: gemms in stage contracts (True), all in one contract (False), or decided from
        the size estimate (None, the default: see ``NEAR_BYTES``)."""
        super().__init__(module)
        self.input_bits = input_bits
        self.layout: Layout = plan_layout(module)
        self.packed_words = (self.n_in + 3) // 4
        self.uses_fixedmath = any(isinstance(op, ops.Sigmoid | ops.Tanh | ops.Softmax) for op in module.ops)
        self.stages: dict[str, list[Stage]] = self._plan_stages(split)
        self.stage_list: list[Stage] = [s for group in self.stages.values() for s in group]
        self.mut = "view" if self.stage_list else "pure"  # STATICCALLs to the stages read the chain

    def _plan_stages(self, split: bool | None) -> dict[str, list[Stage]]:
        """Gemm result -> its stage contracts (empty: the one-contract model of small models)."""
        gemms = [op for op in self.m.ops if isinstance(op, ops.Gemm)]
        args = {}
        for op in gemms:
            rows = gemm_rows(self.m, op)
            bias = self.m.constant(op.bias).values if op.bias else (0,) * len(rows)
            args[op.result.name] = (rows, bias, op.tag("fuse") == "relu", op.input.type.size)
        sizes = {k: gemm_size(*a) for k, a in args.items()}
        other = OTHER_BYTES + OTHER_BYTES_PER_ELEMENT * sum(
            op.result.type.size for op in self.m.ops if not isinstance(op, ops.Gemm))
        budget = CODE_SIZE_LIMIT - SIZE_MARGIN - other
        self.near_limit = False
        if split is None:
            split = sum(sizes.values()) > CODE_SIZE_LIMIT + NEAR_BYTES - other
            self.near_limit = not split and sum(sizes.values()) > budget
        if not split:
            return {}
        inline = dict(sizes)  # the gemms the entry keeps: drop the largest until the rest fits
        while inline and sum(inline.values()) > budget:
            del inline[max(inline, key=inline.__getitem__)]
        if len(inline) == len(sizes):  # split=True on a model that fits: move the largest gemm out
            del inline[max(inline, key=inline.__getitem__)]
        return {op.result.name: split_gemm(op.result.name, op.input.name, *args[op.result.name])
                for op in gemms if op.result.name not in inline}

    def conventions(self) -> dict[str, object]:
        metadata = {"input_bits": str(self.input_bits), "abi_interface": "ml2sc/IML2SCModel.sol:IML2SCModel"}
        if self.near_limit:
            metadata["code_size"] = "near-limit"  # solc decides: compiler.driver.emit_program
        if not self.stage_list:
            return {"input_decimals": 18, "packed_input_bytes": PACKED_INPUT_BYTES, "metadata": metadata}
        metadata["stage_contracts"] = str(len(self.stage_list))
        return {"input_decimals": 18, "packed_input_bytes": PACKED_INPUT_BYTES, "metadata": metadata,
                "data_contracts": tuple(s.code for s in self.stage_list),
                "data_contract_names": tuple(self._stage_label(k) for k in range(len(self.stage_list)))}

    def _stage_label(self, k: int) -> str:
        s = self.stage_list[k]
        return f"stage{k}:{self.layout.memory.name(s.value)}[{s.start}:{s.stop}]"

    # ----------------------------------------------------------------- file
    def source(self) -> str:
        w = self.w
        shell.file_header(w, self.backend, self.m, [
            "Numbers are SD59x18: int256 scaled by 1e18. Weights are code immediates."])
        w.line('import { IML2SCModel } from "ml2sc/IML2SCModel.sol";')
        if self.uses_fixedmath:
            w.line('import { FixedMath } from "ml2sc/FixedMath.sol";')
        w.blank()
        w.comment("Implements IML2SCModel. The functions returning int256[] write their ABI-encoded result")
        w.comment("from assembly and so declare no Solidity return type (that saves solc's unreachable")
        w.comment("encoder, ~84 bytes); the artifact's ABI is IML2SCModel's, whose selectors they match.")
        return self.write_contract(f"contract {self.contract}", self._constants, self._stage_constructor, self._entry_points, self._forward, self._helpers)

    def _constants(self) -> None:
        w, lay = self.w, self.layout
        w.line(f"uint256 internal constant N_IN = {self.n_in};")
        w.line(f"uint256 internal constant N_OUT = {lay.n_outputs};")
        w.comment("Inputs must lie in [-2^INPUT_BITS, 2^INPUT_BITS): the compiler proved that the unchecked")
        w.comment("kernels cannot overflow there; predict and predictBatch check it (InputOutOfRange).")
        w.line(f"uint256 internal constant INPUT_BITS = {self.input_bits};")
        w.comment("Memory map: each value's first element (its int256[] length word is 32 bytes below).")
        lay.memory.declare(w)
        w.line(f"uint256 internal constant MEM_END = {hex_lit(lay.end)};")
        w.line("uint256 public constant inputScale = 1e18;")
        w.line("uint256 public constant outputScale = 1e18;")
        w.line(f"bytes32 public constant modelHash = {self.model_hash};")
        w.blank()

    # --------------------------------------------------------- entry points
    def _entry_points(self) -> None:
        w, lay = self.w, self.layout
        w.comment("One row of N_IN SD59x18 inputs -> N_OUT SD59x18 outputs.")
        with w.block(f"function predict(int256[] calldata x) external {self.mut}"):
            w.line("_loadRow(x);")
            w.line("_forward();")
            w.line(f"assembly {{ return(RESULT, {lay.result_bytes}) }}")
        w.blank()
        words = self.packed_words
        w.comment(f"Cheapest entry: the row packed as {words} words of four int64 lanes (SD59x18, first input")
        w.comment("in the most significant lane): a quarter of the calldata of predict, no range check needed.")
        with w.block(f"function predictPacked(uint256[] calldata row) external {self.mut}"):
            w.line(f"if (row.length != {words}) _lengthError({words}, row.length);")
            w.line("uint256 offset;")
            w.line('assembly ("memory-safe") { mstore(0x40, MEM_END) offset := row.offset }')
            w.line("_unpack(offset);")
            w.line("_forward();")
            w.line(f"assembly {{ return(RESULT, {lay.result_bytes}) }}")
        w.blank()
        w.comment(f"Many rows in one call: rows packed as in predictPacked, {words} words each, back to back;")
        w.comment("the result holds the outputs of each row back to back.")
        shell.predict_batch(w, shell.BatchShape("uint256[]", str(words), str(32 * words), "_unpack"), self.mut, "RESULT")
        w.blank()
        self._classify()

    def _classify(self) -> None:
        w, slots = self.w, self.slots
        label = next((s for s, o in zip(slots, self.m.outputs, strict=True)
                      if isinstance(o.value.type.element, IntType)), None)
        address = self._slot_address(label) if label else 0
        with shell.classify(w, self.mut, "_loadRow", label, address) as needs_rule:
            if not needs_rule:
                return
            first = slots[0]
            base = hex_lit(self._slot_address(first))
            if first.size == 1:
                w.comment("a single score: class 1 when it is at least 0.5")
                w.line(f"assembly {{ label := iszero(slt(mload({base}), {UNIT // 2})) }}")
                return
            w.comment("the index of the first maximum of the first output")
            with w.block("assembly"):
                shell.argmax_loop(w, base, first.size, "label")

    def _slot_address(self, slot: object) -> int:
        return self.layout.result_data + 32 * slot.offset  # type: ignore[attr-defined]

    # -------------------------------------------------------------- forward
    def _forward(self) -> None:
        w = self.w
        w.blank()
        w.comment("The forward pass: reads the input vector at X, leaves the ABI-encoded result at RESULT.")
        with w.block(f"function _forward() private {self.mut}"):
            for op in self.m.ops:
                w.comment(self._describe(op))
                self.lower(op)
            sources = [None if k == 0 and self.layout.first_in_place else self.layout.at(o.value.name)
                       for k, o in enumerate(self.m.outputs)]
            shell.write_result(w, self.layout.result, self.slots, sources)

    def _describe(self, op: ops.Op) -> str:
        """``L1 = gemm + relu (X) -> tensor<4xfixed<18>>``: the layer, in the memory map's names."""
        regions = self.layout.memory.regions
        fused = f" + {op.tag('fuse')}" if op.tag("fuse") else ""
        return f"{regions[op.result.name].name} = {op.mnemonic}{fused} ({regions[op.operands[0].name].name}) -> {op.result.type}"

    def _in(self, op: ops.Op, k: int) -> str:
        return f"mload({self.layout.at(op.operands[0].name, k)})"

    def _out(self, op: ops.Op, k: int) -> str:
        return self.layout.at(op.result.name, k)

    @handles(ops.Gemm)
    def _gemm(self, op: ops.Gemm) -> None:
        w = self.w
        if op.result.name in self.stages:
            self._staged_gemm(op)
            return
        rows = gemm_rows(self.m, op)
        bias = self.m.constant(op.bias).values if op.bias else (0,) * len(rows)
        exact = rows and rows[0][1] != UNIT
        form = "exact float32 weights K/2^s" if exact else "SD59x18 weights, products at 1e36"
        w.comment(f"y_j = sdiv(sum_i x_i * K_ji, D_j) + b_j for {len(rows)} outputs ({form})")
        self._weight_comments(op)
        n = op.input.type.size
        relu = op.tag("fuse") == "relu"
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
                    slot = self._out(op, j)
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
                    self._finish(self._out(op, j), "0", rows[j][1], bias[j], relu)

    def _staged_gemm(self, op: ops.Gemm) -> None:
        """The gemm's outputs from its stage contracts: each gets the input vector as calldata and
        its outputs' words come back straight into the output region."""
        w, n = self.w, op.input.type.size
        fused = " and relu" if op.tag("fuse") == "relu" else ""
        w.comment(f"y_j = sdiv(sum_i x_i * K_ji, D_j) + b_j{fused} for {op.result.type.size} outputs, in stage contracts")
        src = self.layout.at(op.input.name)
        for s in self.stages[op.result.name]:
            k = self.stage_list.index(s)
            w.line(f"_stage(S{k}, {src}, {32 * n}, {self._out(op, s.start)}, {32 * s.n_outputs}); // outputs {s.start}..{s.stop - 1}")

    def _stage_constructor(self) -> None:
        """Immutable stage addresses, each checked against the code hash of the compiled stage."""
        w, stages = self.w, self.stage_list
        if not stages:
            return
        w.comment("Stage contracts (deployed first, straight-line code assembled by the compiler): each computes")
        w.comment("a range of one gemm's outputs from its input vector (raw int256 words in, raw words out).")
        w.line("error StageContracts(uint256 expected, uint256 got);")
        w.line("error StageCodeHash(uint256 index);")
        for k, s in enumerate(stages):
            w.line(f"address internal immutable S{k}; // {self._stage_label(k)}, {len(s.code):,} bytes")
        w.blank()
        w.comment("The stage addresses, in order; each must hold exactly the code this compiler assembled.")
        shell.address_constructor(w, "stages", [s.codehash for s in stages], "StageContracts", "StageCodeHash", "S")

    def _weight_comments(self, op: ops.Gemm) -> None:
        """Small layers: each output's weights and bias as floats, to audit the code against the model."""
        weight = self.m.constant(op.weight)
        if weight.type.size > COMMENT_WEIGHTS:
            return
        bias = self.m.constant(op.bias).values if op.bias else (0,) * weight.type.shape[0]
        for j, (row, b) in enumerate(zip(weight.rows(), bias, strict=True)):
            values = [float(v) if isinstance(v, float) else from_fixed(int(v), 18) for v in row]
            b = float(b) if isinstance(b, float) else from_fixed(int(b), 18)
            self.w.comment(f"  y{j} = [{', '.join(f'{v:.6g}' for v in values)}] . x + {b:.6g}")

    def _finish(self, slot: str, acc: str, div: int, bias: int, relu: bool) -> None:
        """Store sdiv(acc, D) + b (and relu if fused): the output's one division."""
        y = plus(f"sdiv({acc}, {_divisor_text(div)})" if div != 1 else acc, bias)
        self.w.line(f"{{ let y := {y} mstore({slot}, mul(y, sgt(y, 0))) }}" if relu else f"mstore({slot}, {y})")

    @handles(ops.Affine)
    def _affine(self, op: ops.Affine) -> None:
        s, o = self.m.constant(op.scale).values, self.m.constant(op.offset).values
        with self.w.block("assembly"):
            for k, (sv, ov) in enumerate(zip(s, o, strict=True)):
                scaled = self._scaled(self._in(op, k), sv)
                self.w.line(f"mstore({self._out(op, k)}, {plus(scaled, ov)})")

    @staticmethod
    def _scaled(expr: str, factor: int) -> str:
        """sdiv(expr * factor, U), written as expr alone when the factor is one."""
        return expr if factor == UNIT else f"sdiv({times(expr, factor)}, {U})"

    def _elementwise(self, op: ops.Op, body: str) -> None:
        """Yul per element with ``v`` bound to the input; ``body`` computes ``r``."""
        with self.w.block("assembly"):
            for k in range(op.result.type.size):
                self.w.line(f"{{ let v := {self._in(op, k)} {body} mstore({self._out(op, k)}, r) }}")

    @handles(ops.Relu)
    def _relu(self, op: ops.Relu) -> None:
        self._elementwise(op, "let r := mul(v, sgt(v, 0))")

    @handles(ops.LeakyRelu)
    def _leaky_relu(self, op: ops.LeakyRelu) -> None:
        a = to_unit(op.alpha)
        self._elementwise(op, f"let r := v if slt(v, 0) {{ r := sdiv({times('v', a)}, {U}) }}")

    @handles(ops.HardSigmoid)
    def _hard_sigmoid(self, op: ops.HardSigmoid) -> None:
        a, b = to_unit(op.alpha), to_unit(op.beta)
        scaled = plus(f"sdiv({times('v', a)}, {U})", b)
        self._elementwise(op, f"let r := {scaled} if slt(r, 0) {{ r := 0 }} if sgt(r, {U}) {{ r := {U} }}")

    @handles(ops.Clip)
    def _clip(self, op: ops.Clip) -> None:
        lo, hi = to_unit(op.min), to_unit(op.max)
        body = "let r := v"
        if op.min != float("-inf"):
            body += f" if slt(r, {dec_lit(lo)}) {{ r := {dec_lit(lo)} }}"
        if op.max != float("inf"):
            body += f" if sgt(r, {dec_lit(hi)}) {{ r := {dec_lit(hi)} }}"
        self._elementwise(op, body)

    @handles(ops.Sigmoid, ops.Tanh)
    def _fixedmath(self, op: ops.Sigmoid | ops.Tanh) -> None:
        for k in range(op.result.type.size):
            src = self.layout.element(op.operands[0].name, k)
            self.w.line(f"_store({hex_lit(self.layout.element(op.result.name, k))}, FixedMath.{op.mnemonic}(_load({hex_lit(src)})));")

    @handles(ops.Softmax)
    def _softmax(self, op: ops.Softmax) -> None:
        n = op.result.type.size
        dst = self.layout.element(op.result.name, 0) - 32  # the length word: softmax takes an int256[]
        self.w.line(f'assembly ("memory-safe") {{ mstore({hex_lit(dst)}, {n}) mcopy({self._out(op, 0)}, {self.layout.at(op.operands[0].name)}, {32 * n}) }}')
        self.w.line(f"FixedMath.softmax(_vector({hex_lit(dst)}));")

    @handles(ops.ArgMax)
    def _argmax(self, op: ops.ArgMax) -> None:
        shell.argmax_op(self.w, self.layout.at(op.operands[0].name), op.operands[0].type.size, self._out(op, 0))

    @handles(ops.LabelMap)
    def _label_map(self, op: ops.LabelMap) -> None:
        classes = tuple(int(c) for c in self.m.constant(op.classes).values)
        shell.label_map(self.w, self.layout.at(op.input.name), self._out(op, 0), classes, dec_lit)

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
        end = hex_lit(self.layout.element(self.m.inputs[0].name, 4 * self.packed_words))
        with w.block("function _unpack(uint256 offset) private pure"):
            with w.block("assembly"), w.block(f"for {{ let s := offset let d := X }} lt(d, {end}) {{ s := add(s, 32) d := add(d, 128) }}"):
                w.line("let v := calldataload(s)")
                w.line("mstore(d, sar(192, v)) mstore(add(d, 32), sar(192, shl(64, v)))")
                w.line("mstore(add(d, 64), sar(192, shl(128, v))) mstore(add(d, 96), signextend(7, v))")
            if self.input_bits < 64:
                w.line("_checkMemoryRange();")
        shell.length_error(w, "IML2SCModel.InputLength")
        w.comment("Reverts unless every value v of x lies in [-2^INPUT_BITS, 2^INPUT_BITS):")
        w.comment("exactly then v >> INPUT_BITS (arithmetic) is 0 or -1, i.e. adding 1 gives 1 or 0.")
        with w.block("function _checkRange(int256[] calldata x) private pure"):
            self._range_loop("calldataload(add(x.offset, shl(5, i)))", "x.length")
        if self.input_bits < 8 * PACKED_INPUT_BYTES:
            w.comment("The same check on the decoded packed row at X.")
            with w.block("function _checkMemoryRange() private pure"):
                self._range_loop("mload(add(X, shl(5, i)))", "N_IN")
        self._fixedmath_helpers()
        if self.stage_list:
            w.blank()
            w.comment("Runs one stage contract: `inBytes` of input words at `input` in, `outBytes` of outputs to `output`.")
            with w.block("function _stage(address stage, uint256 input, uint256 inBytes, uint256 output, uint256 outBytes) private view"):
                w.line('assembly ("memory-safe") { if iszero(staticcall(gas(), stage, input, inBytes, output, outBytes)) { revert(0, 0) } }')

    def _fixedmath_helpers(self) -> None:
        """Views of memory words as FixedMath's argument types, only for the functions used."""
        w = self.w
        if any(isinstance(op, ops.Sigmoid | ops.Tanh) for op in self.m.ops):
            w.blank()
            with w.block("function _load(uint256 p) private pure returns (int256 v)"):
                w.line('assembly ("memory-safe") { v := mload(p) }')
            with w.block("function _store(uint256 p, int256 v) private pure"):
                w.line('assembly ("memory-safe") { mstore(p, v) }')
        if any(isinstance(op, ops.Softmax) for op in self.m.ops):
            with w.block("function _vector(uint256 p) private pure returns (int256[] memory v)"):
                w.line('assembly ("memory-safe") { v := p }')

    def _range_loop(self, load: str, count: str) -> None:
        w = self.w
        with w.block("assembly"), w.block(f"for {{ let i := 0 }} lt(i, {count}) {{ i := add(i, 1) }}"):
            w.line(f"let v := {load}")
            with w.block("if gt(add(sar(INPUT_BITS, v), 1), 1)"):
                w.comment("revert InputOutOfRange(i, v)")
                w.line(f"mstore(0, shl(224, 0x{selector('InputOutOfRange(uint256,int256)').hex()})) mstore(4, i) mstore(36, v) revert(0, 68)")
