"""Structured fuzzing of the compiler (issue 14, item 7): seeded mutants of small MLPs.

Each mutant of a small ONNX MLP (built with onnx.helper) is compiled and simulated in
process for the prbmath and int8 backends. A mutant may be refused, but only with an
``Ml2scError`` (one line, exit 2 in the CLI); any other exception is a crash. A mutant
that compiles must agree with onnxruntime's float32 outputs wherever those are finite:

- prbmath: every value within ``atol + rtol * |ref|`` (float32 oracle: atol 1e-4, rtol 1e-3);
- int8 (quantized, so lossy): judged by decisions, as ``ml2sc.compile`` judges it. The
  mutant is compiled with the fuzz rows as calibration rows and without ``accept_loss``,
  so compile itself refuses (``Ml2scError``) a quantization whose decisions agree with the
  float model on fewer than ``agreement.MIN_AGREEMENT`` of those rows, exactly as the CLI
  does. A mutant that compiles is wrong if its output shapes differ from onnxruntime's or
  if its decisions (``agreement.decision`` of the first output: label, argmax, or the side
  of 0.5) agree with onnxruntime's on fewer than ``MIN_AGREEMENT`` of the rows where
  onnxruntime's output is finite: compile measured at least that against the importer's
  float reference, so less against onnxruntime means the import itself is wrong. (The
  int8 backend states no per-value error bound, so values are not compared.)

A model whose input declares a fixed batch (``[100, 6]``) compiles to a contract that
takes one row at a time; onnxruntime refuses 16 rows for it, so its oracle is the same
model with a symbolic batch. A mutant that compiles although onnxruntime refuses to load
it (e.g. a double weight under a float Gemm) is a wrong answer too: the importer must refuse
what the ONNX type rules refuse (only an opset this onnxruntime does not run yet is
excused). Any non-``Ml2scError`` exception is a crash and fails the test, as does any wrong
answer. ``pytest -s`` prints the summary (counts by outcome,
crashes by exception type and location). ``ML2SC_FUZZ_MUTANTS=n`` sets the number of
mutants per backend of the default test (100); ``test_fuzz_models_1000`` runs 1,000.
"""

from __future__ import annotations

import contextlib
import copy
import os
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import ml2sc
from ml2sc.compiler.agreement import MIN_AGREEMENT, decision
from ml2sc.ir.errors import Ml2scError

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ("prbmath", "int8")
ROWS = 16
RAW_SCALES = np.array([1000.0, 1.0, 0.01, 10.0, 0.1, 100.0, 1.0])  # the raw-feature base model's columns
RAW_WIDTH = len(RAW_SCALES)
POISON = (np.nan, np.inf, -np.inf, 1e30, -1e30, 1e-30, 0.0, 3.4e38)


# ------------------------------------------------------------------------------ base models
def _init(name: str, arr: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(arr, np.float32), name)


