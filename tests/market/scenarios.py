"""One function per way to cheat the marketplace; each raises AssertionError if the cheat works.

The tests in test_challenge.py and test_verify.py run them against the real contracts;
test_mutations.py runs each against a copy of the contracts with its guard removed and
expects the AssertionError: that is how we know every test would catch a missing guard.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from eth_abi import encode
from eth_utils import keccak

from ml2sc.backends.common.link import link
from ml2sc.chain import PartyChain, Reverted
from ml2sc.compiler.driver import CompiledModel, data_initcode
from ml2sc.compiler.solc import CompiledContract, compile_solidity, runtime_sol_dir
from ml2sc.market.abi import ContractError
from ml2sc.market.challenge import (
    Challenge,
    Entry,
    Rules,
    TestSet,
    entry_commitment,
    normalized_code,
)

HERE = Path(__file__).parent
ONE = 10**18
RULE_MODELS = ("HonestRule", "Reverter", "GasBurner", "OutOfRange", "Silent", "StorageCheater")


def compile_test_file(name: str) -> dict[str, CompiledContract]:
    """A test-only Solidity file beside this one, compiled without warnings."""
    result = compile_solidity({name: (HERE / name).read_text()})
    assert not result.warnings, result.warnings[0]
    return result.contracts


def compile_test_models() -> dict[str, CompiledContract]:
    return compile_test_file("TestModels.sol")


def mutant_sources(names: tuple[str, ...], file: str, tag: str, old: str | None, new: str) -> dict[str, str]:
    """The runtime_sol sources ``names`` with the line of ``file`` tagged ``// guard: tag`` deleted
    (``old`` None) or with ``old`` on it replaced by ``new``; the tag must be on exactly one line."""
    sources = {f"ml2sc/{n}": (runtime_sol_dir() / n).read_text() for n in names}
    lines = sources[f"ml2sc/{file}"].splitlines(keepends=True)
    hits = [i for i, line in enumerate(lines) if f"// guard: {tag}" in line]
    assert len(hits) == 1, f"guard '{tag}' tagged on {len(hits)} lines of {file}"
    i = hits[0]
    if old is None:
        lines[i] = "\n"
    else:
        assert old in lines[i], f"'{old}' not on the '{tag}' line: {lines[i]}"
        lines[i] = lines[i].replace(old, new)
    sources[f"ml2sc/{file}"] = "".join(lines)
    return sources


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


INT8_DATA = "canonicalize,fold-batchnorm,fuse-affine,quantize-int8,place-weights{weights=data}"


def int8_rule_model() -> CompiledModel:
    """An int8 MLP (3-6-2, scikit-learn) that learnt the rule, its weights in a data contract
    (int8 weights=data): the kind of model the data-contract checks exist to admit."""
    from sklearn.neural_network import MLPClassifier

    import ml2sc

    x = np.random.default_rng(1).normal(0, 1, (300, 3)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: 500 iterations are plenty for the rule
        clf = MLPClassifier((6,), max_iter=500, random_state=0).fit(x, (x[:, 0] >= 0).astype(int))
    return ml2sc.compile(clf, backend="int8", pipeline=INT8_DATA, calibration=x, name="int8_rule")


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
    """A challenge with ``models`` committed and revealed by accounts 1, 2, ... and the entry-reveal
    period over (the organiser's reveal is next)."""
    ch, salt = env.challenge(ts, **rules)
    entries = [ch.submit(env.models.get(name, name), env.party(i)) for i, name in enumerate(models, start=1)]
    ch.advance_past("submission")
    for i, (name, entry) in enumerate(zip(models, entries, strict=True), start=1):
        ch.reveal_entry(env.models.get(name, name), env.party(i), entry.salt)
    ch.advance_past("entry-reveal")
    return ch, salt


def chain_entry_hash(env: Env, model: str, data: list[str] | tuple[str, ...] = ()) -> bytes:
    """The entry hash computed off chain from the deployed code, the way scanEntry does (EXTCODEHASH
    of an address nothing was deployed to is 0): lets a scenario commit to an entry that the
    contract's own checkEntry would refuse."""
    codes = [env.chain.code(a) for a in data]  # type: ignore[attr-defined]
    model_code = normalized_code(env.chain.code(model), data)  # type: ignore[attr-defined]
    return keccak(keccak(model_code) + b"".join(keccak(c) if c else bytes(32) for c in codes))


def committed(env: Env, ch: Challenge, model: str, party: int, data: list[str] | tuple[str, ...] = ()) -> Entry:
    """Commit ``party`` to ``model`` without asking the contract whether it would accept it."""
    return ch.commit(chain_entry_hash(env, model, data), env.party(party))


def data_rule(env: Env, data: str) -> str:
    """A DataRule model reading byte 1 of ``data`` (an address, maybe without code), linked in."""
    return env.chain.deploy(link(env.contracts["DataRule"].bytecode, [data])).address or ""


def pure_data(env: Env, payload: bytes = b"\x01") -> str:
    """An SSTORE2-style data contract: STOP, then ``payload``."""
    return env.chain.deploy(data_initcode(b"\x00" + payload)).address or ""


# --------------------------------------------------------------------------- attacks


def reveal_not_matching(env: Env) -> None:
    ts = rule_test_set()
    ch, salt = played(env, ts, "HonestRule")
    expect_revert("RevealMismatch", ch.reveal, bytes(32), ts)  # wrong salt
    flipped = TestSet(ts.inputs, (1 - ts.labels[0], *ts.labels[1:]), ts.lane_bytes)
    expect_revert("RevealMismatch", ch.reveal, salt, flipped)  # a label changed after the commitment
    assert not ch.status().revealed


def submission_after_deadline(env: Env) -> None:
    ch, _ = env.challenge(rule_test_set())
    ch.advance_past("submission")
    expect_revert("SubmissionClosed", ch.submit, env.models["HonestRule"], env.party(1))
    assert ch.status().commits == 0


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
    attacker = env.party(3).deploy(attacker_code.bytecode + encode(["address"], [ch.address])).address
    from ml2sc.market.abi import Abi, Bound

    evil = Bound(Abi(attacker_code), env.party(3), attacker)
    entry = Entry(ch.check_entry(env.models["HonestRule"]), bytes(31) + b"\x07")
    evil.send("commit", entry_commitment(attacker, entry.entry_hash, entry.salt))
    ch.advance_past("submission")
    evil.send("revealEntry", env.models["HonestRule"], entry.salt)
    ch.advance_past("entry-reveal")
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
    """A model that reads storage could learn the test set after the reveal: refused at its reveal
    (and by checkEntry, before anyone commits to it)."""
    ch, _ = env.challenge(rule_test_set())
    cheater = env.models["StorageCheater"]
    expect_revert("ModelNotSelfContained", ch.check_entry, cheater)
    entry = committed(env, ch, cheater, 1)
    ch.advance_past("submission")
    expect_revert("ModelNotSelfContained", ch.reveal_entry, cheater, env.party(1), entry.salt)
    assert ch.status().submissions == []


def mutable_data_contract(env: Env) -> None:
    """A model whose "data contract" is an empty address would read code deployed there after the
    test set's reveal; one whose data contract has executable code could have it self-destruct in
    its creation transaction and be replaced. Both are refused at the reveal."""
    ch, _ = env.challenge(rule_test_set())
    empty = "0x" + keccak(b"deployed after the reveal")[:20].hex()
    entries = []
    for party, data in ((1, empty), (2, env.models["HonestRule"])):
        model = data_rule(env, data)
        expect_revert("DataContractNotPure", ch.check_entry, model, [data])
        entries.append((party, model, data, committed(env, ch, model, party, [data])))
    ch.advance_past("submission")
    for party, model, data, entry in entries:
        expect_revert("DataContractNotPure", ch.reveal_entry, model, env.party(party), entry.salt, [data])
    assert ch.status().submissions == []


def computed_data_address(env: Env) -> None:
    """A model names a pure data contract (a PUSH32 of its code) but its EXTCODECOPY reads an
    address it computes, one XOR away (nothing deployed there yet: its owner would deploy the
    answers there after the test set's reveal). Refused at the check and at the reveal."""
    ch, _ = env.challenge(rule_test_set())
    data = pure_data(env)
    model = env.chain.deploy(env.contracts["ComputedDataRule"].bytecode + encode(["address", "uint256"], [data, 1])).address or ""
    expect_revert("ModelNotSelfContained", ch.check_entry, model, [data])
    entry = committed(env, ch, model, 1, [data])
    ch.advance_past("submission")
    expect_revert("ModelNotSelfContained", ch.reveal_entry, model, env.party(1), entry.salt, [data])
    assert ch.status().submissions == []


def copied_entry(env: Env) -> None:
    """Mallory copies Alice's commitment from the mempool, then, when Alice reveals, front-runs her
    reveal with the same model and salt: the commitment binds its submitter, so Mallory's reveal
    is refused and Alice's goes through."""
    ch, _ = env.challenge(rule_test_set())
    alice, mallory = env.party(1), env.party(2)
    model = env.models["HonestRule"]
    entry = ch.submit(model, alice)
    ch.contract.send("commit", ch.contract.view("commitmentOf", alice.sender), by=mallory)
    ch.advance_past("submission")
    expect_revert("EntryMismatch", ch.reveal_entry, model, mallory, entry.salt)
    assert ch.reveal_entry(model, alice, entry.salt) == 0
    assert [sub["submitter"].lower() for sub in ch.status().submissions] == [alice.sender.lower()]


BOND = ONE // 20


def junk_entries(env: Env) -> None:
    """Two accounts commit junk to fill entry slots and never reveal: their bonds are forfeited
    to the winner (never to the organiser), whose own bond comes back."""
    ts = rule_test_set()
    ch, salt = env.challenge(ts, entry_bond=BOND, max_submissions=3)
    alice, junk = env.party(1), [env.party(2), env.party(3)]
    entry = ch.submit(env.models["HonestRule"], alice)
    for j in junk:
        ch.commit(keccak(j.sender.encode()), j)
    expect_revert("TooManySubmissions", ch.commit, keccak(b"one more"), env.party(4))
    ch.advance_past("submission")
    ch.reveal_entry(env.models["HonestRule"], alice, entry.salt)
    ch.advance_past("entry-reveal")
    ch.reveal(salt, ts)
    ch.evaluate_all(100)
    for j in junk:
        expect_revert("NothingToClaim", ch.claim, j)
    assert ch.claim(alice) == ONE + BOND + 2 * BOND
    assert ch.claim(env.chain) == ONE // 10
    assert env.chain.balance(ch.address) == 0


def unbonded_commit(env: Env) -> None:
    """A commitment without the bond (free junk) is refused."""
    ch, _ = env.challenge(rule_test_set(), entry_bond=BOND)
    expect_revert("WrongBond", ch.contract.send, "commit", keccak(b"junk"), by=env.party(2))
    assert ch.status().commits == 0


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
