"""Clients ml2sc did not write, from the npm registry (pinned in package.json), against anvil:
``cast`` deploys the Foundry artifact ``ml2sc compile`` writes, calls it and decodes its custom
errors with the artifact's ABI; ``ethers`` v6 attaches to a model from its deployment record.
Every number they get back is the simulator's."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import ml2sc
from ml2sc.backends.common.naming import model_hash
from ml2sc.chain.npm import find_node_modules
from ml2sc.chain.rpc import AnvilChain, anvil_dev_key
from ml2sc.compiler.cli import main as ml2sc_main
from ml2sc.compiler.deployments import attach, deploy_model
from tests.deploy.conftest import N_IN, rows

pytestmark = pytest.mark.evm

HERE = Path(__file__).parent


def node_modules(entry: str) -> Path:
    found = find_node_modules(entry)
    if found is None:
        pytest.fail(f"node_modules/{entry} missing: run 'make setup' (npm install)")
    return found


def cast(*args: str) -> subprocess.CompletedProcess:
    binary = node_modules(".bin/cast") / ".bin" / "cast"
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=60)


def cast_json(*args: str) -> list:
    proc = cast(*args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def signature(item: dict) -> str:
    return f"{item['name']}({','.join(p['type'] for p in item['inputs'])})"


def decode_with_cast(revert_data: str, abi: list[dict]) -> str:
    """The custom error of ``revert_data``, named from ``abi`` and decoded by cast: ``InputLength(6, 5)``."""
    for item in (i for i in abi if i["type"] == "error"):
        if cast("sig", signature(item)).stdout.strip() == revert_data[:10]:
            values = cast_json("decode-error", "--sig", signature(item), revert_data)
            return f"{item['name']}({', '.join(str(v) for v in values)})"
    return f"custom error {revert_data[:10]}"


def test_cast_deploys_the_foundry_artifact_calls_it_and_names_its_errors(anvil: AnvilChain, model_file: Path,
                                                                        tmp_path: Path) -> None:
    assert ml2sc_main(["compile", str(model_file), "-o", str(tmp_path / "out")]) == 0
    artifact = json.loads((tmp_path / "out" / "foundry" / "Classifier.sol" / "Classifier.json").read_text())
    key = anvil_dev_key(1)  # a second account: cast signs, not ml2sc
    created = cast_json("send", "--rpc-url", anvil.url, "--private-key", key, "--create", artifact["bytecode"]["object"])
    assert created["status"] == "0x1"
    address = created["contractAddress"]

    compiled = ml2sc.compile(model_file)
    x = rows(3)
    ints = compiled.quantize(x)
    expected = compiled.simulate_raw(ints)
    labels = compiled.simulate(x)["label"]
    for row, want, label in zip(ints, expected, labels, strict=True):
        arg = "[" + ",".join(map(str, row)) + "]"
        assert cast_json("call", "--rpc-url", anvil.url, address, "predict(int256[])(int256[])", arg) == [want]
        assert cast_json("call", "--rpc-url", anvil.url, address, "classify(int256[])(int256)", arg) == [label]
    assert cast_json("call", "--rpc-url", anvil.url, address, "modelHash()(bytes32)") == [model_hash(compiled.ir)]

    short = "[" + ",".join(map(str, ints[0][:-1])) + "]"
    proc = cast("call", "--rpc-url", anvil.url, address, "classify(int256[])(int256)", short)
    # cast 1.7.1 prints the revert (custom error by selector only) and exits 0
    assert "execution reverted: custom error 0x" in proc.stderr and not proc.stdout.strip(), proc.stderr
    data = proc.stderr.split('data: "')[1].split('"')[0]
    assert decode_with_cast(data, artifact["abi"]) == f"InputLength({N_IN}, {N_IN - 1})"


def test_ethers_attaches_from_the_deployment_record(anvil: AnvilChain, model_file: Path, tmp_path: Path) -> None:
    if shutil.which("node") is None:
        pytest.fail("node is not installed (ml2sc's npm side needs Node 20)")
    compiled = ml2sc.compile(model_file)
    result = deploy_model(compiled, anvil, tmp_path / "deployments", progress=False)
    x = rows(4)
    ints = compiled.quantize(x)
    (tmp_path / "rows.json").write_text(json.dumps([[str(v) for v in row] for row in ints]))
    env = os.environ | {"NODE_PATH": str(node_modules("ethers"))}
    proc = subprocess.run(["node", str(HERE / "ethers_attach.js"), str(result.path), anvil.url, str(tmp_path / "rows.json")],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["chainId"] == str(anvil.chain_id) and got["codeHash"] == result.record["codeHash"]
    assert got["modelHash"] == result.record["modelHash"] == model_hash(compiled.ir)
    assert got["outputs"] == [[str(v) for v in row] for row in compiled.simulate_raw(ints)]
    handle = attach(result.path, chain=anvil)  # ml2sc's own client agrees with ethers
    assert got["labels"] == [str(v) for v in handle.classify(x)]
    assert got["error"] == f"InputLength({N_IN}, {N_IN - 1})"