def _model(nodes: list, inits: list, n_in: int, outputs: list, opset: int = 13) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", n_in])
    g = helper.make_graph(nodes, "fuzz", [x], outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def base_models() -> list[onnx.ModelProto]:
    rng = np.random.default_rng(7)
    n = rng.normal
    softmax = _model(
        [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1", transB=1),
         helper.make_node("Relu", ["h"], ["r"], name="relu"),
         helper.make_node("Gemm", ["r", "w2", "b2"], ["z"], name="fc2", alpha=1.0, beta=1.0),
         helper.make_node("Softmax", ["z"], ["y"], name="softmax", axis=1)],
        [_init("w1", n(0, 0.5, (5, 6))), _init("b1", n(0, 0.1, 5)), _init("w2", n(0, 0.5, (5, 3))),
         _init("b2", n(0, 0.1, 3))], 6, [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])])
    sigmoid = _model(
        [helper.make_node("MatMul", ["x", "w1"], ["m"], name="mm"),
         helper.make_node("Add", ["m", "b1"], ["h"], name="add"),
         helper.make_node("Tanh", ["h"], ["t"], name="tanh"),
         helper.make_node("Gemm", ["t", "w2", "b2"], ["z"], name="fc2"),
         helper.make_node("Sigmoid", ["z"], ["y"], name="sigmoid")],
        [_init("w1", n(0, 0.5, (4, 3))), _init("b1", n(0, 0.1, 3)), _init("w2", n(0, 0.5, (3, 1))),
         _init("b2", n(0, 0.1, 1))], 4, [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])])
    argmax = _model(
        [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1"),
         helper.make_node("LeakyRelu", ["h"], ["r"], name="leaky", alpha=0.1),
         helper.make_node("Gemm", ["r", "w2", "b2"], ["z"], name="fc2"),
         helper.make_node("ArgMax", ["z"], ["label"], name="argmax", axis=1, keepdims=0)],
        [_init("w1", n(0, 0.5, (5, 4))), _init("b1", n(0, 0.1, 4)), _init("w2", n(0, 0.5, (4, 3))),
         _init("b2", n(0, 0.1, 3))], 5,
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 3]),
         helper.make_tensor_value_info("label", TensorProto.INT64, ["N"])])
    # raw features (a StandardScaler folded into the first gemm): column ranges 10^5 apart, so
    # int8 takes per-feature input scales (quantize-int8{inputs=auto}) on the fuzz rows
    raw = _model(
        [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1"),
         helper.make_node("Relu", ["h"], ["r"], name="relu"),
         helper.make_node("Gemm", ["r", "w2", "b2"], ["z"], name="fc2"),
         helper.make_node("Softmax", ["z"], ["y"], name="softmax", axis=1)],
        [_init("w1", n(0, 0.7, (RAW_WIDTH, 6)) / RAW_SCALES[:, None]), _init("b1", n(0, 0.1, 6)),
         _init("w2", n(0, 0.7, (6, 2))), _init("b2", n(0, 0.1, 2))], RAW_WIDTH,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])])
    return [softmax, sigmoid, argmax, raw]


def fuzz_rows(width: int) -> np.ndarray:
    """The rows a base model of this input width is run and calibrated on: uniform in [-1, 1],
    each column scaled by RAW_SCALES for the raw-feature model."""
    x = np.random.default_rng(width).uniform(-1, 1, (ROWS, width))
    return (x * RAW_SCALES if width == RAW_WIDTH else x).astype(np.float32)


# ------------------------------------------------------------------------------ mutations
ATTR_VALUES = (0, 1, -1, 2, 3, 0.5, -0.5, float("nan"), float("inf"), -float("inf"), 1e30, 0.0)
OPSETS = (1, 6, 7, 9, 11, 12, 13, 17, 18, 19, 21, 22, 23, 24, 30, 99)
DTYPES = (TensorProto.INT64, TensorProto.STRING, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.INT8,
          TensorProto.BOOL, TensorProto.UNDEFINED)


def mut_attribute(m: onnx.ModelProto, rng: np.random.Generator) -> str:
    with_attrs = [nd for nd in m.graph.node if nd.attribute]
    if not with_attrs or rng.random() < 0.3:  # add an attribute the node did not have
        nd = m.graph.node[rng.integers(len(m.graph.node))]
        name = str(rng.choice(["alpha", "beta", "transA", "transB", "axis", "keepdims", "epsilon"]))
        value = ATTR_VALUES[rng.integers(len(ATTR_VALUES))]
        del_existing = [a for a in nd.attribute if a.name == name]
        for a in del_existing:
            nd.attribute.remove(a)
        ints = name in ("transA", "transB", "axis", "keepdims")
        v = (int(value) if abs(value) < 2**31 else 2**31 - 1) if ints and np.isfinite(value) else float(value)
        nd.attribute.append(helper.make_attribute(name, v))
        return f"add attribute {nd.name}.{name}={v}"
    nd = with_attrs[rng.integers(len(with_attrs))]
    a = nd.attribute[rng.integers(len(nd.attribute))]
    value = ATTR_VALUES[rng.integers(len(ATTR_VALUES))]
    if a.type == onnx.AttributeProto.INT:
        a.i = int(value) if np.isfinite(value) and abs(value) < 2**31 else int(rng.integers(-3, 4))
        return f"attribute {nd.name}.{a.name}={a.i}"
    a.f = float(value)
    return f"attribute {nd.name}.{a.name}={a.f}"


