"""``ml2sc estimate --fitted``: deployment and inference gas predicted from the IR, no solc, no EVM.

``ml2sc estimate`` itself counts (``tools.plan``: solc, then one execution in an
in-process EVM, re-priced per fork), which is exact; this fitted model stays for what
must not compile or run anything (about a second; a few percent off on models unlike
its fit set) and is what ``bench/fit_gas_model.py`` fits. It prices Prague only.

The model has ML2SC's form (deployment, upload and inference as sums of
fitted constants times counts of layers, neurons, weights ...), fitted per
backend on measured runs. What the protocol fixes is computed exactly rather
than fitted: the 21,000 of a transaction, the calldata of an inference (the
driver's default entry point: ``predictPacked`` when the backend packs rows,
else ``predict(int256[])``) and the EIP-7623 calldata floor. What the code
costs is fitted: the execution gas of a row, and deployment (which is mostly
200 gas per code byte plus the initcode as calldata).

A backend opts in with two files in its package, so that a third-party backend
can ship its own model:
- ``cost.py``: ``TERMS`` (quantity -> feature names) and
  ``cost_features(module, batch_rows) -> dict[str, float]`` counting on the IR
  after the backend's pipeline;
- ``gas_model.json``: the coefficients, written by ``bench/fit_gas_model.py``.

Quantities (a backend fits those that apply to it):
- ``deploy``: gas of all deployment transactions (every contract);
- ``upload``: gas of the post-deployment setup transactions (storage uploads);
- ``runtime_bytes``: deployed code size, to flag models over the EIP-170 limit;
- ``inference_exec``: EVM execution gas of one inference (without 21,000 and calldata);
- ``batch_extra``: what ``predictBatch`` of n rows costs beyond n inference executions.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from types import ModuleType
from typing import Any

import numpy as np
from eth_abi import encode

from ml2sc.backends.base import Backend
from ml2sc.backends.common.evm import CODE_SIZE_LIMIT
from ml2sc.backends.common.naming import selector
from ml2sc.chain import TX_BASE_GAS, TX_GAS_CAP, calldata_floor, intrinsic_gas
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Module

GAS_MODEL_FILE = "gas_model.json"
DEFAULT_BATCH_ROWS = 50  # the rows of one predictBatch call in `ml2sc bench` (ML2SC's 50 test rows)
DEFAULT_ROWS = 16  # synthetic rows for calldata when no data is given
QUANTITIES = ("deploy", "upload", "runtime_bytes", "inference_exec", "batch_extra")


@dataclass(frozen=True)
class GasModel:
    """Fitted coefficients of one backend: quantity -> feature -> gas per unit."""

    backend: str
    coefficients: dict[str, dict[str, float]]
    info: dict[str, Any] = field(default_factory=dict)

    def predict(self, quantity: str, features: dict[str, float]) -> float | None:
        terms = self.coefficients.get(quantity)
        if terms is None:
            return None
        missing = [k for k in terms if k not in features]
        if missing:
            raise Ml2scError(f"gas model of '{self.backend}' uses feature '{missing[0]}' that its cost.py no longer counts; refit it")
        return sum(c * features[k] for k, c in terms.items())

    def to_json(self) -> dict[str, Any]:
        return {"backend": self.backend, "coefficients": self.coefficients, "info": self.info}


@dataclass(frozen=True)
class Estimate:
    """Predicted gas of one model on one backend (receipts' gas_used, calldata included)."""

    model: str
    backend: str
    deploy_gas: int
    upload_gas: int | None
    runtime_bytes: int | None
    inference_gas: int
    inference_exec_gas: int
    inference_calldata_gas: int
    batch_rows: int
    batch_gas: int | None
    batch_gas_per_row: float | None
    calldata_from: str
    features: dict[str, float] = field(default_factory=dict)

    @property
    def total_deploy_gas(self) -> int:
        return self.deploy_gas + (self.upload_gas or 0)

    @property
    def over_code_limit(self) -> bool:
        return self.runtime_bytes is not None and self.runtime_bytes > CODE_SIZE_LIMIT

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "features" and v is not None}
        out["total_deploy_gas"] = self.total_deploy_gas
        if self.runtime_bytes is not None:
            out["over_code_size_limit"] = self.over_code_limit
        return out


