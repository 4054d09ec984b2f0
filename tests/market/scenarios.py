"""One function per way to cheat the marketplace; each raises AssertionError if the cheat works.

The tests in test_challenge.py and test_verify.py run them against the real contracts;
test_mutations.py runs each against a copy of the contracts with its guard removed and
expects the AssertionError: that is how we know every test would catch a missing guard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ml2sc.chain import PartyChain, Reverted
from ml2sc.compiler.solc import CompiledContract, compile_solidity
from ml2sc.market.abi import ContractError
from ml2sc.market.challenge import Challenge, Rules, TestSet

HERE = Path(__file__).parent
ONE = 10**18
RULE_MODELS = ("HonestRule", "Reverter", "GasBurner", "OutOfRange", "Silent", "StorageCheater")


def compile_test_models() -> dict[str, CompiledContract]:
    result = compile_solidity({"TestModels.sol": (HERE / "TestModels.sol").read_text()})
    assert not result.warnings, result.warnings[0]
    return result.contracts


@dataclass
class Env:
    """A chain with the test-only rule models deployed."""

    chain: PartyChain
    contracts: dict[str, CompiledContract]
    models: dict[str, str] = field(default_factory=dict)

    @classmethod
    def deploy(cls, chain: PartyChain, contracts: dict[str, CompiledContract]) -> Env:
        env = cls(chain, contracts)
        for name in RULE_MODELS:
            env.models[name] = chain.deploy(contracts[name].bytecode).address or ""
        return env

    def party(self, i: int) -> PartyChain:
        return self.chain.party(i)

    def challenge(self, test_set: TestSet, reward: int = ONE, **rules: Any) -> tuple[Challenge, bytes]:
        rules = {"stake": ONE // 10, "model_gas_cap": 100_000} | rules
        return Challenge.create(self.chain, test_set, reward, Rules(**rules))


def rule_test_set(n: int = 12, seed: int = 0, lane_bytes: int | None = None, n_inputs: int = 3) -> TestSet:
    """Rows whose label is x[0] >= 0; about half of them are 'bad rows' (x[1] < 0)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, n_inputs))
    rows = [[int(v * ONE) for v in row] for row in x]
    return TestSet.build(rows, [int(r[0] >= 0) for r in rows], lane_bytes)


def bad_rows(ts: TestSet) -> int:
    return sum(1 for row in ts.inputs if row[1] < 0)


