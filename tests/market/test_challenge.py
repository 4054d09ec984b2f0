"""The Challenge contract on the embedded chain: a full game, then one test per way to cheat."""

from __future__ import annotations

import pytest

from tests.market import scenarios as s

pytestmark = pytest.mark.evm


def test_full_challenge_pays_the_best_model(env: s.Env) -> None:
    ts = s.rule_test_set(n=20)
    ch, salt = s.played(env, ts, "OutOfRange", "HonestRule")
    assert ch.status().phase == "reveal"
    ch.reveal(salt, ts)
    assert ch.evaluate_all(15) == 3  # 40 (model, row) pairs in batches of 15
    st = ch.status()
    assert st.phase == "final" and st.winner == 1
    assert [sub["correct"] for sub in st.submissions] == [ts.n_rows - s.bad_rows(ts), ts.n_rows]
    assert ch.claim(env.party(2)) == s.ONE
    assert ch.claim(env.chain) == s.ONE // 10  # the organiser's stake
    s.expect_revert("NothingToClaim", ch.claim, env.party(1))
    assert env.chain.balance(ch.address) == 0


def test_threshold_not_reached_returns_the_reward(env: s.Env) -> None:
    ts = s.rule_test_set(n=12)
    ch, salt = s.played(env, ts, "Reverter", threshold=0.9)
    ch.reveal(salt, ts)
    ch.evaluate_all(50)
    assert ch.status().winner is None
    assert ch.claim(env.chain) == s.ONE + s.ONE // 10


def test_reveal_not_matching_the_commitment_is_refused(env: s.Env) -> None:
    s.reveal_not_matching(env)


def test_submission_after_the_deadline_is_refused(env: s.Env) -> None:
    s.submission_after_deadline(env)


def test_evaluation_waits_for_the_whole_reveal(env: s.Env) -> None:
    s.evaluation_before_reveal(env)


def test_double_claim_is_refused(env: s.Env) -> None:
    s.double_claim(env)


def test_reentrant_payout_is_stopped(env: s.Env) -> None:
    s.reentrant_payout(env)


@pytest.mark.parametrize("model", ["Reverter", "GasBurner", "OutOfRange", "Silent"])
def test_misbehaving_model_scores_wrong_and_blocks_nothing(env: s.Env, model: str) -> None:
    s.misbehaving_models(env, model)


def test_organiser_who_never_reveals_forfeits_to_the_submitters(env: s.Env) -> None:
    s.organiser_never_reveals(env)


def test_impossible_label_in_the_reveal_is_refused(env: s.Env) -> None:
    s.label_out_of_range(env)


def test_model_reading_mutable_state_is_refused(env: s.Env) -> None:
    s.mutable_model(env)


def test_evaluator_cannot_starve_a_model_of_its_gas(env: s.Env) -> None:
    """Too little gas for the model's whole cap: the batch reverts instead of scoring it wrong."""
    ts = s.rule_test_set()
    ch, salt = s.played(env, ts, "HonestRule")
    ch.reveal(salt, ts)
    s.expect_revert("InsufficientGasForModel", ch.evaluate, 5, gas=150_000)
    assert ch.status().cursor == (0, 0)
    ch.evaluate_all(100)
    assert ch.status().submissions[0]["correct"] == ts.n_rows


def test_copies_and_the_organiser_cannot_enter(env: s.Env) -> None:
    ch, _ = env.challenge(s.rule_test_set())
    ch.submit(env.models["HonestRule"], env.party(1))
    s.expect_revert("DuplicateModel", ch.submit, env.models["HonestRule"], env.party(2))
    s.expect_revert("AlreadySubmitted", ch.submit, env.models["Reverter"], env.party(1))
    s.expect_revert("OrganiserCannotSubmit", ch.submit, env.models["Reverter"], env.chain)


def test_test_set_encoding_matches_the_contract(env: s.Env) -> None:
    """The Python row hash and chunking agree with the contract's (reveal checks the hash)."""
    ts = s.rule_test_set(n=5)
    ch, salt = s.played(env, ts, "HonestRule")
    ch.reveal(salt, ts)
    assert ch.contract.view("rowHash") == ts.row_hash()
    assert ch.contract.view("rowsPerChunk") == ts.rows_per_chunk
