"""The life of a deployed model from the command line, on anvil, deploy and predict each in its
own process: ``ml2sc deploy`` writes the record, a second ``deploy`` sends nothing, ``ml2sc
predict`` (eth_call and --send, by record and by address) writes exactly the outputs ``ml2sc run``
writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ml2sc.chain.rpc import ANVIL_DEV_KEY, AnvilChain
from ml2sc.compiler import cli
from ml2sc.ir.errors import Ml2scError
from tests.deploy.conftest import rows

pytestmark = pytest.mark.evm


def ml2sc(*args: str, cwd: Path, key: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ML2SC_PRIVATE_KEY"}
    if key:
        env["ML2SC_PRIVATE_KEY"] = ANVIL_DEV_KEY
    proc = subprocess.run([sys.executable, "-m", "ml2sc.compiler.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env)
    return proc


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def nonce(chain: AnvilChain) -> int:
    return int(chain.rpc("eth_getTransactionCount", chain.sender, "latest"), 16)


def test_deploy_record_predict_from_other_processes(anvil: AnvilChain, model_file: Path, tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", rows(6))
    out = json.loads(ok(ml2sc("deploy", str(model_file), "--rpc-url", anvil.url, "--json", cwd=tmp_path)))
    record_file = tmp_path / "deployments" / str(anvil.chain_id) / "Classifier.json"
    assert out["deployed"] and Path(tmp_path / out["record"]) == record_file
    record = json.loads(record_file.read_text())
    assert record["transactionHash"] and record["blockNumber"] >= 1 and record["address"] == out["address"]

    sent = nonce(anvil)
    again = ok(ml2sc("deploy", str(model_file), "--rpc-url", anvil.url, cwd=tmp_path))
    assert "already deployed" in again and nonce(anvil) == sent  # found the record: not one transaction

    assert cli.main(["run", str(model_file), "--data", str(tmp_path / "x.npy"), "--out", str(tmp_path / "run.npz")]) == 0
    by_call = ml2sc("predict", str(record_file), "--data", "x.npy", "--out", "call.npz", "--rpc-url", anvil.url,
                    cwd=tmp_path, key=False)  # eth_call: no key needed
    assert "code hash checked" in ok(by_call) and nonce(anvil) == sent
    report = json.loads(ok(ml2sc("predict", record["address"], "--data", "x.npy", "--out", "send.npz", "--send",
                                 "--rpc-url", anvil.url, "--json", cwd=tmp_path)))
    assert report["mode"] == "send" and report["inferences"] == 6 and report["inference_gas_max"] > 21_000
    assert nonce(anvil) == sent + 6

    expected = np.load(tmp_path / "run.npz")
    for name in ("call.npz", "send.npz"):
        got = np.load(tmp_path / name)
        assert sorted(got.files) == sorted(expected.files) == ["label", "probabilities"]
        for key in expected.files:
            assert got[key].dtype == expected[key].dtype and np.array_equal(got[key], expected[key]), (name, key)


def test_predict_errors_are_one_line(anvil: AnvilChain, model_file: Path, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ML2SC_PRIVATE_KEY", ANVIL_DEV_KEY)
    assert cli.main(["deploy", str(model_file), "--rpc-url", anvil.url, "--name", "errs"]) == 0
    monkeypatch.delenv("ML2SC_PRIVATE_KEY")
    record_file = tmp_path / "deployments" / str(anvil.chain_id) / "errs.json"
    np.save(tmp_path / "wide.npy", np.ones((2, 9), dtype=np.float32))
    np.save(tmp_path / "x.npy", rows(2))
    record = json.loads(record_file.read_text())
    other = tmp_path / "other.json"
    other.write_text(json.dumps(record | {"codeHash": "0x" + "11" * 32,
                                          "contracts": [record["contracts"][0] | {"codeHash": "0x" + "11" * 32}]}))
    cases = [
        (["predict", str(record_file), "--data", "wide.npy"], "9 features per row, the model takes 6"),
        (["predict", str(other), "--data", "x.npy"], f"at {record['address']} on chain {anvil.chain_id} has code hash"),
        (["predict", "0x" + "00" * 19 + "01", "--data", "x.npy"], "no deployment record for 0x"),
        (["predict", str(record_file), "--data", "x.npy", "--send"], "needs a signing key"),
    ]
    capsys.readouterr()
    for args, needle in cases:
        assert cli.main([*args, "--rpc-url", anvil.url]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and needle in err, err


def test_library_attach_by_rpc_url_reads_without_a_key(anvil: AnvilChain, model_file: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import ml2sc

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ML2SC_PRIVATE_KEY", ANVIL_DEV_KEY)
    assert cli.main(["deploy", str(model_file), "--rpc-url", anvil.url, "--name", "lib"]) == 0
    monkeypatch.delenv("ML2SC_PRIVATE_KEY")
    record_file = tmp_path / "deployments" / str(anvil.chain_id) / "lib.json"
    model = ml2sc.attach(record_file, rpc_url=anvil.url)
    by_address = ml2sc.attach(json.loads(record_file.read_text())["address"], rpc_url=anvil.url)
    x = rows(3)
    expected = model.compiled.simulate(x)
    for handle in (model, by_address):
        got = handle.call(x)
        assert all(np.array_equal(got[k], expected[k]) for k in expected)
    with pytest.raises(Ml2scError, match=r"no signing key for transactions .*ML2SC_PRIVATE_KEY"):
        model.predict(x)
