"""What `ml2sc compile` writes for other tools: Foundry's layout, the explorer-verification
input, and the per-model library a consumer contract imports (deployed and called here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from eth_abi import decode, encode
from eth_utils import keccak
from onnx import TensorProto, helper, numpy_helper

from ml2sc.compiler.solc import compile_solidity

ROOT = Path(__file__).resolve().parents[2]
N_IN = 6


@pytest.fixture(scope="module")
def compiled_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6-4-2 relu/softmax classifier named `Model`, compiled by the CLI."""
    rng = np.random.default_rng(7)
    inits = [numpy_helper.from_array(rng.normal(0, 0.8, s).astype(np.float32), n)
             for n, s in (("w1", (4, N_IN)), ("b1", (4,)), ("w2", (2, 4)), ("b2", (2,)))]
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["l"], transB=1),
             helper.make_node("Softmax", ["l"], ["probabilities"], axis=1)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", N_IN])],
                              [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 2])], inits)
    d = tmp_path_factory.mktemp("artifacts")
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(d / "model.onnx"))
    proc = subprocess.run([sys.executable, "-m", "ml2sc.compiler.cli", "compile", str(d / "model.onnx"), "-o", str(d / "out")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return d / "out"


def test_foundry_artifact_and_verification_input(compiled_dir: Path) -> None:
    ours = json.loads((compiled_dir / "Model.json").read_text())
    foundry = json.loads((compiled_dir / "foundry" / "Model.sol" / "Model.json").read_text())
    assert foundry["bytecode"]["object"] == ours["bytecode"]
    assert foundry["deployedBytecode"]["object"] == ours["deployedBytecode"]
    assert foundry["methodIdentifiers"]["classify(int256[])"] == keccak(text="classify(int256[])")[:4].hex()
    std = json.loads((compiled_dir / "Model.standard-input.json").read_text())
    assert std["settings"]["metadata"] == {"appendCBOR": False, "bytecodeHash": "none"}
    assert "ml2sc/IML2SCModel.sol" in std["sources"]  # imports inlined: the input is closed
    again = compile_solidity({k: v["content"] for k, v in std["sources"].items()})["Model"]
    assert "0x" + again.runtime_bytecode.hex() == ours["deployedBytecode"]  # the explorer rebuilds the same code


@pytest.mark.evm
def test_consumer_contract_calls_the_model_through_its_library(compiled_dir: Path, fresh_chain) -> None:
    ours = json.loads((compiled_dir / "Model.json").read_text())
    model = fresh_chain.deploy(bytes.fromhex(ours["bytecode"][2:])).address
    sources = {"LoanDecision.sol": (ROOT / "examples" / "consumer" / "LoanDecision.sol").read_text(),
               "IModel.sol": (compiled_dir / "IModel.sol").read_text()}
    result = compile_solidity(sources)
    assert not result.warnings, result.warnings
    consumer = fresh_chain.deploy(result["LoanDecision"].bytecode + encode(["address"], [model])).address
    selector = keccak(text=f"wouldApprove(int256[{N_IN}])")[:4]
    rng = np.random.default_rng(1)
    answers = set()
    for _ in range(8):
        row = [int(v * 10**18) for v in rng.normal(0, 2, N_IN)]
        label = decode(["int256"], fresh_chain.call(model, keccak(text="classify(int256[])")[:4] + encode(["int256[]"], [row])))[0]
        approved = decode(["bool"], fresh_chain.call(consumer, selector + encode([f"int256[{N_IN}]"], [row])))[0]
        assert approved == (label == 1)
        answers.add(approved)
    assert answers == {True, False}, "the sample should exercise both decisions"


@pytest.mark.evm
def test_consumer_refuses_another_model(compiled_dir: Path, fresh_chain) -> None:
    from ml2sc.chain import Reverted

    sources = {"LoanDecision.sol": (ROOT / "examples" / "consumer" / "LoanDecision.sol").read_text(),
               "IModel.sol": (compiled_dir / "IModel.sol").read_text()}
    impostor = fresh_chain.deploy(bytes.fromhex("600a600c600039600a6000f3602a60005260206000f3")).address  # returns 42
    with pytest.raises(Reverted):
        fresh_chain.deploy(compile_solidity(sources)["LoanDecision"].bytecode + encode(["address"], [impostor]))
