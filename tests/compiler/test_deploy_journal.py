"""Interrupted multi-contract deployments resume from the journal, deploying nothing twice."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ml2sc.chain import ChainError, EmbeddedChain
from ml2sc.compiler.driver import CompiledModel, get_backend
from ml2sc.compiler.passes.manager import PassManager
from tests.conftest import mlp_module

pytestmark = pytest.mark.evm


def with_data_contracts(n: int) -> CompiledModel:
    """A prbmath model given ``n`` data contracts (its constructor ignores the appended addresses)."""
    m = mlp_module([4, 3, 2], ["relu", "softmax"], name="journal")
    be = get_backend("prbmath")
    q = PassManager.from_pipeline(be.pipeline).run(m)
    program = be.emit(q)
    blobs = tuple(b"\x00" + bytes([k]) * 300 for k in range(1, n + 1))
    return CompiledModel(m, q, replace(program, data_contracts=blobs), be)


class FailingAfter:
    """A chain whose connection drops after ``n`` deployments."""

    def __init__(self, chain: EmbeddedChain, n: int) -> None:
        self.chain, self.left, self.deployed = chain, n, 0

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.chain, name)

    def deploy(self, initcode: bytes, value: int = 0):  # noqa: ANN201
        if self.left == 0:
            raise ChainError("connection lost")
        self.left -= 1
        self.deployed += 1
        return self.chain.deploy(initcode, value)


def test_resume_deploys_only_what_is_missing(chain, tmp_path: Path) -> None:
    compiled = with_data_contracts(4)
    journal = tmp_path / "deploy.json"
    flaky = FailingAfter(chain, 2)
    with pytest.raises(ChainError, match="connection lost"):
        compiled.deploy(flaky, journal=journal, progress=False)
    assert flaky.deployed == 2

    counting = FailingAfter(chain, 99)
    deployed = compiled.deploy(counting, journal=journal, progress=False)
    assert counting.deployed == 3  # the two missing data contracts and the model; none twice
    reused = [name for name, gas in deployed.gas.contracts if gas == 0]
    assert reused == ["Journal.data0 (already deployed)", "Journal.data1 (already deployed)"]
    assert deployed.predict_raw(compiled.quantize([[0.1, 0.2, 0.3, 0.4]])) is not None

    again = FailingAfter(chain, 99)
    resumed = compiled.deploy(again, journal=journal, progress=False)
    assert again.deployed == 0  # every contract reused, the model contract too
    assert resumed.address == deployed.address


def test_journal_entries_on_another_chain_are_not_trusted(chain, tmp_path: Path) -> None:
    compiled = with_data_contracts(2)
    journal = tmp_path / "deploy.json"
    compiled.deploy(chain, journal=journal, progress=False)
    other = FailingAfter(EmbeddedChain(), 99)  # same chain id, but the code is not there
    compiled.deploy(other, journal=journal, progress=False)
    assert other.deployed == 3