# ------------------------------------------------------------------ backend side
def _backend_package(backend: Backend) -> str:
    """The package holding the backend's cost model and its fitted ``gas_model.json``."""
    name = backend.cost_model or type(backend).__module__
    return name.rpartition(".")[0] or name


def cost_module(backend: Backend) -> ModuleType:
    """The module the backend declares as its ``cost_model``."""
    name = backend.cost_model
    if not name:
        raise Ml2scError(_no_model(backend, "it declares no cost_model"))
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:
            raise
        raise Ml2scError(_no_model(backend, f"its cost_model {name} does not exist")) from None
    if not hasattr(module, "cost_features") or not hasattr(module, "TERMS"):
        raise Ml2scError(_no_model(backend, f"{name} defines no cost_features/TERMS"))
    return module


def _no_model(backend: Backend, why: str) -> str:
    return (f"backend '{backend.name}' has no gas model ({why}); fit one with "
            f"'python bench/fit_gas_model.py --backend {backend.name}'")


def load_gas_model(backend: Backend) -> GasModel:
    """The fitted coefficients shipped in the backend's package (``gas_model.json``)."""
    cost_module(backend)
    package = _backend_package(backend)
    try:
        text = resources.files(package).joinpath(GAS_MODEL_FILE).read_text()
    except (FileNotFoundError, ModuleNotFoundError):
        raise Ml2scError(_no_model(backend, f"no {GAS_MODEL_FILE} in {package}")) from None
    data = json.loads(text)
    return GasModel(data.get("backend", backend.name), data["coefficients"], data.get("info", {}))


# ---------------------------------------------------------------- calldata (exact)
Packer = Callable[[list[int]], "list[int] | bytes | None"]


def packer(backend: Backend, module: Module) -> Packer:
    """How the driver packs a row for ``predictPacked``: ``backend.pack_row``, unless the
    backend's cost.py defines ``pack_row(backend, module, row)`` (for backends whose packing
    needs state that only emission sets)."""
    custom = getattr(cost_module(backend), "pack_row", None)
    return (lambda row: custom(backend, module, row)) if custom else backend.pack_row


def inference_calldata(pack: Packer, row: list[int]) -> bytes:
    """What the driver sends for one row by default (``DeployedModel.predict_raw``)."""
    packed = pack(row)
    if isinstance(packed, bytes):  # one byte per input (int8-style packing)
        return selector("predictPacked(bytes)") + encode(["bytes"], [packed])
    if packed is not None:
        return selector("predictPacked(uint256[])") + encode(["uint256[]"], [packed])
    return selector("predict(int256[])") + encode(["int256[]"], [row])


def batch_calldata(pack: Packer, rows: list[list[int]]) -> bytes | None:
    """``predictBatch`` calldata for these rows (as ``predict_batch_raw`` sends it), or None
    if a row does not pack."""
    packed = [pack(r) for r in rows]
    if packed and all(isinstance(p, bytes) for p in packed):
        return selector("predictBatch(bytes)") + encode(["bytes"], [b"".join(packed)])  # type: ignore[arg-type]
    if any(p is None or isinstance(p, bytes) for p in packed):
        return None
    flat = [w for p in packed for w in p]  # type: ignore[union-attr]
    return selector("predictBatch(uint256[])") + encode(["uint256[]"], [flat])


def transaction_gas(data: bytes, execution: float) -> float:
    """A receipt's gas: 21,000 + calldata + execution, or the EIP-7623 floor if that is more."""
    return max(intrinsic_gas(data) + execution, calldata_floor(data))


def synthetic_inputs(n_inputs: int, rows: int = DEFAULT_ROWS) -> np.ndarray:
    """Inputs when the user gives none: uniform in [0, 1), like min-max scaled features."""
    return np.random.default_rng(0).uniform(0.0, 1.0, (rows, n_inputs)).astype(np.float32)


# ------------------------------------------------------------------- the estimate
def lower(module_or_model: Any, backend: Backend, pipeline: str | None = None,
          calibration: np.ndarray | None = None) -> Module:
    """The IR the backend's emitter would see: a CompiledModel's IR, or the pipeline run on the
    float IR of a Module or of anything ``ml2sc.compile`` accepts (ONNX, a path, a framework
    model), with ``calibration`` rows for the passes that choose ranges from data (as compile)."""
    from ml2sc.compiler.driver import CompiledModel

    if isinstance(module_or_model, CompiledModel):
        return module_or_model.ir
    return _run_pipeline(float_ir(module_or_model), backend, pipeline, calibration)


