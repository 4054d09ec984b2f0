"""``ml2sc market`` and ``ml2sc verify`` end to end: state files, one process per command."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pytest

from ml2sc.compiler.cli import main
from tests.market import scenarios as s

pytestmark = pytest.mark.evm


def _data(tmp_path: Path) -> tuple[str, str]:
    x = np.random.default_rng(3).normal(0, 1, (10, 3)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", (x[:, 0] >= 0).astype(np.int64))
    return str(tmp_path / "x.npy"), str(tmp_path / "y.npy")


def test_create_writes_public_state_and_private_secret(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    x, y = _data(tmp_path)
    state, secret = tmp_path / "c.json", tmp_path / "c.secret.json"
    assert main(["market", "create", "--data", x, "--labels", y, "--reward", "1.5", "--stake", "0.1",
                 "--state", str(state), "--secret", str(secret)]) == 0
    assert "10 rows committed" in capsys.readouterr().out
    assert json.loads(state.read_text())["challenge"].startswith("0x")
    assert "salt" not in state.read_text() and len(json.loads(secret.read_text())["inputs"]) == 10
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    # a later process has a fresh embedded chain: a clear error, not a decoding traceback
    assert main(["market", "status", "--state", str(state)]) == 2
    assert "no Challenge contract at" in capsys.readouterr().err


def test_bad_amount_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    x, y = _data(tmp_path)
    assert main(["market", "create", "--data", x, "--labels", y, "--reward", "lots", "--state", str(tmp_path / "c"),
                 "--secret", str(tmp_path / "s")]) == 2
    assert capsys.readouterr().err.strip() == "ml2sc: error: 'lots' is not an amount of ETH"


def test_reveal_entry_without_its_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["market", "reveal-entry", "--entry", str(tmp_path / "none.json"), "--state", str(tmp_path / "c")]) == 2
    assert capsys.readouterr().err.strip() == (f"ml2sc: error: entry file '{tmp_path / 'none.json'}' not found "
                                                "(written by 'market submit')")


@pytest.mark.slow
def test_whole_challenge_and_verification_over_rpc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture) -> None:
    from ml2sc.chain.rpc import AnvilChain, anvil_dev_key

    with AnvilChain() as anvil:
        models = s.Env.deploy(anvil, s.compile_test_models()).models
        for i in range(5):
            monkeypatch.setenv(f"KEY{i}", anvil_dev_key(i))
        x, y = _data(tmp_path)
        state, secret, vstate = str(tmp_path / "c.json"), str(tmp_path / "c.secret.json"), str(tmp_path / "v.json")

        def run(*argv: str, key: int = 0) -> str:
            assert main([*argv, "--rpc-url", anvil.url, "--key-env", f"KEY{key}"]) == 0, capsys.readouterr().err
            return capsys.readouterr().out

        int8 = s.int8_rule_model()
        onnx_file = tmp_path / "rule.onnx"
        onnx_file.write_bytes(int8.onnx_model.SerializeToString())
        int8_address = int8.deploy(anvil.party(4)).address  # weights in a data contract
        run("market", "create", "--data", x, "--labels", y, "--reward", "1", "--stake", "0.1", "--threshold", "0.5",
            "--bond", "0.01", "--state", state, "--secret", secret)
        entries = {k: str(tmp_path / f"entry{k}.json") for k in (1, 2, 3, 4)}
        run("market", "submit", "--address", models["Reverter"], "--state", state, "--entry", entries[1], key=1)
        run("market", "submit", "--address", models["HonestRule"], "--state", state, "--entry", entries[2], key=2)
        out = run("market", "submit", "--model", str(onnx_file), "--state", state, "--entry", entries[3], key=3)
        assert "not deployed until reveal-entry" in out and "bond 0.01 ETH" in out
        assert stat.S_IMODE(Path(entries[3]).stat().st_mode) == 0o600
        out = run("market", "submit", "--address", int8_address, "--state", state, "--entry", entries[4], key=4)
        assert "reading 1 data contract(s)" in out  # found in the model's code
        run("market", "warp", "--past", "submission", "--state", state)
        for k in (1, 2, 3, 4):
            assert f"as entry {k - 1}" in run("market", "reveal-entry", "--state", state, "--entry", entries[k], key=k)
        run("market", "warp", "--past", "entry-reveal", "--state", state)
        run("market", "reveal", "--state", state, "--secret", secret)
        assert "phase final" in run("market", "evaluate", "--all", "--batch", "7", "--state", state)
        status = json.loads(run("market", "status", "--json", "--state", state))
        assert status["winner"] == 1 and status["submissions"][1]["correct"] == 10 and status["commits"] == 4
        assert status["submissions"][2]["evaluated"]  # the model deployed at its reveal
        assert len(status["submissions"][3]["data_contracts"]) == 1 and status["submissions"][3]["evaluated"]
        assert "claimed 1.01 ETH" in run("market", "claim", "--state", state, key=2)  # reward and bond
        assert "claimed 0.01 ETH" in run("market", "claim", "--state", state, key=1)  # its bond
        assert "claimed 0.1 ETH" in run("market", "claim", "--state", state)

        run("verify", "create", "--address", models["HonestRule"], "--stake", "0.5", "--window", "60",
            "--state", vstate, "--gas-cap", "100000")
        np.save(tmp_path / "lie.npy", 1 - np.load(y)[:3, None])
        np.save(tmp_path / "x3.npy", np.load(x)[:3])
        run("verify", "post", "--data", str(tmp_path / "x3.npy"), "--claims", str(tmp_path / "lie.npy"),
            "--deposit", "1", "--state", vstate, key=3)
        assert "slashed, 0.5 ETH" in run("verify", "challenge", "--id", "0", "--row", "2", "--state", vstate)
        run("verify", "post", "--data", str(tmp_path / "x3.npy"), "--state", vstate, key=3)
        assert main(["verify", "challenge", "--id", "1", "--state", vstate, "--rpc-url", anvil.url, "--key-env", "KEY0"]) == 2
        assert "ClaimHolds" in capsys.readouterr().err
        run("verify", "warp", "--id", "1", "--state", vstate)
        run("verify", "finalize", "--id", "1", "--state", vstate)
        assert "withdrew 0.5 ETH" in run("verify", "withdraw", "--state", vstate, key=3)
