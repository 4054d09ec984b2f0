"""What ``ml2sc validate --report`` shows, gathered from one run (``report.py`` draws it).

Measured figures come from this run's transaction receipts; estimated ones from the
backend's fitted cost model (``tools/estimate.py``), the only source of a per-layer split:
the EVM reports gas per transaction, not per layer. The decisions (for the confusion
matrix) are read the way validate judges them, so the page and the exit code agree.
"""

from __future__ import annotations

import dataclasses
import datetime
import platform
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ml2sc.compiler.driver import CompiledModel, DeployedModel
from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Module, Output
from ml2sc.tools.validate import ValidationReport

QUANTITIES = ("deploy", "upload", "inference_exec", "runtime_bytes")


@dataclass(frozen=True)
class LayerCost:
    """Estimated gas of one layer: what the fitted model loses when the layer's ops are removed."""

    label: str
    ops: str
    deploy: float | None
    upload: float | None  # setup calls after deployment (backends that upload weights to storage)
    inference_exec: float | None
    runtime_bytes: float | None


@dataclass(frozen=True)
class GasEstimate:
    """The cost model's whole-contract figures, its per-layer split, or why there is none."""

    deploy: float | None = None
    upload: float | None = None
    runtime_bytes: float | None = None
    inference: float | None = None
    inference_exec: float | None = None
    layers: list[LayerCost] = field(default_factory=list)
    unavailable: str | None = None


@dataclass(frozen=True)
class Transaction:
    """One deployment-time transaction, as the receipts reported it."""

    kind: str  # "data contract", "model contract" or "setup call"
    name: str
    code_bytes: int | None
    gas: int


@dataclass(frozen=True)
class Decisions:
    """The float model's and the contract's decisions on every row, from one output."""

    output: str
    rule: str
    classes: list[str]
    matrix: list[list[int]]  # [float decision][on-chain decision]


@dataclass
class ReportData:
    """Everything the page shows; ``render`` reads nothing else."""

    contract: str
    backend: str
    command: str
    cwd: str
    chain: str
    validation: ValidationReport
    transactions: list[Transaction]
    estimate: GasEstimate
    decisions: Decisions | None
    inference_gas: list[int]
    atol: float
    rtol: float
    min_agreement: float
    quantized: bool
    decisions_note: str = ""
    version: str = ""  # ml2sc and Python, for the reproduce section
    generated: str = ""