def expect_revert(error: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> ContractError:
    try:
        fn(*args, **kwargs)
    except ContractError as e:
        assert e.error == error, f"expected {error}, got {e}"
        return e
    except Reverted as e:
        raise AssertionError(f"expected {error}, got an unnamed revert: {e}") from None
    raise AssertionError(f"expected the call to revert with {error}, but it succeeded")


def played(env: Env, ts: TestSet, *models: str, **rules: Any) -> tuple[Challenge, bytes]:
    """A challenge with ``models`` submitted by accounts 1, 2, ... and the submission period over."""
    ch, salt = env.challenge(ts, **rules)
    for i, name in enumerate(models, start=1):
        ch.submit(env.models.get(name, name), env.party(i))
    ch.advance_past("submission")
    return ch, salt


# --------------------------------------------------------------------------- attacks


def reveal_not_matching(env: Env) -> None:
    ts = rule_test_set()
    ch, salt = played(env, ts, "HonestRule")
    expect_revert("RevealMismatch", ch.reveal, bytes(32), ts)  # wrong salt
    flipped = TestSet(ts.inputs, (1 - ts.labels[0], *ts.labels[1:]), ts.lane_bytes)
    expect_revert("RevealMismatch", ch.reveal, salt, flipped)  # a label changed after the commitment
    assert not ch.status().revealed


def submission_after_deadline(env: Env) -> None:
    ch, _ = played(env, rule_test_set())
    expect_revert("SubmissionClosed", ch.submit, env.models["HonestRule"], env.party(1))
    assert ch.status().submissions == []


def evaluation_before_reveal(env: Env) -> None:
    """Part of a large test set is revealed; evaluating those unverified rows must wait."""
    ts = rule_test_set(n=160, lane_bytes=32, n_inputs=4)  # 160-byte rows: 153 per chunk
    ch, salt = played(env, ts, "HonestRule")
    first = ts.rows_per_chunk
    ch.contract.send("revealRows", ts.encode(0, first))
    expect_revert("NotRevealed", ch.evaluate, 10)
    ch.contract.send("reveal", salt, ts.encode(first))
    assert ch.evaluate(10) == 10


def double_claim(env: Env) -> None:
    ts = rule_test_set()
    ch, salt = played(env, ts, "HonestRule", stake=2 * ONE)  # enough escrow left to pay twice
    ch.reveal(salt, ts)
    ch.evaluate_all(100)
    winner = env.party(1)
    before = env.chain.balance(ch.address)
    assert ch.claim(winner) == ONE
    expect_revert("AlreadyClaimed", ch.claim, winner)
    assert env.chain.balance(ch.address) == before - ONE


def reentrant_payout(env: Env) -> None:
    ts = rule_test_set()
    ch, salt = env.challenge(ts, stake=2 * ONE)
    attacker_code = env.contracts["ReentrantClaimer"]
    from eth_abi import encode

    attacker = env.party(3).deploy(attacker_code.bytecode + encode(["address"], [ch.address])).address
    from ml2sc.market.abi import Abi, Bound

    evil = Bound(Abi(attacker_code), env.party(3), attacker)
    evil.send("submit", env.models["HonestRule"])
    ch.advance_past("submission")
    ch.reveal(salt, ts)
    ch.evaluate_all(100)
    before = env.chain.balance(ch.address)
    evil.send("claim")
    assert env.chain.balance(attacker) == ONE, "the attacker was paid more than the reward"
    assert env.chain.balance(ch.address) == before - ONE
    error = evil.view("reentryError")
    selector = Challenge.abi().errors
    names = {sel: item["name"] for sel, item in selector.items()}
    assert names.get(error[:4]) == "Reentrancy", f"re-entry was not stopped by the guard: {error.hex()}"


def misbehaving_models(env: Env, model: str) -> None:
    """A model that reverts / burns its gas / answers out of range / returns nothing on the bad
    rows scores those rows wrong, and the whole evaluation still fits one transaction."""
    ts = rule_test_set(n=12)
    ch, salt = played(env, ts, model, "HonestRule")
    ch.reveal(salt, ts)
    assert ch.evaluate(2 * ts.n_rows) == 2 * ts.n_rows, "evaluation did not get through every row"
    st = ch.status()
    cheat, honest = st.submissions
    bad = bad_rows(ts)
    assert 0 < bad < ts.n_rows
    assert (cheat["correct"], cheat["invalid"]) == (ts.n_rows - bad, bad), cheat
    assert (honest["correct"], honest["invalid"]) == (ts.n_rows, 0)
    assert st.phase == "final" and st.winner == 1


def organiser_never_reveals(env: Env) -> None:
    ts = rule_test_set()
    ch, _ = played(env, ts, "HonestRule", "Reverter", reward=ONE + 1, stake=ONE // 10)
    ch.advance_past("reveal")
    pot = ONE + 1 + ONE // 10
    assert ch.status().phase == "final"
    expect_revert("NothingToClaim", ch.claim, env.chain)
    assert ch.claim(env.party(1)) == pot // 2 + pot % 2
    assert ch.claim(env.party(2)) == pot // 2
    assert env.chain.balance(ch.address) == 0


def label_out_of_range(env: Env) -> None:
    """The organiser commits to an impossible label, to fail every model and keep the reward."""
    ts = rule_test_set()
    rigged = TestSet(ts.inputs, (2, *ts.labels[1:]), ts.lane_bytes)
    ch, salt = played(env, rigged, "HonestRule")
    expect_revert("LabelOutOfRange", ch.reveal, salt, rigged)


def mutable_model(env: Env) -> None:
    """A model that reads storage could learn the test set after the reveal: refused."""
    ch, _ = env.challenge(rule_test_set())
    expect_revert("ModelNotSelfContained", ch.submit, env.models["StorageCheater"], env.party(1))


# --------------------------------------------------------------------------- verified inference


def _verifier(env: Env) -> tuple[Any, PartyChain, PartyChain, list[list[int]]]:
    from ml2sc.market.verify import VerifiedInference

    vi = VerifiedInference.deploy(env.chain, env.models["HonestRule"], "classify", claim_stake=ONE, window=600,
                                  model_gas_cap=100_000)
    operator, challenger = env.party(4), env.party(5)
    vi.deposit(ONE, operator)
    return vi, operator, challenger, [list(r) for r in rule_test_set(n=3, seed=7).inputs]


def false_claim(env: Env) -> None:
    """The operator lies about row 1: a challenge of that row slashes its stake to the challenger."""
    vi, operator, challenger, xs = _verifier(env)
    ys = vi.model_outputs(xs)
    ys[1] = [1 - ys[1][0]]
    cid = vi.post(xs, ys, operator)
    expect_revert("ClaimHolds", vi.challenge, cid, xs, ys, 0, challenger)  # row 0 is true
    vi.challenge(cid, xs, ys, 1, challenger)
    assert vi.claim(cid)["status"] == "slashed"
    assert vi.balance_of(operator.sender) == 0
    assert vi.withdraw(challenger) == ONE
    vi.advance_past_window(cid)
    expect_revert("NotPending", vi.finalize, cid)


def correct_claim(env: Env) -> None:
    """A true claim survives every challenge and becomes final after the window, stake released."""
    vi, operator, challenger, xs = _verifier(env)
    ys = vi.model_outputs(xs)
    cid = vi.post(xs, ys, operator)
    for row in range(len(xs)):
        expect_revert("ClaimHolds", vi.challenge, cid, xs, ys, row, challenger)
    expect_revert("WindowOpen", vi.finalize, cid)
    vi.advance_past_window(cid)
    expect_revert("WindowClosed", vi.challenge, cid, xs, ys, 0, challenger)
    vi.finalize(cid)
    assert vi.claim(cid)["status"] == "final"
    assert vi.withdraw(operator) == ONE
