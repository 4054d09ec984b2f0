"""PyTorch to the chain in one call: train an MLP on digits, compile the module itself, run it on chain.

Copy this into your training script: ``ml2sc.compile(model)`` takes the trained
``nn.Module`` (no manual ONNX export), deploys with ``.deploy()`` and predicts
with real transactions whose gas is reported.
Run: .venv/bin/python examples/torch_mlp.py
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

import ml2sc


def main() -> None:
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=0.2, random_state=0)

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 24), nn.BatchNorm1d(24), nn.ReLU(), nn.Dropout(0.1), nn.Linear(24, 10), nn.Softmax(dim=1))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train).long()
    for _ in range(30):
        for batch in torch.randperm(len(xt)).split(64):
            optimiser.zero_grad()
            nn.functional.nll_loss(torch.log(model(xt[batch]) + 1e-9), yt[batch]).backward()
            optimiser.step()

    compiled = ml2sc.compile(model, backend="prbmath", name="digits_mlp")  # BatchNorm folded, Dropout dropped
    deployed = compiled.deploy("embedded")
    rows = x_test[:20]
    on_chain = deployed.predict(rows)["output"].argmax(axis=1)
    with torch.no_grad():
        local = model.eval()(torch.from_numpy(rows)).numpy().argmax(axis=1)

    gas = deployed.gas.summary()
    print(f"contract {compiled.program.contract_name}: deploy {gas['deploy_gas']:,} gas, "
          f"inference {gas['inference_gas_mean']:,.0f} gas per row")
    print(f"on-chain class == PyTorch class on {(on_chain == local).sum()}/{len(rows)} rows; "
          f"accuracy {np.mean(on_chain == y_test[:20]):.0%}")


if __name__ == "__main__":
    main()