def mut_weight(m: onnx.ModelProto, rng: np.random.Generator) -> str:
    k = rng.integers(len(m.graph.initializer))
    t = m.graph.initializer[k]
    arr = numpy_helper.to_array(t).copy()
    if rng.random() < 0.25:  # scale the whole tensor
        factor = float(rng.choice([1e6, 1e12, 1e20, 1e-12, -1e9]))
        arr = (arr.astype(np.float64) * factor).astype(np.float32)
        what = f"scale x{factor:g}"
    else:
        v = POISON[rng.integers(len(POISON))]
        arr.flat[rng.integers(arr.size)] = v
        what = f"one element = {v}"
    m.graph.initializer[k].CopyFrom(numpy_helper.from_array(arr, t.name))
    return f"weight {t.name}: {what}"


def mut_shape(m: onnx.ModelProto, rng: np.random.Generator) -> str:
    if rng.random() < 0.4:  # the declared input width
        dim = m.graph.input[0].type.tensor_type.shape.dim
        j = int(rng.integers(len(dim)))
        dim[j].dim_value = int(rng.choice([0, 1, 2, 7, 100]))
        if rng.random() < 0.3:
            dim.add().dim_value = 3
        return f"input dim {j} -> {dim[j].dim_value} (rank {len(dim)})"
    k = rng.integers(len(m.graph.initializer))
    t = m.graph.initializer[k]
    arr = numpy_helper.to_array(t)
    choice = rng.integers(4)
    if choice == 0:
        new = arr.reshape(-1)
    elif choice == 1:
        new = arr.reshape(*arr.shape, 1)
    elif choice == 2:
        new = np.concatenate([arr, arr], axis=0)
    else:
        new = arr.T.copy() if arr.ndim == 2 else arr[:-1] if arr.size > 1 else np.zeros((0,), np.float32)
    m.graph.initializer[k].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(new), t.name))
    return f"initializer {t.name} shape {arr.shape} -> {new.shape}"


def mut_opset(m: onnx.ModelProto, rng: np.random.Generator) -> str:
    v = int(OPSETS[rng.integers(len(OPSETS))])
    m.opset_import[0].version = v
    return f"opset {v}"


def mut_dtype(m: onnx.ModelProto, rng: np.random.Generator) -> str:
    d = int(DTYPES[rng.integers(len(DTYPES))])
    if rng.random() < 0.5:
        m.graph.input[0].type.tensor_type.elem_type = d
        return f"input dtype {TensorProto.DataType.Name(d)}"
    t = m.graph.initializer[rng.integers(len(m.graph.initializer))]
    arr = numpy_helper.to_array(t)
    if d in (TensorProto.STRING, TensorProto.UNDEFINED):
        t.data_type = d
    else:
        np_type = helper.tensor_dtype_to_np_dtype(d)
        with np.errstate(invalid="ignore", over="ignore"):
            t.CopyFrom(numpy_helper.from_array(arr.astype(np_type), t.name))
    return f"initializer {t.name} dtype {TensorProto.DataType.Name(d)}"


def mut_nodes(m: onnx.ModelProto, rng: np.random.Generator) -> str:
    nodes = m.graph.node
    k = int(rng.integers(len(nodes)))
    choice = rng.integers(3)
    if choice == 0:
        name = nodes[k].name
        del nodes[k]
        return f"drop node {name}"
    if choice == 1:
        nodes.insert(k, copy.deepcopy(nodes[k]))
        return f"duplicate node {nodes[k].name}"
    j = int(rng.integers(len(nodes)))
    a, b = copy.deepcopy(nodes[k]), copy.deepcopy(nodes[j])
    nodes[k].CopyFrom(b)
    nodes[j].CopyFrom(a)
    return f"swap nodes {a.name}, {b.name}"


MUTATIONS = {"attribute": mut_attribute, "weight": mut_weight, "shape": mut_shape, "opset": mut_opset,
             "dtype": mut_dtype, "nodes": mut_nodes}


@dataclass
class Mutant:
    description: str
    model: onnx.ModelProto | None = None
    raw: bytes | None = None  # byte-level mutants: the file's bytes


