"""int8 models beyond one contract and one transaction, measured end to end (issue 13).

    .venv/bin/python bench/int8_split.py 784-512-256-10 --layout swar --chain embedded
    .venv/bin/python bench/int8_split.py 784-512-256-10 --weights inline --chain anvil
    .venv/bin/python bench/int8_split.py 784-2048-2048-10 --layout dense --chain anvil --rows 3

A torch MLP of the given sizes (ReLU, softmax; torch's default random initialisation, seeded)
exported to ONNX, calibrated on random inputs uniform in [0, 1), compiled with the int8
backend (tile contracts and steps decided by ``place-weights``), deployed, and run on other
random rows. Prints one JSON object: deployment gas (total, per parameter, largest
transaction), inference gas (per row, execution gas per multiply-accumulate, largest
transaction, transactions per row), EVM == simulator on every row, argmax agreement with
onnxruntime, and the wall time of each phase.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def torch_mlp(sizes: list[int], seed: int):  # noqa: ANN201 - an onnx.ModelProto
    import torch

    from ml2sc.tools.bench import _torch_onnx

    torch.manual_seed(seed)
    layers: list[torch.nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU() if i < len(sizes) - 2 else torch.nn.Softmax(dim=1)]
    return _torch_onnx(torch.nn.Sequential(*layers).eval(), sizes[0], "probabilities")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sizes", help="layer sizes, e.g. 784-512-256-10")
    p.add_argument("--layout", default="swar", choices=["swar", "dense"])
    p.add_argument("--weights", default="auto", choices=["auto", "data", "inline"],
                   help="swar: words in data contracts or as immediates in tile contracts (inline)")
    p.add_argument("--chain", default="embedded", choices=["embedded", "anvil"])
    p.add_argument("--rows", type=int, default=20, help="rows run on chain (default 20)")
    p.add_argument("--agreement-rows", type=int, default=500, help="rows for the simulator-vs-onnxruntime agreement")
    p.add_argument("--tx-gas-cap", type=int, help="the per-transaction cap (default EIP-7825's 16,777,216)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    import onnxruntime as ort

    import ml2sc
    from ml2sc.backends.int8.steps import TX_GAS_CAP
    from ml2sc.chain import open_chain
    from ml2sc.compiler.driver import get_backend

    sizes = [int(s) for s in args.sizes.split("-")]
    params = sum(a * b + b for a, b in zip(sizes, sizes[1:], strict=False))
    macs = sum(a * b for a, b in zip(sizes, sizes[1:], strict=False))
    rng = np.random.default_rng(args.seed)
    calibration = rng.uniform(0, 1, (256, sizes[0])).astype(np.float32)
    x = rng.uniform(0, 1, (max(args.rows, args.agreement_rows), sizes[0])).astype(np.float32)
    t0 = time.time()
    model = torch_mlp(sizes, args.seed)
    options = f"layout={args.layout},weights={args.weights}" + (f",tx_gas_cap={args.tx_gas_cap}" if args.tx_gas_cap else "")
    pipeline = get_backend("int8").pipeline.replace("place-weights", f"place-weights{{{options}}}")
    compiled = ml2sc.compile(model, backend="int8", pipeline=pipeline, calibration=calibration)
    runtime = compiled.artifact.runtime_size
    t1 = time.time()
    sess = ort.InferenceSession(model.SerializeToString())
    want = sess.run(None, {sess.get_inputs()[0].name: x[: args.agreement_rows]})[0].argmax(1)
    sim = compiled.simulate(x[: args.agreement_rows])["probabilities"].argmax(1)
    agreement = float((sim == want).mean())
    t2 = time.time()
    chain = open_chain(args.chain)
    deployed = compiled.deploy(chain, progress=False)
    t3 = time.time()
    rows = compiled.quantize(x[: args.rows])
    on_chain = deployed.predict_raw(rows)
    t4 = time.time()
    same = sum(a == b for a, b in zip(on_chain, compiled.simulate_raw(rows), strict=True))
    chain_argmax = np.asarray(on_chain)[:, : sizes[-1]].argmax(1)
    gas = deployed.gas
    per_row = gas.transactions_per_row
    exec_per_row = [sum(gas.inference_exec[i : i + per_row]) for i in range(0, len(gas.inference_exec), per_row)]
    meta = compiled.program.metadata
    print(json.dumps({
        "model": args.sizes, "layout": args.layout, "weights": meta.get("weights"), "chain": args.chain, "parameters": params, "macs": macs,
        "split": meta.get("split", "none"), "tiles": int(meta.get("tiles", 0)), "steps": int(meta.get("steps", 0)),
        "contracts": len(gas.contracts), "entry_runtime_bytes": runtime,
        "deploy_gas": gas.deploy, "deploy_gas_per_parameter": round(gas.deploy / params, 1),
        "deploy_gas_max_transaction": max(g for _, g in gas.contracts),
        "inference_transactions_per_row": per_row, "inference_gas_max_transaction": max(gas.inference),
        "inference_gas_per_row_mean": round(sum(gas.inference) / len(rows), 1),
        "exec_gas_per_row_mean": round(sum(exec_per_row) / len(exec_per_row), 1),
        "exec_gas_per_mac": round(sum(exec_per_row) / len(exec_per_row) / macs, 2),
        "inference_transactions_within_cap": max(gas.inference) <= (args.tx_gas_cap or TX_GAS_CAP),
        "deployment_transactions_within_chain_cap": max(g for _, g in gas.contracts) <= TX_GAS_CAP,
        "rows": len(rows), "evm_equals_simulator": f"{same}/{len(rows)}",
        "chain_argmax_equals_onnxruntime": f"{int((chain_argmax == want[: len(rows)]).sum())}/{len(rows)}",
        "simulator_argmax_agreement_with_onnxruntime": agreement, "agreement_rows": args.agreement_rows,
        "seconds": {"compile": round(t1 - t0, 1), "agreement": round(t2 - t1, 1), "deploy": round(t3 - t2, 1),
                    "inference": round(t4 - t3, 1)},
    }, indent=2))


if __name__ == "__main__":
    main()
