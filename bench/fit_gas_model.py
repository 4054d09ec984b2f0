"""Fit a backend's gas model: measure a spread of models on the embedded chain, least squares.

    python bench/fit_gas_model.py --backend prbmath

Compiles and deploys random MLPs of varied shapes and activations plus the
benchmark models (ML2SC's nine breast-cancer MLPs trained with their recipe,
digits 64-32-10 and 784-128-10 when the backend can compile them), measures
deployment, upload, runtime size, one inference per row (the driver's
default calldata) and ``predictBatch``, then fits every quantity of the
backend's ``cost.TERMS`` by least squares on the relative error and writes
``gas_model.json`` into the backend's package. It prints the error of the
estimate (``ml2sc.tools.estimate.estimate``, the code path users run) on
every model, and a 5-fold cross-validation (the error on models a fit did not
see). Measurements are cached (``--cache``, keyed by the lowered IR, the code the
backend emits for it and the rows), so an interrupted run resumes and a refit after
a change to ``cost.py`` measures nothing; the trained benchmark models are cached
too (training takes minutes).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ml2sc.backends.base import Backend
from ml2sc.chain import EmbeddedChain, TxResult
from ml2sc.compiler.driver import CompiledModel, get_backend, load_onnx_ir
from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Constant, Module, Output, Value
from ml2sc.ir.parser import parse_module
from ml2sc.ir.printer import print_module
from ml2sc.ir.types import F32, I64, TensorType, vector
from ml2sc.tools.estimate import (
    GAS_MODEL_FILE,
    GasModel,
    _backend_package,
    batch_calldata,
    cost_module,
    estimate,
    lower,
)

ROWS = 50  # test rows of a benchmark model: one inference transaction each, one predictBatch of all
RANDOM_ROWS = 20  # rows of a random model (py-evm runs ~1M gas/s; the fit needs variety, not rows)
MAX_MACS = 1_800  # random models stay well under the 24,576-byte code limit
CACHE = Path.home() / ".cache" / "ml2sc"  # measurements and the trained benchmark models
HIDDEN = ("relu", "relu", "relu", "leaky_relu", "tanh", "sigmoid", "hard_sigmoid", "clip", "")
HEADS = ("sigmoid", "softmax", "softmax", "", "tanh")


# ------------------------------------------------------------------ the models
@dataclass
class Case:
    name: str
    kind: str  # "random" or "benchmark"
    module: Module  # float IR
    x: np.ndarray
    pipeline: str | None = None  # None: the backend's own

    def lower(self, backend: Backend) -> Module:
        """The IR after the pipeline, calibrated on the case's rows (as `ml2sc run --data`)."""
        return lower(self.module, backend, self.pipeline, calibration=self.x)


def _const(name: str, values: np.ndarray, element: Any = F32) -> Constant:
    arr = np.asarray(values, dtype=np.float32) if element == F32 else np.asarray(values)
    cast = float if element == F32 else int
    return Constant(name, TensorType(tuple(arr.shape), element), tuple(cast(v) for v in arr.ravel()))


def _activation(kind: str, out: Value, value: Value) -> ops.Op:
    table = {"relu": ops.Relu, "sigmoid": ops.Sigmoid, "tanh": ops.Tanh, "softmax": ops.Softmax,
             "hard_sigmoid": ops.HardSigmoid}
    if kind == "leaky_relu":
        return ops.LeakyRelu(out, value, alpha=0.1)
    if kind == "clip":
        return ops.Clip(out, value, min=0.0, max=6.0)
    return table[kind](out, value)


def _weights(rng: np.random.Generator, n_out: int, n_in: int) -> np.ndarray:
    """Trained-looking weights; some layers coarse (few mantissa bits) or sparse, so that
    immediate widths and zero weights vary independently of the layer sizes."""
    w = rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in))
    style = rng.choice(["full", "full", "coarse", "sparse"])
    if style == "coarse":
        w = np.round(w * 64) / 64
    if style == "sparse":
        w[rng.random(w.shape) < 0.3] = 0.0
    return w


