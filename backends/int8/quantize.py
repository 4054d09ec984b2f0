"""quantize-int8: the float IR becomes integer-only int8 IR, from calibration data.

- the model input stays ``fixed<18>`` (what ``predict`` takes) and is quantized by
  a ``quantize`` op (packed calldata enters right after it);
- each gemm becomes ``qgemm`` (per-output-channel symmetric int8 weights, the
  input's zero point folded into an int32 bias) + ``requantize`` (multiplier and
  shift per channel); a relu or clip right after it is fused into the clamp;
- activations are int8 with scale and zero point from calibration; a gemm whose
  result only feeds softmax/argmax or is an output keeps ``logits_bits`` (16) bits;
- sigmoid, tanh, hard_sigmoid become 256-entry lookup tables, softmax a table exp
  with integer normalisation; argmax of a softmax reads the logits (the softmax
  goes when nothing else uses it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ml2sc.backends.int8 import numerics as nx
from ml2sc.backends.int8.calibrate import quant_type, value_range
from ml2sc.backends.int8.swar import auto_lanes, dot_bounds, prove_lanes
from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Constant, Module, Output, Value
from ml2sc.ir.passes import ModulePass
from ml2sc.ir.reference import evaluate_all
from ml2sc.ir.types import I64, FixedType, IntType, QuantType, TensorType

_FUSABLE = (ops.Relu, ops.Clip)
_WIDE_USERS = (ops.Softmax, ops.ArgMax)  # users that may take a 16-bit value
_TABLES = {
    ops.Sigmoid: (lambda v: 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v)),
                  QuantType(8, 1 / 256, -128)),
    ops.Tanh: (math.tanh, QuantType(8, 1 / 128, 0)),
}
INPUT_MODES = ("auto", "tensor", "feature")
PER_FEATURE_MAX_INPUTS = 128  # predict(int256[]) quantizes per-feature inputs unrolled (~75 bytes of code each)
NOISE_LIMIT = 0.1  # inputs=auto: per-feature when one input scale's noise exceeds this share of a gemm output's spread
_SUPPORTED = (ops.Gemm, ops.Relu, ops.LeakyRelu, ops.Sigmoid, ops.Tanh, ops.HardSigmoid, ops.Clip,
              ops.Softmax, ops.ArgMax, ops.LabelMap)


def load_calibration(data: Any) -> np.ndarray:
    """An array of rows, or a path to a .npy file of rows."""
    if isinstance(data, str | Path):
        if not Path(data).is_file():
            raise Ml2scError(f"int8: calibration file '{data}' not found")
        data = np.load(data, allow_pickle=False)
    x = np.asarray(data, dtype=np.float32)
    return x.reshape(len(x), -1) if x.ndim != 1 else x[None, :]


@dataclass(frozen=True)
class QuantizeInt8(ModulePass):
    """Float IR -> int8 IR (qgemm, requantize, lookup tables) from calibration rows."""

    name: ClassVar[str] = "quantize-int8"
    method: str = "minmax"
    percentile: float = 99.99
    lanes: int = 0  # SWAR lanes per word; 0: as many as the overflow proof allows
    logits_bits: int = 16
    weights: str = "auto"  # auto | data (data contracts) | inline (code immediates, small models)
    inputs: str = "auto"  # auto | tensor (one input scale) | feature (a scale and zero point per input feature)
    calibration: Any = field(default=None, compare=False, repr=False)

    def apply(self, module: Module) -> Module:
        if self.calibration is None:
            raise Ml2scError(
                "int8: quantize-int8 needs calibration data: ml2sc.compile(..., calibration=X) "
                "or --calibration X.npy (run/validate use their --data rows)")
        if self.inputs not in INPUT_MODES:
            raise Ml2scError(f"int8: inputs={self.inputs!r}; expected one of {', '.join(INPUT_MODES)}")
        bad = [op for op in module.ops if not isinstance(op, _SUPPORTED)]
        if bad:
            hint = " (run fuse-affine / fold-batchnorm first)" if isinstance(bad[0], ops.Affine | ops.BatchNorm) else ""
            raise Ml2scError(f"int8 backend: unsupported op '{bad[0].mnemonic}' ({bad[0].result}){hint}")
        module = _skip_argmax_softmax(module)
        x = load_calibration(self.calibration)
        if x.shape[1] != module.inputs[0].type.size:
            raise Ml2scError(f"int8: calibration rows have {x.shape[1]} features, the model takes {module.inputs[0].type.size}")
        return _Quantizer(self, module, evaluate_all(module, x)).run()

    def qtype(self, samples: np.ndarray, bits: int = 8) -> QuantType:
        return quant_type(*value_range(samples, self.method, self.percentile, bits), bits)


def _skip_argmax_softmax(module: Module) -> Module:
    """argmax(softmax(x)) -> argmax(x): the same class, no exp, and no ties from rounding the
    probabilities; the softmax itself goes away when nothing else uses it."""
    outputs = {o.value.name for o in module.outputs}
    producers = {op.result.name: op for op in module.ops}
    new_ops = []
    for op in module.ops:
        src = producers.get(op.operands[0].name) if op.operands else None
        if isinstance(op, ops.ArgMax) and isinstance(src, ops.Softmax):
            op = replace(op, input=src.input)
        new_ops.append(op)
    used = {v.name for op in new_ops for v in op.operands} | outputs
    kept = tuple(op for op in new_ops if not isinstance(op, ops.Softmax) or op.result.name in used)
    return replace(module, ops=kept)


class _Quantizer:
    """One walk over the ops, building the int8 module."""

    def __init__(self, opts: QuantizeInt8, module: Module, env: dict[str, np.ndarray]) -> None:
        self.o, self.m, self.env = opts, module, env
        self.values: dict[str, Value] = {}
        self.consts: list[Constant] = []
        self.ops: list[ops.Op] = []
        self.fused: set[str] = set()
        self.outputs = {o.value.name for o in module.outputs}
        self.feature_input: tuple[np.ndarray, np.ndarray] | None = None  # per-feature input scales, zero points

    def run(self) -> Module:
        x = self.m.inputs[0]
        fixed = Value(x.name, x.type.with_element(FixedType(18)))
        samples = np.asarray(self.env[x.name], dtype=np.float64).reshape(-1, x.type.size)
        qx = self.o.qtype(samples)
        if self.input_mode(x, samples, qx) == "feature":
            per = [self.o.qtype(samples[:, i]) for i in range(x.type.size)]
            params = [v for t in per for v in (*nx.input_multiplier(t.scale), t.zero_point)]
            name = self.const(f"{x.name}.q.params", IntType(128), params, (x.type.size, 3))
            self.feature_input = (np.array([t.scale for t in per]), np.array([t.zero_point for t in per]))
            nominal = x.type.with_element(QuantType(8, 1.0, 0))
            self.emit(ops.Quantize(Value(f"{x.name}.q", nominal), fixed, name, multiplier=0, shift=0), x.name)
        else:
            a, s = nx.input_multiplier(qx.scale)
            self.emit(ops.Quantize(Value(f"{x.name}.q", x.type.with_element(qx)), fixed, multiplier=a, shift=s), x.name)
        for op in self.m.ops:
            if op.result.name not in self.fused:
                self.lower(op)
        outputs = tuple(Output(o.name, self.values[o.value.name]) for o in self.m.outputs)
        attrs = dict(self.m.attributes) | {"number_format": "int8", "calibration": self.o.method}
        if self.o.weights != "auto":
            attrs["int8.weights"] = self.o.weights
        return replace(self.m, inputs=(fixed,), ops=tuple(self.ops), outputs=outputs,
                       constants=tuple(self.consts), attributes=tuple(sorted(attrs.items())))

    def input_mode(self, x: Value, samples: np.ndarray, qx: QuantType) -> str:
        """``tensor`` (one scale for the whole input) or ``feature`` (one per input feature).

        Per-feature quantization needs every reader of the input to be a gemm (each feature's
        scale is folded into its weight column, its zero point into the bias) and at most
        PER_FEATURE_MAX_INPUTS inputs (the contract's ``predict`` quantizes them unrolled).
        ``auto`` takes it when one input scale would drown a gemm's output in noise: the
        rounding noise a step of the shared scale adds to output j, s sqrt(sum_i W_ji^2 / 12),
        above NOISE_LIMIT of that output's spread on the calibration rows."""
        readers = self.users(x)
        possible = (readers and all(isinstance(op, ops.Gemm) for op in readers) and x.name not in self.outputs
                    and x.type.size <= PER_FEATURE_MAX_INPUTS)
        if self.o.inputs == "feature" and not possible:
            raise Ml2scError(
                f"int8: inputs=feature needs an input read only by gemms and at most {PER_FEATURE_MAX_INPUTS} "
                f"features (the model's input has {x.type.size} and is read by "
                f"{', '.join(sorted({op.mnemonic for op in readers})) or 'nothing'})")
        if self.o.inputs != "auto":
            return self.o.inputs
        if not possible:
            return "tensor"
        return "feature" if self.input_noise(readers, qx.scale) > NOISE_LIMIT else "tensor"

    def input_noise(self, gemms: list[ops.Op], scale: float) -> float:
        """The largest ratio, over the outputs of the gemms reading the input, of the rounding
        noise of one input scale to the output's standard deviation on the calibration rows."""
        worst = 0.0
        for op in gemms:
            assert isinstance(op, ops.Gemm)
            c = self.m.constant(op.weight)
            w = np.asarray(c.values, dtype=np.float64).reshape(c.type.shape)
            noise = scale * np.sqrt((w**2).sum(axis=1) / 12)
            spread = np.asarray(self.env[op.result.name], dtype=np.float64).reshape(-1, w.shape[0]).std(axis=0)
            live = spread > 0
            if live.any():
                worst = max(worst, float((noise[live] / spread[live]).max()))
        return worst

    # -- helpers -------------------------------------------------------------
    def emit(self, op: ops.Op, old_name: str) -> None:
        self.ops.append(op)
        self.values[old_name] = op.result

    def const(self, name: str, element: IntType, values: list[int] | tuple[int, ...], shape: tuple[int, ...]) -> str:
        self.consts.append(Constant(name, TensorType(shape, element), tuple(int(v) for v in values)))
        return name

    def users(self, value: Value) -> list[ops.Op]:
        return self.m.users(value)

    def fusable(self, gemm: ops.Gemm) -> ops.Op | None:
        users = self.users(gemm.result)
        if gemm.result.name in self.outputs or len(users) != 1 or not isinstance(users[0], _FUSABLE):
            return None
        return users[0]

    def bits_for(self, value: Value) -> int:
        users = self.users(value)
        return self.o.logits_bits if all(isinstance(u, _WIDE_USERS) for u in users) else 8

    # -- lowering ------------------------------------------------------------
    def lower(self, op: ops.Op) -> None:
        qin = self.values[op.operands[0].name]
        match op:
            case ops.Gemm():
                self.gemm(op, qin)
            case ops.Relu() | ops.Clip() | ops.LeakyRelu():
                self.emit(replace(op, result=Value(op.result.name, qin.type), input=qin), op.result.name)
            case ops.Sigmoid() | ops.Tanh() | ops.HardSigmoid():
                self.table(op, qin)
            case ops.Softmax():
                hi, lo = nx.exp_tables(qin.type.element.scale)  # type: ignore[union-attr]
                n = op.result.name
                self.const(f"{n}.exp_hi", IntType(32), hi, (256,))
                self.const(f"{n}.exp_lo", IntType(32), lo, (256,))
                out = Value(n, qin.type.with_element(nx.SOFTMAX_TYPE))
                self.emit(ops.QSoftmax(out, qin, f"{n}.exp_hi", f"{n}.exp_lo"), n)
            case ops.ArgMax():
                self.emit(ops.ArgMax(Value(op.result.name, TensorType((), I64)), qin), op.result.name)
            case ops.LabelMap():
                self.consts.append(self.m.constant(op.classes))
                self.emit(replace(op, input=qin), op.result.name)

    def table(self, op: ops.Op, qin: Value) -> None:
        q = qin.type.element
        assert isinstance(q, QuantType)
        if isinstance(op, ops.HardSigmoid):
            f, out = (lambda v: min(max(op.alpha * v + op.beta, 0.0), 1.0)), _TABLES[ops.Sigmoid][1]
        else:
            f, out = _TABLES[type(op)]
        name = f"{op.result.name}.table"
        self.const(name, IntType(8), nx.function_table(f, q, out), (256,))
        self.emit(ops.TableLookup(Value(op.result.name, qin.type.with_element(out)), qin, name), op.result.name)

    def gemm(self, op: ops.Gemm, qin: Value) -> None:
        qx = qin.type.element
        assert isinstance(qx, QuantType)
        w = np.asarray(self.m.constant(op.weight).values, dtype=np.float64).reshape(self.m.constant(op.weight).type.shape)
        b = np.asarray(self.m.constant(op.bias).values, dtype=np.float64) if op.bias else np.zeros(w.shape[0])
        per_feature = self.feature_input is not None and qin.name == self.ops[0].result.name
        if per_feature:  # input i is s_i (q_i - z_i): s_i goes into column i (qx is the nominal qi8<1.0, 0>)
            assert self.feature_input is not None
            w = w * self.feature_input[0][None, :]
        s_w = np.abs(w).max(axis=1) / 127.0
        s_w[s_w == 0] = 1.0
        wq = np.clip(np.round(w / s_w[:, None]), -127, 127).astype(np.int64)
        rows = [[int(v) for v in r] for r in wq]
        if per_feature:
            assert self.feature_input is not None
            zs = [int(z) for z in self.feature_input[1]]
            bias = [round_int(bj / sj) - sum(z * v for z, v in zip(zs, r, strict=True))
                    for bj, sj, r in zip(b, s_w, rows, strict=True)]
        else:
            bias = [round_int(bj / (qx.scale * sj)) - qx.zero_point * sum(r) for bj, sj, r in zip(b, s_w, rows, strict=True)]
        where = f"gemm {op.result} ({w.shape[1]} inputs)"
        self.check_int32(rows, bias, where)
        lanes = self.o.lanes or auto_lanes(rows, -128, 127)
        prove_lanes(rows, -128, 127, lanes, where)
        post = self.fusable(op)
        last = post or op
        qout = self.o.qtype(self.env[last.result.name], self.bits_for(last.result))
        lo, hi = nx.type_range(qout)
        if isinstance(post, ops.Relu):
            lo = max(lo, qout.zero_point)
        elif isinstance(post, ops.Clip):
            lo, hi = nx.clip_bounds(post.min, post.max, qout)
        mult, shift = zip(*(nx.multiplier_shift(qx.scale * sj / qout.scale) for sj in s_w), strict=True)
        n, base = len(rows), op.result.name
        self.const(f"{base}.w", IntType(8), [v for r in rows for v in r], wq.shape)
        self.const(f"{base}.b", IntType(32), bias, (n,))
        self.const(f"{base}.m", IntType(64), mult, (n,))
        self.const(f"{base}.s", IntType(64), shift, (n,))
        acc = Value(f"{base}.acc", TensorType((n,), IntType(32)))
        self.ops.append(ops.QGemm(acc, qin, f"{base}.w", f"{base}.b", lanes))
        out = Value(last.result.name, TensorType((n,), qout))
        self.emit(ops.Requantize(out, acc, f"{base}.m", f"{base}.s", lo, hi), last.result.name)
        if post is not None:
            self.fused.add(post.result.name)

    @staticmethod
    def check_int32(rows: list[list[int]], bias: list[int], where: str) -> None:
        lo, hi = dot_bounds(rows, -128, 127)
        for j, (a, b, c) in enumerate(zip(lo, hi, bias, strict=True)):
            if a + c < -(2**31) or b + c >= 2**31:
                raise Ml2scError(f"int8: {where}: output {j} can leave the int32 accumulator range "
                                 f"([{a + c}, {b + c}]); the bias is too large for the input scale")


def round_int(v: float) -> int:
    return nx.round_half_up(float(v))
