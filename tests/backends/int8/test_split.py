"""Models beyond one contract (tile contracts) and beyond one transaction (begin/step sessions):
real solc, a real EVM, every output equal to the simulator's, every transaction within its cap."""

from __future__ import annotations

import numpy as np
import pytest
from eth_abi import encode

from ml2sc.backends.common.naming import selector
from ml2sc.backends.int8.place_weights import swar_code_bytes
from ml2sc.chain import TX_GAS_CAP, Reverted
from ml2sc.compiler import steps
from ml2sc.ir.errors import Ml2scError
from tests.backends.int8.helpers import MODELS, build, quantize
from tests.conftest import mlp_module

pytestmark = pytest.mark.evm


def _model(sizes: list[int], seed: int = 4) -> tuple:  # noqa: ANN201
    m = mlp_module(sizes, ["relu"] * (len(sizes) - 2) + ["softmax"], seed=seed, name="split")
    x = np.random.default_rng(seed + 1).uniform(0, 1, (24, sizes[0])).astype(np.float32)
    return m, x


@pytest.mark.parametrize("name", sorted(MODELS))
def test_tiles_evm_equals_simulator(chain, name: str) -> None:
    m = MODELS[name]()
    x = np.random.default_rng(1).uniform(-1, 1, (24, m.inputs[0].type.size)).astype(np.float32)
    c = build(m, x, place="weights=data,split=tiles")
    meta = c.program.metadata
    assert meta["split"] == "tiles" and int(meta["tiles"]) >= 1
    names = c.program.data_contract_names
    assert len(names) == len(c.program.data_contracts) and names[-1].startswith("tile")
    d = c.deploy(chain, progress=False)
    rows = c.quantize(x[:4])
    assert d.predict_raw(rows) == c.simulate_raw(rows)
    assert d.predict_raw(rows[:2], packed=False) == c.simulate_raw(rows[:2])
    assert d.predict_batch_raw(rows[:3]) == c.simulate_raw(rows[:3])


def test_split_decision_and_its_errors() -> None:
    m, x = _model([64, 96, 10])
    assert quantize(m, x, place="weights=data").attribute("int8.split") is None  # fits: the model is as before
    assert "asked for" in quantize(m, x, place="weights=data,split=tiles").attribute("int8.split.why")
    with pytest.raises(Ml2scError, match="split=tiles needs layout=swar"):
        quantize(m, x, place="layout=dense,split=tiles")
    big = quantize(mlp_module([784, 512, 10], ["relu", "softmax"]), np.random.default_rng(0).uniform(0, 1, (8, 784)))
    assert big.attribute("int8.split") == "tiles" and swar_code_bytes(big) > 24_576


@pytest.mark.parametrize("place", ["weights=data,tx_gas_cap=80000", "layout=dense,tx_gas_cap=90000",
                                   "weights=data,split=tiles,tx_gas_cap=90000"])
def test_steps_equal_the_one_shot_simulator(fresh_chain, place: str) -> None:
    m, x = _model([64, 96, 10])
    c = build(m, x, place=place)
    n_steps, cap = int(c.program.metadata["steps"]), int(c.program.metadata["tx_gas_cap"])
    assert n_steps >= 2
    d = c.deploy(fresh_chain, progress=False)
    rows = c.quantize(x[:3])
    assert d.predict_raw(rows) == c.simulate_raw(rows)
    assert d.gas.transactions_per_row == 1 + n_steps and len(d.gas.inference) == 3 * (1 + n_steps)
    assert max(d.gas.inference) <= cap, d.gas.inference
    assert d.gas.summary()["inference_transactions_per_row"] == 1 + n_steps
    # the one-shot entry points still run every step in one call
    out = fresh_chain.call(d.address, selector("predictPacked(bytes)") + encode(["bytes"], [c.backend.pack_row(rows[0])]))
    from eth_abi import decode

    assert list(decode(["int256[]"], out)[0]) == c.simulate_raw(rows[:1])[0]