def random_module(rng: np.random.Generator, index: int, max_macs: int = MAX_MACS) -> Module:
    """A random MLP: 1-4 gemms, varied widths, hidden activations and heads."""
    while True:
        sizes = [int(rng.choice([2, 3, 5, 8, 10, 12, 16, 20, 24, 30, 40, 50, 64]))]
        sizes += [int(rng.integers(1, 40)) for _ in range(int(rng.integers(0, 3)))]
        sizes.append(int(rng.integers(1, 12)))
        if sum(a * b for a, b in zip(sizes, sizes[1:], strict=False)) <= max_macs:
            break
    x = Value("x", vector(sizes[0]))
    value, body, consts = x, [], []
    if rng.random() < 0.15:  # a scaler in front: fuse-affine folds it into the first weights
        n = sizes[0]
        consts += [_const("scale", rng.uniform(0.5, 2, n)), _const("offset", rng.normal(0, 0.3, n))]
        value = Value("s", vector(n))
        body.append(ops.Affine(value, x, "scale", "offset"))
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
        consts += [_const(f"w{i}", _weights(rng, n_out, n_in)), _const(f"b{i}", rng.normal(0, 0.2, n_out))]
        out = Value(f"g{i}", vector(n_out))
        body.append(ops.Gemm(out, value, f"w{i}", f"b{i}"))
        value = out
        last = i == len(sizes) - 2
        kind = str(rng.choice(HEADS if last else HIDDEN))
        if kind == "softmax" and n_out == 1:
            kind = "sigmoid"
        if kind:
            out = Value(f"a{i}", vector(n_out))
            body.append(_activation(kind, out, value))
            value = out
    outputs = [Output("y", value)]
    if sizes[-1] > 1 and rng.random() < 0.25:  # a classifier head: argmax, sometimes class labels
        idx = Value("idx", TensorType((), I64))
        body.append(ops.ArgMax(idx, value))
        label = idx
        if rng.random() < 0.5:
            label = Value("label", TensorType((), I64))
            body.append(ops.LabelMap(label, idx, "classes"))
            consts.append(_const("classes", rng.integers(-5, 100, sizes[-1]), I64))
        outputs.append(Output("label", label))
    return Module(f"random_{index}", (x,), tuple(body), tuple(outputs), tuple(consts))


