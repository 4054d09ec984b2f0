"""``ml2sc estimate`` against the chain on nine models from other exporters.

Nine MLPs exported by PyTorch, Keras (tf2onnx) and scikit-learn (skl2onnx) — none of
them in ``bench/fit_gas_model.py``'s fit set — are estimated (the counted plan, and the
fitted model for contrast) and measured as ``ml2sc run`` measures: compiled with
``ml2sc.compile`` (calibrated on the same rows), deployed on a fresh embedded chain,
one transaction per row. Deployment is every contract plus the setup (upload)
transactions; inference is the mean receipt over the rows.

Run: ``.venv/bin/python bench/estimate_accuracy.py [--backends prbmath,int8,int8-dense,ml2sc-baseline]
[--chain embedded|anvil] [--out results.json]`` (``--chain anvil`` measures on anvil's revm, an EVM
implementation other than the py-evm the estimate counts with) (about 2 minutes with solc's output cached, 10 the first time; the ONNX files are cached in
``~/.cache/ml2sc/estimate_models/``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CACHE = Path.home() / ".cache" / "ml2sc" / "estimate_models"
ROWS = 12
BASELINE_MAX_MACS = 700  # the ML2SC-style baseline pays ~3,400 gas a MAC: keep its runs short
DENSE = "canonicalize,fold-batchnorm,fuse-affine,quantize-int8,place-weights{layout=dense}"
BACKENDS: dict[str, tuple[str, str | None]] = {  # label -> (backend, pipeline)
    "prbmath": ("prbmath", None),
    "int8": ("int8", None),
    "int8-dense": ("int8", DENSE),
    "ml2sc-baseline": ("ml2sc-baseline", None),
}


def _torch_models() -> list[tuple[str, Any, int]]:
    import torch
    from torch import nn

    torch.manual_seed(7)
    specs = [
        ("torch_30_16_1", nn.Sequential(nn.Linear(30, 16), nn.ReLU(), nn.Linear(16, 1), nn.Sigmoid())),
        ("torch_64_32_10", nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10), nn.Softmax(dim=1))),
        ("torch_10_8_8_3", nn.Sequential(nn.Linear(10, 8), nn.Tanh(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 3))),
    ]
    return [(name, model.eval(), model[0].in_features) for name, model in specs]


def _keras_models() -> list[tuple[str, Any, int]]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(11)
    specs = [
        ("keras_30_8_1", 30, [layers.Dense(8, activation="relu"), layers.Dense(1, activation="sigmoid")]),
        ("keras_20_16_4", 20, [layers.Dense(16, activation="relu"), layers.Dense(4, activation="softmax")]),
        ("keras_12_6_6_2", 12, [layers.Dense(6, activation="tanh"), layers.Dense(6, activation="relu"),
                                layers.Dense(2)]),
    ]
    return [(name, keras.Sequential([keras.Input((n,)), *ls], name=name), n) for name, n, ls in specs]


def _sklearn_models() -> list[tuple[str, Any, int]]:
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    cancer, digits, diabetes = load_breast_cancer(), load_digits(), load_diabetes()
    models = [
        ("sklearn_cancer_30_16", make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0))
         .fit(cancer.data, cancer.target), 30),
        ("sklearn_digits_64_24", make_pipeline(MinMaxScaler(), MLPClassifier(hidden_layer_sizes=(24,), max_iter=200, random_state=0))
         .fit(digits.data, digits.target), 64),
        ("sklearn_diabetes_10_8_4", MLPRegressor(hidden_layer_sizes=(8, 4), max_iter=500, random_state=0)
         .fit(diabetes.data, diabetes.target / 100), 10),
    ]
    return models


def export_models() -> list[tuple[str, Path, int]]:
    """The nine models as ONNX files (exported once, then read from the cache)."""
    from ml2sc.frontends.dispatch import to_onnx

    CACHE.mkdir(parents=True, exist_ok=True)
    out = []
    for make in (_torch_models, _keras_models, _sklearn_models):
        names = _NAMES[make]
        if all((CACHE / f"{n}.onnx").exists() for n in names):
            out += [(n, CACHE / f"{n}.onnx", _WIDTHS[n]) for n in names]
            continue
        for name, model, width in make():
            import onnx

            proto = to_onnx(model, sample_input=np.zeros((1, width), np.float32), n_features=width, name=name)
            onnx.save_model(proto, str(CACHE / f"{name}.onnx"))
            out.append((name, CACHE / f"{name}.onnx", width))
    return out


_NAMES: dict[Callable, list[str]] = {
    _torch_models: ["torch_30_16_1", "torch_64_32_10", "torch_10_8_8_3"],
    _keras_models: ["keras_30_8_1", "keras_20_16_4", "keras_12_6_6_2"],
    _sklearn_models: ["sklearn_cancer_30_16", "sklearn_digits_64_24", "sklearn_diabetes_10_8_4"],
}
_WIDTHS = {"torch_30_16_1": 30, "torch_64_32_10": 64, "torch_10_8_8_3": 10, "keras_30_8_1": 30, "keras_20_16_4": 20,
           "keras_12_6_6_2": 12, "sklearn_cancer_30_16": 30, "sklearn_digits_64_24": 64, "sklearn_diabetes_10_8_4": 10}


def rows_for(name: str, width: int) -> np.ndarray:
    """Inputs like the model's own data: scaled features in [0, 1) (raw data for the scaler pipelines)."""
    from sklearn.datasets import load_breast_cancer, load_digits

    if name == "sklearn_cancer_30_16":
        return load_breast_cancer().data[:ROWS].astype(np.float32)
    if name == "sklearn_digits_64_24":
        return load_digits().data[:ROWS].astype(np.float32)
    if name == "sklearn_diabetes_10_8_4":
        from sklearn.datasets import load_diabetes

        return load_diabetes().data[:ROWS].astype(np.float32)
    return np.random.default_rng(3).uniform(0, 1, (ROWS, width)).astype(np.float32)


