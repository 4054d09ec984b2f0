"""Validation: the chain against the simulator (exactly) and against onnxruntime (closely).

The oracle is onnxruntime on a float64 copy of the graph where its kernels
allow it: 18-decimal fixed point is more exact than float32, so comparing
with float32 onnxruntime would mostly measure float32's own error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ml2sc.compiler.driver import CompiledModel, DeployedModel, decode_outputs


def onnx_reference(onnx_model: Any, x: np.ndarray) -> tuple[dict[str, np.ndarray], str]:
    """Run onnxruntime; returns outputs by name and which precision was used ('float64' or 'float32')."""
    import onnxruntime as ort

    from ml2sc.tools.onnx_float64 import to_float64

    try:
        model, dtype, precision = to_float64(onnx_model), np.float64, "float64"
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception:  # no double kernel for some op (e.g. ai.onnx.ml): fall back to the float32 graph
        model, dtype, precision = onnx_model, np.float32, "float32"
        sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: np.asarray(x, dtype=dtype)}
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, feed), strict=True)), precision


@dataclass
class OutputCheck:
    name: str
    kind: str  # "label", "probabilities" or "values"
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    agreement: float | None = None  # label equality or argmax agreement, in [0, 1]
    ok: bool = True


@dataclass
class ValidationReport:
    rows: int
    evm_equals_simulator: int
    precision: str
    outputs: list[OutputCheck] = field(default_factory=list)
    gas: dict[str, Any] = field(default_factory=dict)
    # output name -> (on-chain values, onnxruntime's), row by row: what `--report` draws its
    # error histogram and confusion matrix from (not in the JSON: it can be large)
    values: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)
    # int8: share of the calibration rows (--data) whose decision equals the float model's, as
    # measured (and enforced) by compile; None for exact backends
    calibration_agreement: float | None = None

    @property
    def ok(self) -> bool:
        return self.evm_equals_simulator == self.rows and all(o.ok for o in self.outputs)

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "evm_equals_simulator_rows": self.evm_equals_simulator,
            "oracle_precision": self.precision,
            "outputs": [o.__dict__ for o in self.outputs],
            "calibration_agreement": self.calibration_agreement,
            "gas": self.gas,
            "ok": self.ok,
        }


def _check(name: str, got: np.ndarray, ref: np.ndarray, atol: float, rtol: float) -> OutputCheck:
    if np.issubdtype(ref.dtype, np.integer):
        agree = float(np.mean(got.reshape(ref.shape) == ref))
        return OutputCheck(name, "label", agreement=agree, ok=agree == 1.0)
    g, r = got.astype(np.float64).reshape(ref.shape), ref.astype(np.float64)
    err = np.abs(g - r)
    check = OutputCheck(name, "values", float(err.max(initial=0.0)), float((err / np.maximum(np.abs(r), 1e-30)).max(initial=0.0)))
    check.ok = bool(np.all(err <= atol + rtol * np.abs(r)))
    if r.ndim == 2 and r.shape[1] > 1:
        check.kind = "probabilities"
        check.agreement = float(np.mean(g.argmax(axis=1) == r.argmax(axis=1)))
        check.ok = check.ok and check.agreement == 1.0
    return check


def _check_quantized(name: str, got: np.ndarray, ref: np.ndarray, min_agreement: float) -> OutputCheck:
    """A quantized (int8) output: judged by decisions, not digits.

    Labels must agree, probabilities/values must pick the same argmax (one column: the same
    side of 0.5), on at least ``min_agreement`` of the rows; max abs error is reported only.
    """
    if np.issubdtype(ref.dtype, np.integer):
        agree = float(np.mean(got.reshape(ref.shape) == ref))
        return OutputCheck(name, "label", agreement=agree, ok=agree >= min_agreement)
    g, r = got.astype(np.float64).reshape(ref.shape), ref.astype(np.float64)
    err = np.abs(g - r)
    check = OutputCheck(name, "values", float(err.max(initial=0.0)),
                        float((err / np.maximum(np.abs(r), 1e-30)).max(initial=0.0)))
    if r.ndim == 2 and r.shape[1] > 1:
        check.kind = "probabilities"
        check.agreement = float(np.mean(g.argmax(axis=1) == r.argmax(axis=1)))
    else:
        check.agreement = float(np.mean((g.reshape(len(g), -1) >= 0.5) == (r.reshape(len(r), -1) >= 0.5)))
    check.ok = check.agreement >= min_agreement
    return check


def validate(
    compiled: CompiledModel, x: np.ndarray, deployed: DeployedModel, atol: float = 1e-6, rtol: float = 1e-6,
    progress: Any = None, min_agreement: float = 0.99,
) -> ValidationReport:
    """Run every row on chain and in the simulator, compare with onnxruntime; nothing is sampled.

    Exact backends are held to ``atol``/``rtol``; quantized outputs (int8) to an argmax or
    label agreement of at least ``min_agreement``, with their max abs error reported."""
    rows = compiled.quantize(x)
    simulated = compiled.simulate_raw(rows)
    on_chain = []
    for row in progress(rows) if progress else rows:
        on_chain.extend(deployed.predict_raw([row]))
    same = sum(a == b for a, b in zip(on_chain, simulated, strict=True))
    ref, precision = onnx_reference(compiled.onnx_model, x)
    got = decode_outputs(compiled.program, on_chain, exact=True)
    report = ValidationReport(len(rows), same, precision, gas=deployed.gas.summary(),
                              calibration_agreement=getattr(compiled, "agreement", None))
    quantized = any(s.scale is not None for s in compiled.program.outputs)
    for name, arr in got.items():
        if name in ref:
            check = (_check_quantized(name, arr, ref[name], min_agreement) if quantized
                     else _check(name, arr, ref[name], atol, rtol))
            report.outputs.append(check)
            report.values[name] = (arr, ref[name])
    return report
