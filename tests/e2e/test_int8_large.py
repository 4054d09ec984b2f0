"""Issue 13: int8 models over one contract and over one transaction, end to end (slow).

784-512-256-10 (535,818 parameters, the usual MNIST MLP) deploys in both layouts on the
embedded chain and on anvil: SWAR as 72 data contracts + 5 tile contracts + the model,
dense as 23 data contracts + the model, inline SWAR as 80 tile contracts with the words as
immediates + the model; EVM == simulator on every row, argmax agreement
with onnxruntime >= 95% on random inputs calibrated on other random inputs, every
transaction within 16,777,216 gas. 784-1024-1024-10 dense in one transaction and in steps
under an 8M cap; 784-2048-2048-10 dense (~40M gas an inference) in steps on anvil; always
the one-shot simulator's outputs.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from ml2sc.chain import TX_GAS_CAP, open_chain
from ml2sc.compiler.driver import compile as compile_model
from ml2sc.compiler.driver import get_backend

pytestmark = [pytest.mark.slow, pytest.mark.evm]


def onnx_mlp(sizes: list[int], seed: int = 0) -> onnx.ModelProto:
    """Gemm + relu layers, softmax last; weights normal(0, 1/sqrt(fan-in))."""
    rng = np.random.default_rng(seed)
    inits, nodes, x = [], [], "x"
    for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
        inits += [numpy_helper.from_array(rng.normal(0, a ** -0.5, (a, b)).astype(np.float32), f"w{i}"),
                  numpy_helper.from_array(rng.normal(0, 0.1, b).astype(np.float32), f"b{i}")]
        nodes.append(helper.make_node("Gemm", [x, f"w{i}", f"b{i}"], [f"g{i}"]))
        last = i == len(sizes) - 2
        nodes.append(helper.make_node("Softmax", [f"g{i}"], ["probabilities"], axis=1) if last
                     else helper.make_node("Relu", [f"g{i}"], [f"r{i}"]))
        x = f"r{i}"
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", sizes[0]])],
                              [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", sizes[-1]])],
                              initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _compile(sizes: list[int], layout: str, options: str = ""):  # noqa: ANN202 - (CompiledModel, onnx model, test rows)
    model = onnx_mlp(sizes)
    rng = np.random.default_rng(1)
    calibration = rng.uniform(0, 1, (128, sizes[0])).astype(np.float32)
    x = rng.uniform(0, 1, (300, sizes[0])).astype(np.float32)
    pipeline = get_backend("int8").pipeline.replace("place-weights", f"place-weights{{layout={layout}{options}}}")
    return compile_model(model, backend="int8", pipeline=pipeline, calibration=calibration), model, x


@pytest.mark.parametrize("chain_name", ["embedded", "anvil"])
@pytest.mark.parametrize("layout", ["swar", "dense", "inline"])
def test_784_512_256_10_deploys_and_runs(layout: str, chain_name: str) -> None:
    import onnxruntime as ort

    if layout == "inline":  # SWAR words as immediates in tile contracts (weights=inline)
        c, model, x = _compile([784, 512, 256, 10], "swar", ",weights=inline")
    else:
        c, model, x = _compile([784, 512, 256, 10], layout)
    assert c.program.metadata.get("split") == (None if layout == "dense" else "tiles")
    sess = ort.InferenceSession(model.SerializeToString())
    want = sess.run(None, {"x": x})[0].argmax(1)
    assert (c.simulate(x)["probabilities"].argmax(1) == want).mean() >= 0.95
    chain = open_chain(chain_name)
    d = c.deploy(chain, progress=False)
    rows = c.quantize(x[:4])
    got = d.predict_raw(rows)
    assert got == c.simulate_raw(rows)
    assert (np.asarray(got).argmax(1) == want[:4]).mean() >= 0.75
    every = [g for _, g in d.gas.contracts] + d.gas.inference
    assert max(every) <= TX_GAS_CAP and d.gas.transactions_per_row == 1
    parameters, macs = 535_818, 535_040
    # measured (2026-12-05): swar 393,818,942 deploy gas (735.0 a parameter), 3.01 exec gas a MAC;
    # dense 119,732,690 (223.5), 6.86; (2026-12-06) inline: 775 a parameter, 2.2 a MAC
    per_param, per_mac = d.gas.deploy / parameters, max(d.gas.inference_exec) / macs
    bound = {"swar": (740, 3.05), "dense": (225, 6.9), "inline": (780, 2.25)}[layout]
    assert per_param <= bound[0] and per_mac <= bound[1], (per_param, per_mac)


def test_784_1024_1024_10_dense_one_shot_and_in_steps() -> None:
    """Its passes (1,024 one-byte weights x 32 outputs + records: 33 KB) straddle three data contracts;
    one inference (~12.4M gas) fits the cap, and under an 8M cap it runs in steps, same outputs."""
    chain = open_chain("embedded")
    for options, n_steps in (("", 0), (",tx_gas_cap=8000000", 2)):
        c, _, x = _compile([784, 1024, 1024, 10], "dense", options)
        assert int(c.program.metadata.get("steps", 0)) >= n_steps
        d = c.deploy(chain, progress=False)
        rows = c.quantize(x[:2])
        assert d.predict_raw(rows) == c.simulate_raw(rows)
        assert max(d.gas.inference) <= (8_000_000 if n_steps else TX_GAS_CAP)


def test_784_2048_2048_10_dense_over_the_cap_on_anvil() -> None:
    """One inference is ~40M gas (5.8M MACs): it runs as begin + steps, each within the cap, with the
    one-shot simulator's outputs; the 237 data contracts' addresses live in an address book.
    bench/int8_split.py measured (its torch model): 4 transactions a row, the largest 13,492,702 gas,
    1,285,474,678 deploy gas (220.7 a parameter)."""
    c, _, x = _compile([784, 2048, 2048, 10], "dense")
    assert int(c.program.metadata["steps"]) >= 3 and "immutable BOOK" in c.solidity
    with open_chain("anvil") as chain:  # type: ignore[attr-defined]
        d = c.deploy(chain, progress=False)
        rows = c.quantize(x[:2])
        assert d.predict_raw(rows) == c.simulate_raw(rows)
        assert max([*d.gas.inference, *(g for _, g in d.gas.contracts)]) <= TX_GAS_CAP
        assert sum(d.gas.inference) / len(rows) > TX_GAS_CAP  # the point: one transaction could not hold it