def random_cases(count: int, seed: int, rows: int = RANDOM_ROWS, max_macs: int = MAX_MACS,
                 variants: tuple[str, ...] = ()) -> list[Case]:
    """Random models; every 6th also under each of the backend's variant pipelines
    (``cost.FIT_VARIANTS``, e.g. prbmath's SD59x18 weights), so those terms are fitted too."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(count):
        m = random_module(rng, i, max_macs)
        n = m.inputs[0].type.size
        x = (rng.uniform(0, 1, (rows, n)) if i % 3 else rng.normal(0, 1.5, (rows, n))).astype(np.float32)
        cases.append(Case(m.name, "random", m, x))
        if i % 6 == 0:
            cases += [Case(f"{m.name}_v{k}", "random", m, x, v) for k, v in enumerate(variants)]
    return cases


def benchmark_cases(cache_dir: Path, rows: int = ROWS) -> list[Case]:
    """The models of `ml2sc bench`, with their test rows (ML2SC's 50; digits' first 50).

    Training the nine ML2SC models takes minutes on a busy 2-core machine, so the trained
    ONNX models and their rows are kept in ``cache_dir`` (same seeds: the same models)."""
    import onnx

    from ml2sc.tools.bench import digits_case, ml2sc_cases, mnist_sized_case

    index = cache_dir / "index.json"
    if not index.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        names = []
        for c in [*ml2sc_cases(), digits_case(), mnist_sized_case()]:
            onnx.save_model(c.onnx_model, str(cache_dir / f"{c.name}.onnx"))
            np.save(cache_dir / f"{c.name}.npy", np.asarray(c.x_test[:ROWS], dtype=np.float32))
            names.append(c.name)
        index.write_text(json.dumps(names))
    cases = []
    for name in json.loads(index.read_text()):
        module, _ = load_onnx_ir(str(cache_dir / f"{name}.onnx"), name=name)
        cases.append(Case(name, "benchmark", module, np.load(cache_dir / f"{name}.npy")[:rows]))
    return cases


# ---------------------------------------------------------------- measurement
def record_key(be: Backend, ir: Module, x: Any) -> str:
    """Cache key of a measurement: the backend, the IR, the Solidity the backend emits for it
    today (a changed emitter invalidates the measurement) and the rows it runs."""
    program = be.emit(ir)
    sources = "".join(program.sources[k] for k in sorted(program.sources)) + "".join(c.hex() for c in program.data_contracts)
    text = be.name + print_module(ir) + sources + np.asarray(x, dtype=np.float32).tobytes().hex()
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _key(be: Backend, case: Case) -> str | None:
    """The case's key, or None when the backend refuses the model (it is then measured, and
    recorded as skipped, under its name)."""
    try:
        return record_key(be, case.lower(be), case.x)
    except Ml2scError:
        return None


def measure(case: Case, backend_name: str, chain: EmbeddedChain) -> dict[str, Any]:
    """Deploy and run on the chain: every number here is a receipt's."""
    be = get_backend(backend_name)
    ir = case.lower(be)
    compiled = CompiledModel(case.module, ir, be.emit(ir), be)
    deployed = compiled.deploy(chain)
    rows = compiled.quantize(case.x)
    deployed.predict_raw(rows)
    record: dict[str, Any] = {
        "name": case.name, "kind": case.kind, "ir": print_module(ir), "x": case.x.tolist(),
        "deploy": deployed.gas.deploy,
        "upload": sum(deployed.gas.upload), "runtime_bytes": deployed.gas.runtime_bytes,
        "inference": deployed.gas.inference, "inference_exec": deployed.gas.inference_exec,
        "batches": [],
    }
    for n in (len(rows) // 5, len(rows)):  # two sizes, so that per-call and per-row costs separate
        data = batch_calldata(be.pack_row, rows[:n])  # emitted: the backend packs as the driver does
        if data is None:
            break
        tx: TxResult = chain.transact(deployed.address, data)
        record["batches"].append({"rows": n, "gas": tx.gas_used, "exec": tx.execution_gas})
    return record


def measure_all(cases: list[Case], backend: str, cache: Path) -> list[dict[str, Any]]:
    """Measure every case not yet in ``cache`` (a model that fails is recorded as skipped),
    saving after each one: an interrupted run resumes where it stopped."""
    from tqdm import tqdm

    be = get_backend(backend)
    stored: dict[str, Any] = json.loads(cache.read_text()) if cache.exists() else {}
    keys = [_key(be, c) or f"refused:{c.name}" for c in cases]
    todo = [(k, c) for k, c in zip(keys, cases, strict=True) if k not in stored]
    chain = EmbeddedChain()
    for key, case in tqdm(todo, desc=f"measure {backend}", unit="model", file=sys.stderr):
        try:
            stored[key] = measure(case, backend, chain)
        except Ml2scError as e:
            stored[key] = {"name": case.name, "skipped": str(e).splitlines()[0]}
        cache.write_text(json.dumps(stored))
    for k in keys:
        if "skipped" in stored[k]:
            print(f"skipped {stored[k]['name']}: {stored[k]['skipped']}", file=sys.stderr)
    return [stored[k] for k in keys if "skipped" not in stored[k]]


# ------------------------------------------------------------------------- fit
def _targets(record: dict[str, Any], quantity: str, features: dict[str, float]) -> list[tuple[dict[str, float], float]]:
    """(features, measured value) pairs of one record for one quantity."""
    if quantity in ("deploy", "upload", "runtime_bytes"):
        return [(features, float(record[quantity]))]
    if quantity == "inference_exec":
        return [(features, float(np.mean(record["inference_exec"])))]
    if quantity == "batch_extra":
        cost = record["_cost"]
        pairs = []
        for b in record["batches"]:
            f = cost.cost_features(record["_ir"], batch_rows=b["rows"])
            pairs.append((f, b["exec"] - float(np.sum(record["inference_exec"][: b["rows"]]))))
        return pairs
    raise ValueError(quantity)


def fit_quantity(records: list[dict[str, Any]], quantity: str, terms: tuple[str, ...]) -> dict[str, float]:
    """Least squares on relative errors (every model counts alike, small or large)."""
    pairs = [p for r in records for p in _targets(r, quantity, r["_features"])]
    used = [t for t in terms if any(f[t] for f, _ in pairs)]
    a = np.array([[f[t] for t in used] for f, _ in pairs], dtype=np.float64)
    y = np.array([v for _, v in pairs], dtype=np.float64)
    scale = np.maximum(np.abs(y), np.abs(y).mean() * 0.05 + 1.0)  # batch_extra can be near zero
    coef, *_ = np.linalg.lstsq(a / scale[:, None], y / scale, rcond=None)
    return {t: round(float(c), 4) for t, c in zip(used, coef, strict=True)}


def prepare(records: list[dict[str, Any]], cost: ModuleType) -> None:
    """Parse each record's IR and count its features with the backend's current cost.py."""
    for r in records:
        r["_ir"] = parse_module(r["ir"])
        r["_cost"] = cost
        r["_features"] = cost.cost_features(r["_ir"])


def fit(records: list[dict[str, Any]], cost: ModuleType) -> dict[str, dict[str, float]]:
    terms = dict(cost.TERMS)
    terms.setdefault("runtime_bytes", terms["deploy"])
    if any(r["upload"] for r in records):
        terms.setdefault("upload", terms["deploy"])
    if not all(r["batches"] for r in records):
        terms.pop("batch_extra", None)
    return {q: fit_quantity(records, q, t) for q, t in terms.items()}


def cross_validate(records: list[dict[str, Any]], backend: str, cost: ModuleType, folds: int = 5) -> dict[str, Any]:
    """k-fold: fit without a fold, estimate the fold; the error to expect on unseen models."""
    rows: list[dict[str, Any]] = []
    for k in range(folds):
        train = [r for i, r in enumerate(records) if i % folds != k]
        model = GasModel(backend, fit(train, cost))
        rows += evaluate([r for i, r in enumerate(records) if i % folds == k], backend, model)
    out: dict[str, Any] = {}
    for key in ("deploy", "inference", "batch_row"):
        errs = sorted(((abs(_err(r[key])), r["model"]) for r in rows if key in r), reverse=True)
        if errs:
            out[f"{key}_rms_error_pct"] = round(float(np.sqrt(np.mean([e * e for e, _ in errs]))), 3)
            out[f"{key}_max_abs_error_pct"] = [round(errs[0][0], 3), errs[0][1]]
    return out


# -------------------------------------------------------------------- report
def evaluate(records: list[dict[str, Any]], backend: str, model: GasModel) -> list[dict[str, Any]]:
    """Estimate every model through ``estimate()`` (what users run) and compare."""
    rows = []
    for r in records:
        n = len(r["x"])
        est = estimate(r["_ir"], backend, pipeline="", data=np.asarray(r["x"], dtype=np.float32),
                       batch_rows=n, gas_model=model)
        row = {"model": r["name"], "kind": r["kind"], "macs": int(r["_features"].get("macs", 0)),
               "deploy": (r["deploy"] + r["upload"], est.total_deploy_gas),
               "inference": (float(np.mean(r["inference"])), est.inference_gas)}
        guess = estimate(r["_ir"], backend, pipeline="", batch_rows=n, gas_model=model)  # no --data
        row["inference_no_data"] = (row["inference"][0], guess.inference_gas)
        full = [b for b in r["batches"] if b["rows"] == n]
        if full and est.batch_gas_per_row is not None:
            row["batch_row"] = (full[0]["gas"] / n, est.batch_gas_per_row)
        rows.append(row)
    return rows


def _err(pair: tuple[float, float]) -> float:
    measured, estimated = pair
    return 100.0 * (estimated - measured) / measured


def print_report(rows: list[dict[str, Any]]) -> dict[str, float]:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="estimate vs measured (embedded chain): gas, error %")
    for col in ("model", "MACs", "deploy+upload", "est.", "err %", "inference", "est.", "err %",
                "err % no data", "batch/row", "est.", "err %"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for row in sorted(rows, key=lambda r: (r["kind"] != "benchmark", r["model"])):
        cells = [row["model"], str(row["macs"])]
        for key in ("deploy", "inference", "batch_row"):
            if key in row:
                m, e = row[key]
                cells += [f"{m:,.0f}", f"{e:,.0f}", f"{_err(row[key]):+.2f}"]
            else:
                cells += ["—", "—", ""]
            if key == "inference":
                cells.append(f"{_err(row['inference_no_data']):+.2f}")
        table.add_row(*cells)
    Console(width=160).print(table)
    worst = {}
    for kind in ("benchmark", "random"):
        for key in ("deploy", "inference", "inference_no_data", "batch_row"):
            errs = [abs(_err(r[key])) for r in rows if r["kind"] == kind and key in r]
            if errs:
                worst[f"{kind}_{key}_max_abs_error_pct"] = round(max(errs), 3)
    print(json.dumps(worst, indent=2))
    return worst


# ------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="prbmath")
    p.add_argument("--random", type=int, default=70, help="number of random MLPs (default 70)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rows", type=int, default=ROWS, help=f"test rows per benchmark model (default {ROWS})")
    p.add_argument("--random-rows", type=int, default=RANDOM_ROWS, help=f"rows per random model (default {RANDOM_ROWS})")
    p.add_argument("--max-macs", type=int, default=MAX_MACS,
                   help=f"largest random model (default {MAX_MACS}; smaller for slow backends)")
    p.add_argument("--no-benchmark", action="store_true", help="random models only (no torch training)")
    p.add_argument("--cache", type=Path, help="measurements, reused and extended (default ~/.cache/ml2sc/gas_<backend>.json)")
    p.add_argument("--out", type=Path, help=f"where to write the model (default: the backend's {GAS_MODEL_FILE})")
    args = p.parse_args(argv)
    be = get_backend(args.backend)
    cost = cost_module(be)
    cache = args.cache or CACHE / f"gas_{args.backend}.json"
    cache.parent.mkdir(parents=True, exist_ok=True)
    cases = random_cases(args.random, args.seed, args.random_rows, args.max_macs, getattr(cost, "FIT_VARIANTS", ()))
    cases += [] if args.no_benchmark else benchmark_cases(CACHE / "bench_models", args.rows)
    records = measure_all(cases, args.backend, cache)
    prepare(records, cost)
    info: dict[str, Any] = {
        "fitted": datetime.date.today().isoformat(),
        "command": f"python bench/fit_gas_model.py --backend {args.backend}",
        "chain": "embedded (py-evm, Prague)",
        "models": len(records),
        "benchmark_models": sorted(r["name"] for r in records if r["kind"] == "benchmark"),
    }
    model = GasModel(args.backend, fit(records, cost), info)
    info["max_abs_error_pct"] = print_report(evaluate(records, args.backend, model))
    info["cross_validated_max_abs_error_pct"] = cross_validate(records, args.backend, cost)
    print("5-fold cross-validation (models unseen by their fit):", json.dumps(info["cross_validated_max_abs_error_pct"]))
    from importlib import resources

    out = args.out or Path(str(resources.files(_backend_package(be)))) / GAS_MODEL_FILE
    out.write_text(json.dumps(model.to_json(), indent=2) + "\n")
    print(f"wrote {out} ({len(records)} models)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