# ------------------------------------------------------------------------- collect
def collect(compiled: CompiledModel, deployed: DeployedModel, report: ValidationReport, x: np.ndarray, *,
            command: str, cwd: str, chain: str, atol: float, rtol: float, min_agreement: float) -> ReportData:
    """The page's numbers: receipts of this run, the backend's estimate, the decisions."""
    from ml2sc import __version__

    decisions, note = classify(compiled, report)
    return ReportData(
        contract=compiled.program.contract_name, backend=compiled.backend.name, command=command, cwd=cwd, chain=chain,
        validation=report, transactions=deployment_plan(compiled, deployed), estimate=gas_estimate(compiled, x),
        decisions=decisions, decisions_note=note, inference_gas=list(deployed.gas.inference), atol=atol, rtol=rtol,
        min_agreement=min_agreement, quantized=any(s.scale is not None for s in compiled.program.outputs),
        version=f"ml2sc {__version__}, Python {platform.python_version()}",
        generated=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def deployment_plan(compiled: CompiledModel, deployed: DeployedModel) -> list[Transaction]:
    """Deployments in the order they were sent (data contracts, then the model), then setup calls."""
    blobs = compiled.program.data_contracts
    txs = []
    for k, (name, gas) in enumerate(deployed.gas.contracts):
        model = k == len(deployed.gas.contracts) - 1
        size = compiled.artifact.runtime_size if model else (len(blobs[k]) if k < len(blobs) else None)
        txs.append(Transaction("model contract" if model else "data contract", name, size, gas))
    txs += [Transaction("setup call", f"{compiled.program.contract_name} setup #{k + 1}", None, g)
            for k, g in enumerate(deployed.gas.upload)]
    return txs


def layers(module: Module) -> list[list[ops.Op]]:
    """Ops grouped as ``layer_labels`` numbers them: each gemm opens a layer, earlier ops are input."""
    groups: list[list[ops.Op]] = []
    for op in module.ops:
        if isinstance(op, ops.Gemm | ops.QGemm) or not groups:
            groups.append([])
        groups[-1].append(op)
    return groups


def _describe(group: list[ops.Op]) -> tuple[str, str]:
    head = group[0]
    if not isinstance(head, ops.Gemm | ops.QGemm):
        return "input", ", ".join(op.mnemonic for op in group)
    fused = f" + {head.tag('fuse')}" if head.tag("fuse") else ""
    rest = [op.mnemonic for op in group[1:]]
    return "", f"{head.mnemonic} {head.operands[0].type.size}→{head.result.type.size}{fused}" + "".join(f", {r}" for r in rest)


def _without(module: Module, group: list[ops.Op]) -> Module:
    """The module minus one layer's ops; outputs the removed ops produced point at the last op left."""
    keep = tuple(op for op in module.ops if op not in group)
    produced = {op.result.name for op in keep} | {v.name for v in module.inputs}
    last = keep[-1].result if keep else module.inputs[0]
    outputs = tuple(o if o.value.name in produced else Output(o.name, last) for o in module.outputs)
    return dataclasses.replace(module, ops=keep, outputs=outputs)


def gas_estimate(compiled: CompiledModel, x: np.ndarray) -> GasEstimate:
    """The backend's estimate, split by layer: a layer's share is the fitted model's prediction for
    the whole contract minus its prediction without that layer. What no single layer owns (the
    contract shell, code that several layers share) is the remainder, shown as contract-wide."""
    from ml2sc.tools.estimate import cost_module, estimate, load_gas_model

    try:
        est = estimate(compiled, compiled.backend, data=x)
        cost, model = cost_module(compiled.backend), load_gas_model(compiled.backend)
    except Ml2scError as e:
        return GasEstimate(unavailable=str(e))

    def predict(module: Module) -> dict[str, float | None]:
        features = cost.cost_features(module, batch_rows=1)
        return {q: model.predict(q, features) for q in QUANTITIES}

    full = predict(compiled.ir)
    costs, number, why = [], 0, None
    try:
        for group in layers(compiled.ir):
            label, what = _describe(group)
            number += not label
            costs.append(LayerCost(label or f"layer {number}", what, **_minus(full, [predict(_without(compiled.ir, group))])))
    except (Ml2scError, KeyError, IndexError, ValueError) as e:  # a cost model that cannot count a partial module
        costs, why = [], f"the {compiled.backend.name} cost model cannot split this model by layer ({e})"
    else:
        owned = [{q: getattr(c, q) for q in QUANTITIES} for c in costs]
        costs.append(LayerCost("contract-wide", "shell, dispatch, input decoding, shared code", **_minus(full, owned)))
    return GasEstimate(est.deploy_gas, est.upload_gas, est.runtime_bytes, est.inference_gas, est.inference_exec_gas,
                       costs, why)


def _minus(total: dict[str, float | None], parts: list[dict[str, float | None]]) -> dict[str, float | None]:
    """Per quantity: the total less the parts (None where the backend fits no such quantity)."""
    return {q: None if t is None else t - sum(p[q] or 0.0 for p in parts) for q, t in total.items()}


def classify(compiled: CompiledModel, report: ValidationReport) -> tuple[Decisions | None, str]:
    """The decisions to compare, as validate judges them: a label output; else the argmax of a
    multi-column output; else a one-column sigmoid output at 0.5. Anything else is a regressor."""
    kinds = {o.name: o.kind for o in report.outputs}
    heads = {o.name: compiled.float_ir.producer(o.value) for o in compiled.float_ir.outputs}
    for rule, pick in (("label", "label"), ("argmax", "probabilities"), ("threshold", "values")):
        for name, (got, ref) in report.values.items():
            if kinds.get(name) != pick:
                continue
            if rule == "label":
                return _decisions(name, "the label output", np.ravel(ref), np.ravel(got), _label_classes(compiled)), ""
            r, g = np.asarray(ref, float).reshape(len(ref), -1), np.asarray(got, float).reshape(len(ref), -1)
            if rule == "argmax":
                return _decisions(name, f"argmax of '{name}'", r.argmax(1), g.argmax(1), list(range(r.shape[1]))), ""
            if r.shape[1] == 1 and isinstance(heads.get(name), ops.Sigmoid | ops.HardSigmoid):
                return _decisions(name, f"'{name}' ≥ 0.5", (r[:, 0] >= 0.5).astype(int), (g[:, 0] >= 0.5).astype(int),
                                  [0, 1]), ""
    return None, "a regressor: its outputs are values, not decisions; the error histogram is the comparison"


def _label_classes(compiled: CompiledModel) -> list[Any]:
    """The labels a ``label_map`` can return, so that a class no row hit still gets its row."""
    for op in compiled.ir.ops:
        if isinstance(op, ops.LabelMap):
            return [int(c) for c in compiled.ir.constant(op.classes).values]
    argmax = [op for op in compiled.ir.ops if isinstance(op, ops.ArgMax)]
    return list(range(argmax[-1].input.type.size)) if argmax else []


def _decisions(output: str, rule: str, ref: np.ndarray, got: np.ndarray, known: list[Any]) -> Decisions:
    """Every class that can occur has a row and a column, even if no row decided it (a 2x2
    matrix for a binary model that said 0 to every row, not a 1x1)."""
    classes = sorted(set(known) | set(ref.tolist()) | set(got.tolist()), key=lambda v: (str(type(v)), v))
    index = {c: i for i, c in enumerate(classes)}
    matrix = [[0] * len(classes) for _ in classes]
    for r, g in zip(ref.tolist(), got.tolist(), strict=True):
        matrix[index[r]][index[g]] += 1
    return Decisions(output, rule, [str(c) for c in classes], matrix)
