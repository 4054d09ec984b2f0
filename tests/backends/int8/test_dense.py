"""The dense weight layout: packing, the overflow bound, the layout decision, and every
model family on a real EVM equal to the simulator bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from ml2sc.backends.int8.dense import dense_dot, pack_pass, plan_dense
from ml2sc.backends.int8.place_weights import PlaceWeights
from ml2sc.chain import TX_GAS_CAP
from ml2sc.ir.errors import Ml2scError
from tests.backends.int8.helpers import MODELS, build, quantize
from tests.conftest import mlp_module


@pytest.mark.parametrize(("n_out", "n_in"), [(10, 128), (128, 784), (3, 5), (33, 300), (17, 2), (1, 1), (64, 259)])
def test_packed_words_give_the_exact_dot_products(n_out: int, n_in: int) -> None:
    rng = np.random.default_rng(n_out * 1000 + n_in)
    rows = rng.integers(-127, 128, (n_out, n_in)).tolist()
    p = rng.integers(0, 256, n_in).tolist()
    plan = plan_dense(n_out, n_in, "test")
    assert plan.lane_bytes == (3 if n_in <= 258 else 4)
    for q in plan.passes:
        expected = [sum((rows[j][i] + 128) * p[i] for i in range(n_in)) for j in range(q.first_output, q.first_output + q.outputs)]
        assert dense_dot(pack_pass(rows, plan, q), p, plan, q) == expected
    assert sum(len(pack_pass(rows, plan, q)) for q in plan.passes) <= n_out * n_in + 32 * len(plan.passes) * 4 + 32 * n_in // 2


def test_fan_in_beyond_32_bit_lanes_is_refused() -> None:
    with pytest.raises(Ml2scError, match="overflow"):
        plan_dense(4, 70_000, "qgemm %h")


def test_layout_decision_is_written_with_its_reason() -> None:
    m = mlp_module([64, 32, 10], ["relu", "softmax"], seed=2)
    x = np.random.default_rng(3).uniform(-1, 1, (16, 64)).astype(np.float32)
    q = quantize(m, x, place="layout=dense")
    assert (q.attribute("int8.layout"), q.attribute("int8.weights")) == ("dense", "data")
    few, many = (PlaceWeights(layout="auto", calls=n).apply(quantize(m, x)) for n in (1, 10**9))
    assert few.attribute("int8.layout") == "dense" and "worth it over 1 calls" in few.attribute("int8.layout.why")
    assert many.attribute("int8.layout") == "swar" and "not worth it" in many.attribute("int8.layout.why")
    with pytest.raises(Ml2scError, match="dense layout needs weights=data"):
        quantize(m, x, place="layout=dense,weights=inline")


@pytest.mark.evm
@pytest.mark.parametrize("name", sorted(MODELS))
def test_dense_evm_equals_simulator(chain, name: str) -> None:
    m = MODELS[name]()
    x = np.random.default_rng(1).uniform(-1, 1, (24, m.inputs[0].type.size)).astype(np.float32)
    c = build(m, x, place="layout=dense")
    assert c.program.metadata["layout"] == "dense"
    d = c.deploy(chain, progress=False)
    rows = c.quantize(x[:6])
    assert d.predict_raw(rows, packed=True) == c.simulate_raw(rows)
    assert d.predict_raw(rows[:2], packed=False) == c.simulate_raw(rows[:2])
    assert d.predict_batch_raw(rows[:3]) == c.simulate_raw(rows[:3])


@pytest.mark.evm
def test_dense_exact_gas_regression(fresh_chain) -> None:
    """Gas is deterministic: a change in the dense kernels that moves these must be deliberate."""
    m = mlp_module([30, 16, 3], ["relu", "softmax"], seed=3, name="dense_regression")
    x = np.random.default_rng(5).uniform(0, 1, (8, 30)).astype(np.float32)
    c = build(m, x, place="layout=dense")
    d = c.deploy(fresh_chain, progress=False)
    d.predict_raw(c.quantize(x[:3]))
    assert (c.artifact.runtime_size, d.gas.deploy, d.gas.inference) == GOLDEN


GOLDEN = (2165, 1078380, [41084, 41072, 41076])  # runtime bytes, deploy gas (all contracts), three inferences
# (2026-12-06: data contracts linked, not immutables: was (2256, 1105628, [41363, 41351, 41355]))


@pytest.mark.slow
@pytest.mark.evm
def test_784_128_10_dense_deploys_under_230_gas_per_parameter(fresh_chain) -> None:
    m = mlp_module([784, 128, 10], ["relu", "softmax"], seed=11, name="mnist_784_128_10")
    x = np.random.default_rng(12).uniform(0, 1, (64, 784)).astype(np.float32)
    c = build(m, x, place="layout=dense")
    d = c.deploy(fresh_chain, progress=False)
    parameters = 784 * 128 + 128 + 128 * 10 + 10
    assert d.gas.deploy / parameters <= 230, d.gas.contracts  # measured: 229.7 (23,378,218 / 101,770)
    assert max(g for _, g in d.gas.contracts) <= TX_GAS_CAP
    rows = c.quantize(x[:3])
    assert d.predict_raw(rows) == c.simulate_raw(rows)
    assert (len(d.gas.contracts), d.gas.deploy, max(d.gas.inference_exec)) == GOLDEN_784


GOLDEN_784 = (6, 23378218, 790890)  # (2026-12-06, linked; was 23,393,041 and 790,839) contracts, deploy gas (all), execution gas of the costliest of three packed inferences
