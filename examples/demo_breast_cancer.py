"""The main demo: ML2SC's MLP_2L_4n on breast cancer, trained, compiled and run on chain.

Reproduces the ML2SC setup (min-max scaled features, first 50 rows as the test
set, Adam lr=0.001, batch 4, 30 epochs, BCE on a sigmoid output), exports the
model to ONNX, compiles it with the prbmath backend, deploys it on the embedded
chain and validates every test row against onnxruntime and the simulator.
Run: make demo   (or: .venv/bin/python examples/demo_breast_cancer.py)
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer

import ml2sc
from ml2sc.compiler.validate import validate


def ml2sc_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    data = load_breast_cancer()
    x = data.data.astype(np.float64)
    x = ((x - x.min(axis=0)) / (x.max(axis=0) - x.min(axis=0))).astype(np.float32)
    y = (1 - data.target).astype(np.float32)  # ML2SC: 1 = malignant
    return x[50:], y[50:], x[:50], y[:50]


def train_mlp_2l_4n(x: np.ndarray, y: np.ndarray, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(30, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1), torch.nn.Sigmoid())
    opt = torch.optim.Adam(model.parameters(), lr=0.001)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)[:, None]
    for _ in range(30):
        for i in torch.randperm(len(xt)).split(4):
            opt.zero_grad()
            torch.nn.functional.binary_cross_entropy(model(xt[i]), yt[i]).backward()
            opt.step()
    return model.eval()


def main() -> int:
    x_train, y_train, x_test, y_test = ml2sc_data()
    model = train_mlp_2l_4n(x_train, y_train)
    with torch.no_grad():
        local_acc = float(((model(torch.from_numpy(x_test))[:, 0] > 0.5).numpy() == y_test).mean())

    path = Path(tempfile.mkdtemp()) / "mlp_2l_4n.onnx"
    torch.onnx.export(model, (torch.zeros(1, 30),), str(path), input_names=["x"], output_names=["probability"],
                      dynamic_axes={"x": {0: "batch"}, "probability": {0: "batch"}}, dynamo=False)

    compiled = ml2sc.compile(path, backend="prbmath")
    deployed = compiled.deploy("embedded")
    report = validate(compiled, x_test, deployed)
    chain_labels = (compiled.simulate(x_test)["probability"][:, 0] >= 0.5).astype(np.float32)
    onchain_acc = float((chain_labels == y_test).mean())

    print(f"contract {compiled.program.contract_name}: {compiled.artifact.runtime_size} bytes of runtime code")
    print(f"deployment gas (all weights included):  {deployed.gas.deploy:,}")
    print(f"inference gas per sample (max, packed): {max(deployed.gas.inference):,} "
          f"= 21,000 + {max(deployed.gas.inference) - 21_000:,}")
    print(f"ML2SC published MLP_2L_4n: ~344,000 gas per sample; deploy + upload 5,393,909 gas")
    print(f"EVM == simulator on {report.evm_equals_simulator}/{report.rows} rows; "
          f"oracle onnxruntime {report.precision}")
    for o in report.outputs:
        print(f"  output '{o.name}': max abs error {o.max_abs_error:.2e}  ok={o.ok}")
    print(f"accuracy on the 50 test rows: local {local_acc:.0%}, on chain {onchain_acc:.0%}")
    print(json.dumps({"deploy_gas": deployed.gas.deploy, "inference_gas_max": max(deployed.gas.inference)}))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
