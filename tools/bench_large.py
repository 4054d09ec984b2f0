"""Large models in ``ml2sc bench``: what a model past the small ones costs, layout by layout.

The ML2SC suite in ``bench.py`` stops at 784-128-10. Here the models a user meets next
(the usual MNIST MLP 784-512-256-10, a prbmath model over the code-size limit) are
compiled, deployed on a fresh embedded chain each (Prague) and run, every output checked
against the integer simulator. Per (model, backend, layout): contracts, deployment gas and
gas per parameter, the largest transaction, execution gas per multiply-accumulate and
the transactions one inference takes. The plot shows, per int8 model, the total gas of
deploying and then calling the model n times under each layout: where each one wins.

Weights are random (seeded): the size matters here, not the task; argmax agreement with
the float model is reported all the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Constant, Module, Output, Value
from ml2sc.ir.types import F32, TensorType

# (sizes, backend, layouts): layouts only mean something for int8; "inline" is the swar layout
# with its words as immediates in tile contracts (--weights inline)
LARGE_CASES: list[tuple[tuple[int, ...], str, tuple[str, ...]]] = [
    ((784, 128, 10), "int8", ("swar", "dense", "inline")),
    ((784, 512, 256, 10), "int8", ("swar", "dense", "inline")),
    ((64, 256, 128, 10), "prbmath", ("",)),
]
SAMPLE_ROWS = 3  # rows run on chain per case (each checked against the simulator)


def random_mlp(sizes: tuple[int, ...] | list[int], seed: int = 11) -> Module:
    """A float MLP of ``sizes`` with relu between layers and a softmax at the end, weights ~ N(0, 1/n_in)."""
    rng = np.random.default_rng(seed)
    x = Value("x", TensorType((sizes[0],), F32))
    value, body, consts = x, [], []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False)):
        w = rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in)).astype(np.float32)
        b = rng.normal(0, 0.1, n_out).astype(np.float32)
        consts += [Constant(f"w{i}", TensorType(w.shape, F32), tuple(map(float, w.ravel()))),
                   Constant(f"b{i}", TensorType(b.shape, F32), tuple(map(float, b)))]
        out = Value(f"h{i}", TensorType((n_out,), F32))
        body.append(ops.Gemm(out, value, f"w{i}", f"b{i}"))
        act = ops.Relu if i < len(sizes) - 2 else ops.Softmax
        value = Value(f"a{i}", out.type)
        body.append(act(value, out))
    return Module("mlp_" + "_".join(map(str, sizes)), (x,), tuple(body), (Output("y", value),), tuple(consts))


def float_forward(module: Module, x: np.ndarray) -> np.ndarray:
    """The float model of ``random_mlp`` in float64 numpy: the reference for argmax agreement."""
    h = x.astype(np.float64)
    for op in module.ops:
        if isinstance(op, ops.Gemm):
            w = np.asarray(module.constant(op.weight).values, dtype=np.float64).reshape(module.constant(op.weight).type.shape)
            h = h @ w.T + np.asarray(module.constant(op.bias).values, dtype=np.float64)
        elif isinstance(op, ops.Relu):
            h = np.maximum(h, 0)
    return h  # softmax keeps the argmax


@dataclass
class LargeResult:
    model: str
    backend: str
    layout: str
    parameters: int
    macs: int
    contracts: int = 0
    deploy: int = 0
    largest_tx: int = 0
    exec_gas: int = 0  # execution gas of one inference (all its transactions, intrinsic cost excluded)
    inference_gas: int = 0  # gas of one inference as the receipts report it (all its transactions)
    transactions_per_row: int = 1
    agreement: float = 0.0
    error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.backend} {self.layout}".strip()


def _params_macs(module: Module) -> tuple[int, int]:
    gemms = [o for o in module.ops if isinstance(o, ops.Gemm)]
    macs = sum(module.constant(g.weight).type.size for g in gemms)
    return macs + sum(module.constant(g.bias).type.size for g in gemms), macs


def measure_large(sizes: tuple[int, ...], backend_name: str, layout: str, seed: int = 11) -> LargeResult:
    """Compile, deploy on a fresh chain, run ``SAMPLE_ROWS`` rows (EVM == simulator asserted)."""
    from ml2sc.chain import EmbeddedChain
    from ml2sc.compiler.driver import CompiledModel, emit_program, get_backend
    from ml2sc.compiler.passes.manager import PassManager

    module = random_mlp(sizes, seed)
    params, macs = _params_macs(module)
    result = LargeResult("-".join(map(str, sizes)), backend_name, layout, params, macs)
    rng = np.random.default_rng(seed + 1)
    calibration = rng.uniform(0, 1, (64, sizes[0])).astype(np.float32)
    x = rng.uniform(0, 1, (SAMPLE_ROWS, sizes[0])).astype(np.float32)
    try:
        backend = get_backend(backend_name)
        pipeline = backend.pipeline
        if layout:
            option = "weights=inline" if layout == "inline" else f"layout={layout}"
            pipeline = pipeline.replace("place-weights", f"place-weights{{{option}}}")
        manager = PassManager.from_pipeline(pipeline)
        manager.passes = [dataclasses.replace(p, calibration=calibration) if hasattr(p, "calibration") else p
                          for p in manager.passes]
        ir = manager.run(module)
        ir, program = emit_program(backend, ir)
        compiled = CompiledModel(module, ir, program, backend)
        deployed = compiled.deploy(EmbeddedChain(), progress=False)
        rows = compiled.quantize(x)
        chain_rows = deployed.predict_raw(rows)
    except Ml2scError as e:
        result.error = str(e)
        return result
    if chain_rows != compiled.simulate_raw(rows):
        raise AssertionError(f"{result.model} {result.label}: EVM != simulator")
    gas = deployed.gas
    steps = max(1, len(gas.inference) // len(rows))
    result.contracts = len(gas.contracts)
    result.deploy = gas.deploy
    result.transactions_per_row = steps
    result.inference_gas = int(sum(gas.inference) / len(rows))
    result.exec_gas = int(sum(gas.inference_exec) / len(rows))
    result.largest_tx = max([g for _, g in gas.contracts] + list(gas.inference))
    from ml2sc.compiler.driver import decode_outputs

    on_chain = next(iter(decode_outputs(compiled.program, chain_rows).values()))
    result.agreement = float((on_chain.argmax(axis=1) == float_forward(module, x).argmax(axis=1)).mean())
    return result


def run_large(progress: Callable | None = None) -> list[LargeResult]:
    jobs = [(sizes, b, layout) for sizes, b, layouts in LARGE_CASES for layout in layouts]
    return [measure_large(*job) for job in (progress(jobs) if progress else jobs)]


def render_large(results: list[LargeResult]) -> list[str]:
    """The markdown section: one row per (model, backend, layout)."""
    lines = [
        "## Large models",
        "",
        "Random-weight MLPs (relu, softmax), each deployed on a fresh embedded chain; every output of the",
        f"{SAMPLE_ROWS} rows run on chain equals the simulator's. Gas per parameter counts every contract",
        "(data contracts, stages, entry); gas per MAC is the execution gas of one inference (all its",
        "transactions, intrinsic cost excluded) over its multiply-accumulates. Agreement: argmax against",
        "the float model on the same rows.",
        "",
        "| model | backend | layout | params | contracts | deploy gas | gas / param | largest tx | exec gas | gas / MAC | tx / inference | agreement |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        if r.error:
            lines.append(f"| {r.model} | {r.backend} | {r.layout or '—'} | {r.parameters:,} | — | — | — | — | — | — | — | "
                         f"not compiled: {r.error} |")
            continue
        lines.append(
            f"| {r.model} | {r.backend} | {r.layout or '—'} | {r.parameters:,} | {r.contracts} | {r.deploy:,} | "
            f"{r.deploy / r.parameters:.1f} | {r.largest_tx:,} | {r.exec_gas:,} | {r.exec_gas / r.macs:.2f} | "
            f"{r.transactions_per_row} | {r.agreement:.0%} |")
    lines += ["", *break_even_lines(results), "", "![total gas against calls, per layout](benchmarks_layouts.png)", ""]
    return lines


def break_even(a: LargeResult, b: LargeResult) -> float | None:
    """Calls after which ``a`` (cheaper to deploy, dearer to call) costs more in total than ``b``."""
    extra = a.inference_gas - b.inference_gas
    saved = b.deploy - a.deploy
    if extra <= 0 or saved <= 0:
        return None
    return saved / extra


def break_even_lines(results: list[LargeResult]) -> list[str]:
    lines = []
    for model in dict.fromkeys(r.model for r in results):
        by = {r.layout: r for r in results if r.model == model and r.backend == "int8" and not r.error}
        if "dense" in by and "swar" in by:
            n = break_even(by["dense"], by["swar"])
            if n is not None:
                lines.append(f"- int8 {model}: `dense` costs less in total below {n:,.0f} calls, `swar` above "
                             "(`--layout auto --calls N` picks by this).")
        if "swar" in by and "inline" in by:
            n = break_even(by["swar"], by["inline"])
            if n is not None:
                lines.append(f"- int8 {model}: `swar` with its words inline in tile contracts (`--weights inline`) "
                             f"costs less in total than in data contracts above {n:,.0f} calls.")
            elif by["inline"].deploy <= by["swar"].deploy and by["inline"].inference_gas <= by["swar"].inference_gas:
                lines.append(f"- int8 {model}: `--weights inline` is cheaper to deploy and to call.")
    return lines


def plot_large(results: list[LargeResult], path: Path) -> None:
    """Per int8 model: deployment + n inferences against n (log-log, top) and the same total over
    the swar layout's (bottom: below 1 a layout costs less than swar), break-evens marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = [m for m in dict.fromkeys(r.model for r in results)
              if any(r.model == m and r.backend == "int8" and not r.error for r in results)]
    if not models:
        return
    fig, axes = plt.subplots(2, len(models), figsize=(5.5 * len(models), 7.6), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 2]})
    calls = np.logspace(0, 5, 200)
    for col, model in enumerate(models):
        ax, rel = axes[0][col], axes[1][col]
        by = {r.layout: r for r in results if r.model == model and r.backend == "int8" and not r.error}
        for layout, r in by.items():
            total = r.deploy + calls * r.inference_gas
            ax.loglog(calls, total, label=f"{layout}: {r.deploy / r.parameters:.0f} gas/param, {r.exec_gas / r.macs:.2f} gas/MAC")
            if "swar" in by:
                rel.semilogx(calls, total / (by["swar"].deploy + calls * by["swar"].inference_gas), label=layout)
        for k, (cheap, dear) in enumerate((("dense", "swar"), ("swar", "inline"))):
            if cheap in by and dear in by and (n := break_even(by[cheap], by[dear])) is not None:
                for a in (ax, rel):
                    a.axvline(n, color="grey", ls="--", lw=1)
                ax.text(n * 1.1, 0.95 - 0.1 * k, f"{cheap} | {dear}: {n:,.0f} calls", transform=ax.get_xaxis_transform(),
                        fontsize=8, va="top")
        ax.set_title(f"int8 {model}: deploy + n inferences")
        ax.set_ylabel("total gas")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        rel.axhline(1, color="black", lw=0.6)
        rel.set_xlabel("inferences n")
        rel.set_ylabel("total / swar's total")
        rel.grid(True, which="both", alpha=0.3)
        rel.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
