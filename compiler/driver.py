"""The library face: ``ml2sc.compile(model)`` and what it returns.

One call takes an ONNX model (object or path) through import, the backend's
pipeline and emission; the result compiles with solc on demand, simulates
bit-exactly, and deploys to a chain whose handle predicts and reports gas.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from eth_abi import decode, encode
from eth_utils import keccak

from ml2sc.backends.base import Backend, Program
from ml2sc.backends.common.evm import CODE_SIZE_LIMIT
from ml2sc.backends.common.link import link
from ml2sc.backends.common.naming import selector
from ml2sc.chain import Chain, Reverted, TxResult, open_chain
from ml2sc.compiler.passes.manager import PassManager
from ml2sc.compiler.registry import backends as backend_registry
from ml2sc.compiler.solc import CompiledContract, compile_solidity
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Module
from ml2sc.ir.printer import print_module


def decode_outputs(program: Program, flat_rows: list[list[int]], exact: bool = False) -> dict[str, np.ndarray]:
    """Flat integer outputs per row -> arrays keyed and typed as onnxruntime returns them.

    ``exact`` keeps real outputs in float64 (validation compares the contract's numbers,
    not their float32 copies)."""
    result: dict[str, np.ndarray] = {}
    for slot in program.outputs:
        values = [row[slot.offset : slot.offset + slot.size] for row in flat_rows]
        if slot.scale is not None:  # quantized (int8 backend): real = scale * (q - zero_point)
            arr = (np.asarray(values, dtype=np.float64) - slot.zero_point) * slot.scale
            arr = arr if exact else arr.astype(np.float32)
        elif slot.decimals is None:
            arr = np.asarray(values, dtype=np.int64)
        else:
            arr = np.asarray(values, dtype=object).astype(np.float64) / 10**slot.decimals
            arr = arr if exact else arr.astype(np.float32)
        result[slot.name] = arr.reshape((len(flat_rows), *slot.shape))
    return result


@dataclass
class GasReport:
    """Gas as the receipts reported it: deployment, and one entry per inference transaction."""

    deploy: int
    runtime_bytes: int
    upload: list[int] = field(default_factory=list)  # post-deployment setup transactions
    inference: list[int] = field(default_factory=list)
    inference_exec: list[int] = field(default_factory=list)
    batch: int | None = None
    batch_rows: int = 0
    contracts: list[tuple[str, int]] = field(default_factory=list)  # (contract, deploy gas), in deploy order
    transactions_per_row: int = 1  # > 1: a model whose inference runs in steps (compiler/steps.py)

    def summary(self) -> dict[str, Any]:
        inf = self.inference
        out: dict[str, Any] = {"deploy_gas": self.deploy, "runtime_bytes": self.runtime_bytes}
        if len(self.contracts) > 1:  # data contracts first, then the model (deploy_gas is their total)
            out |= {"deploy_gas_per_contract": [{"contract": c, "gas": g} for c, g in self.contracts],
                    "deploy_gas_max_transaction": max(g for _, g in self.contracts)}
        if self.upload:
            out |= {"upload_gas": sum(self.upload), "upload_transactions": len(self.upload)}
        if inf:
            out |= {
                "inference_gas_mean": round(sum(inf) / len(inf), 1),
                "inference_gas_max": max(inf),
                "inference_gas_min": min(inf),
                "inference_gas_beyond_base_max": max(inf) - 21_000,
                "inference_exec_gas_max": max(self.inference_exec),
                "inference_exec_gas_mean": round(sum(self.inference_exec) / len(self.inference_exec), 1),
                "inferences": len(inf),
                "inference_transactions_per_row": self.transactions_per_row,
            }
            if self.transactions_per_row > 1:  # inference_gas_* are then per transaction
                out["inference_gas_per_row_mean"] = round(sum(inf) * self.transactions_per_row / len(inf), 1)
        if self.batch is not None:
            out |= {"batch_gas": self.batch, "batch_rows": self.batch_rows}
        return out


@dataclass
class DeployedModel:
    """A model contract on a chain: predicts with real transactions and keeps their gas."""

    compiled: CompiledModel
    chain: Chain
    address: str
    gas: GasReport

    def _transact(self, calldata: bytes, action: str) -> TxResult:
        cap = self.compiled.program.metadata.get("tx_gas_cap")  # compiled for a lower cap: send with it
        try:
            if cap:
                return self.chain.transact(self.address, calldata, gas=int(cap))  # type: ignore[call-arg]
            return self.chain.transact(self.address, calldata)
        except Reverted as e:
            raise self.compiled.explain(e, action) from None

    def _call(self, calldata: bytes, action: str) -> bytes:
        try:
            return self.chain.call(self.address, calldata)
        except Reverted as e:
            raise self.compiled.explain(e, action) from None

    def _calldata(self, row: list[int], packed: bool) -> bytes:
        if packed:
            words = self.compiled.backend.pack_row(row)
            if isinstance(words, bytes):  # int8-style packing: one byte per input
                return selector("predictPacked(bytes)") + encode(["bytes"], [words])
            if words is not None:
                return selector("predictPacked(uint256[])") + encode(["uint256[]"], [words])
        return selector("predict(int256[])") + encode(["int256[]"], [row])

    def predict_raw(self, rows: list[list[int]], packed: bool = True) -> list[list[int]]:
        """One transaction per row; returns the contract's integers and records each receipt's gas.
        A model compiled in steps (its inference over the cap) runs each row as begin + its steps."""
        from ml2sc.compiler import steps

        if steps.steps_of(self):
            self.gas.transactions_per_row = 1 + steps.steps_of(self)
            return [steps.predict_row(self, row) for row in rows]
        out = []
        for row in rows:
            calldata = self._calldata(row, packed)
            tx = self._transact(calldata, f"{self.compiled.program.contract_name}.{_function_name(calldata)}")
            self.gas.inference.append(tx.gas_used)
            self.gas.inference_exec.append(tx.execution_gas)
            out.append(list(decode(["int256[]"], tx.output)[0]))
        return out

    def call_raw(self, rows: list[list[int]], packed: bool = True) -> list[list[int]]:
        """One ``eth_call`` per row: the same return data as ``predict_raw``, no transaction, no gas."""
        out = []
        for row in rows:
            calldata = self._calldata(row, packed)
            data = self._call(calldata, f"{self.compiled.program.contract_name}.{_function_name(calldata)}")
            out.append(list(decode(["int256[]"], data)[0]))
        return out

    def predict_batch_raw(self, rows: list[list[int]]) -> list[list[int]]:
        """All rows in one ``predictBatch`` transaction (rows packed as for predictPacked)."""
        n_steps = int(self.compiled.program.metadata.get("steps", 0))
        if n_steps:
            raise Ml2scError(f"one inference of this model takes {n_steps} transactions (its gas is over the cap): "
                             "predictBatch cannot fit in one; use predict_raw")
        packed = [self.compiled.backend.pack_row(row) for row in rows]
        if packed and all(isinstance(p, bytes) for p in packed):
            blob = b"".join(packed)  # type: ignore[arg-type]
            tx = self._transact(selector("predictBatch(bytes)") + encode(["bytes"], [blob]), "predictBatch")
            return self._batch_result(tx, len(rows))
        if any(p is None for p in packed):
            raise Ml2scError("predictBatch takes packed int64 inputs; a value does not fit (use predict per row)")
        flat = [w for p in packed for w in p]  # type: ignore[union-attr]
        tx = self._transact(selector("predictBatch(uint256[])") + encode(["uint256[]"], [flat]), "predictBatch")
        return self._batch_result(tx, len(rows))

    def _batch_result(self, tx: TxResult, n_rows: int) -> list[list[int]]:
        self.gas.batch, self.gas.batch_rows = tx.gas_used, n_rows
        ys = list(decode(["int256[]"], tx.output)[0])
        n = self.compiled.program.n_outputs
        return [ys[i * n : (i + 1) * n] for i in range(n_rows)]

    def predict(self, x: np.ndarray, packed: bool = True) -> dict[str, np.ndarray]:
        rows = self.compiled.quantize(x)
        return decode_outputs(self.compiled.program, self.predict_raw(rows, packed))

    def call(self, x: np.ndarray, packed: bool = True) -> dict[str, np.ndarray]:
        """``predict`` through ``eth_call``: the same outputs, no transaction (no gas, no key needed)."""
        return decode_outputs(self.compiled.program, self.call_raw(self.compiled.quantize(x), packed))

    def classify(self, x: np.ndarray) -> np.ndarray:
        rows = self.compiled.quantize(x)
        sel = selector("classify(int256[])")
        return np.asarray(
            [decode(["int256"], self._call(sel + encode(["int256[]"], [r]), "classify"))[0] for r in rows],
            dtype=np.int64,
        )

    def model_hash(self) -> bytes:
        return decode(["bytes32"], self._call(selector("modelHash()"), "modelHash"))[0]


def emit_program(backend: Backend, module: Module) -> tuple[Module, Program]:
    """The backend's program for ``module``, and the module it came from.

    A program its backend marks ``near-limit`` (one contract by an estimate that cannot tell
    300 bytes under EIP-170 from 300 over) is compiled here; if solc's code is over the limit,
    the backend's ``spread`` of the module (the split written on the IR) is emitted instead,
    and that module is the one to hash, record and simulate."""
    program = backend.emit(module)
    if program.metadata.get("code_size") != "near-limit":
        return module, program
    if compile_solidity(program.sources)[program.contract_name].runtime_size <= CODE_SIZE_LIMIT:
        return module, program
    spread = backend.spread(module)
    return (module, program) if spread is None else (spread, backend.emit(spread))


@dataclass
class CompiledModel:
    """Everything one compilation produced; Solidity is compiled to bytecode on first use."""

    float_ir: Module
    ir: Module
    program: Program
    backend: Backend
    onnx_model: Any = None
    agreement: float | None = None  # int8: share of calibration rows deciding as the float model

    @property
    def solidity(self) -> str:
        return self.program.solidity

    @property
    def ir_text(self) -> str:
        return print_module(self.ir)

    @cached_property
    def artifact(self) -> CompiledContract:
        result = compile_solidity(self.program.sources)
        contract = result[self.program.contract_name]
        if contract.runtime_size > CODE_SIZE_LIMIT:  # before the warnings: solc warns about this too
            raise Ml2scError(
                f"contract {contract.name} is {contract.runtime_size:,} bytes, over the {CODE_SIZE_LIMIT:,}-byte "
                f"code size limit (EIP-170), and the {self.backend.name} backend did not split it over several "
                "contracts" + (" (int8: place-weights{split=tiles} forces tile contracts)"
                               if self.backend.name == "int8" else "")
            )
        if result.warnings:
            raise Ml2scError(f"generated Solidity compiled with warnings: {result.warnings[0].splitlines()[0]}")
        interface = self.program.metadata.get("abi_interface")
        if not interface:
            return contract
        # The contract serves the interface's functions with hand-written return data; its
        # callers need the interface's ABI (same selectors, declared return types).
        iface_abi = result[interface].abi
        names = {(item.get("type"), item.get("name")) for item in iface_abi}
        extra = [item for item in contract.abi if (item.get("type"), item.get("name")) not in names]
        return replace(contract, abi=iface_abi + extra)

    def _deploy_data(
        self, chain: Chain, progress: bool, journal: DeployJournal | None
    ) -> tuple[list[str], list[tuple[str, int]]]:
        """Deploy each data contract, or reuse the one the journal recorded if the chain holds
        exactly its code there: an interrupted deployment resumes without deploying twice."""
        blobs = self.program.data_contracts
        if not blobs:
            return [], []
        from tqdm import tqdm

        addresses, gas = [], []
        bar = tqdm(blobs, desc="data contracts", unit="contract", disable=not progress or len(blobs) < 2 or None)
        for k, runtime in enumerate(bar):
            names = self.program.data_contract_names
            label = f"{self.program.contract_name}.{names[k] if k < len(names) else f'data{k}'}"
            reused = journal.lookup(chain, runtime) if journal else None
            if reused:
                addresses.append(reused)
                gas.append((f"{label} (already deployed)", 0))
                continue
            tx = chain.deploy(data_initcode(runtime))
            addresses.append(tx.address or "")
            gas.append((label, tx.gas_used))
            if journal:
                journal.record(chain, runtime, tx.address or "")
        return addresses, gas

    def quantize(self, x: np.ndarray, source: str = "input rows") -> list[list[int]]:
        """Float rows -> the contract's integers, after checking them against the model (one-line
        errors naming ``source``, the row and the column): numeric, finite, the model's width,
        inside the contract's input range."""
        from ml2sc.compiler.data import check_range, check_rows, onnx_row_shape

        x = check_rows(x, self.program.n_inputs, source, onnx_row_shape(self.onnx_model))
        rows = self.backend.quantize_inputs(self.ir, x)
        bits = self.program.metadata.get("input_bits")
        check_range(rows, x, None if bits is None else int(bits), self.program.input_decimals, source)
        return rows

    def explain(self, exc: Reverted, action: str) -> Reverted:
        """``exc`` with its message naming the custom error (decoded with this contract's ABI)."""
        return exc.explained(self.artifact.abi, action)

    def simulate_raw(self, rows: list[list[int]]) -> list[list[int]]:
        return self.backend.simulate(self.ir, rows)

    def simulate(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return decode_outputs(self.program, self.simulate_raw(self.quantize(x)))

    def deploy(
        self, chain: Chain | str | None = None, progress: bool = True, journal: str | os.PathLike[str] | None = None
    ) -> DeployedModel:
        """Deploy the data contracts (if any), then the model with their addresses; record each one's gas.

        ``journal``: a JSON file recording each contract (data contracts, then the model and each
        of its setup calls) as soon as it is deployed; a deployment that was interrupted resumes
        from it (contracts whose code is on chain at the recorded address are reused, not
        deployed again). Useful on real networks."""
        chain = open_chain(chain or "embedded") if not hasattr(chain, "transact") else chain
        book = DeployJournal(Path(journal)) if journal is not None else None
        addresses, per_contract = self._deploy_data(chain, progress, book)  # type: ignore[arg-type]
        initcode = creation_code(self.artifact, addresses)
        address, done = self._deploy_entry(chain, initcode, book, per_contract)  # type: ignore[arg-type]
        gas = GasReport(sum(g for _, g in per_contract), self.artifact.runtime_size, contracts=per_contract)
        for k, calldata in enumerate(self.backend.setup_calls(self.ir, self.program)):
            if k < done:  # sent before an interruption (the journal counted it)
                continue
            try:
                gas.upload.append(chain.transact(address, calldata).gas_used)  # type: ignore[union-attr]
            except Reverted as e:
                raise self.explain(e, f"{self.program.contract_name}.{_function_name(calldata, self.artifact.abi)}") from None
            if book:
                book.record_entry(chain, initcode, address, k + 1)
        return DeployedModel(self, chain, address, gas)  # type: ignore[arg-type]

    def _deploy_entry(
        self, chain: Chain, initcode: bytes, book: DeployJournal | None, per_contract: list[tuple[str, int]]
    ) -> tuple[str, int]:
        """The model contract itself: reused from the journal when the chain still holds the code
        deployed from exactly this creation code (its setup calls resume where they stopped), else
        deployed and journaled at once. Returns its address and the setup calls already sent."""
        name = self.program.contract_name
        found = book.lookup_entry(chain, initcode) if book else None
        if found:
            per_contract.append((f"{name} (already deployed)", 0))
            return found
        try:
            tx = chain.deploy(initcode)
        except Reverted as e:
            raise self.explain(e, f"{name} constructor") from None
        per_contract.append((name, tx.gas_used))
        if book:
            book.record_entry(chain, initcode, tx.address or "", 0)
        return tx.address or "", 0


@dataclass
class DeployJournal:
    """Contracts already deployed, per chain, in JSON: ``{chain id: {keccak(code): address}}`` for
    data contracts, ``"entry:" + keccak(creation code)`` -> address, code hash and setup calls sent
    for the model contract itself.

    Written after every deployment (atomically, by rename), so an interruption loses at
    most the transaction in flight. An entry counts only if the chain still holds exactly
    that code at that address; anything else is deployed afresh."""

    path: Path

    def _load(self) -> dict[str, dict[str, Any]]:
        import json

        if not self.path.exists():
            return {}
        try:
            return json.loads(self.path.read_text())
        except ValueError as e:
            raise Ml2scError(f"deployment journal '{self.path}' is not valid JSON: {e}") from None

    @staticmethod
    def _chain_key(chain: Any) -> str:
        return str(getattr(chain, "chain_id", getattr(chain, "name", "chain")))

    def lookup(self, chain: Any, runtime: bytes) -> str | None:
        address = self._load().get(self._chain_key(chain), {}).get("0x" + keccak(runtime).hex())
        if address and hasattr(chain, "code") and chain.code(address) == runtime:
            return address
        return None

    def record(self, chain: Any, runtime: bytes, address: str) -> None:
        book = self._load()
        book.setdefault(self._chain_key(chain), {})["0x" + keccak(runtime).hex()] = address
        self._save(book)

    def lookup_entry(self, chain: Any, initcode: bytes) -> tuple[str, int] | None:
        """The model contract deployed from ``initcode`` (constructor arguments included) and the
        setup calls already sent to it, if the chain still holds the code recorded right after
        its deployment at that address (its runtime has immutables, so that code is the check)."""
        entry = self._load().get(self._chain_key(chain), {}).get("entry:0x" + keccak(initcode).hex())
        if not isinstance(entry, dict) or not hasattr(chain, "code"):
            return None
        if "0x" + keccak(chain.code(entry["address"])).hex() != entry.get("codeHash"):
            return None
        return entry["address"], int(entry.get("setup", 0))

    def record_entry(self, chain: Any, initcode: bytes, address: str, setup_done: int) -> None:
        """Journal the model contract once deployed, and after each setup call it received."""
        if not hasattr(chain, "code"):  # nothing to check a later resume against
            return
        book = self._load()
        section = book.setdefault(self._chain_key(chain), {})
        key = "entry:0x" + keccak(initcode).hex()
        previous = section.get(key) if isinstance(section.get(key), dict) else {}
        code_hash = previous.get("codeHash") if previous.get("address") == address else None
        code_hash = code_hash or "0x" + keccak(chain.code(address)).hex()
        section[key] = {"address": address, "codeHash": code_hash, "setup": setup_done}
        self._save(book)

    def note(self, chain: Any, address: str, info: dict[str, Any]) -> None:
        """Keep what a deployment record wants of a transaction (hash, block, gas) by address,
        so that a resumed deployment still records the contracts an earlier run deployed."""
        book = self._load()
        book.setdefault(self._chain_key(chain), {}).setdefault("transactions", {})[address.lower()] = info
        self._save(book)

    def notes(self, chain: Any) -> dict[str, dict[str, Any]]:
        return self._load().get(self._chain_key(chain), {}).get("transactions", {})

    def _save(self, book: dict[str, Any]) -> None:
        import json

        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(json.dumps(book, indent=2))
        os.replace(tmp, self.path)


def takes_addresses(artifact: CompiledContract) -> bool:
    """Whether the contract's constructor takes the data contracts' addresses (``address[]``);
    else they are linked into its code."""
    return any(item.get("type") == "constructor" and item.get("inputs") for item in artifact.abi)


def creation_code(artifact: CompiledContract, addresses: list[str]) -> bytes:
    """What deploys the model once its data contracts are at ``addresses``: the creation code
    with them linked (``backends/common/link.py``), or followed by them as the constructor's
    argument."""
    if takes_addresses(artifact):
        return artifact.bytecode + encode(["address[]"], [addresses])
    return link(artifact.bytecode, addresses)


def data_initcode(runtime: bytes) -> bytes:
    """Creation code that returns ``runtime`` as the new contract's code (SSTORE2 style):
    PUSH2 len, DUP1, PUSH1 10, PUSH0, CODECOPY, PUSH0, RETURN, then the runtime bytes."""
    if len(runtime) > CODE_SIZE_LIMIT:
        raise Ml2scError(f"data contract of {len(runtime):,} bytes is over the {CODE_SIZE_LIMIT:,}-byte code size limit")
    return bytes.fromhex("61") + len(runtime).to_bytes(2, "big") + bytes.fromhex("80600a5f395ff3") + runtime


def load_onnx_ir(
    model: Any,
    name: str | None = None,
    sample_input: Any = None,
    n_features: int | None = None,
) -> tuple[Module, Any]:
    """Accept any model ``compile`` does; return the float IR and the ONNX model it came from.

    Framework models (PyTorch, Keras, scikit-learn) are exported by their frontend
    first; the framework is recognised from the object's classes, so compiling an
    ONNX file never imports one. The ONNX model is kept for validation against
    onnxruntime.
    """
    from ml2sc.frontends.detect import detect_framework
    from ml2sc.ir.onnx import import_onnx

    framework = detect_framework(model)
    if framework == "path":
        from ml2sc.frontends.files import is_framework_file, load_model_file

        if is_framework_file(model):  # model.keras, model.pt, model.pkl: the framework's own file
            loaded = load_model_file(model)
            return load_onnx_ir(loaded, name or Path(model).stem, sample_input, n_features)
        import onnx

        module = import_onnx(model, name=name or Path(model).stem)
        return module, onnx.load_model(os.fspath(model))
    if framework == "unknown" and type(model).__name__ == "ModelProto":
        framework = "onnx"  # a ModelProto from a protobuf build that lives outside the onnx package
    if framework == "onnx":
        return import_onnx(model, name=name), model
    from ml2sc.frontends.dispatch import to_onnx

    proto = to_onnx(model, sample_input=sample_input, n_features=n_features, name=name)
    return import_onnx(proto, name=name), proto


def takes_calibration(p: Any) -> bool:
    """Whether a pass has a ``calibration`` option (chooses ranges from input rows)."""
    return dataclasses.is_dataclass(p) and "calibration" in {f.name for f in dataclasses.fields(p)}


def with_calibration(p: Any, calibration: Any) -> Any:
    """The pass with its ``calibration`` option set (passes without that option unchanged)."""
    return dataclasses.replace(p, calibration=calibration) if takes_calibration(p) else p


def checked_calibration(calibration: Any, float_ir: Module, onnx_model: Any = None, what: str = "calibration") -> np.ndarray:
    """Calibration rows (an array or a data file path) checked against the imported model;
    ``what`` names the file in errors (the CLI's run/validate calibrate with their --data)."""
    from ml2sc.compiler.data import (
        calibration_source,
        check_calibration_range,
        check_rows,
        onnx_row_shape,
        read_array,
    )

    source = calibration_source(calibration, what)
    if isinstance(calibration, str | os.PathLike):
        calibration = read_array(calibration, what)
    rows = check_rows(calibration, float_ir.inputs[0].type.size, source, onnx_row_shape(onnx_model))
    return check_calibration_range(rows, source)


def _function_name(calldata: bytes, abi: list[dict] | None = None) -> str:
    """The function a calldata calls, by its selector (the ABI's functions and the model entry points)."""
    names = ["predict(int256[])", "predictPacked(bytes)", "predictPacked(uint256[])", "predictBatch(bytes)",
             "predictBatch(uint256[])", "classify(int256[])"]
    names += [f"{f['name']}({','.join(p['type'] for p in f['inputs'])})" for f in abi or [] if f.get("type") == "function"]
    return next((n.split("(")[0] for n in names if selector(n) == calldata[:4]), "call")


def get_backend(name: str) -> Backend:
    cls = backend_registry.get(name)
    return cls() if isinstance(cls, type) else cls


def compile(  # noqa: A001 - the public name the design promises
    model: Any,
    backend: str = "prbmath",
    pipeline: str | None = None,
    name: str | None = None,
    sample_input: Any = None,
    n_features: int | None = None,
    calibration: Any = None,
    calibration_name: str = "calibration",
    accept_loss: bool = False,
) -> CompiledModel:
    """Model -> CompiledModel for ``backend`` (default pipeline unless given).

    ``model`` is an ``onnx.ModelProto``, a path to a .onnx file, or a trained
    framework model straight from the user's script: a PyTorch ``nn.Module``, a
    Keras 3 model or a scikit-learn estimator/Pipeline, exported through
    ``ml2sc.frontends``. ``sample_input`` (a few input rows) tells torch or Keras
    the input width when the first layer does not; ``n_features`` does so for
    scikit-learn, whose estimators record it (``n_features_in_``) and need it only
    when they do not. ``name`` names the contract (default: the file stem, the
    graph name, or the model's class or Keras name). ``calibration`` (input rows, an
    array or a .npy path) feeds the passes that choose quantization ranges from data
    (the int8 backend's ``quantize-int8``); other pipelines ignore it. ``calibration_name``
    names a calibration file in errors ("data" when the CLI calibrates with --data).
    A quantized compilation (int8) is then checked on those rows: its decisions must agree
    with the float model's on at least ``agreement.MIN_AGREEMENT`` of them, else a one-line
    error, unless ``accept_loss``; the result's ``agreement`` holds the share.
    """
    float_ir, onnx_model = load_onnx_ir(model, name=name, sample_input=sample_input, n_features=n_features)
    be = get_backend(backend)
    manager = PassManager.from_pipeline(pipeline or be.pipeline)
    from ml2sc.compiler.data import calibration_source, with_outlier_hint

    calibrated = calibration is not None and any(takes_calibration(p) for p in manager.passes)
    source = ""  # how errors name the calibration rows (a file or "calibration rows")
    if calibrated:
        # a pass takes rows (int8): the model was imported first, the rows are checked against it
        source = calibration_source(calibration, calibration_name)
        calibration = checked_calibration(calibration, float_ir, onnx_model, calibration_name)
        manager.passes = [with_calibration(p, calibration) for p in manager.passes]
    try:
        module = manager.run(float_ir)
    except Ml2scError as e:  # a quantization that failed on the rows: name an outlier if they hold one
        raise (with_outlier_hint(e, calibration, source) if calibrated else e) from None
    module, program = emit_program(be, module)
    compiled = CompiledModel(float_ir, module, program, be, onnx_model)
    if isinstance(calibration, np.ndarray) and module.attribute("number_format") == "int8":
        from ml2sc.compiler.agreement import check_agreement

        try:
            compiled.agreement = check_agreement(compiled, calibration, accept_loss)
        except Ml2scError as e:
            raise (with_outlier_hint(e, calibration, source) if calibrated else e) from None
    return compiled
