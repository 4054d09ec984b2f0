"""Every security test catches its guard's removal: each guard line in the marketplace contracts
is tagged ``// guard: NAME``; here a copy of the contracts with that guard removed (or disabled) is
compiled and the attack scenario must then fail. Slow: one solc run per mutant."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest

from ml2sc.chain import Reverted
from ml2sc.compiler.solc import compile_solidity, runtime_sol_dir
from ml2sc.market import abi as market_abi
from ml2sc.market.abi import MARKET_SOURCES
from tests.market import scenarios as s

# (file, guard tag, text to replace on that line (None: delete the line), replacement, attack)
MUTANTS: list[tuple[str, str, str | None, str, Callable[[s.Env], None]]] = [
    ("Challenge.sol", "reveal-mismatch", None, "", s.reveal_not_matching),
    ("Challenge.sol", "submission-deadline", None, "", s.submission_after_deadline),
    ("Challenge.sol", "evaluate-before-reveal", None, "", s.evaluation_before_reveal),
    ("Challenge.sol", "double-claim", None, "", s.double_claim),
    ("Challenge.sol", "reentrancy", None, "", s.reentrant_payout),
    ("ChallengeModels.sol", "model-gas-cap", "staticcall(gasCap,", "staticcall(gas(),",
     partial(s.misbehaving_models, model="GasBurner")),
    ("Challenge.sol", "call-result", "ok && ", "", partial(s.misbehaving_models, model="Reverter")),
    ("Challenge.sol", "call-result", "size == 32", "true", partial(s.misbehaving_models, model="Silent")),
    ("Challenge.sol", "output-range", "uint256(word) < nClasses", "true",
     partial(s.misbehaving_models, model="OutOfRange")),
    ("Challenge.sol", "forfeit", None, "", s.organiser_never_reveals),
    ("Challenge.sol", "label-range", "iszero(lt(label, classes))", "0", s.label_out_of_range),
    ("Challenge.sol", "self-contained", None, "", s.mutable_model),
    ("Challenge.sol", "entry-commitment", None, "", s.copied_entry),
    ("Challenge.sol", "entry-bond", None, "", s.unbonded_commit),
    ("Challenge.sol", "bond-refund", "submissionOf[account] != 0", "commitmentOf[account] != 0", s.junk_entries),
    ("ChallengeModels.sol", "data-pure", None, "", s.mutable_data_contract),
    ("ChallengeModels.sol", "copy-operand", "0x41", "0x01", s.computed_data_address),
    ("VerifiedInference.sol", "rerun", "ok && size == 32 && int256(uint256(word)) == y[0]", "true", s.false_claim),
    ("VerifiedInference.sol", "claim-holds", None, "", s.correct_claim),
    ("VerifiedInference.sol", "window", None, "", s.correct_claim),
]


def mutant_sources(file: str, tag: str, old: str | None, new: str) -> dict[str, str]:
    return s.mutant_sources(MARKET_SOURCES, file, tag, old, new)


@pytest.mark.parametrize("file,tag,old,new", [m[:4] for m in MUTANTS])
def test_every_guard_is_tagged_once(file: str, tag: str, old: str | None, new: str) -> None:
    mutant_sources(file, tag, old, new)


def test_unmutated_contracts_compile_to_the_same_code_as_the_driver() -> None:
    sources = {f"ml2sc/{n}": (runtime_sol_dir() / n).read_text() for n in MARKET_SOURCES}
    assert compile_solidity(sources)["Challenge"].bytecode == market_abi.market_contracts()["Challenge"].bytecode


@pytest.mark.slow
@pytest.mark.evm
@pytest.mark.parametrize("file,tag,old,new,attack", MUTANTS, ids=[f"{m[1]}-{m[4].func.__name__ if isinstance(m[4], partial) else m[4].__name__}-{m[4].keywords.get('model', '') if isinstance(m[4], partial) else ''}" for m in MUTANTS])
def test_attack_succeeds_once_its_guard_is_removed(env: s.Env, monkeypatch: pytest.MonkeyPatch, file: str, tag: str,
                                                   old: str | None, new: str, attack: Callable[[s.Env], None]) -> None:
    contracts = compile_solidity(mutant_sources(file, tag, old, new)).contracts  # warnings allowed in mutants
    monkeypatch.setattr(market_abi, "market_contracts", lambda: contracts)  # Challenge and VerifiedInference
    with pytest.raises((AssertionError, Reverted)):
        attack(env)
