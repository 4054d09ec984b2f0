"""Deployment records on the embedded chain: what a record holds, attach, deploy-once, resume.

Real solc, real py-evm: every contract of a record is on chain with the recorded code hash,
an attached handle computes what the simulator computes, and a second ``deploy_model``
sends nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from eth_utils import keccak

import ml2sc
from ml2sc.backends.common.naming import model_hash
from ml2sc.chain import ChainError, EmbeddedChain
from ml2sc.compiler.deployments import FORMAT, attach, deploy_model
from ml2sc.ir.errors import Ml2scError
from tests.compiler.test_deploy_journal import FailingAfter
from tests.deploy.conftest import classifier_onnx, rows

pytestmark = pytest.mark.evm

INT8_DATA = "canonicalize,fold-batchnorm,fuse-affine,quantize-int8,place-weights{weights=data}"


class Counting(FailingAfter):
    """Counts deployments and transactions (and can drop the connection after ``n`` transactions)."""

    def __init__(self, chain: EmbeddedChain, deploys: int = 99, transactions: int = 10_000) -> None:
        super().__init__(chain, deploys)
        self.tx_left, self.sent = transactions, 0

    def transact(self, to: str, data: bytes, value: int = 0, gas: int | None = None):  # noqa: ANN201
        if self.tx_left == 0:
            raise ChainError("connection lost")
        self.tx_left -= 1
        self.sent += 1
        return self.chain.transact(to, data, value, gas)


@pytest.fixture(scope="module")
def int8_model(model_file: Path) -> ml2sc.compiler.driver.CompiledModel:
    return ml2sc.compile(model_file, backend="int8", calibration=rows(64, 5), pipeline=INT8_DATA)


def test_record_holds_every_contract_and_attach_predicts_like_the_simulator(int8_model, model_file: Path,
                                                                              tmp_path: Path) -> None:
    chain = EmbeddedChain()
    result = deploy_model(int8_model, chain, tmp_path, source=model_file, pipeline=INT8_DATA, progress=False)
    record = json.loads(result.path.read_text())
    assert result.deployed and result.path == tmp_path / str(chain.chain_id) / "Classifier.json"
    assert record["format"] == FORMAT and record["chainId"] == chain.chain_id
    assert len(record["contracts"]) == len(int8_model.program.data_contracts) + 1 >= 2
    for contract in record["contracts"]:  # hash, block, gas and code of every transaction, data contracts first
        assert contract["transactionHash"].startswith("0x") and contract["blockNumber"] >= 1 and contract["gasUsed"] > 0
        assert contract["codeHash"] == "0x" + keccak(chain.code(contract["address"])).hex()
    assert record["address"] == record["contracts"][-1]["address"]
    assert record["gas"]["deploy"] == result.model.gas.deploy
    assert record["modelHash"] == model_hash(int8_model.ir) == "0x" + result.model.model_hash().hex()
    assert record["model"]["backend"] == "int8" and record["model"]["pipeline"] == INT8_DATA
    assert record["model"]["onnxSha256"] == __import__("hashlib").sha256(model_file.read_bytes()).hexdigest()
    assert record["io"]["inputNames"] == ["x"]
    assert [o["name"] for o in record["io"]["outputs"]] == ["label", "probabilities"]
    assert record["compiler"]["solc"] and record["compiler"]["settings"]["evmVersion"] == "prague"
    assert "outputSelection" not in record["compiler"]["settings"]

    handle = attach(result.path, chain=chain)  # from the file alone: no ONNX, no solc
    x = rows(5)
    expected = int8_model.simulate(x)
    for got in (handle.call(x), handle.predict(x)):
        assert got.keys() == expected.keys()
        for key in expected:
            assert got[key].dtype == expected[key].dtype and np.array_equal(got[key], expected[key])
    assert len(handle.gas.inference) == 5


def test_second_deploy_sends_nothing_and_another_model_under_the_name_is_refused(model_file: Path,
                                                                                 tmp_path: Path) -> None:
    compiled = ml2sc.compile(model_file)
    chain = EmbeddedChain()
    first = deploy_model(compiled, chain, tmp_path, progress=False)
    counting = Counting(chain)
    again = deploy_model(compiled, counting, tmp_path, progress=False)
    assert not again.deployed and counting.deployed == 0 and counting.sent == 0
    assert again.model.address == first.model.address
    other = ml2sc.compile(classifier_onnx(tmp_path / "classifier.onnx", seed=7))  # retrained: same name
    with pytest.raises(Ml2scError, match=r"Classifier\.json records another model .*pass --name"):
        deploy_model(other, chain, tmp_path, progress=False)
    renamed = deploy_model(other, chain, tmp_path, name="Classifier-12", progress=False)
    assert renamed.deployed and renamed.path.name == "Classifier-12.json"


def test_record_of_code_no_longer_on_chain_is_replaced(model_file: Path, tmp_path: Path) -> None:
    compiled = ml2sc.compile(model_file)
    first = deploy_model(compiled, EmbeddedChain(), tmp_path, progress=False)
    restarted = EmbeddedChain()  # same chain id, empty state: a restarted dev chain
    second = deploy_model(compiled, restarted, tmp_path, progress=False)
    assert second.deployed and "has no code" in second.note
    assert json.loads(first.path.read_text())["codeHash"] == second.record["codeHash"]


def test_attach_refuses_code_that_is_not_the_records(model_file: Path, tmp_path: Path) -> None:
    compiled = ml2sc.compile(model_file)
    chain = EmbeddedChain()
    record = deploy_model(compiled, chain, tmp_path, progress=False).record
    other = ml2sc.compile(model_file, name="Other").deploy(chain, progress=False)
    swapped = record | {"address": other.address,
                        "contracts": [record["contracts"][0] | {"address": other.address}]}
    with pytest.raises(Ml2scError, match=rf"at {other.address} on chain \d+ has code hash 0x[0-9a-f]+, not the recorded"):
        attach(swapped, chain=chain)
    with pytest.raises(Ml2scError, match=r"deployment on chain 1; this node is chain"):
        attach(record | {"chainId": 1}, chain=chain)
    edited = record | {"ir": record["ir"].replace("@classifier", "@classifiez", 1)}
    with pytest.raises(Ml2scError, match=r"IR hashes to 0x[0-9a-f]+, not its modelHash"):
        attach(edited, chain=chain)
    forged = ml2sc.compile(classifier_onnx(tmp_path / "forged.onnx", seed=3), name="Classifier")
    consistent = record | {"ir": forged.ir_text, "modelHash": model_hash(forged.ir)}  # IR and hash swapped together
    with pytest.raises(Ml2scError, match=r"the contract at 0x[0-9a-fA-F]{40} reports model hash 0x[0-9a-f]+, the record's IR is"):
        attach(consistent, chain=chain)
    with pytest.raises(Ml2scError, match=r"no deployment record for 0x0{39}1"):
        attach("0x" + "0" * 39 + "1", chain=chain, directory=tmp_path)
    assert attach(record["address"], chain=chain, directory=tmp_path).address == record["address"]


def test_interrupted_deploy_resumes_and_records_every_transaction(int8_model, tmp_path: Path) -> None:
    chain = EmbeddedChain()
    n = len(int8_model.program.data_contracts) + 1
    flaky = FailingAfter(chain, n - 1)  # every data contract deployed, then the connection drops
    with pytest.raises(ChainError, match="connection lost"):
        deploy_model(int8_model, flaky, tmp_path, progress=False)
    assert not (tmp_path / str(chain.chain_id) / "Classifier.json").exists()
    counting = Counting(chain)
    result = deploy_model(int8_model, counting, tmp_path, progress=False)
    assert counting.deployed == 1  # the model contract only
    assert all(c["transactionHash"] and c["gasUsed"] for c in result.record["contracts"])  # earlier run's too
    assert not list((tmp_path / str(chain.chain_id)).glob(".*journal*"))  # the journal is gone with the record


def test_journal_resumes_setup_calls_without_redeploying_the_model(model_file: Path, tmp_path: Path) -> None:
    """ml2sc-baseline uploads its weights after deployment: an interruption mid-upload resumes the
    upload on the same contract (issue 13: the model contract is journaled, not only data contracts)."""
    compiled = ml2sc.compile(classifier_onnx(tmp_path / "classifier.onnx", label=False), backend="ml2sc-baseline")
    calls = len(compiled.backend.setup_calls(compiled.ir, compiled.program))
    assert calls >= 2
    chain, journal = EmbeddedChain(), tmp_path / "journal.json"
    flaky = Counting(chain, transactions=1)
    with pytest.raises(ChainError, match="connection lost"):
        compiled.deploy(flaky, progress=False, journal=journal)
    counting = Counting(chain)
    deployed = compiled.deploy(counting, progress=False, journal=journal)
    assert counting.deployed == 0 and counting.sent == calls - 1
    assert deployed.gas.contracts == [("Classifier (already deployed)", 0)]
    x = rows(3)
    assert np.array_equal(deployed.call(x)["probabilities"], compiled.simulate(x)["probabilities"])