def measure(path: Path, backend: str, pipeline: str | None, x: np.ndarray, chain: Any = None) -> dict[str, float]:
    """What ``ml2sc run`` reports: every receipt, on ``chain`` (default: a fresh embedded chain)."""
    import ml2sc
    from ml2sc.chain import EmbeddedChain

    compiled = ml2sc.compile(str(path), backend=backend, pipeline=pipeline, calibration=x, accept_loss=True)
    deployed = compiled.deploy(chain or EmbeddedChain(), progress=False)
    deployed.predict_raw(compiled.quantize(x))
    return {"deploy": deployed.gas.deploy + sum(deployed.gas.upload), "inference": float(np.mean(deployed.gas.inference)),
            "runtime_bytes": deployed.gas.runtime_bytes, "contracts": len(deployed.gas.contracts)}


def predict(path: Path, backend: str, pipeline: str | None, x: np.ndarray) -> dict[str, float | None]:
    from ml2sc.ir.errors import Ml2scError
    from ml2sc.tools.estimate import estimate
    from ml2sc.tools.plan import plans

    p, osaka, glamsterdam = plans(str(path), backend, forks=("prague", "osaka", "glamsterdam"), pipeline=pipeline,
                                  data=x, batch_rows=0)
    out: dict[str, float | None] = {"deploy": p.total_deploy_gas, "inference": p.inference_gas,
                                    "deploy_osaka": osaka.total_deploy_gas,
                                    "deploy_glamsterdam": glamsterdam.total_deploy_gas}
    try:
        fitted = estimate(str(path), backend, pipeline=pipeline, data=x, batch_rows=1)
        out |= {"fitted_deploy": fitted.total_deploy_gas, "fitted_inference": fitted.inference_gas}
    except Ml2scError:  # the fitted int8 model does not price the dense layout
        out |= {"fitted_deploy": None, "fitted_inference": None}
    return out


def _err(estimated: float | None, measured: float) -> float | None:
    return None if estimated is None else 100.0 * (estimated - measured) / measured


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--chain", default="embedded", choices=["embedded", "anvil"],
                        help="where to measure: embedded (py-evm, a fresh chain per model) or anvil (revm, "
                             "another EVM implementation, --hardfork prague)")
    args = parser.parse_args(argv)
    chain = None
    if args.chain == "anvil":
        from ml2sc.chain import open_chain

        chain = open_chain("anvil")
    from ml2sc.ir.errors import Ml2scError

    results = []
    models = export_models()
    for label in args.backends.split(","):
        backend, pipeline = BACKENDS[label]
        for name, path, width in models:
            x = rows_for(name, width)
            if backend == "ml2sc-baseline" and _macs(path) > BASELINE_MAX_MACS:
                continue
            try:
                m = measure(path, backend, pipeline, x, chain)
            except Ml2scError as e:  # the backend cannot compile this model (the baseline has no argmax)
                print(f"| {label} | {name} | skipped: {e} |", flush=True)
                continue
            p = predict(path, backend, pipeline, x)
            row = {"backend": label, "model": name, "measured": m, "estimated": p,
                   "deploy_err_pct": _err(p["deploy"], m["deploy"]), "inference_err_pct": _err(p["inference"], m["inference"]),
                   "fitted_deploy_err_pct": _err(p["fitted_deploy"], m["deploy"]),
                   "fitted_inference_err_pct": _err(p["fitted_inference"], m["inference"])}
            results.append(row)
            print(_line(row), flush=True)
    worst = {k: max(abs(r[k]) for r in results if r[k] is not None)
             for k in ("deploy_err_pct", "inference_err_pct", "fitted_deploy_err_pct", "fitted_inference_err_pct")
             if any(r[k] is not None for r in results)}
    print("worst |error| %: " + ", ".join(f"{k} {v:.3f}" for k, v in worst.items()))
    if args.out:
        Path(args.out).write_text(json.dumps({"results": results, "worst_abs_err_pct": worst}, indent=2))
    return 0


def _macs(path: Path) -> int:
    import onnx
    from onnx import numpy_helper

    return sum(numpy_helper.to_array(t).size for t in onnx.load_model(str(path)).graph.initializer
               if len(t.dims) == 2)


def _line(r: dict[str, Any]) -> str:
    m, p = r["measured"], r["estimated"]

    def pct(v: float | None) -> str:
        return "   n/a" if v is None else f"{v:+.3f}"

    return (f"| {r['backend']} | {r['model']} | {m['deploy']:,} | {p['deploy']:,} | {pct(r['deploy_err_pct'])} "
            f"| {m['inference']:,.0f} | {p['inference']:,} | {pct(r['inference_err_pct'])} "
            f"| {pct(r['fitted_deploy_err_pct'])} | {pct(r['fitted_inference_err_pct'])} "
            f"| {p['deploy_osaka']:,} | {p['deploy_glamsterdam']:,} |")


if __name__ == "__main__":
    sys.exit(main())