def make_mutant(seed: int, bases: list[onnx.ModelProto]) -> Mutant:
    rng = np.random.default_rng(seed)
    b = int(rng.integers(len(bases)))
    m = copy.deepcopy(bases[b])
    kinds = [*MUTATIONS, "bytes", "truncate"]
    kind = kinds[rng.integers(len(kinds))]
    if kind in ("bytes", "truncate"):
        data = bytearray(m.SerializeToString())
        if kind == "truncate":
            cut = int(rng.integers(1, len(data)))
            return Mutant(f"base {b}: truncate to {cut}/{len(data)} bytes", raw=bytes(data[:cut]))
        spots = rng.integers(len(data), size=int(rng.integers(1, 4)))
        for s in spots:
            data[s] ^= 1 << int(rng.integers(8))
        return Mutant(f"base {b}: flip bits at {sorted(int(s) for s in spots)}", raw=bytes(data))
    steps = [MUTATIONS[kind](m, rng)]
    if rng.random() < 0.3:  # sometimes a second mutation on top (if the first left it mutable)
        other = list(MUTATIONS)[rng.integers(len(MUTATIONS))]
        with contextlib.suppress(Exception):  # e.g. a string initializer numpy cannot read back
            steps.append(MUTATIONS[other](m, rng))
    return Mutant(f"base {b}: " + "; ".join(steps), model=m)


# ------------------------------------------------------------------------------ oracle
def onnxruntime_outputs(model: onnx.ModelProto, x: np.ndarray) -> tuple[dict[str, np.ndarray] | None, str]:
    """(onnxruntime's float32 outputs, "") or (None, why onnxruntime cannot run the mutant).

    A fixed batch dimension (the contract takes one row whatever it says) is made
    symbolic for the oracle when onnxruntime refuses the rows for it."""
    import onnxruntime as ort

    def run(m: onnx.ModelProto) -> dict[str, np.ndarray]:
        sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        names = [o.name for o in sess.get_outputs()]
        return dict(zip(names, sess.run(names, {sess.get_inputs()[0].name: x}), strict=True))

    try:
        return run(model), ""
    except Exception as e:  # noqa: BLE001 - an invalid model for onnxruntime too: no oracle
        why = " ".join(str(e).split())[:200]
        dims = model.graph.input[0].type.tensor_type.shape.dim if model.graph.input else []
        if len(dims) < 2 or not dims[0].HasField("dim_value"):
            return None, why
    m = copy.deepcopy(model)
    m.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    for info in (*m.graph.output, *m.graph.value_info):  # declared outputs with the same fixed batch
        out = info.type.tensor_type.shape.dim
        if len(out) and out[0].HasField("dim_value") and out[0].dim_value == dims[0].dim_value:
            out[0].dim_param = "N"
    try:
        return run(m), ""
    except Exception:  # noqa: BLE001
        return None, why


def finite_rows(ref: dict[str, np.ndarray]) -> np.ndarray | None:
    """Rows on which every float output of onnxruntime is finite (and below 1e30): a label
    (ArgMax) computed from values that overflowed float32 is not onnxruntime's finite result
    (argmax of [inf, -inf, inf] is 0; the exact fixed-point values may say 2). None: no rows."""
    rows = None
    for r in ref.values():
        if r.ndim == 0:
            continue
        ok = np.ones(len(r), bool)
        if r.dtype.kind == "f":
            with np.errstate(invalid="ignore"):
                ok = (np.isfinite(r) & (np.abs(r) < 1e30)).reshape(len(r), -1).all(axis=1)
        rows = ok if rows is None or len(rows) != len(ok) else rows & ok
    return rows


def disagreement(backend: str, got: dict[str, np.ndarray], ref: dict[str, np.ndarray]) -> str | None:
    """Why the simulated outputs are wrong (None: they agree where onnxruntime is finite)."""
    rows = finite_rows(ref)
    for name, r in ref.items():
        if name not in got:
            continue
        g = np.asarray(got[name])
        if g.size != r.size:
            return f"output {name}: shape {g.shape} vs onnxruntime {r.shape}"
        g = g.reshape(r.shape)
        if backend == "int8":
            continue  # quantized: judged by decisions (int8_disagreement), not by values
        if np.issubdtype(r.dtype, np.integer):
            keep = rows if rows is not None and r.ndim and len(rows) == len(r) else slice(None)
            if not np.array_equal(g[keep], r[keep]):
                return f"output {name}: labels {g[keep].ravel()[:6]} vs onnxruntime {r[keep].ravel()[:6]}"
            continue
        r64, g64 = r.astype(np.float64), g.astype(np.float64)
        finite = np.isfinite(r64) & (np.abs(r64) < 1e30)
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf where onnxruntime overflowed
            bad = finite & ~(np.abs(g64 - r64) <= 1e-4 + 1e-3 * np.abs(r64))
        if bad.any():
            i = tuple(int(v) for v in np.argwhere(bad)[0])
            return f"output {name}{list(i)}: {g64[i]:.6g} vs onnxruntime {r64[i]:.6g}"
    return None


