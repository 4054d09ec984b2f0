"""InferenceJob on the embedded chain: the protocol's happy path, its other outcomes, and one test
per attack (scenarios in job_scenarios.py; test_job_mutations.py removes each guard in turn)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pytest
from eth_abi import encode

from ml2sc.market.challenge import deployed_data_contracts
from ml2sc.market.job import (
    NO_OUTPUT,
    InferenceJob,
    JobError,
    MerkleTree,
    Terms,
    commitment,
    hide,
    verify_proof,
)
from tests.market import job_scenarios as js
from tests.market import scenarios as s
from tests.market.scenarios import ONE, Env, compile_test_models

pytestmark = pytest.mark.evm


def test_merkle_trees_and_commitment_agree_with_the_contract(env: Env) -> None:
    g = js.start(env)
    c = g.job.contract
    outputs = g.wrong_at(3)
    tree = MerkleTree.of_outputs(outputs)
    assert c.view("outputsRoot", outputs, 4) == tree.root
    terms = g.job.terms()
    assert terms["rows_root"] == "0x" + g.job.rows_tree().root.hex() and terms["rows"] == 16
    assert terms["lane_bytes"] == 8 and terms["inputs"] == 3
    for i in (0, 5, 15):
        assert verify_proof(tree.root, i, tree.levels[0][i], tree.proof(i))
        assert not verify_proof(tree.root, i ^ 1, tree.levels[0][i], tree.proof(i))  # no replay on another row
    assert c.view("NO_OUTPUT") == NO_OUTPUT
    worker = env.party(1).sender
    assert c.view("commitmentOf", worker, bytes(range(32)), tree.root) == commitment(worker, bytes(range(32)), tree.root)


def test_odd_number_of_rows_pads_the_trees(env: Env) -> None:
    rows, v = hide([[ONE, -ONE, 0]] * 4, [[-ONE, ONE, 0]], [0], seed=1)
    job = InferenceJob.create(env.chain, env.models["HonestRule"], rows, v, ONE, Terms(model_gas_cap=100_000))
    assert job.contract.view("outputsRoot", [1, 1, 1, 1, 0], 3) == MerkleTree.of_outputs([1, 1, 1, 1, 0]).root
    assert job.terms()["rows_root"] == "0x" + MerkleTree.of_rows(rows, 8).root.hex()


def test_hide_places_the_verification_rows_at_the_committed_positions() -> None:
    rows, v = hide([[1], [2], [3]], [[10], [20]], [7, 8], seed=3)
    assert [rows[p] for p in v.positions] == [[10], [20]]
    assert [r for i, r in enumerate(rows) if i not in v.positions] == [[1], [2], [3]]
    with pytest.raises(JobError, match="2 verification rows but 1 answers"):
        hide([[1]], [[10], [20]], [7])


def test_whole_job_honest_workers_share_and_consumers_read_results(env: Env) -> None:
    g = js.start(env)
    g.enter("alice")
    g.enter("bob")
    assert g.job.phase() == "commit"
    js.finish(g, "alice", "bob")
    assert g.job.phase() == "final"
    assert g.job.claim(g.by("alice")) == js.STAKE + ONE // 2
    assert g.job.claim(g.by("bob")) == js.STAKE + ONE // 2
    assert g.job.claim(g.by("poster")) == js.STAKE
    assert env.chain.balance(g.job.address) == 0
    st = g.job.status()
    assert st["settled"] and st["honest_workers"] == 2 and st["result_root"] == "0x" + MerkleTree.of_outputs(g.truth).root.hex()
    for row in range(len(g.truth)):
        assert g.job.is_final_result(row, g.truth[row], g.truth)
    assert not g.job.is_final_result(0, 1 - g.truth[0], g.truth)


def test_model_whose_code_hash_differs_is_refused(env: Env) -> None:
    rows, v = hide([[ONE, 0, 0]], [[-ONE, 0, 0]], [0], seed=0)
    with pytest.raises(Exception, match="ModelNotSelfContained"):
        InferenceJob.create(env.chain, env.models["StorageCheater"], rows, v, ONE, Terms(model_gas_cap=100_000))


def test_int8_model_reading_a_data_contract_serves_a_job(env: Env) -> None:
    """An ml2sc int8 model with its weights in a data contract (linked into its code): the job
    declares the contract its code names, proven like a challenge entry, and a disputed row is
    settled by running the model, data contract and all, on chain."""
    deployed = s.int8_rule_model().deploy(env.chain, progress=False)
    data = deployed_data_contracts(deployed)
    assert len(data) == 1
    job = js.start(env, model=deployed.address).job
    assert job.data == data
    js.one_wrong_row(env, model=deployed.address)  # the dispute runs the int8 model on chain


def test_model_reading_a_computed_address_is_refused(env: Env) -> None:
    """Its data contract is pure and named in its code, but its EXTCODECOPY reads an address one
    XOR away: it could read code deployed after the verification rows are opened."""
    data = s.pure_data(env)
    model = env.chain.deploy(env.contracts["ComputedDataRule"].bytecode + encode(["address", "uint256"], [data, 1])).address
    rows, v = hide([[ONE, 0, 0]], [[-ONE, 0, 0]], [0], seed=0)
    with pytest.raises(Exception, match="ModelNotSelfContained"):
        InferenceJob.create(env.chain, model, rows, v, ONE, Terms(model_gas_cap=100_000))


def test_wrong_reveal_is_refused(env: Env) -> None:
    js.wrong_reveal(env)


def test_late_commit_is_refused(env: Env) -> None:
    js.late_commit(env)


def test_worker_who_does_not_reveal_forfeits_its_stake(env: Env) -> None:
    js.no_reveal(env)


def test_copied_commitment_cannot_be_opened(env: Env) -> None:
    js.copied_commitment(env)


def test_lying_poster_loses_its_stake_and_slashes_nobody(env: Env) -> None:
    js.lying_poster(env)


def test_worker_wrong_on_a_hidden_row_is_slashed(env: Env) -> None:
    js.hidden_row_cheater(env)


def test_false_dispute_is_refused(env: Env) -> None:
    js.false_dispute(env)


def test_worker_wrong_on_one_job_row_is_slashed_by_a_dispute(env: Env) -> None:
    js.one_wrong_row(env)


def test_double_claim_is_refused(env: Env) -> None:
    js.double_claim(env)


def test_reentrant_claim_is_stopped(env: Env) -> None:
    js.reentrant_claim(env)


def test_too_few_workers_cancels_and_refunds(env: Env) -> None:
    js.too_few_workers(env)


def test_poster_who_never_opens_forfeits_to_the_workers(env: Env) -> None:
    js.poster_defaults(env)


def test_jobs_share_one_contract_and_keep_their_money_apart(env: Env) -> None:
    """A second job in the same InferenceJobs contract: its own id, no second scan of the model,
    and the first job's payouts come from the first job's escrow only."""
    first = js.start(env)
    second = js.start(env, seed=1)
    again = InferenceJob.create(env.chain, env.models["HonestRule"], second.job.rows, second.verification, ONE,
                                Terms(worker_stake=js.STAKE, poster_stake=js.STAKE, model_gas_cap=100_000),
                                jobs=first.job.address)
    assert (first.job.id, again.id) == (0, 1) and again.address == first.job.address
    assert again.gas[-1][1] < first.job.gas[-1][1] - 50_000, "the model was scanned again"
    first.enter("alice")
    first.enter("bob")
    js.finish(first, "alice", "bob")
    assert env.chain.balance(first.job.address) == 2 * (ONE + js.STAKE) + 2 * js.STAKE
    assert first.job.claim(first.by("alice")) == js.STAKE + ONE // 2
    assert first.job.claim(first.by("bob")) == js.STAKE + ONE // 2
    assert first.job.claim(first.by("poster")) == js.STAKE
    assert first.job.status()["escrow"] == 0
    assert env.chain.balance(first.job.address) == ONE + js.STAKE  # the second job's escrow, untouched
    again.advance_past("commit")
    assert again.phase() == "cancelled"  # nobody worked on it
    assert again.claim(env.chain) == ONE + js.STAKE


@pytest.mark.slow
def test_whole_job_from_the_command_line_over_rpc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture) -> None:
    """``ml2sc job ...`` one process per step against anvil: two honest workers, one wrong on
    every row (slashed by its check), one wrong on a single job row (slashed by a dispute)."""
    from ml2sc.chain.rpc import AnvilChain, anvil_dev_key
    from ml2sc.compiler.cli import main

    with AnvilChain() as anvil:
        model = Env.deploy(anvil, compile_test_models()).models["HonestRule"]
        for i in range(5):
            monkeypatch.setenv(f"KEY{i}", anvil_dev_key(i))
        rng = np.random.default_rng(5)
        x = rng.normal(0, 1, (6, 3)).astype(np.float32)
        np.save(tmp_path / "x.npy", x)
        np.save(tmp_path / "xv.npy", np.array([[1, 0, 0], [-1, 0, 0]], dtype=np.float32))
        state, secret = str(tmp_path / "job.json"), str(tmp_path / "job.secret.json")

        def run(*argv: str, key: int = 0) -> str:
            assert main(["job", *argv, "--state", state, "--rpc-url", anvil.url, "--key-env", f"KEY{key}"]) == 0, \
                capsys.readouterr().err
            return capsys.readouterr().out

        out = run("create", "--address", model, "--data", str(tmp_path / "x.npy"), "--verify-data",
                  str(tmp_path / "xv.npy"), "--reward", "1", "--stake", "0.1", "--worker-stake", "0.1",
                  "--gas-cap", "100000", "--seed", "0", "--secret", secret)
        assert "8 rows (2 of them hidden verification rows)" in out
        assert stat.S_IMODE(Path(secret).stat().st_mode) == 0o600
        rows = json.loads(Path(state).read_text())["rows"]
        positions = json.loads(Path(secret).read_text())["positions"]
        truth = [int(r[0] >= 0) for r in rows]
        job_row = next(i for i in range(len(rows)) if i not in positions)
        np.save(tmp_path / "all_wrong.npy", np.array([1 - t for t in truth]))
        np.save(tmp_path / "one_wrong.npy", np.array([1 - t if i == job_row else t for i, t in enumerate(truth)]))
        wsecret = {k: str(tmp_path / f"w{k}.json") for k in (1, 2, 3, 4)}
        for k in (1, 3, 4):  # 2 joins with its commit
            run("join", key=k)
        run("commit", "--worker-secret", wsecret[1], key=1)
        run("commit", "--join", "--worker-secret", wsecret[2], key=2)
        run("commit", "--outputs", str(tmp_path / "all_wrong.npy"), "--worker-secret", wsecret[3], key=3)
        run("commit", "--outputs", str(tmp_path / "one_wrong.npy"), "--worker-secret", wsecret[4], key=4)
        assert main(["job", "reveal", "--worker-secret", wsecret[1], "--state", state, "--rpc-url", anvil.url,
                     "--key-env", "KEY1"]) == 2
        assert "WrongPhase" in capsys.readouterr().err
        run("warp", "--past", "commit")
        for k in (1, 2, 3, 4):
            run("reveal", "--worker-secret", wsecret[k], key=k)
        run("warp", "--past", "reveal")
        assert "opened the verification set" in run("reveal", "--poster", "--secret", secret)
        address = {k: anvil.party(k).sender for k in (1, 2, 3, 4)}
        assert f"{address[3]}: SLASHED" in run("check", "--worker", address[3], key=1)
        for k in (1, 2, 4):
            assert "verified" in run("check", key=k)
        assert f"slashed {address[4]}" in run("dispute", "--row", str(job_row), key=1)
        run("warp", "--past", "dispute")
        assert "claimed 0.7 ETH" in run("claim", key=1)  # stake + (1 + 0.1 + 0.1) / 2
        assert "claimed 0.7 ETH" in run("claim", key=2)
        assert main(["job", "claim", "--state", state, "--rpc-url", anvil.url, "--key-env", "KEY3"]) == 2
        assert "NothingToClaim" in capsys.readouterr().err
        assert "claimed 0.1 ETH" in run("claim")
        status = json.loads(run("status", "--json"))
        assert status["phase"] == "final" and status["honest_workers"] == 2 and status["escrow"] == 0
        assert [w["status"] for w in status["workers"]] == ["verified", "slashed", "slashed", "verified"]  # join order


@pytest.mark.slow
@pytest.mark.parametrize("chain", ["embedded", "anvil"])
def test_job_demo_runs_end_to_end(chain: str, capsys: pytest.CaptureFixture) -> None:
    """examples/job_demo.py: trains the model, plays the whole job, checks its own outcome."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("job_demo", Path(__file__).parents[2] / "examples" / "job_demo.py")
    demo = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(demo)  # type: ignore[union-attr]
    assert demo.main(["--chain", chain]) == 0
    out = capsys.readouterr().out
    assert "carol SLASHED" in out and "slashed dave" in out and "whole job" in out


