"""tiny-fixed, a toy backend on ml2sc.ir, backends.base and backends.common only. U = 10^6; loop-free
Yul per output: gemm y_j = sdiv(sum_i x_i W_ji, U) + b_j (relu'd if tagged {fuse = "relu"}), relu, argmax."""

from __future__ import annotations

from typing import ClassVar

from ml2sc.backends.base import Backend
from ml2sc.backends.common import shell
from ml2sc.backends.common.dispatch import handles
from ml2sc.backends.common.emitter import Emitter
from ml2sc.backends.common.fixed import sdiv
from ml2sc.backends.common.memory import Memory, layer_labels
from ml2sc.backends.common.simulator import Simulator, Vector
from ml2sc.backends.common.yul import hex_lit, nested_sum, plus, times
from ml2sc.ir import ops
from ml2sc.ir.module import Module

DECIMALS, U = 6, 10**6


def gemm_params(m: Module, op: ops.Gemm) -> tuple[list[tuple[int, ...]], list[int]]:
    rows = [tuple(int(v) for v in r) for r in m.constant(op.weight).rows()]
    return rows, [int(v) for v in m.constant(op.bias).values] if op.bias else [0] * len(rows)


class TinyFixedEmitter(Emitter):
    backend = "tiny-fixed"

    def __init__(self, module: Module) -> None:
        super().__init__(module)
        self.mem, labels = Memory(), layer_labels(module)
        self.mem.alloc(module.inputs[0].name, self.n_in, "X", "input vector")
        for op in module.ops:
            self.mem.alloc(op.result.name, max(op.result.type.size, 1), *labels[op.result.name])
        self.result = self.mem.alloc("RESULT", 2 + self.n_out, "RESULT", "ABI-encoded int256[] result")

    def conventions(self) -> dict[str, object]:  # no IML2SCModel: the contract's own ABI
        return {"input_decimals": DECIMALS, "packed_input_bytes": 0, "metadata": {}}

    def source(self) -> str:
        w = self.w
        shell.file_header(w, self.backend, self.m, [f"Numbers are int256 scaled by 1e{DECIMALS}."])
        with w.block(f"contract {self.contract}"):
            w.line("error InputLength(uint256 expected, uint256 got);")
            w.line(f"uint256 internal constant N_IN = {self.n_in};")
            w.line(f"uint256 internal constant N_OUT = {self.n_out};")
            self.mem.declare(w)
            w.line(f"uint256 internal constant MEM_END = {hex_lit(self.mem.top)};")
            w.line(f"bytes32 public constant modelHash = {self.model_hash};")
            w.blank()
            with w.block("function predict(int256[] calldata x) external pure returns (int256[] memory y)"):
                w.line("if (x.length != N_IN) _lengthError(N_IN, x.length);")
                w.line(f'assembly ("memory-safe") {{ mstore(0x40, MEM_END) calldatacopy(X, x.offset, {32 * self.n_in}) }}')
                w.line("_forward();")
                w.comment("y views the result buffer's int256[] (its length word and outputs); solc encodes it")
                w.line('assembly ("memory-safe") { y := add(RESULT, 0x20) }')
            with w.block("function _forward() private pure"):
                for op in self.m.ops:
                    self.lower(op)
                shell.write_result(w, self.result, self.slots, [self.mem.at(o.value.name) for o in self.m.outputs])
            shell.length_error(w, "InputLength")
        return w.text()

    @handles(ops.Gemm)
    def _gemm(self, op: ops.Gemm) -> None:
        rows, bias = gemm_params(self.m, op)
        relu = op.tag("fuse") == "relu"
        with self.w.block("assembly"):
            for j, (ks, b) in enumerate(zip(rows, bias, strict=True)):
                terms = [times(f"mload({self.mem.at(op.input.name, i)})", k) for i, k in enumerate(ks) if k]
                y = plus(f"sdiv({nested_sum(terms)}, {U})" if terms else "0", b)
                self.w.line(f"{{ let y := {y} mstore({self.mem.at(op.result.name, j)}, {'mul(y, sgt(y, 0))' if relu else 'y'}) }}")

    @handles(ops.Relu)
    def _relu(self, op: ops.Relu) -> None:
        src, dst = op.operands[0].name, op.result.name
        with self.w.block("assembly"):
            for k in range(op.result.type.size):
                self.w.line(f"{{ let v := mload({self.mem.at(src, k)}) mstore({self.mem.at(dst, k)}, mul(v, sgt(v, 0))) }}")

    @handles(ops.ArgMax)
    def _argmax(self, op: ops.ArgMax) -> None:
        src = op.operands[0]
        shell.argmax_op(self.w, self.mem.at(src.name), src.type.size, self.mem.at(op.result.name))


class TinyFixedSimulator(Simulator):
    backend = "tiny-fixed"

    @handles(ops.Gemm)
    def gemm(self, op: ops.Gemm, x: Vector) -> Vector:
        rows, bias = gemm_params(self.m, op)
        return [sdiv(sum(a * k for a, k in zip(x, ks, strict=True)), U) + b for ks, b in zip(rows, bias, strict=True)]

    @handles(ops.Relu)
    def relu(self, op: ops.Relu, x: Vector) -> Vector:
        return [max(v, 0) for v in x]

    @handles(ops.ArgMax)
    def argmax(self, op: ops.ArgMax, x: Vector) -> Vector:
        return [max(range(len(x)), key=lambda i: (x[i], -i))]


class TinyFixedBackend(Backend):
    name: ClassVar[str] = "tiny-fixed"
    description: ClassVar[str] = "toy plugin: 6-decimal fixed point, gemm/relu/argmax, loop-free Yul"
    pipeline: ClassVar[str] = ("canonicalize,fold-batchnorm,fuse-affine,"
                               "quantize-fixed{decimals=6,exact_weights=false},fuse-activation{ops=relu}")
    emitter: ClassVar[type | None] = TinyFixedEmitter
    simulator: ClassVar[type | None] = TinyFixedSimulator