def decision_agreement(got: dict[str, np.ndarray], ref: dict[str, np.ndarray]) -> float | None:
    """Share of rows on which the first output's decision (``agreement.decision``, what
    compile's check compares) equals onnxruntime's, over the rows where onnxruntime's outputs
    are finite (``finite_rows``); None when no such row (or no first output) exists."""
    name = next(iter(ref), None)
    if name is None or name not in got or np.asarray(got[name]).size != ref[name].size:
        return None
    r = ref[name].reshape(len(ref[name]), -1) if ref[name].ndim else ref[name].reshape(1, 1)
    g = np.asarray(got[name]).reshape(r.shape)
    rows = finite_rows(ref)
    finite = rows if rows is not None and len(rows) == len(r) else np.ones(len(r), bool)
    if not finite.any():
        return None
    return float(np.mean(decision(g[finite]) == decision(r[finite])))


def int8_disagreement(got: dict[str, np.ndarray], ref: dict[str, np.ndarray]) -> tuple[float | None, str | None]:
    """(decision agreement with onnxruntime, why that is wrong or None): below the threshold
    compile enforces, the compiled int8 model is wrong (compile should have refused it)."""
    agree = decision_agreement(got, ref)
    if agree is not None and agree < MIN_AGREEMENT:
        return agree, (f"decisions agree with onnxruntime on {agree:.1%} of the rows, below the "
                       f"{MIN_AGREEMENT:.0%} compile enforces")
    return agree, None


# ------------------------------------------------------------------------------ the run
@dataclass
class Tally:
    outcomes: Counter = field(default_factory=Counter)
    crashes: list[tuple[str, str, str, str]] = field(default_factory=list)  # (signature, where, mutant, tail)
    wrong: list[str] = field(default_factory=list)
    agreement: list[float] = field(default_factory=list)

    def summary(self, backend: str, n: int) -> str:
        lines = [f"{backend}: {n} mutants: " + ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))]
        lines.append(f"  tracebacks {len(self.crashes)}, wrong {len(self.wrong)}")
        if self.agreement:
            low = sum(a < MIN_AGREEMENT for a in self.agreement)
            lines.append(f"  int8 decision agreement with onnxruntime: mean {np.mean(self.agreement):.3f}, "
                         f"min {min(self.agreement):.3f}, below {MIN_AGREEMENT:.0%} on {low} of "
                         f"{len(self.agreement)} mutants")
        for (sig, where), count in Counter((c[0], c[1]) for c in self.crashes).most_common():
            example = next(c for c in self.crashes if (c[0], c[1]) == (sig, where))
            lines.append(f"  crash x{count}: {sig} at {where}; e.g. {example[2]}\n    {example[3]}")
        lines += [f"  WRONG: {w}" for w in self.wrong]
        return "\n".join(lines)


