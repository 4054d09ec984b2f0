"""Every InferenceJob attack test catches its guard's removal: each guard line in
runtime_sol/InferenceJob.sol is tagged ``// guard: NAME``; here a copy of the contract with that
guard removed (or disabled) is compiled and the attack scenario must then fail. Slow: one solc run
per mutant."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_abi import encode
from eth_utils import keccak

from ml2sc.chain import Reverted
from ml2sc.compiler.solc import compile_solidity, runtime_sol_dir
from ml2sc.market import job as job_module
from ml2sc.market.job import JOB_SOURCES
from tests.market import job_scenarios as js
from tests.market import scenarios
from tests.market.scenarios import Env


def _unbound_commitment(worker: str, salt: bytes, root: bytes) -> bytes:
    """The driver's side of the 'bind-worker' mutant: the commitment without the worker."""
    return keccak(encode(["address", "bytes32", "bytes32"], ["0x" + "00" * 20, salt, root]))


# (guard tag, text to replace on that line (None: delete the line), replacement, attack)
MUTANTS: list[tuple[str, str | None, str, Callable[[Env], None]]] = [
    ("reveal-commitment", None, "", js.wrong_reveal),
    ("commit-deadline", None, "", js.late_commit),
    ("reveal-deadline", None, "", js.no_reveal),
    ("forfeit", None, "", js.no_reveal),
    ("bind-worker", "abi.encode(worker,", "abi.encode(address(0),", js.copied_commitment),
    ("verification-commitment", None, "", js.lying_poster),
    ("check-output", "truth != c.output", "true", js.lying_poster),  # trust the poster's answers
    ("poster-answer", "truth != answer ", "false", js.lying_poster),
    ("after-lie", " && !lied)", ")", js.lying_poster),
    ("check-output", "truth != c.output", "false", js.hidden_row_cheater),
    ("output-proof", None, "", js.hidden_row_cheater),
    ("row-proof", None, "", js.hidden_row_cheater),
    ("dispute-judgment", "s.output != truth", "true", js.false_dispute),
    ("row-proof", None, "", js.false_dispute),
    ("output-proof", None, "", js.false_dispute),
    ("dispute-judgment", "s.output != truth", "false", js.one_wrong_row),
    ("double-claim", None, "", js.double_claim),
    ("reentrancy", None, "", js.reentrant_claim),
]


def mutant_sources(tag: str, old: str | None, new: str) -> dict[str, str]:
    return scenarios.mutant_sources(JOB_SOURCES, "InferenceJob.sol", tag, old, new)


def _ids() -> list[str]:
    return [f"{tag}-{attack.__name__}" + (f"-{new}" if old else "") for tag, old, new, attack in MUTANTS]


@pytest.mark.parametrize("tag,old,new", [m[:3] for m in MUTANTS], ids=_ids())
def test_every_guard_is_tagged_once(tag: str, old: str | None, new: str) -> None:
    mutant_sources(tag, old, new)


def test_every_tagged_guard_has_a_mutant() -> None:
    text = (runtime_sol_dir() / "InferenceJob.sol").read_text()
    tags = {line.split("// guard: ")[1].split()[0] for line in text.splitlines() if "// guard: " in line}
    assert tags == {m[0] for m in MUTANTS}


@pytest.mark.slow
@pytest.mark.evm
@pytest.mark.parametrize("tag,old,new,attack", MUTANTS, ids=_ids())
def test_attack_succeeds_once_its_guard_is_removed(env: Env, monkeypatch: pytest.MonkeyPatch, tag: str,
                                                   old: str | None, new: str, attack: Callable[[Env], None]) -> None:
    contracts = compile_solidity(mutant_sources(tag, old, new)).contracts  # warnings allowed in mutants
    monkeypatch.setattr(job_module, "job_contracts", lambda: contracts)
    if tag == "bind-worker":  # the honest driver must commit the way the mutant checks
        monkeypatch.setattr(job_module, "commitment", _unbound_commitment)
        monkeypatch.setattr(js, "commitment", _unbound_commitment)
    with pytest.raises((AssertionError, Reverted)):
        attack(env)
