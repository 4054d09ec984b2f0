"""``ml2sc bench``: ML2SC's benchmark reproduced and measured, every backend on one chain.

For each model (ML2SC's nine breast-cancer MLPs trained with their recipe, a
digits MLP 64-32-10 and an MNIST-sized 784-128-10) and each installed backend:
deployment gas, weight-upload gas (storage backends), mean gas of one
inference transaction, the gas to classify the test rows (one batched call
with inputs in calldata, or, for a storage backend, uploading them and one
``classifyStored`` call as ML2SC does), and accuracy locally and on chain.
Everything is measured in the same run; ML2SC's published numbers are only
quoted next to them. Writes ``benchmarks.md`` and ``benchmarks.png``.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ml2sc.chain import TX_GAS_CAP, Chain, EmbeddedChain, TxResult
from ml2sc.compiler.registry import backends as backend_registry
from ml2sc.ir.errors import Ml2scError
from ml2sc.tools import ml2sc_suite as suite

# shared/reference/ml2sc-results.md: deploy, test-data upload, weights upload, classify-50, accuracy
ML2SC_PUBLISHED: dict[str, tuple[int, int, int, int, float]] = {
    "MLP_1L_1n": (2_006_494, 37_452_136, 801_580, 7_023_576, 0.64),
    "MLP_2L_1n": (2_208_466, 37_452_136, 900_682, 7_250_650, 0.90),
    "MLP_2L_2n": (2_210_739, 37_452_136, 1_661_992, 10_575_410, 0.88),
    "MLP_2L_3n": (2_213_012, 37_452_136, 2_420_566, 13_896_789, 0.94),
    "MLP_2L_4n": (2_215_285, 37_452_136, 3_178_624, 17_215_962, 0.90),
    "MLP_3L_1n1n": (2_387_042, 37_452_136, 1_022_434, 7_483_220, 0.92),
    "MLP_3L_2n1n": (2_391_588, 37_452_136, 1_903_378, 11_201_899, 0.92),
    "MLP_3L_3n1n": (2_396_134, 37_452_136, 2_832_728, 15_117_986, 0.92),
    "MLP_3L_4n1n": (2_400_680, 37_452_136, 3_800_032, 19_241_913, 0.96),
}
BACKEND_ORDER = ("prbmath", "int8", "ml2sc-baseline")
BATCH = 50  # rows per predictBatch transaction: ML2SC's 50, and well under the 16.7M per-tx gas cap


@dataclass
class Case:
    name: str
    onnx_model: Any
    x_test: np.ndarray
    y_test: np.ndarray
    local_accuracy: float
    parameters: int
    macs: int  # multiply-accumulates of one inference (weights, not biases)
    calibration: np.ndarray | None = None  # training rows quantizing backends (int8) take ranges from


@dataclass
class Result:
    model: str
    backend: str
    parameters: int
    macs: int
    deploy: int = 0
    upload: int = 0
    data_upload: int = 0
    inference: float = 0.0
    inference_exec: float = 0.0  # execution gas: the transaction's gas minus its intrinsic cost
    classify_all: int = 0
    rows: int = 0
    local_accuracy: float = 0.0
    chain_accuracy: float = 0.0
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.deploy + self.upload + self.data_upload + self.classify_all


def _torch_onnx(model: Any, n_in: int, output: str) -> Any:
    import onnx
    import torch

    buf = io.BytesIO()
    torch.onnx.export(model, (torch.zeros(1, n_in),), buf, input_names=["x"], output_names=[output],
                      dynamic_axes={"x": {0: "batch"}, output: {0: "batch"}}, dynamo=False)
    return onnx.load_model_from_string(buf.getvalue())


def ml2sc_cases() -> list[Case]:
    import torch

    x_train, _, x_test, y_test = suite.breast_cancer()
    cases = []
    for name, sizes in suite.ARCHITECTURES.items():
        model = suite.train_best(sizes)
        with torch.no_grad():
            local = suite.accuracy(model(torch.from_numpy(x_test)).numpy(), y_test)
        macs = sum(a * b for a, b in zip(sizes, sizes[1:], strict=False))
        params = macs + sum(sizes[1:])
        cases.append(Case(name, suite.to_onnx(model), x_test, y_test, local, params, macs, x_train))
    return cases


def digits_case(seed: int = 0) -> Case:
    """Digits 64-32-10 (ReLU, softmax), features scaled to [0, 1], the 360-row test split."""
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    x_tr, x_te, y_tr, y_te = train_test_split(x, d.target, test_size=0.2, random_state=0)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10), torch.nn.Softmax(dim=1))
    opt = torch.optim.Adam(model.parameters(), lr=0.003)
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr).long()
    for _ in range(60):
        for idx in torch.randperm(len(xt)).split(64):
            opt.zero_grad()
            torch.nn.functional.nll_loss(torch.log(model(xt[idx]) + 1e-9), yt[idx]).backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        local = float((model(torch.from_numpy(x_te)).numpy().argmax(1) == y_te).mean())
    return Case("digits_64_32_10", _torch_onnx(model, 64, "probabilities"), x_te, y_te, local, 64 * 32 + 32 + 32 * 10 + 10, 64 * 32 + 32 * 10, x_tr)


def mnist_sized_case(seed: int = 0) -> Case:
    """784-128-10 ReLU with random weights: the size that matters, not the task."""
    import torch

    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10), torch.nn.Softmax(dim=1)).eval()
    x = np.random.default_rng(seed).uniform(0, 1, (50, 784)).astype(np.float32)
    with torch.no_grad():
        y = model(torch.from_numpy(x)).numpy().argmax(1)
    return Case("mnist_784_128_10", _torch_onnx(model, 784, "probabilities"), x, y, 1.0, 784 * 128 + 128 + 128 * 10 + 10, 784 * 128 + 128 * 10,
                np.random.default_rng(seed + 1).uniform(0, 1, (200, 784)).astype(np.float32))


def _predicted_labels(outputs: dict[str, np.ndarray]) -> np.ndarray:
    probs = next(v for v in outputs.values() if v.dtype.kind == "f")
    return (probs[:, 0] > 0.5).astype(int) if probs.shape[1] == 1 else probs.argmax(axis=1)


def measure(case: Case, backend: str, chain: Chain, sample_rows: int = 50) -> Result:
    """Deploy, measure single inferences on the first rows, classify all test rows; nothing estimated.

    A model a backend cannot take (too large, unsupported op, a transaction over the cap)
    becomes a row with the reason instead of stopping the benchmark."""
    try:
        return _measure(case, backend, chain, sample_rows)
    except Ml2scError as e:
        return Result(case.name, backend, case.parameters, case.macs, local_accuracy=case.local_accuracy, error=str(e))


def _measure(case: Case, backend: str, chain: Chain, sample_rows: int) -> Result:
    import ml2sc
    from ml2sc.compiler.driver import decode_outputs

    result = Result(case.name, backend, case.parameters, case.macs, local_accuracy=case.local_accuracy, rows=len(case.x_test))
    compiled = ml2sc.compile(case.onnx_model, backend=backend, name=case.name, calibration=case.calibration)
    deployed = compiled.deploy(chain)
    result.deploy, result.upload = deployed.gas.deploy, sum(deployed.gas.upload)
    rows = compiled.quantize(case.x_test)
    packed = compiled.backend.pack_row(rows[0]) is not None
    deployed.predict_raw(rows[:sample_rows], packed=packed)
    result.inference = float(np.mean(deployed.gas.inference))
    result.inference_exec = float(np.mean(deployed.gas.inference_exec))
    stored = getattr(compiled.backend, "test_data_calls", None)
    if stored is not None:  # ML2SC's way: test data into storage, then classifyStored() over it
        uploads = [chain.transact(deployed.address, data) for data in stored(rows)]
        result.data_upload = sum(t.gas_used for t in uploads)
        stored_labels: list[int] = []  # one call for all rows unless the per-transaction cap forbids it
        for call in compiled.backend.classify_stored_calls(compiled.program, len(rows)):
            tx: TxResult = chain.transact(deployed.address, call)
            result.classify_all += tx.gas_used
            stored_labels += compiled.backend.decode_classify_stored(tx.output)
        labels = np.asarray(stored_labels)
    else:  # inputs in calldata, predictBatch calls of at most BATCH rows (each under the per-tx cap)
        flat: list[list[int]] = []
        per_batch = batch_rows(max(deployed.gas.inference))
        for start in range(0, len(rows), per_batch):
            flat += deployed.predict_batch_raw(rows[start : start + per_batch])
            result.classify_all += deployed.gas.batch or 0
        labels = _predicted_labels(decode_outputs(compiled.program, flat))
    result.chain_accuracy = float((labels == case.y_test).mean())
    return result


def batch_rows(row_gas: int) -> int:
    """Rows per predictBatch: BATCH, fewer when that many rows at ``row_gas`` each (one
    transaction's gas, base included: an upper bound on a batched row) would pass 90% of the
    per-transaction cap (prbmath 784-128-10 takes ~2M gas a row)."""
    return max(1, min(BATCH, int(0.9 * TX_GAS_CAP) // row_gas))


def installed_backends() -> list[str]:
    names = backend_registry.names()
    return [b for b in BACKEND_ORDER if b in names] + [b for b in names if b not in BACKEND_ORDER]


BASELINE_MAX_PARAMETERS = 1_000  # ML2SC's own sizes; digits alone takes ~20 minutes of py-evm in that style


def run_bench(out_dir: Path, backends: list[str] | None = None, progress: Callable | None = None,
              include_mnist: bool = True, baseline_all: bool = False, include_large: bool = True) -> list[Result]:
    """Measure every (model, backend) pair on one embedded chain; write benchmarks.md and .png.

    The ML2SC-style baseline runs on ML2SC's nine models only unless ``baseline_all``:
    its digits row alone costs 1.8 billion gas and twenty minutes of py-evm."""
    backends = backends or installed_backends()
    cases = [*ml2sc_cases(), digits_case()] + ([mnist_sized_case()] if include_mnist else [])
    chain = EmbeddedChain()
    jobs = [(c, b) for c in cases for b in backends]
    results = []
    for c, b in progress(jobs) if progress else jobs:
        if b == "ml2sc-baseline" and c.parameters > BASELINE_MAX_PARAMETERS and not baseline_all:
            results.append(Result(c.name, b, c.parameters, c.macs, local_accuracy=c.local_accuracy,
                                  error="skipped (over 20 minutes of py-evm in ML2SC's style; ml2sc bench --baseline-all)"))
            continue
        results.append(measure(c, b, chain))
    markdown = render_markdown(results, backends)
    out_dir.mkdir(parents=True, exist_ok=True)
    if include_large:
        from ml2sc.tools.bench_large import plot_large, render_large, run_large

        large = run_large(progress)
        markdown += "\n" + "\n".join(render_large(large))
        plot_large(large, out_dir / "benchmarks_layouts.png")
    (out_dir / "benchmarks.md").write_text(markdown)
    plot(results, backends, out_dir / "benchmarks.png")
    return results


def _fmt(n: float) -> str:
    return f"{n:,.0f}" if n else "—"


def render_markdown(results: list[Result], backends: list[str]) -> str:
    by = {(r.model, r.backend): r for r in results}
    models = list(dict.fromkeys(r.model for r in results))
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` (`ml2sc bench`) on {datetime.date.today().isoformat()}; every number below except the",
        "ML2SC rows was measured in that one run, on the embedded chain (py-evm, Prague), with the backends:",
        ", ".join(f"`{b}`" for b in backends) + ". ML2SC rows quote `shared/reference/ml2sc-results.md`.",
        "",
        "Columns: deployment gas; weight upload after deployment (storage backends); test-data upload",
        "(ML2SC style only); mean gas of one inference transaction (first 50 test rows, calldata included);",
        "its execution gas (minus the intrinsic 21,000 + calldata) per multiply-accumulate;",
        "classifying all test rows (one `predictBatch` call with inputs in calldata, or ML2SC's `classify()`",
        "over stored rows); total = deploy + uploads + classification; accuracy of the float model and",
        "on chain; total relative to the baseline backend and to ML2SC's published total.",
        "",
        "| model | params | backend | deploy | weights upload | data upload | gas / inference | exec gas / MAC | classify all | total | accuracy local / chain | × vs baseline | × vs ML2SC |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for m in models:
        base = by.get((m, "ml2sc-baseline"))
        pub = ML2SC_PUBLISHED.get(m)
        for b in backends:
            r = by.get((m, b))
            if r is None:
                continue
            if r.error:
                reason = r.error if r.error.startswith("skipped") else f"not compiled: {r.error}"
                lines.append(f"| {m} | {r.parameters:,} | {b} | — | — | — | — | — | — | — | {reason} | | |")
                continue
            vs_base = f"{base.total / r.total:.1f}×" if base and not base.error and b != "ml2sc-baseline" else ""
            vs_pub = f"{sum(pub[:4]) / r.total:.1f}×" if pub else ""
            lines.append(
                f"| {m} | {r.parameters:,} | {b} | {_fmt(r.deploy)} | {_fmt(r.upload)} | {_fmt(r.data_upload)} | "
                f"{_fmt(r.inference)} | {r.inference_exec / r.macs:.1f} | {_fmt(r.classify_all)} | {_fmt(r.total)} | "
                f"{r.local_accuracy:.0%} / {r.chain_accuracy:.0%} | {vs_base} | {vs_pub} |")
        if pub:
            d, data, w, c, acc = pub
            lines.append(f"| {m} | | ML2SC (published) | {d:,} | {w:,} | {data:,} | ~{c // 50:,} | | {c:,} | {sum(pub[:4]):,} | {acc:.0%} / {acc:.0%} | | 1.0× |")
    lines += ["", *_summary(results, backends), "", "![gas against parameters, log scale](benchmarks.png)", ""]
    return "\n".join(lines)


def _summary(results: list[Result], backends: list[str]) -> list[str]:
    """One line per backend: its smallest advantage over ML2SC's published totals, and accuracy kept."""
    lines = []
    for b in backends:
        ours = [r for r in results if r.backend == b and r.model in ML2SC_PUBLISHED and not r.error]
        if not ours:
            continue
        worst = min(ours, key=lambda r: sum(ML2SC_PUBLISHED[r.model][:4]) / r.total)
        ratio = sum(ML2SC_PUBLISHED[worst.model][:4]) / worst.total
        same = sum(r.local_accuracy == r.chain_accuracy for r in ours)
        lines.append(
            f"- `{b}`: total at least {ratio:.1f}× below ML2SC's published total on every ML2SC architecture "
            f"(smallest: {worst.model}); on-chain accuracy equals the float model's on {same}/{len(ours)}."
        )
    return lines


def plot(results: list[Result], backends: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for b in backends:
        ok = sorted((r for r in results if r.backend == b and not r.error), key=lambda r: r.parameters)
        if not ok:
            continue
        axes[0].loglog([r.parameters for r in ok], [r.deploy + r.upload for r in ok], "o-", label=b)
        axes[1].loglog([r.parameters for r in ok], [r.inference for r in ok], "o-", label=b)
    params = {r.model: r.parameters for r in results}
    pub = sorted((params[m], v) for m, v in ML2SC_PUBLISHED.items() if m in params)
    if pub:
        axes[0].loglog([p for p, _ in pub], [v[0] + v[2] for _, v in pub], "k^", label="ML2SC (published)")
        axes[1].loglog([p for p, _ in pub], [v[3] / 50 for _, v in pub], "k^", label="ML2SC (published)")
    axes[0].set_title("deployment + weight upload gas")
    axes[1].set_title("gas per inference transaction")
    for ax in axes:
        ax.set_xlabel("parameters")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