def float_ir(module_or_model: Any) -> Module:
    """A Module as it is, else the float IR of what ``ml2sc.compile`` accepts."""
    from ml2sc.compiler.driver import load_onnx_ir

    return module_or_model if isinstance(module_or_model, Module) else load_onnx_ir(module_or_model)[0]


def _run_pipeline(module: Module, backend: Backend, pipeline: str | None, calibration: np.ndarray | None) -> Module:
    from ml2sc.compiler.passes.manager import PassManager

    manager = PassManager.from_pipeline(backend.pipeline if pipeline is None else pipeline)
    if calibration is not None:
        manager.passes = [_with_calibration(p, calibration) for p in manager.passes]
    return manager.run(module)


def _with_calibration(p: Any, calibration: np.ndarray) -> Any:
    names = {f.name for f in dataclasses.fields(p)} if dataclasses.is_dataclass(p) else set()
    return dataclasses.replace(p, calibration=calibration) if "calibration" in names else p


def estimate(
    module_or_model: Any,
    backend: str | Backend = "prbmath",
    *,
    pipeline: str | None = None,
    data: np.ndarray | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    calibration: np.ndarray | None = None,
    gas_model: GasModel | None = None,
) -> Estimate:
    """Predict deployment, per-inference and batched gas of a model on ``backend``.

    ``data`` (float rows, as for ``ml2sc run --data``) only sets the calldata of the
    inference transactions, which the protocol prices per zero/non-zero byte; without
    it, rows uniform in [0, 1) stand in. ``calibration`` (default: ``data``) feeds the
    passes that choose quantization ranges from data, as in ``ml2sc.compile``. Execution
    gas comes from the fitted model (``gas_model``, default: the one the backend ships).
    """
    from ml2sc.compiler.driver import CompiledModel, get_backend

    be = get_backend(backend) if isinstance(backend, str) else backend
    model = gas_model or load_gas_model(be)
    cost = cost_module(be)
    if batch_rows < 1:
        raise Ml2scError(f"batch rows must be at least 1, got {batch_rows}")
    if isinstance(module_or_model, CompiledModel):
        ir = module_or_model.ir
        x = _input_rows(data, ir)
    else:  # the rows also calibrate the passes that need data (int8), as `ml2sc run` does with --data
        module = float_ir(module_or_model)
        x = _input_rows(data, module)
        ir = _run_pipeline(module, be, pipeline, x if calibration is None else calibration)
    features = cost.cost_features(ir, batch_rows=batch_rows)
    rows = be.quantize_inputs(ir, x)
    execution = model.predict("inference_exec", features) or 0.0
    pack = packer(be, ir)
    calls = [inference_calldata(pack, r) for r in rows]
    inference = float(np.mean([transaction_gas(c, execution) for c in calls]))
    calldata = float(np.mean([intrinsic_gas(c) - TX_BASE_GAS for c in calls]))
    batch, per_row = _batch(model, pack, features, rows, execution, batch_rows)
    upload = model.predict("upload", features)
    size = model.predict("runtime_bytes", features)
    return Estimate(
        model=ir.name, backend=be.name,
        deploy_gas=round(model.predict("deploy", features) or 0.0),
        upload_gas=None if upload is None else round(upload),
        runtime_bytes=None if size is None else round(size),
        inference_gas=round(inference), inference_exec_gas=round(execution),
        inference_calldata_gas=round(calldata),
        batch_rows=batch_rows, batch_gas=None if batch is None else round(batch),
        batch_gas_per_row=None if per_row is None else round(per_row, 1),
        calldata_from="data" if data is not None else f"{DEFAULT_ROWS} synthetic rows in [0, 1)",
        features=features,
    )


def _input_rows(data: np.ndarray | None, module: Module) -> np.ndarray:
    n = module.inputs[0].type.size
    if data is None:
        return synthetic_inputs(n)
    x = np.asarray(data, dtype=np.float32)
    x = x.reshape(1, -1) if x.ndim == 1 else x.reshape(len(x), -1)
    if x.shape[1] != n or len(x) == 0:
        raise Ml2scError(f"estimate: the data rows have shape {tuple(np.shape(data))}; the model takes {n} inputs per row")
    return x