def _where(exc: BaseException) -> tuple[str, str]:
    """The innermost frame inside the ml2sc tree (file:line) and a short traceback tail."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename.startswith(str(ROOT)) and "/tests/" not in f.filename]
    frame = (ours or frames)[-1]
    where = f"{os.path.relpath(frame.filename, ROOT)}:{frame.lineno}"
    tail = " <- ".join(f"{os.path.relpath(f.filename, ROOT)}:{f.lineno} {f.name}" for f in reversed(ours[-3:]))
    return where, tail


def run_one(mutant: Mutant, backend: str, x: np.ndarray, tmp: Path, tally: Tally) -> None:
    def crash(e: BaseException, stage: str) -> None:
        where, tail = _where(e)
        msg = str(e).splitlines()[0][:120] if str(e) else ""
        tally.outcomes[f"crash ({stage})"] += 1
        tally.crashes.append((f"{type(e).__name__}: {msg}", where, mutant.description, tail))

    model_arg: object = mutant.model
    if mutant.raw is not None:
        model_arg = tmp / "mutant.onnx"
        Path(model_arg).write_bytes(mutant.raw)
    try:  # calibration rows and no accept_loss: int8 gets compile's agreement check, as in the CLI
        compiled = ml2sc.compile(model_arg, backend=backend, calibration=x)
    except Ml2scError as e:
        low = "agrees with the float model" in str(e)
        tally.outcomes["refused (Ml2scError: int8 agreement)" if low else "refused (Ml2scError)"] += 1
        if "\n" in str(e).strip() or not str(e).strip():  # the CLI prints it as its one line
            tally.wrong.append(f"{mutant.description}: refusal is not one line: {str(e)!r:.200}")
        return
    except Exception as e:  # noqa: BLE001 - the point of the test: classify it
        crash(e, "compile")
        return
    try:
        got = compiled.simulate(x)
    except Ml2scError as e:
        tally.outcomes["compiled, rows refused (Ml2scError)"] += 1
        if "\n" in str(e).strip() or not str(e).strip():
            tally.wrong.append(f"{mutant.description}: refusal is not one line: {str(e)!r:.200}")
        return
    except Exception as e:  # noqa: BLE001
        crash(e, "simulate")
        return
    tally.outcomes["compiled"] += 1
    proto = mutant.model if mutant.model is not None else compiled.onnx_model
    ref, refusal = onnxruntime_outputs(proto, x) if proto is not None else (None, "no model")
    if ref is None:
        if "opset" in refusal.lower():  # an opset onnx knows but this onnxruntime does not yet run
            tally.outcomes["  (no onnxruntime oracle: opset)"] += 1
        else:  # the importer must refuse what onnxruntime (the ONNX type rules) refuses
            tally.wrong.append(f"{mutant.description}: compiled, but onnxruntime refuses the model: {refusal}")
        return
    why = disagreement(backend, got, ref)
    if backend == "int8" and not why:
        agree, why = int8_disagreement(got, ref)
        if agree is not None:
            tally.agreement.append(agree)
    if why:
        tally.wrong.append(f"{mutant.description}: {why}")


def fuzz(backend: str, n: int, tmp: Path, seed0: int = 0) -> Tally:
    bases = base_models()
    tally = Tally()
    inputs = {m.graph.input[0].type.tensor_type.shape.dim[1].dim_value for m in bases}
    xs = {w: fuzz_rows(w) for w in inputs}
    for seed in range(seed0, seed0 + n):
        mutant = make_mutant(seed, bases)
        width = bases[int(mutant.description.split(":")[0].split()[1])].graph.input[0].type.tensor_type.shape.dim[1].dim_value
        run_one(mutant, backend, xs[width], tmp, tally)
    return tally


def check(tally: Tally, backend: str, n: int) -> None:
    print("\n" + tally.summary(backend, n))
    assert not tally.wrong, "compiled mutants disagree with onnxruntime:\n" + "\n".join(tally.wrong)
    assert not tally.crashes, "non-Ml2scError exceptions:\n" + "\n".join(
        f"{c[0]} at {c[1]} ({c[2]})" for c in tally.crashes)


def test_base_models_compile_and_agree(tmp_path: Path) -> None:
    """The unmutated models must compile, simulate and agree: the fuzz test's own control."""
    for backend in BACKENDS:
        tally = Tally()
        for i, m in enumerate(base_models()):
            w = m.graph.input[0].type.tensor_type.shape.dim[1].dim_value
            run_one(Mutant(f"base {i}", model=m), backend, fuzz_rows(w), tmp_path, tally)
        n = len(base_models())
        assert tally.outcomes["compiled"] == n, tally.summary(backend, n)
        check(tally, backend, n)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fuzz_models(backend: str, tmp_path: Path) -> None:
    n = int(os.environ.get("ML2SC_FUZZ_MUTANTS", "100"))
    check(fuzz(backend, n, tmp_path), backend, n)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fuzz_models_1000(backend: str, tmp_path: Path) -> None:
    """Issue 14's figure: 1,000 mutants per backend (other seeds); ~3 s each, so not slow."""
    check(fuzz(backend, 1000, tmp_path, seed0=10_000), backend, 1000)