def test_misuse_is_refused_with_named_errors(env: Env) -> None:
    """The rules that are not attacks on money but would corrupt a job: each a named error."""
    from tests.market.scenarios import expect_revert

    g = js.start(env)
    expect_revert("PosterCannotWork", g.job.join, g.by("poster"))
    expect_revert("WrongStake", g.job.send, "join", by=g.by("alice"), value=js.STAKE - 1)
    g.enter("alice")
    g.enter("bob")
    g.job.join(g.by("carol"))
    expect_revert("AlreadyJoined", g.job.join, g.by("alice"))
    expect_revert("NotJoined", g.job.commit, g.truth, g.by("alice"))  # committed already
    expect_revert("NotOver", g.job.claim, g.by("alice"))
    g.job.advance_past("commit")
    expect_revert("OutputCount", g.job.send, "reveal", g.secrets["alice"].salt, g.truth[:-1], by=g.by("alice"))
    g.reveal("alice", "bob")
    g.job.advance_past("reveal")
    expect_revert("WrongPhase", g.check, "alice")  # not opened yet
    expect_revert("NotPoster", g.job.open, g.verification, g.by("alice"))
    row, other = g.job_row, g.job_row ^ 1
    rows_tree, tree = g.job.rows_tree(), MerkleTree.of_outputs(g.truth)
    replayed = (g.address("alice"), g.truth[row], tree.proof(other))  # another row's proof
    expect_revert("BadOutputProof", g.job.send, "dispute", row, g.job.row_bytes(row), rows_tree.proof(row), [replayed])
    carol = (g.address("carol"), g.truth[row], tree.proof(row))
    expect_revert("NotRevealed", g.job.send, "dispute", row, g.job.row_bytes(row), rows_tree.proof(row), [carol])
    g.job.open(g.verification)
    assert g.check("alice")
    expect_revert("NotRevealed", g.check, "alice")  # checked once
    g.job.advance_past("dispute")
    expect_revert("WrongPhase", g.check, "bob")
    expect_revert("NotFinal", g.job.is_final_result, 0, g.truth[0], g.truth)  # not settled yet
    g.job.settle()
    assert g.job.is_final_result(0, g.truth[0], g.truth)


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from ml2sc.compiler.cli import main

    assert main(["job", "status", "--state", str(tmp_path / "none.json")]) == 2
    assert capsys.readouterr().err.strip() == f"ml2sc: error: state file '{tmp_path / 'none.json'}' not found (written by 'create')"
    (tmp_path / "c.json").write_text('{"challenge": "0x00"}')
    assert main(["job", "claim", "--state", str(tmp_path / "c.json")]) == 2
    assert "is not a job's" in capsys.readouterr().err