def test_interrupted_session_resumes_from_the_chain(fresh_chain) -> None:
    m, x = _model([64, 96, 10])
    c = build(m, x, place="weights=data,tx_gas_cap=80000")
    d = c.deploy(fresh_chain, progress=False)
    rows = c.quantize(x[:2])
    want = c.simulate_raw(rows)
    s = steps.advance(d, steps.begin(d, rows[0]), 1)
    other = steps.begin(d, rows[1])  # another session in between: resume must pick its own events
    steps.advance(d, other, 1)
    assert s.next == 1 and steps.on_chain(d, s.id) == s
    del s  # the client forgets everything but the session id
    assert steps.resume(d, 1) == want[0]
    assert steps.resume(d, other.id) == want[1]
    assert steps.resume(d, 1) == want[0]  # a finished session: its outputs, from its last event
    # a finished session, or a state that is not the committed one, is refused with a named error
    def step(session: int, state: bytes) -> None:
        try:
            fresh_chain.transact(d.address, selector("step(uint256,bytes)") + encode(["uint256", "bytes"], [session, state]))
        except Reverted as e:
            raise c.explain(e, "step") from None

    with pytest.raises(Reverted, match=rf"step reverted: StepState\(session=1, next={c.program.metadata['steps']}\)"):
        step(1, b"\x01")
    t = steps.begin(d, rows[0])
    with pytest.raises(Reverted, match="StepState"):
        step(t.id, t.state[:-1] + bytes([t.state[-1] ^ 1]))


def test_cap_too_small_for_one_step_is_one_line_error() -> None:
    m, x = _model([64, 96, 10])
    with pytest.raises(Ml2scError, match=r"the smallest step of op 1 \(one SWAR group, dense pass or op\) needs ~"):
        build(m, x, place="weights=data,tx_gas_cap=50000")
    with pytest.raises(Ml2scError, match=r"begin\(\) needs ~"):
        build(mlp_module([784, 16, 10], ["relu", "softmax"]), np.random.default_rng(0).uniform(0, 1, (8, 784)),
              place="weights=data,tx_gas_cap=120000")
    with pytest.raises(Ml2scError, match="below what any transaction needs"):
        build(m, x, place="weights=data,tx_gas_cap=1000")
    with pytest.raises(Ml2scError, match="above the chain's per-transaction cap"):
        build(m, x, place="weights=data,tx_gas_cap=30000000")


def test_default_cap_leaves_small_models_unchanged() -> None:
    from ml2sc.backends.int8 import place_weights

    assert place_weights.TX_GAS_CAP == TX_GAS_CAP  # the backend's copy of the chain's constant
    m, x = _model([64, 96, 10])
    a, b = build(m, x, place="weights=data"), build(m, x, place=f"weights=data,tx_gas_cap={TX_GAS_CAP}")
    assert a.solidity == b.solidity and "step(" not in a.solidity and "_tile(" not in a.solidity


@pytest.mark.slow
def test_784_128_10_under_a_200000_cap(fresh_chain) -> None:
    """Issue 13: --tx-gas-cap 200000 splits each inference into several transactions whose outputs are
    the one-shot simulator's; measured 5 transactions a row (begin + 4 steps), the largest 182,644 gas."""
    m = mlp_module([784, 128, 10], ["relu", "softmax"], seed=11, name="mnist_784_128_10")
    x = np.random.default_rng(12).uniform(0, 1, (64, 784)).astype(np.float32)
    c = build(m, x, place="tx_gas_cap=200000")
    d = c.deploy(fresh_chain, progress=False)
    rows = c.quantize(x[:2])
    assert d.predict_raw(rows) == c.simulate_raw(rows)
    assert d.gas.transactions_per_row >= 3 and max(d.gas.inference) <= 200_000
    s = steps.advance(d, steps.begin(d, rows[0]), 2)
    assert steps.resume(d, s.id) == c.simulate_raw(rows[:1])[0]


