"""The main demo: ML2SC's MLP_2L_4n on breast cancer, trained, compiled and run on chain.

Reproduces the ML2SC setup (min-max scaled features, first 50 rows as the test
set, Adam lr=0.001, batch 4, 30 epochs, BCE on a sigmoid output), exports the
model to ONNX, compiles it with the prbmath backend, deploys it on the embedded
chain and validates every test row against onnxruntime and the simulator.
Run: make demo   (or: .venv/bin/python examples/demo_breast_cancer.py)
"""

from __future__ import annotations

import sys

import torch

import ml2sc
from ml2sc.tools import ml2sc_suite as suite
from ml2sc.tools.validate import validate


def main() -> int:
    _, _, x_test, y_test = suite.breast_cancer()
    print("training MLP_2L_4n (30-4-1, ReLU, sigmoid) with ML2SC's recipe ...")
    model = suite.train(suite.ARCHITECTURES["MLP_2L_4n"])
    with torch.no_grad():
        local = suite.accuracy(model(torch.from_numpy(x_test)).numpy(), y_test)

    compiled = ml2sc.compile(suite.to_onnx(model), backend="prbmath", name="mlp_2l_4n")
    deployed = compiled.deploy("embedded")
    report = validate(compiled, x_test, deployed)
    onchain = suite.accuracy(compiled.simulate(x_test)["probability"], y_test)
    inference = max(deployed.gas.inference)

    print(f"contract {compiled.program.contract_name}: {compiled.artifact.runtime_size:,} bytes of runtime code")
    print(f"deployment gas, all weights included:     {deployed.gas.deploy:>9,}   (ML2SC: 2,215,285 + 3,178,624 upload)")
    print(f"inference gas per sample (max of 50 rows): {inference:>9,}   = 21,000 + {inference - 21_000:,}  (ML2SC: ~344,000)")
    print(f"EVM == simulator on {report.evm_equals_simulator}/{report.rows} rows; oracle: onnxruntime in {report.precision}")
    for o in report.outputs:
        print(f"  output '{o.name}': max abs error {o.max_abs_error:.2e} (tolerance 1e-6) -> {'ok' if o.ok else 'FAIL'}")
    print(f"accuracy on the 50 test rows: local {local:.0%}, on chain {onchain:.0%}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
