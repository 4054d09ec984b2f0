"""int8 backend on a real EVM: every op, both input paths, batch, classify; EVM == simulator bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from eth_abi import decode, encode

from ml2sc.backends.common.link import link
from ml2sc.backends.common.naming import selector as _selector
from ml2sc.chain import Reverted
from ml2sc.compiler.driver import data_initcode
from ml2sc.ir import ops
from ml2sc.ir.reference import run_reference
from tests.backends.int8.helpers import MODELS, build

pytestmark = pytest.mark.evm


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    return np.random.default_rng(7).normal(0, 1.5, (16, 6)).astype(np.float32)


def _rows_for(m, rows: np.ndarray) -> np.ndarray:  # noqa: ANN001
    n = m.inputs[0].type.size
    return rows if n == rows.shape[1] else np.random.default_rng(3).normal(0, 1.5, (16, n)).astype(np.float32)


CASES = [(name, "auto") for name in sorted(MODELS)] + [
    (name, "data") for name in ("relu-softmax", "leaky-hard-sigmoid", "argmax-labels")]


@pytest.mark.parametrize(("name", "weights"), CASES)
def test_chain_equals_simulator(chain, rows: np.ndarray, name: str, weights: str) -> None:
    """Small models inline their weights (auto); 'data' forces data contracts and EXTCODECOPY.
    (Compiling at all proves zero solc warnings: ``CompiledModel.artifact`` refuses any.)"""
    m = MODELS[name]()
    x = _rows_for(m, rows)
    c = build(m, x, f"weights={weights}")
    assert bool(c.program.data_contracts) == (weights == "data" or name == "wide")  # wide: too big to inline
    d = c.deploy(chain)
    q = c.quantize(x)
    sim = c.simulate_raw(q)
    assert d.predict_raw(q, packed=True) == sim  # int8 bytes quantized off chain
    assert d.predict_raw(q, packed=False) == sim  # SD59x18, quantized on chain
    assert d.predict_batch_raw(q) == sim
    # the simulator with int8 input (the packed path) gives the same rows
    from ml2sc.backends.int8.simulator import simulate_row

    assert [simulate_row(c.ir, c.backend.int8_row(r), packed=True) for r in q] == sim
    # and the decoded outputs stay close to the float model
    ref, got = run_reference(m, x), c.simulate(x)
    for k, r in ref.items():
        if np.issubdtype(got[k].dtype, np.integer):
            assert np.mean(got[k] == r) >= 0.8
        else:
            assert np.abs(got[k] - r).max() < 0.25 * max(1.0, np.abs(r).max())


def test_ops_are_lowered_as_designed(rows: np.ndarray) -> None:
    """Fused relu/clip, tables for sigmoid/tanh/hard_sigmoid, skipped softmax under argmax."""
    kinds = {name: [type(op) for op in build(MODELS[name](), _rows_for(MODELS[name](), rows)).ir.ops]
             for name in ("relu-softmax", "tanh-sigmoid", "leaky-hard-sigmoid", "argmax-only", "unfused-relu", "clip")}
    assert ops.Relu not in kinds["relu-softmax"] and ops.QSoftmax in kinds["relu-softmax"]
    assert kinds["tanh-sigmoid"].count(ops.TableLookup) == 2
    assert ops.LeakyRelu in kinds["leaky-hard-sigmoid"] and ops.TableLookup in kinds["leaky-hard-sigmoid"]
    assert ops.QSoftmax not in kinds["argmax-only"]
    assert ops.Relu in kinds["unfused-relu"]
    assert ops.Clip not in kinds["clip"]


def test_classify_and_model_hash(chain, rows: np.ndarray) -> None:
    from eth_utils import keccak

    for name in ("argmax-labels", "relu-softmax", "tanh-sigmoid"):
        c = build(MODELS[name](), rows)
        d = c.deploy(chain)
        out = c.simulate(rows[:6])
        labels = d.classify(rows[:6])
        if "label" in out:
            expected = out["label"]
        elif out["y"].shape[1] == 1:
            expected = (out["y"][:, 0] >= 0.5).astype(int)
        else:  # argmax of the logits under the softmax
            env_rows = c.quantize(rows[:6])
            from ml2sc.backends.int8.simulator import run_row

            logits = c.ir.ops[-1].input.name
            expected = [int(np.argmax(run_row(c.ir, r)[logits])) for r in env_rows]
        assert list(labels) == list(expected), name
        assert d.model_hash() == keccak(text=c.ir_text)


def test_named_errors(chain, rows: np.ndarray) -> None:
    c = build(MODELS["linear"](), rows, "weights=data")
    d = c.deploy(chain)
    for sig, arg in (("predict(int256[])", ["int256[]", [1, 2, 3]]), ("predictPacked(bytes)", ["bytes", b"\x01\x02"]),
                     ("predictBatch(bytes)", ["bytes", b"\x00" * 7])):
        with pytest.raises(Reverted) as e:
            chain.transact(d.address, _selector(sig) + encode([arg[0]], [arg[1]]))
        assert e.value.data[:4] == _selector("InputLength(uint256,uint256)")
    with pytest.raises(Reverted) as e:
        chain.transact(d.address, _selector("predict(int256[])") + encode(["int256[]"], [[1, 2, 3]]))
    assert decode(["uint256", "uint256"], e.value.data[4:]) == (6, 3)
    # the constructor checks the data contracts linked into its code: unlinked, or linked to
    # other code, it refuses to deploy
    wrong = chain.deploy(data_initcode(b"\x00" + bytes(40))).address
    for initcode in (c.artifact.bytecode, link(c.artifact.bytecode, [wrong])):
        with pytest.raises(Reverted) as e:
            chain.deploy(initcode)
        assert e.value.data == _selector("DataContractHash(uint256)") + encode(["uint256"], [0])


def test_gas_report_lists_every_contract(chain, rows: np.ndarray) -> None:
    c = build(MODELS["relu-softmax"](), rows, "weights=data")
    d = c.deploy(chain)
    names = [name for name, _ in d.gas.contracts]
    assert names == [f"{c.program.contract_name}.data0", c.program.contract_name]
    assert d.gas.deploy == sum(g for _, g in d.gas.contracts)
    summary = d.gas.summary()
    assert summary["deploy_gas_per_contract"][0]["contract"].endswith(".data0")