def test_join_and_commit_in_one_transaction(env: Env) -> None:
    g = js.start(env)
    g.secrets["alice"] = g.job.commit(g.truth, g.by("alice"), join=True)
    g.enter("bob")
    expect = js.STAKE
    assert g.status("alice") == "committed" and g.job.status()["escrow"] == ONE + js.STAKE + 2 * expect
    from tests.market.scenarios import expect_revert

    g.job.join(g.by("carol"))
    expect_revert("WrongStake", g.job.commit, g.truth, g.by("carol"), join=True)  # joined already: no second stake
    js.finish(g, "alice", "bob")
    assert g.job.claim(g.by("alice")) == js.STAKE + (ONE + js.STAKE) // 2


def test_rows_the_model_fails_on_have_no_output(env: Env) -> None:
    """With a model that reverts on some rows (the test-only Reverter: on rows where x[1] < 0),
    the honest output there is NO_OUTPUT, exactly what the contract scores a failure as; a worker
    that reports a label for such a row is wrong, and a dispute of that row slashes it."""
    from ml2sc.market.job import NO_OUTPUT, classify_rows

    rng = np.random.default_rng(11)
    inputs = [[int(v * ONE) for v in row] for row in rng.normal(0, 1, (10, 3))]
    model = env.models["Reverter"]
    rows, verification = hide(inputs[:8], inputs[8:], classify_rows(env.chain, model, inputs[8:]), seed=11)
    job = InferenceJob.create(env.chain, model, rows, verification, ONE,
                              Terms(worker_stake=js.STAKE, poster_stake=js.STAKE, min_workers=2,
                                    model_gas_cap=100_000))
    truth = job.model_outputs()
    failing = [i for i, y in enumerate(truth) if y == NO_OUTPUT and i not in verification.positions]
    assert failing, "no job row on which the model fails"
    labelled = list(truth)
    labelled[failing[0]] = int(rows[failing[0]][0] >= 0)  # the label the rule would give
    alice, bob = env.party(1), env.party(2)
    secrets = {p.sender: job.commit(out, p, join=True) for p, out in ((alice, truth), (bob, labelled))}
    job.advance_past("commit")
    for p in (alice, bob):
        job.reveal(secrets[p.sender], p)
    job.advance_past("reveal")
    job.open(verification)
    opened = (verification.positions, verification.answers)
    assert job.check(alice.sender, truth, opened) and job.check(bob.sender, labelled, opened)
    assert job.dispute(failing[0], [(bob.sender, labelled)], alice) == [bob.sender]


