"""One function per way to cheat an inference job; each raises AssertionError if the cheat works.

test_job.py runs them against the real InferenceJob contract; test_job_mutations.py runs each
against a copy of the contract with its guard removed and expects the AssertionError (or a
revert): that is how we know every test would catch a missing guard.

The model is the test-only ``HonestRule`` (label 1 when x[0] >= 0, tests/market/TestModels.sol):
fast, self-contained, and its answers are known without running it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from eth_abi import encode

from ml2sc.chain import PartyChain
from ml2sc.market.abi import Abi, Bound
from ml2sc.market.job import (
    InferenceJob,
    MerkleTree,
    Terms,
    Verification,
    WorkerSecret,
    classify_rows,
    commitment,
    hide,
    pack_row,
)
from tests.market.scenarios import ONE, Env, compile_test_file, expect_revert

HERE = Path(__file__).parent
STAKE = ONE // 10
N_JOB, N_CHECK = 12, 4  # 16 rows: Merkle depth 4
WORKERS = {"alice": 1, "bob": 2, "carol": 3, "dave": 4, "erin": 5}


@dataclass
class Game:
    """A job on the env's chain with the poster (account 0) and named workers (accounts 1-5)."""

    env: Env
    job: InferenceJob
    verification: Verification
    truth: list[int]  # the model's output on every row
    secrets: dict[str, WorkerSecret] = field(default_factory=dict)

    def by(self, name: str) -> PartyChain:
        return self.env.chain if name == "poster" else self.env.party(WORKERS[name])

    def address(self, name: str) -> str:
        return self.by(name).sender

    @property
    def job_row(self) -> int:
        """A row that is not a verification row."""
        return next(i for i in range(len(self.truth)) if i not in self.verification.positions)

    @property
    def check_row(self) -> int:
        return self.verification.positions[0]

    def wrong_at(self, row: int) -> list[int]:
        """The model's outputs with the one on ``row`` flipped (labels are 0/1)."""
        out = list(self.truth)
        out[row] = 1 - out[row]
        return out

    def enter(self, name: str, outputs: list[int] | None = None) -> WorkerSecret:
        """``name`` joins and commits to ``outputs`` (default: the model's)."""
        self.job.join(self.by(name))
        secret = self.job.commit(self.truth if outputs is None else outputs, self.by(name))
        self.secrets[name] = secret
        return secret

    def reveal(self, *names: str) -> None:
        for name in names:
            self.job.reveal(self.secrets[name], self.by(name))

    def opened(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        return self.verification.positions, self.verification.answers

    def check(self, name: str) -> bool:
        return self.job.check(self.address(name), self.secrets[name].outputs, self.opened())

    def status(self, name: str) -> str:
        return self.job.worker(self.address(name))["status"]


def start(env: Env, lie_at: int | None = None, seed: int = 0, model: str | None = None, **terms: int) -> Game:
    """A job of 12 rows plus 4 hidden verification rows (answers from the model, or one of them
    flipped: ``lie_at`` is which verification row the poster lies about); the model is
    HonestRule unless ``model`` is given."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (N_JOB + N_CHECK, 3))
    inputs = [[int(v * ONE) for v in row] for row in x]
    model = model or env.models["HonestRule"]
    answers = classify_rows(env.chain, model, inputs[N_JOB:])
    if lie_at is not None:
        answers[lie_at] = 1 - answers[lie_at]
    rows, verification = hide(inputs[:N_JOB], inputs[N_JOB:], answers, seed=seed)
    terms = {"worker_stake": STAKE, "poster_stake": STAKE, "min_workers": 2, "model_gas_cap": 100_000,
             "commit_period": 600, "reveal_period": 600, "open_period": 600, "dispute_period": 600} | terms
    job = InferenceJob.create(env.chain, model, rows, verification, ONE, Terms(**terms))
    return Game(env, job, verification, classify_rows(env.chain, model, rows))


def finish(game: Game, *honest: str) -> None:
    """Reveal, open, check ``honest`` workers and run out the dispute window."""
    game.job.advance_past("commit")
    game.reveal(*honest)
    game.job.advance_past("reveal")
    game.job.open(game.verification)
    for name in honest:
        assert game.check(name), f"{name} failed its check"
    game.job.advance_past("dispute")


# --------------------------------------------------------------------------- attacks


def wrong_reveal(env: Env) -> None:
    """A reveal must open the worker's commitment: wrong salt, or outputs changed after committing."""
    g = start(env)
    secret = g.enter("alice")
    g.enter("bob")
    g.job.advance_past("commit")
    expect_revert("CommitmentMismatch", g.job.reveal, WorkerSecret(bytes(32), secret.outputs), g.by("alice"))
    changed = WorkerSecret(secret.salt, tuple(g.wrong_at(g.job_row)))
    expect_revert("CommitmentMismatch", g.job.reveal, changed, g.by("alice"))
    g.reveal("alice")
    assert g.status("alice") == "revealed"


def late_commit(env: Env) -> None:
    """Carol joins in time but commits only after Alice revealed, to Alice's outputs: refused."""
    g = start(env)
    g.enter("alice")
    g.enter("bob")
    g.job.join(g.by("carol"))
    g.job.advance_past("commit")
    g.reveal("alice")
    expect_revert("CommitClosed", g.job.commit, g.secrets["alice"].outputs, g.by("carol"))
    assert g.status("carol") == "joined"


def no_reveal(env: Env) -> None:
    """Carol commits but never reveals: she cannot reveal late, and her stake goes to the honest."""
    g = start(env)
    for name in ("alice", "bob", "carol"):
        g.enter(name)
    g.job.advance_past("commit")
    g.reveal("alice", "bob")
    g.job.advance_past("reveal")
    expect_revert("RevealClosed", g.job.reveal, g.secrets["carol"], g.by("carol"))
    g.job.open(g.verification)
    assert g.check("alice") and g.check("bob")
    g.job.advance_past("dispute")
    expect_revert("NothingToClaim", g.job.claim, g.by("carol"))
    pot = ONE + STAKE  # the reward and Carol's stake
    assert g.job.claim(g.by("alice")) == STAKE + pot // 2
    assert g.job.claim(g.by("bob")) == STAKE + pot // 2
    assert g.job.claim(g.by("poster")) == STAKE
    assert env.chain.balance(g.job.address) == 0


def copied_commitment(env: Env) -> None:
    """Bob copies Alice's commitment and, once she reveals, replays her reveal: refused."""
    g = start(env)
    g.enter("alice")
    g.job.join(g.by("bob"))
    copied = bytes.fromhex(g.job.worker(g.address("alice"))["commitment"][2:])
    g.job.send("commit", copied, by=g.by("bob"))
    g.job.advance_past("commit")
    g.reveal("alice")
    expect_revert("CommitmentMismatch", g.job.reveal, g.secrets["alice"], g.by("bob"))
    assert g.status("bob") == "committed"


def lying_poster(env: Env) -> None:
    """The poster's committed answer on one verification row is false: the model, run on chain,
    sides with the honest workers, who are paid, and the poster loses its stake to them; Carol,
    who shares the lie (colluding with the poster), is slashed. Nor can the poster open a
    verification set other than the one it committed to."""
    g = start(env, lie_at=1)
    g.enter("alice")
    g.enter("bob")
    g.enter("carol", g.wrong_at(g.verification.positions[1]))
    g.job.advance_past("commit")
    g.reveal("alice", "bob", "carol")
    g.job.advance_past("reveal")
    v = g.verification
    truthful = Verification(v.salt, v.positions, tuple(g.truth[p] for p in v.positions))
    expect_revert("VerificationMismatch", g.job.open, truthful)
    g.job.open(v)
    assert g.check("alice") and g.check("bob"), "an honest worker was slashed on the poster's word"
    assert g.job.status()["poster_lied"], "the lie was not recorded"
    assert not g.check("carol"), "a worker that shared the poster's lie passed its check"
    g.job.advance_past("dispute")
    pot = ONE + 2 * STAKE  # the reward, the poster's and Carol's stakes
    assert g.job.claim(g.by("alice")) == STAKE + pot // 2
    assert g.job.claim(g.by("bob")) == STAKE + pot // 2
    expect_revert("NothingToClaim", g.job.claim, g.by("poster"))


def hidden_row_cheater(env: Env) -> None:
    """Carol's output is wrong on one hidden verification row; her check slashes her, and she can
    neither forge a proof of the right answer nor prove a forged row."""
    g = start(env)
    g.enter("alice")
    g.enter("carol", g.wrong_at(g.check_row))
    g.job.advance_past("commit")
    g.reveal("alice", "carol")
    g.job.advance_past("reveal")
    g.job.open(g.verification)
    carol = g.address("carol")
    positions, answers = g.opened()
    # a proof of the right answers, built from outputs Carol never revealed
    expect_revert("BadOutputProof", g.job.check, carol, g.truth, g.opened())
    # her real outputs, with the wrong row's inputs replaced by a row the model answers her way
    tree = MerkleTree.of_outputs(g.secrets["carol"].outputs)
    row = g.check_row
    forged_x = pack_row([-v for v in g.job.rows[row]], g.job.lane)  # x[0] changes sign: the label flips
    checks = [(g.secrets["carol"].outputs[p], tree.proof(p), forged_x if p == row else b"",
               g.job.rows_tree().proof(p) if p == row else []) for p in positions]
    expect_revert("BadRowProof", g.job.send, "check", carol, list(positions), list(answers), checks)
    assert not g.check("carol"), "a worker wrong on a verification row passed its check"
    assert g.status("carol") == "slashed"
    assert g.check("alice")


def false_dispute(env: Env) -> None:
    """Carol (wrong on one job row) disputes Alice's right output there: the model sides with
    Alice and the dispute reverts; a forged row or a forged output of Alice's is refused."""
    g = start(env)
    g.enter("alice")
    g.enter("carol", g.wrong_at(g.job_row))
    g.job.advance_past("commit")
    g.reveal("alice", "carol")
    g.job.advance_past("reveal")
    row = g.job_row
    alice = g.address("alice")
    expect_revert("ResultHolds", g.job.dispute, row, [(alice, g.truth)], g.by("carol"))
    rows_tree, alice_tree = g.job.rows_tree(), MerkleTree.of_outputs(g.truth)
    forged_x = pack_row([-v for v in g.job.rows[row]], g.job.lane)
    side = (alice, g.truth[row], alice_tree.proof(row))
    expect_revert("BadRowProof", g.job.send, "dispute", row, forged_x, rows_tree.proof(row), [side],
                  by=g.by("carol"))
    lie = (alice, 1 - g.truth[row], alice_tree.proof(row))  # says Alice revealed the wrong label
    expect_revert("BadOutputProof", g.job.send, "dispute", row, g.job.row_bytes(row), rows_tree.proof(row),
                  [lie], by=g.by("carol"))
    assert g.status("alice") == "revealed"


def one_wrong_row(env: Env, model: str | None = None) -> None:
    """Dave is right everywhere but on one job row (not a verification row): he passes his check,
    Alice disputes that row, the model run slashes him and his stake goes to her."""
    g = start(env, model=model)
    g.enter("alice")
    g.enter("dave", g.wrong_at(g.job_row))
    g.job.advance_past("commit")
    g.reveal("alice", "dave")
    g.job.advance_past("reveal")
    g.job.open(g.verification)
    assert g.check("alice") and g.check("dave")
    slashed = g.job.dispute(g.job_row, [(g.address("alice"), g.truth), (g.address("dave"), g.secrets["dave"].outputs)],
                            g.by("alice"))
    assert slashed == [g.address("dave")], f"slashed {slashed}"
    g.job.advance_past("dispute")
    expect_revert("NothingToClaim", g.job.claim, g.by("dave"))
    assert g.job.claim(g.by("alice")) == STAKE + ONE + STAKE
    assert g.job.is_final_result(g.job_row, g.truth[g.job_row], g.truth)
    assert not g.job.is_final_result(g.job_row, 1 - g.truth[g.job_row], g.wrong_at(g.job_row))


def double_claim(env: Env) -> None:
    g = start(env)
    g.enter("alice")
    g.enter("bob")
    finish(g, "alice", "bob")
    before = env.chain.balance(g.job.address)
    paid = g.job.claim(g.by("alice"))
    assert paid == STAKE + ONE // 2
    expect_revert("AlreadyClaimed", g.job.claim, g.by("alice"))
    assert env.chain.balance(g.job.address) == before - paid


def reentrant_claim(env: Env) -> None:
    """A worker contract whose receive() re-enters claim(): stopped by the guard, paid once."""
    g = start(env)
    code = compile_test_file("JobAttackers.sol")["ReentrantWorker"]
    owner = env.party(5)
    attacker = owner.deploy(code.bytecode + encode(["address", "uint256"], [g.job.address, g.job.id])).address or ""
    evil = Bound(Abi(code), owner, attacker)
    job_abi, job_id = InferenceJob.abi(), g.job.id
    evil.send("forward", job_abi.calldata("join", job_id), value=STAKE)
    secret = WorkerSecret(bytes(range(32)), tuple(g.truth))
    evil.send("forward", job_abi.calldata("commit", job_id, commitment(attacker, secret.salt, secret.root)))
    g.enter("alice")
    g.job.advance_past("commit")
    evil.send("forward", job_abi.calldata("reveal", job_id, secret.salt, list(secret.outputs)))
    g.reveal("alice")
    g.job.advance_past("reveal")
    g.job.open(g.verification)
    assert g.job.check(attacker, secret.outputs, g.opened())
    assert g.check("alice")
    g.job.advance_past("dispute")
    before = env.chain.balance(g.job.address)
    evil.send("forward", job_abi.calldata("claim", job_id))
    assert env.chain.balance(attacker) == STAKE + ONE // 2, "the attacker was paid more than its share"
    assert env.chain.balance(g.job.address) == before - STAKE - ONE // 2
    error = evil.view("reentryError")
    names = {sel: item["name"] for sel, item in job_abi.errors.items()}
    assert names.get(error[:4]) == "Reentrancy", f"re-entry was not stopped by the guard: {error!r}"


# --------------------------------------------------------------------------- the other outcomes


def too_few_workers(env: Env) -> None:
    """Fewer than min_workers committed: cancelled, everyone refunded, nobody can reveal."""
    g = start(env, min_workers=3)
    g.enter("alice")
    g.enter("bob")
    g.job.advance_past("commit")
    assert g.job.phase() == "cancelled"
    expect_revert("WrongPhase", g.job.reveal, g.secrets["alice"], g.by("alice"))
    assert g.job.claim(g.by("alice")) == STAKE
    assert g.job.claim(g.by("poster")) == ONE + STAKE
    assert g.job.claim(g.by("bob")) == STAKE
    assert env.chain.balance(g.job.address) == 0


def poster_defaults(env: Env) -> None:
    """The poster never opens its verification set: the workers that revealed split the reward and
    the poster's stake; the one that did not reveal forfeits."""
    g = start(env)
    for name in ("alice", "bob", "carol"):
        g.enter(name)
    g.job.advance_past("commit")
    g.reveal("alice", "bob")
    g.job.advance_past("open")
    assert g.job.phase() == "defaulted"
    expect_revert("WrongPhase", g.job.open, g.verification)
    pot = ONE + 2 * STAKE  # reward, the poster's and Carol's stakes
    assert g.job.claim(g.by("alice")) == STAKE + pot // 2
    assert g.job.claim(g.by("bob")) == STAKE + pot // 2
    expect_revert("NothingToClaim", g.job.claim, g.by("carol"))
    expect_revert("NothingToClaim", g.job.claim, g.by("poster"))
    assert env.chain.balance(g.job.address) == 0