def _batch(model: GasModel, pack: Packer, features: dict[str, float], rows: list[list[int]],
           execution: float, n: int) -> tuple[float | None, float | None]:
    extra = model.predict("batch_extra", features)
    if extra is None:
        return None, None
    data = batch_calldata(pack, [rows[i % len(rows)] for i in range(n)])
    if data is None:
        return None, None
    total = transaction_gas(data, n * execution + extra)
    return total, total / n


# ---------------------------------------------------------------------------- CLI
def estimate_command(args: Any, data: np.ndarray | None, calibration: np.ndarray | None) -> int:
    """``ml2sc estimate MODEL --backend B [--data X.npy] [--fork F] [--tx-gas-cap N] [--fitted] [--json]``:
    the counted plan (``tools.plan``), or with ``--fitted`` the fitted model's figures."""
    if not getattr(args, "fitted", False):
        from ml2sc.tools.plan import plan, print_plan

        cap = getattr(args, "plan_tx_gas_cap", None)
        result = plan(args.model, args.backend, fork=getattr(args, "fork", "prague"),
                      pipeline=_with_cap(args.pipeline, args.backend, cap), data=data, calibration=calibration,
                      batch_rows=args.batch_rows, tx_gas_cap=TX_GAS_CAP if cap is None else cap)
        if args.json:
            print(json.dumps(result.to_json(), indent=2))
        else:
            print_plan(result)
        return 0
    if getattr(args, "fork", "prague") != "prague":
        raise Ml2scError("--fitted prices Prague only (its coefficients are fitted there); drop --fitted for another fork")
    est = estimate(args.model, args.backend, pipeline=args.pipeline, data=data,
                   batch_rows=args.batch_rows, calibration=calibration)
    if args.json:
        print(json.dumps(est.to_json(), indent=2))
    else:
        print_estimate(est)
    return 0


def _with_cap(pipeline: str | None, backend: str, cap: int | None) -> str | None:
    """The pipeline with ``place-weights{tx_gas_cap=cap}`` when it has that pass (int8 compiles an inference
    over the cap as steps, as ``ml2sc run --tx-gas-cap`` does); other pipelines as they are."""
    from ml2sc.compiler.driver import get_backend

    full = pipeline if pipeline is not None else get_backend(backend).pipeline
    if cap is None or "place-weights" not in full:
        return pipeline
    before, _, after = full.partition("place-weights")
    options = f"tx_gas_cap={cap}"
    if after.startswith("{"):
        existing, _, after = after[1:].partition("}")
        options = f"{existing},{options}" if existing else options
    return f"{before}place-weights{{{options}}}{after}"


def print_estimate(est: Estimate) -> None:
    """The estimate as a rich table (the CLI's default output)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{est.model}: estimated gas ({est.backend} backend, no chain)")
    table.add_column("")
    table.add_column("gas", justify="right")
    table.add_row("deployment", f"{est.deploy_gas:,}")
    if est.upload_gas is not None:
        table.add_row("upload after deployment", f"{est.upload_gas:,}")
        table.add_row("deployment + upload", f"{est.total_deploy_gas:,}")
    if est.runtime_bytes is not None:
        table.add_row("runtime code size (bytes)", f"{est.runtime_bytes:,}")
    table.add_row("inference, per transaction", f"{est.inference_gas:,}")
    table.add_row("  EVM execution", f"{est.inference_exec_gas:,}")
    table.add_row("  calldata", f"{est.inference_calldata_gas:,}")
    if est.batch_gas is not None:
        table.add_row(f"predictBatch of {est.batch_rows} rows", f"{est.batch_gas:,}")
        table.add_row("  per row", f"{est.batch_gas_per_row:,.1f}")
    console = Console()
    console.print(table)
    console.print(f"calldata from {est.calldata_from}; every transaction includes its 21,000 base")
    if est.over_code_limit:
        console.print(f"[bold]warning:[/] ~{est.runtime_bytes:,} bytes of code exceed the "
                      f"{CODE_SIZE_LIMIT:,}-byte limit (EIP-170): '{est.backend}' cannot deploy this model")
