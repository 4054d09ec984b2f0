"""int8 weight layouts side by side on 784-128-10 (relu, softmax): deployment and inference gas.

    .venv/bin/python bench/layouts.py [--sizes 784,128,10]

The layouts (swar, dense, and swar with its words inline: ``--weights inline``) are compiled
from the same quantized IR, deployed on a fresh embedded chain (Prague) and run on the same rows; every output is checked against the simulator. The
SWAR layout is the baseline the ratios are taken against.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from ml2sc.chain import EmbeddedChain
from ml2sc.compiler.driver import CompiledModel, get_backend
from ml2sc.compiler.passes.manager import PassManager
from ml2sc.ir import ops
from ml2sc.ir.module import Module
from ml2sc.tools.bench_large import random_mlp


def measure(module: Module, x: np.ndarray, layout: str) -> dict[str, float]:
    backend = get_backend("int8")
    option = "weights=inline" if layout == "inline" else f"layout={layout}"  # inline: the swar words as immediates
    manager = PassManager.from_pipeline(backend.pipeline.replace("place-weights", f"place-weights{{{option}}}"))
    manager.passes = [dataclasses.replace(p, calibration=x) if hasattr(p, "calibration") else p for p in manager.passes]
    ir = manager.run(module)
    compiled = CompiledModel(module, ir, backend.emit(ir), backend)
    deployed = compiled.deploy(EmbeddedChain(), progress=False)
    rows = compiled.quantize(x[:3])
    assert deployed.predict_raw(rows) == compiled.simulate_raw(rows), "EVM != simulator"
    gemms = [o for o in module.ops if isinstance(o, ops.Gemm)]
    params = sum(module.constant(g.weight).type.size + module.constant(g.bias).type.size for g in gemms)
    macs = sum(module.constant(g.weight).type.size for g in gemms)
    return {"contracts": len(deployed.gas.contracts), "deploy": deployed.gas.deploy,
            "deploy_per_param": deployed.gas.deploy / params,
            "largest_tx": max(g for _, g in deployed.gas.contracts),
            "exec": max(deployed.gas.inference_exec), "exec_per_mac": max(deployed.gas.inference_exec) / macs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="784,128,10")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    module = random_mlp(sizes)
    x = np.random.default_rng(12).uniform(0, 1, (64, sizes[0])).astype(np.float32)
    results = {layout: measure(module, x, layout) for layout in ("swar", "dense", "inline")}
    base = results["swar"]
    print(f"int8 {'-'.join(map(str, sizes))}, embedded chain (Prague); ratios against swar")
    print(f"{'layout':8}{'contracts':>10}{'deploy gas':>14}{'gas/param':>11}{'largest tx':>13}{'exec gas':>11}{'gas/MAC':>9}"
          f"{'deploy x':>10}{'exec x':>8}")
    for layout, r in results.items():
        print(f"{layout:8}{r['contracts']:>10}{r['deploy']:>14,}{r['deploy_per_param']:>11.1f}{r['largest_tx']:>13,}"
              f"{r['exec']:>11,}{r['exec_per_mac']:>9.2f}{r['deploy'] / base['deploy']:>10.3f}{r['exec'] / base['exec']:>8.2f}")
    extra = results["dense"]["exec"] - base["exec"]
    print(f"dense pays off below {(base['deploy'] - results['dense']['deploy']) / extra:,.0f} inferences")
    saved = base["exec"] - results["inline"]["exec"]
    if saved > 0:
        print(f"inline (swar words as immediates in tile contracts) pays off above "
              f"{(results['inline']['deploy'] - base['deploy']) / saved:,.0f} inferences")


if __name__ == "__main__":
    main()