def test_cli_tx_gas_cap_runs_and_validates_in_steps(tmp_path) -> None:  # noqa: ANN001
    """``--tx-gas-cap`` on run and validate: the inference in several transactions, reported per row."""
    import json
    import subprocess
    import sys

    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    inits = [numpy_helper.from_array(rng.normal(0, s[0] ** -0.5, s).astype(np.float32), n)
             for n, s in (("w1", (64, 96)), ("b1", (96,)), ("w2", (96, 10)), ("b2", (10,)))]
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"]), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["logits"]),
             helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1)]
    graph = helper.make_graph(nodes, "mlp64", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 64])],
                              [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10])],
                              initializer=inits)
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "m.onnx"))
    np.save(tmp_path / "x.npy", rng.uniform(0, 1, (6, 64)).astype(np.float32))
    common = [str(tmp_path / "m.onnx"), "-b", "int8", "--data", str(tmp_path / "x.npy"), "--tx-gas-cap", "80000", "--json"]
    run = subprocess.run([sys.executable, "-m", "ml2sc.compiler.cli", "run", *common, "--layout", "swar"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["inference_transactions_per_row"] == 1 + int(report["steps"]) >= 3, report
    assert report["inference_gas_max"] <= 80_000 and "80,000 cap" in report["steps_why"]
    validate = subprocess.run([sys.executable, "-m", "ml2sc.compiler.cli", "validate", *common], capture_output=True, text=True)
    assert validate.returncode == 0, validate.stderr + validate.stdout
    assert json.loads(validate.stdout)["evm_equals_simulator_rows"] == 6


def test_many_data_contracts_use_an_address_book(chain, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dense models over ~100 data contracts keep their addresses in an address book the constructor
    creates (one immutable instead of hundreds: EIP-3860's initcode limit); forced here on a small one."""
    from ml2sc.backends.int8 import dense_kernel

    monkeypatch.setattr(dense_kernel, "BOOK_MIN", 1)
    m, x = _model([300, 200, 10])
    c = build(m, x, place="layout=dense")
    assert len(c.program.data_contracts) > 1 and "immutable BOOK" in c.solidity and "immutable D0" not in c.solidity
    d = c.deploy(chain, progress=False)
    rows = c.quantize(x[:3])
    assert d.predict_raw(rows) == c.simulate_raw(rows)
    with pytest.raises(Reverted, match="DataContractHash"):  # the loop still checks every code hash
        from eth_abi import encode as abi_encode

        try:
            chain.deploy(c.artifact.bytecode + abi_encode(["address[]"], [[d.address] * len(c.program.data_contracts)]))
        except Reverted as e:
            raise c.explain(e, "constructor") from None


@pytest.mark.parametrize("place", ["weights=data,tx_gas_cap=80000", "layout=dense,tx_gas_cap=90000",
                                   "weights=data,split=tiles,tx_gas_cap=90000"])
def test_every_state_is_the_simulators_values(fresh_chain, place: str) -> None:
    """The state between steps is the live values exactly as the simulator computes them (one byte an
    int8 value, not-yet-computed outputs 0): a client can check any state it is handed."""
    from ml2sc.backends.int8.emitter import Int8Emitter
    from ml2sc.backends.int8.simulator import run_row

    m, x = _model([64, 96, 10])
    c = build(m, x, place=place)
    d = c.deploy(fresh_chain, progress=False)
    plan = Int8Emitter(c.ir)
    row = c.quantize(x[:1])[0]
    values = run_row(c.ir, row)
    s = steps.begin(d, row)
    for k in range(len(plan.steps)):
        assert s.state == plan.expected_state(k, values), k
        s = steps.advance(d, s, 1)
    assert steps.outputs(s) == c.simulate_raw([row])[0]


@pytest.mark.parametrize("head", ["hidden-output", "argmax-only", "deep"])
def test_steps_keep_every_value_a_later_op_or_output_needs(fresh_chain, head: str) -> None:
    """A hidden layer that is also a model output stays in the state to the end; an argmax head, a
    deeper stack with table activations: the stepped outputs are still the simulator's."""
    from tests.backends.int8.helpers import hidden_output, with_head

    if head == "deep":
        m = mlp_module([64, 48, 32, 10], ["relu", "tanh", "sigmoid"], seed=6, name="deep_steps")
    else:
        m = mlp_module([64, 96, 10], ["relu", "softmax" if head == "argmax-only" else ""], seed=6, name="heads")
        m = hidden_output(m) if head == "hidden-output" else with_head(m, "argmax-only")
    x = np.random.default_rng(8).uniform(0, 1, (24, 64)).astype(np.float32)
    cap = 110_000 if head == "hidden-output" else 95_000  # one step must hold a group and the state
    c = build(m, x, place=f"weights=data,tx_gas_cap={cap}")
    assert int(c.program.metadata["steps"]) >= 2
    d = c.deploy(fresh_chain, progress=False)
    rows = c.quantize(x[:2])
    assert d.predict_raw(rows) == c.simulate_raw(rows)
    assert max(d.gas.inference) <= cap


def test_resume_on_anvil_reads_the_step_events() -> None:
    """The JSON-RPC path of resume: the session's state from eth_getLogs."""
    from ml2sc.chain.rpc import AnvilChain

    m, x = _model([64, 96, 10])
    c = build(m, x, place="weights=data,tx_gas_cap=80000")
    with AnvilChain() as chain:
        d = c.deploy(chain, progress=False)
        rows = c.quantize(x[:1])
        s = steps.advance(d, steps.begin(d, rows[0]), 1)
        assert steps.on_chain(d, s.id) == s
        assert steps.resume(d, s.id) == c.simulate_raw(rows)[0]
        assert max(d.gas.inference) <= 80_000