def test_values_beyond_int64_use_wider_lanes_and_widen_exactly(env: Env) -> None:
    """Rows are packed in 8-byte lanes unless a value needs 16 or 32; the contract widens a
    proven row back to the exact int256 values before running the model (a dispute here runs
    it on a row with a negative input and one beyond int64)."""
    from ml2sc.market.job import lane_bytes, pack_row

    assert lane_bytes([[1, -(2**63)]]) == 8 and lane_bytes([[2**63]]) == 16 and lane_bytes([[-(2**200)]]) == 32
    assert pack_row([-1, 2], 8) == b"\xff" * 8 + b"\x00" * 7 + b"\x02"
    rows, v = hide([[-ONE, ONE, 2**100], [ONE, -ONE, -(2**100)]], [[ONE, ONE, 0]], [1], seed=2)
    job = InferenceJob.create(env.chain, env.models["HonestRule"], rows, v, ONE,
                              Terms(worker_stake=js.STAKE, min_workers=1, model_gas_cap=100_000))
    assert job.terms()["lane_bytes"] == 16
    truth = job.model_outputs()
    wrong = [1 - y for y in truth]
    secret = job.commit(wrong, env.party(1), join=True)
    job.advance_past("commit")
    job.reveal(secret, env.party(1))
    job.advance_past("reveal")
    row = next(i for i in range(3) if i not in v.positions and rows[i][0] < 0)
    assert job.dispute(row, [(env.party(1).sender, wrong)], env.party(2)) == [env.party(1).sender]
