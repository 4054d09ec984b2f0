"""``ml2sc estimate``: the deployment plan of a model for a fork, with its gas counted.

The contracts ml2sc emits are mostly straight-line code, so their gas is not a thing
to fit but to count: the estimate compiles the model with solc (the artifact it would
deploy), runs it once in an in-process EVM (``chain.counting``: py-evm's Prague, no
node, no key, nothing kept) — deploying every contract, sending the setup calls and
one inference per row — and re-prices each counted transaction with the chosen fork's
gas schedule (``chain.forks``). On Prague that is the receipt's gas to the unit for the
rows it ran; on Osaka and Glamsterdam it is Prague's count with the parameters those
forks change (code deposit, cold account access, state gas, calldata floor).

The plan says what a deployment would be: one row per contract (entry, data or stage,
its code size, its deployment gas), the setup transactions, the largest transaction
against the per-transaction cap (EIP-7825), and the inference gas and transactions of
one row. A contract over the fork's code-size limit gets no gas, only
"cannot be deployed (N bytes > limit)"; nothing that depends on it is priced.

The fitted model (``tools.estimate.estimate``, ``ml2sc estimate --fitted``) remains
for what needs no solc and no EVM (about a second, a few percent off).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ml2sc.backends.base import Backend
from ml2sc.chain.forks import FORKS, TX_GAS_CAP, GasSchedule, TxCount, get_fork
from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Module

DEFAULT_ROWS = 16  # synthetic rows when no data is given
MAX_ROWS = 50  # inference is counted on at most this many rows of --data
ROWS_GAS_BUDGET = 100_000_000  # run fewer rows when they would execute more than this in all (slow models)
BATCH_EXEC_LIMIT = 60_000_000  # skip predictBatch when its execution would be longer than this (py-evm time)


@dataclass(frozen=True)
class ContractPlan:
    """One contract (or setup transaction) of the deployment."""

    name: str
    kind: str  # entry | data | stage | setup
    code_bytes: int | None
    gas: int | None  # None: cannot be deployed (see ``problem``)
    transactions: int = 1
    problem: str | None = None


@dataclass(frozen=True)
class Plan:
    """What deploying and calling a model costs on one fork; gas as receipts would report it."""

    model: str
    backend: str
    fork: str
    provisional: bool
    tx_gas_cap: int
    contracts: tuple[ContractPlan, ...]
    deploy_gas: int | None  # every contract (None when one cannot be deployed)
    upload_gas: int | None  # setup transactions after deployment (storage uploads)
    deploy_transactions: int
    largest_transaction: tuple[str, int] | None
    inference_gas: int | None  # one row: its receipts (one, or begin + steps) summed, mean over the rows run
    inference_gas_max: int | None
    inference_exec_gas: int | None
    inference_calldata_gas: int | None
    inference_transactions_per_row: int | None
    inference_largest_transaction: int | None  # the gas the cap applies to, of the largest one
    layer_gas: tuple[int, ...]
    batch_rows: int
    batch_gas: int | None
    batch_gas_per_row: float | None
    rows: int
    calldata_from: str
    decisions: dict[str, str] = field(default_factory=dict)

    @property
    def deployable(self) -> bool:
        return all(c.problem is None for c in self.contracts)

    @property
    def total_deploy_gas(self) -> int | None:
        return None if self.deploy_gas is None else self.deploy_gas + (self.upload_gas or 0)

    @property
    def runtime_bytes(self) -> int | None:
        return next((c.code_bytes for c in self.contracts if c.kind == "entry"), None)

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v is not None and k != "contracts"}
        out["contracts"] = [{k: v for k, v in asdict(c).items() if v is not None} for c in self.contracts]
        out |= {"deployable": self.deployable, "total_deploy_gas": self.total_deploy_gas,
                "runtime_bytes": self.runtime_bytes, "method": METHOD,
                "fork_source": FORKS[self.fork].source if self.fork in FORKS else None}
        if self.largest_transaction:
            out["largest_transaction"] = {"name": self.largest_transaction[0], "gas": self.largest_transaction[1]}
        return {k: v for k, v in out.items() if v is not None}


METHOD = "counted: solc, then one execution in py-evm (Prague) re-priced with the fork's gas schedule"


# ------------------------------------------------------------------ multi-transaction inference
def inference_steps(layer_gas: Sequence[int], cap: int = TX_GAS_CAP, overhead: int = 0) -> list[int]:
    """Gas of each transaction when one inference is split to fit ``cap``.

    Consecutive whole layers share a step while their gas fits ``cap - overhead``
    (``overhead``: what every step pays besides its layers: the 21,000, calldata, handing
    the activations over); a layer too big for any step alone is cut into equal tiles
    that fit. Returns one entry per transaction (its gas, overhead included): ``len()``
    is the count the plan reports, and a multi-transaction driver can cut the same way.
    """
    budget = cap - overhead
    if budget <= 0:
        raise Ml2scError(f"one inference step costs {overhead:,} gas before any layer: over the cap of {cap:,}")
    steps: list[int] = []
    current = 0
    for gas in layer_gas:
        if gas > budget:  # tiles of this layer alone
            if current:
                steps.append(current)
                current = 0
            tiles = math.ceil(gas / budget)
            steps += [math.ceil(gas / tiles)] * tiles
            continue
        if current + gas > budget:
            steps.append(current)
            current = 0
        current += gas
    if current or not steps:
        steps.append(current)
    return [s + overhead for s in steps]


def layer_weights(module: Module) -> list[float]:
    """A relative measure of each layer's execution gas, from the IR: its multiply-accumulates
    (the weight constant's size) plus its other elements (activations, tables) after it.

    Only the *split* of the counted total among layers comes from here (the total is
    counted), so the step count is exact unless a step boundary falls within a few
    percent of the cap."""
    weights: list[float] = []
    for op in module.ops:
        weight = getattr(op, "weight", None)
        if isinstance(weight, str) and weight in {c.name for c in module.constants}:
            weights.append(float(module.constant(weight).type.size))
        elif weights:
            size = op.result.type.size
            heavy = isinstance(op, ops.Sigmoid | ops.Tanh | ops.Softmax)
            weights[-1] += size * (250.0 if heavy else 2.0)  # an exponential costs a few hundred MACs
    return weights or [1.0]


# ------------------------------------------------------------------------------ the plan
def plan(
    module_or_model: Any,
    backend: str | Backend = "prbmath",
    *,
    fork: str | GasSchedule = "prague",
    pipeline: str | None = None,
    data: np.ndarray | None = None,
    calibration: np.ndarray | None = None,
    batch_rows: int = 50,
    tx_gas_cap: int = TX_GAS_CAP,
) -> Plan:
    """Compile ``module_or_model`` for ``backend``, count its deployment and inference in the
    in-process EVM, and price them on ``fork``.

    ``data`` (float rows, as for ``ml2sc run --data``; at most ``MAX_ROWS`` are run) are the
    inference inputs, default rows uniform in [0, 1); ``calibration`` (default: ``data``)
    feeds the passes that choose quantization ranges from data. ``batch_rows`` rows (the
    given rows, repeated) go through ``predictBatch`` once if the contract has it (0: skip).
    """
    return plans(module_or_model, backend, forks=(fork,), pipeline=pipeline, data=data, calibration=calibration,
                 batch_rows=batch_rows, tx_gas_cap=tx_gas_cap)[0]


def plans(
    module_or_model: Any,
    backend: str | Backend = "prbmath",
    *,
    forks: Sequence[str | GasSchedule] = ("prague", "osaka", "glamsterdam"),
    pipeline: str | None = None,
    data: np.ndarray | None = None,
    calibration: np.ndarray | None = None,
    batch_rows: int = 50,
    tx_gas_cap: int = TX_GAS_CAP,
) -> list[Plan]:
    """``plan`` on several forks from one count (one compilation, one execution): the
    counting EVM takes code up to the largest limit among ``forks``, and each fork's plan
    refuses what is over its own."""
    from ml2sc.compiler.driver import get_backend

    schedules = [get_fork(f) if isinstance(f, str) else f for f in forks]
    be = get_backend(backend) if isinstance(backend, str) else backend
    if batch_rows < 0:
        raise Ml2scError(f"batch rows must be at least 0, got {batch_rows}")
    if tx_gas_cap < 21_000:
        raise Ml2scError(f"a transaction gas cap of {tx_gas_cap:,} is below the 21,000 of any transaction")
    compiled, x = _compile(module_or_model, be, pipeline, data, calibration)
    rows = compiled.quantize(x[:MAX_ROWS], "data rows" if data is not None else "synthetic rows")
    counted = _count(compiled, rows, batch_rows, max(schedules, key=lambda f: f.code_size_limit))
    source = "data" if data is not None else f"{DEFAULT_ROWS} synthetic rows in [0, 1)"
    return [_price(counted, f, tx_gas_cap, be.name, source) for f in schedules]


@dataclass
class _Contract:
    """A contract (or setup call) of the model and the transaction that deployed it (None: not sent)."""

    name: str
    kind: str
    code_bytes: int | None
    initcode_bytes: int
    tx: TxCount | None


@dataclass
class _Counted:
    """Everything one execution recorded, to be priced on any fork."""

    model: str
    contracts: list[_Contract]
    rows: list[list[TxCount]]  # per input row: its transactions (one, or begin + steps)
    batch: TxCount | None
    batch_rows: int
    layer_weights: list[float]
    decisions: dict[str, str]


def _compile(module_or_model: Any, be: Backend, pipeline: str | None, data: np.ndarray | None,
             calibration: np.ndarray | None) -> tuple[Any, np.ndarray]:
    """The CompiledModel ``ml2sc compile`` would produce (no accuracy gate: the plan is about gas)
    and the float rows to run."""
    from ml2sc.compiler.driver import CompiledModel, emit_program, load_onnx_ir
    from ml2sc.tools.estimate import _input_rows, _run_pipeline

    if isinstance(module_or_model, CompiledModel):
        return module_or_model, _input_rows(data, module_or_model.float_ir)
    if type(be).emit is Backend.emit and be.emitter is None:
        raise Ml2scError(f"backend '{be.name}' emits no contract (it declares no emitter): there is no plan to "
                         "count; 'ml2sc estimate --fitted' prices a backend from its gas model")
    float_ir, proto = (module_or_model, None) if isinstance(module_or_model, Module) else load_onnx_ir(module_or_model)
    x = _input_rows(data, float_ir)
    ir = _run_pipeline(float_ir, be, pipeline, x if calibration is None else calibration)
    ir, program = emit_program(be, ir)
    return CompiledModel(float_ir, ir, program, be, proto), x


def _count(compiled: Any, rows: list[list[int]], batch_rows: int, widest: GasSchedule) -> _Counted:
    """Compile with solc, then deploy and run in a counting EVM that takes code up to ``widest``'s
    limits; if a contract is over them, nothing is sent (a partial deployment is no plan)."""
    from ml2sc.chain.counting import CountingChain
    from ml2sc.compiler.solc import compile_solidity

    program = compiled.program
    entry = compile_solidity(program.sources)[program.contract_name]
    names = program.data_contract_names
    contracts = [_Contract(names[k] if k < len(names) else f"data{k}", _kind(names[k] if k < len(names) else ""),
                           len(blob), len(blob) + 10, None) for k, blob in enumerate(program.data_contracts)]
    from ml2sc.compiler.driver import takes_addresses

    args = 64 + 32 * len(contracts) if takes_addresses(entry) else 0  # the address[] constructor argument
    contracts.append(_Contract(program.contract_name, "entry", entry.runtime_size, len(entry.bytecode) + args, None))
    meta = program.metadata
    counted = _Counted(program.contract_name, contracts, [], None, 0, layer_weights(compiled.ir),
                       {k: meta[k] for k in ("weights", "layout") if meta.get(k)})
    if any(_size_problem(c, widest) for c in contracts):
        return counted
    chain = CountingChain(widest.code_size_limit, widest.initcode_size_limit)
    compiled.__dict__["artifact"] = entry  # the size checks are the forks', in _price
    deployed = compiled.deploy(chain, progress=False)
    for c, tx in zip(contracts, chain.counts, strict=False):
        c.tx = tx
    contracts += [_Contract(f"setup call {k + 1}", "setup", None, 0, tx)
                  for k, tx in enumerate(chain.counts[len(contracts):])]
    start = len(chain.counts)
    deployed.predict_raw(rows[:1])
    first = sum(tx.execution for tx in chain.counts[start:])
    rows = rows[: max(1, min(len(rows), ROWS_GAS_BUDGET // max(first, 1)))]  # py-evm runs ~1-3M gas/s
    deployed.predict_raw(rows[1:])
    txs = chain.counts[start:]
    per_row = len(txs) // len(rows)
    counted.rows = [txs[k * per_row:(k + 1) * per_row] for k in range(len(rows))]
    execution = float(np.mean([sum(tx.execution for tx in g) for g in counted.rows]))
    has_batch = any(f.get("name") == "predictBatch" for f in entry.abi)
    if batch_rows and has_batch and per_row == 1 and batch_rows * execution <= BATCH_EXEC_LIMIT:
        try:
            deployed.predict_batch_raw([rows[i % len(rows)] for i in range(batch_rows)])
            counted.batch, counted.batch_rows = chain.counts[-1], batch_rows
        except Ml2scError:  # a row the batch entry cannot take (e.g. not packable): no batch figure
            pass
    return counted


def _size_problem(c: _Contract, fork: GasSchedule) -> str | None:
    if c.code_bytes is not None and c.code_bytes > fork.code_size_limit:
        return f"cannot be deployed ({c.code_bytes:,} bytes > {fork.code_size_limit:,})"
    if c.initcode_bytes > fork.initcode_size_limit:
        return f"cannot be deployed (initcode {c.initcode_bytes:,} bytes > {fork.initcode_size_limit:,})"
    return None


def _price_contract(c: _Contract, fork: GasSchedule, cap: int, blocked: bool) -> ContractPlan:
    problem = _size_problem(c, fork)
    if problem or blocked or c.tx is None:
        why = problem or f"not priced: another contract of the model cannot be deployed on {fork.name}"
        return ContractPlan(c.name, c.kind, c.code_bytes, None, 1, why)
    capped = c.tx.capped_gas(fork)
    if capped > cap:
        return ContractPlan(c.name, c.kind, c.code_bytes, None, 1,
                            f"cannot be deployed: needs {capped:,} gas > the {cap:,} cap of a transaction")
    return ContractPlan(c.name, c.kind, c.code_bytes, c.tx.price(fork))


def _price(counted: _Counted, fork: GasSchedule, cap: int, backend: str, source: str) -> Plan:
    """One fork's plan from the count: sizes against its limits, each transaction re-priced, the cap."""
    blocked = any(_size_problem(c, fork) for c in counted.contracts)
    contracts = [_price_contract(c, fork, cap, blocked) for c in counted.contracts]
    deployable = all(c.problem is None for c in contracts)
    deploy = [c.gas or 0 for c in contracts if c.kind != "setup"]
    setup = [c.gas or 0 for c in contracts if c.kind == "setup"]
    priced = [(c.name, c.gas) for c in contracts if c.gas is not None]
    inference = _price_inference(counted, fork, cap) if deployable and counted.rows else _NO_INFERENCE
    return Plan(
        model=counted.model, backend=backend, fork=fork.name, provisional=fork.provisional, tx_gas_cap=cap,
        contracts=tuple(contracts), deploy_gas=sum(deploy) if deployable else None,
        upload_gas=sum(setup) if setup and deployable else None,
        deploy_transactions=len(contracts), largest_transaction=max(priced, key=lambda t: t[1], default=None),
        **inference, rows=len(counted.rows), calldata_from=source, decisions=counted.decisions,
    )


def _price_inference(counted: _Counted, fork: GasSchedule, cap: int) -> dict[str, Any]:
    """One row's inference on ``fork``: its transactions summed, averaged over the rows run."""
    groups = counted.rows
    per_row = len(groups[0])
    gas = [sum(tx.price(fork) for tx in g) for g in groups]
    largest = max(tx.capped_gas(fork) for g in groups for tx in g)
    calldata = float(np.mean([sum(fork.calldata(tx.data) for tx in g) for g in groups]))
    execution = float(np.mean([sum(_execution(tx, fork) for tx in g) for g in groups]))
    layers = _split(execution, counted.layer_weights)
    steps = per_row
    if per_row == 1 and largest > cap:  # one transaction over the cap: how many it would take
        steps = len(inference_steps(layers, cap, round(largest - execution)))
    batch = counted.batch.price(fork) if counted.batch else None
    return dict(
        inference_gas=round(float(np.mean(gas))), inference_gas_max=max(gas), inference_exec_gas=round(execution),
        inference_calldata_gas=round(calldata), inference_transactions_per_row=steps,
        inference_largest_transaction=largest, layer_gas=tuple(round(g) for g in layers),
        batch_rows=counted.batch_rows if batch else 0, batch_gas=batch,
        batch_gas_per_row=round(batch / counted.batch_rows, 1) if batch else None,
    )


_NO_INFERENCE: dict[str, Any] = dict(
    inference_gas=None, inference_gas_max=None, inference_exec_gas=None, inference_calldata_gas=None,
    inference_transactions_per_row=None, inference_largest_transaction=None, layer_gas=(), batch_rows=0,
    batch_gas=None, batch_gas_per_row=None,
)


def _execution(tx: TxCount, fork: GasSchedule) -> int:
    """What the EVM spends on ``tx`` under ``fork`` beyond its intrinsic cost (state gas included)."""
    regular, state = tx.regular_and_state(fork)
    return regular + state - sum(fork.intrinsic(tx.data, tx.create))


def _kind(name: str) -> str:
    return "stage" if name.startswith("stage") else "tile" if name.startswith("tile") else "data"


def _split(total: float, weights: list[float]) -> list[float]:
    whole = sum(weights)
    return [total * w / whole for w in weights]


# ---------------------------------------------------------------------------- printing
def print_plan(p: Plan) -> None:
    """The plan as rich tables: the contracts, then the totals and one row's inference."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    fork = f"{p.fork} (provisional gas schedule)" if p.provisional else p.fork
    table = Table(title=f"{p.model}: deployment plan on {fork} ({p.backend} backend)")
    for name, justify in (("contract", "left"), ("kind", "left"), ("code bytes", "right"), ("deploy gas", "right"),
                          ("txs", "right")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for c in p.contracts:
        size = "" if c.code_bytes is None else f"{c.code_bytes:,}"
        table.add_row(c.name, c.kind, size, f"{c.gas:,}" if c.gas is not None else f"[bold red]{c.problem}[/]",
                      str(c.transactions))
    console.print(table)
    summary = Table(show_header=False)
    summary.add_column("")
    summary.add_column("", justify="right")
    for label, value in _summary_rows(p):
        summary.add_row(label, value)
    console.print(summary)
    notes = [f"calldata from {p.calldata_from} ({p.rows} rows run); every transaction includes its 21,000 base"]
    if not p.deployable:
        notes.append(f"[bold]not deployable on {p.fork}[/]: no deployment or inference gas is given")
    if p.provisional:
        notes.append(f"{p.fork}'s gas schedule is provisional (values not final; see docs/cost-model.md)")
    if p.fork in FORKS and FORKS[p.fork].code_deposit_state:
        notes.append("the cap applies to regular gas only: code deposit and new accounts are state gas (EIP-8037)")
    for note in notes:
        console.print(note)


def _summary_rows(p: Plan) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = [("deployment transactions", f"{p.deploy_transactions:,}")]
    if p.deploy_gas is not None:
        rows.append(("deployment gas, all contracts", f"{p.deploy_gas:,}"))
    if p.upload_gas is not None:
        rows += [("setup (upload) gas", f"{p.upload_gas:,}"), ("deployment + setup", f"{p.total_deploy_gas:,}")]
    if p.largest_transaction:
        name, gas = p.largest_transaction
        rows.append((f"largest transaction ({name})", f"{gas:,} (cap {p.tx_gas_cap:,})"))
    if p.inference_gas is None:
        return rows
    rows += [
        ("inference gas per row (mean)", f"{p.inference_gas:,}"),
        ("  max over the rows", f"{p.inference_gas_max:,}"),
        ("  EVM execution", f"{p.inference_exec_gas:,}"),
        ("  calldata", f"{p.inference_calldata_gas:,}"),
        ("inference transactions per row", f"{p.inference_transactions_per_row}"),
        ("  largest of them (capped gas)", f"{p.inference_largest_transaction:,} (cap {p.tx_gas_cap:,})"),
    ]
    if p.batch_gas is not None:
        rows += [(f"predictBatch of {p.batch_rows} rows", f"{p.batch_gas:,}"),
                 ("  per row", f"{p.batch_gas_per_row:,.1f}")]
    return rows
