"""Chains: embedded and anvil give identical gas for every backend; the RPC path works; anvil stops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ml2sc.chain import ChainError, open_chain
from ml2sc.chain.rpc import ANVIL_DEV_KEY, AnvilChain
from ml2sc.compiler.driver import CompiledModel, get_backend
from ml2sc.compiler.passes.manager import PassManager
from ml2sc.compiler.registry import backends
from tests.conftest import mlp_module

pytestmark = pytest.mark.evm


def compiled_for(backend_name: str) -> CompiledModel:
    m = mlp_module([12, 5, 3], ["tanh", "softmax"], seed=11, name=f"gas_{backend_name}")
    be = get_backend(backend_name)
    manager = PassManager.from_pipeline(be.pipeline)
    calibration = np.random.default_rng(1).normal(size=(16, 12)).astype(np.float32)  # for quantize-int8
    manager.passes = [replace(p, calibration=calibration) if hasattr(p, "calibration") else p for p in manager.passes]
    q = manager.run(m)
    return CompiledModel(m, q, be.emit(q), be)


def gas_on(chain, c: CompiledModel, x: np.ndarray) -> tuple:  # noqa: ANN001
    d = c.deploy(chain)
    rows = c.quantize(x)
    outputs = d.predict_raw(rows) + d.predict_raw(rows[:2], packed=False)
    if c.backend.pack_row(rows[0]) is not None:  # backends with packed input serve predictBatch
        d.predict_batch_raw(rows)
    return d.gas.deploy, d.gas.upload, d.gas.inference, d.gas.batch, outputs


@pytest.fixture(scope="module")
def anvil():  # noqa: ANN201
    with AnvilChain() as chain:
        yield chain


@pytest.mark.parametrize("backend_name", backends.names())
def test_embedded_and_anvil_gas_are_identical(chain, anvil, backend_name: str) -> None:
    c = compiled_for(backend_name)
    x = np.random.default_rng(2).normal(size=(4, 12)).astype(np.float32)
    on_embedded = gas_on(chain, c, x)
    on_anvil = gas_on(anvil, c, x)
    assert on_embedded == on_anvil
    assert on_anvil[4][:4] == c.simulate_raw(c.quantize(x))


def test_rpc_url_with_key_from_env(anvil, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_KEY", ANVIL_DEV_KEY)
    rpc = open_chain(rpc_url=anvil.url, key_env="MY_KEY")
    c = compiled_for("prbmath")
    x = np.ones((2, 12), dtype=np.float32)
    d = c.deploy(rpc)
    assert d.predict_raw(c.quantize(x)) == c.simulate_raw(c.quantize(x))


def test_rpc_url_with_keystore(anvil, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from eth_account import Account

    (tmp_path / "key.json").write_text(json.dumps(Account.encrypt(ANVIL_DEV_KEY, "pw", iterations=2)))
    monkeypatch.setenv("ML2SC_KEYSTORE_PASSWORD", "pw")
    rpc = open_chain(rpc_url=anvil.url, keystore=str(tmp_path / "key.json"))
    assert rpc.sender == Account.from_key(ANVIL_DEV_KEY).address


def test_missing_key_and_unreachable_node_are_clear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ML2SC_PRIVATE_KEY", raising=False)
    with pytest.raises(ChainError, match=r"set \$ML2SC_PRIVATE_KEY"):
        open_chain(rpc_url="http://127.0.0.1:9")
    monkeypatch.setenv("ML2SC_PRIVATE_KEY", ANVIL_DEV_KEY)
    with pytest.raises(ChainError, match="cannot reach the node"):
        open_chain(rpc_url="http://127.0.0.1:9")


def test_anvil_is_stopped_on_close() -> None:
    chain = AnvilChain()
    proc = chain._proc
    assert proc.poll() is None
    chain.close()
    assert proc.poll() is not None


def test_cli_run_on_anvil(tmp_path: Path) -> None:
    import onnx

    from ml2sc.tools import ml2sc_suite as suite

    onnx.save_model(suite.to_onnx(suite.build([30, 2, 1])), str(tmp_path / "m.onnx"))
    np.save(tmp_path / "x.npy", np.random.default_rng(0).uniform(0, 1, (3, 30)).astype(np.float32))
    args = ["run", str(tmp_path / "m.onnx"), "--data", str(tmp_path / "x.npy"), "--json"]
    out = {}
    for chain_name in ("embedded", "anvil"):
        proc = subprocess.run([sys.executable, "-m", "ml2sc.compiler.cli", *args, "--chain", chain_name],
                              capture_output=True, text=True, env=dict(os.environ))
        assert proc.returncode == 0, proc.stderr
        out[chain_name] = json.loads(proc.stdout)
    for key in ("deploy_gas", "inference_gas_max", "inference_gas_min"):
        assert out["embedded"][key] == out["anvil"][key]


SPINNER = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract Spin { function spin() external pure { while (true) {} } }
contract Caller {
    function go(address s) external view {
        (bool ok, ) = s.staticcall(abi.encodeWithSignature("spin()"));
        if (!ok) revert();  // bubbles no data, as an entry whose stage ran dry does
    }
}
"""


def test_embedded_chain_names_an_inner_out_of_gas() -> None:
    """A revert without data that used (nearly) all its gas says so, instead of just 'no revert data'."""
    from eth_abi import encode

    from ml2sc.backends.common.naming import selector
    from ml2sc.chain import EmbeddedChain, Reverted
    from ml2sc.compiler.solc import compile_solidity

    out = compile_solidity({"Spin.sol": SPINNER})
    chain = EmbeddedChain()
    spin = chain.deploy(out["Spin"].bytecode).address
    caller = chain.deploy(out["Caller"].bytecode).address
    with pytest.raises(Reverted, match=r"no revert data \(it used [\d,]+ of its 1,000,000 gas: out of gas\)"):
        chain.transact(caller, selector("go(address)") + encode(["address"], [spin]), gas=1_000_000)


def test_bench_batches_fit_the_cap() -> None:
    from ml2sc.chain import TX_GAS_CAP
    from ml2sc.tools.bench import BATCH, batch_rows

    assert batch_rows(30_000) == BATCH
    assert batch_rows(2_275_026) == 6  # prbmath 784-128-10: 6 rows a predictBatch
    assert batch_rows(TX_GAS_CAP) == 1
