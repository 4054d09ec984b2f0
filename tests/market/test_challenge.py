"""The Challenge contract on the embedded chain: a full game, then one test per way to cheat, the
committed entries, models reading data contracts and the code scan."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from eth_utils import keccak

from ml2sc.backends.common.link import placeholder
from ml2sc.compiler.driver import CompiledModel, data_initcode
from ml2sc.compiler.solc import compile_solidity, runtime_sol_dir
from ml2sc.market.abi import ContractError
from ml2sc.market.challenge import compiled_entry_hash, deployed_data_contracts
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
    model = env.models["HonestRule"]
    first, copy = ch.submit(model, env.party(1)), ch.submit(model, env.party(2))
    s.expect_revert("AlreadySubmitted", ch.submit, env.models["Reverter"], env.party(1))
    s.expect_revert("OrganiserCannotSubmit", ch.submit, env.models["Reverter"], env.chain)
    ch.advance_past("submission")
    ch.reveal_entry(model, env.party(1), first.salt)
    s.expect_revert("DuplicateModel", ch.reveal_entry, model, env.party(2), copy.salt)
    s.expect_revert("AlreadySubmitted", ch.reveal_entry, model, env.party(1), first.salt)


def test_entry_windows_and_commitments(env: s.Env) -> None:
    """Entries are revealed only between the submission and the entry-reveal deadlines, by the
    account that committed, with the committed model and salt; the test set only after that."""
    ts = s.rule_test_set()
    ch, salt = env.challenge(ts)
    model, alice = env.models["HonestRule"], env.party(1)
    entry = ch.submit(model, alice)
    assert ch.status().phase == "submission"
    s.expect_revert("EntryRevealNotOpen", ch.reveal_entry, model, alice, entry.salt)
    ch.advance_past("submission")
    assert ch.status().phase == "entry-reveal"
    s.expect_revert("NotCommitted", ch.reveal_entry, model, env.party(2), entry.salt)
    s.expect_revert("EntryMismatch", ch.reveal_entry, model, alice, bytes(32))  # wrong salt
    s.expect_revert("EntryMismatch", ch.reveal_entry, env.models["Reverter"], alice, entry.salt)  # other model
    s.expect_revert("RevealNotOpen", ch.reveal, salt, ts)  # the test set waits for the entries
    ch.advance_past("entry-reveal")
    assert ch.status().phase == "reveal"
    s.expect_revert("EntryRevealClosed", ch.reveal_entry, model, alice, entry.salt)
    ch.reveal(salt, ts)
    assert ch.status().phase == "final"  # no entry revealed: nothing to evaluate
    assert ch.claim(env.chain) == s.ONE + s.ONE // 10


def test_copied_entry_cannot_be_revealed_by_another(env: s.Env) -> None:
    s.copied_entry(env)


def test_junk_entries_lose_their_bond_to_the_winner(env: s.Env) -> None:
    s.junk_entries(env)


def test_commitment_without_the_bond_is_refused(env: s.Env) -> None:
    s.unbonded_commit(env)


def test_forfeited_bonds_never_go_to_the_organiser(env: s.Env) -> None:
    """The organiser fills every slot with junk from other accounts: no winner, so reward and
    stake go back to it, but the junk bonds stay in the contract (burnt)."""
    ts = s.rule_test_set()
    ch, salt = env.challenge(ts, entry_bond=s.BOND, max_submissions=2)
    for i in (1, 2):
        ch.commit(bytes([i]) * 32, env.party(i))
    s.expect_revert("TooManySubmissions", ch.submit, env.models["HonestRule"], env.party(3))
    ch.advance_past("entry-reveal")
    ch.reveal(salt, ts)
    assert ch.contract.view("forfeitedBonds") == 2 * s.BOND
    assert ch.claim(env.chain) == s.ONE + s.ONE // 10
    assert env.chain.balance(ch.address) == 2 * s.BOND


def test_never_revealed_test_set_pays_the_revealed_entries_and_their_bonds(env: s.Env) -> None:
    ts = s.rule_test_set()
    ch, _ = env.challenge(ts, entry_bond=s.BOND, reward=s.ONE + 1)
    entries = [ch.submit(env.models[name], env.party(i)) for i, name in ((1, "HonestRule"), (2, "Reverter"))]
    ch.commit(keccak(b"junk"), env.party(3))
    ch.advance_past("submission")
    for i, name in ((1, "HonestRule"), (2, "Reverter")):
        ch.reveal_entry(env.models[name], env.party(i), entries[i - 1].salt)
    ch.advance_past("reveal")
    pot = s.ONE + 1 + s.ONE // 10 + s.BOND  # reward, stake and the junk's bond
    assert ch.claim(env.party(1)) == s.BOND + pot // 2 + pot % 2
    assert ch.claim(env.party(2)) == s.BOND + pot // 2
    s.expect_revert("NothingToClaim", ch.claim, env.party(3))
    s.expect_revert("NothingToClaim", ch.claim, env.chain)
    assert env.chain.balance(ch.address) == 0


# --------------------------------------------------------------------------- data contracts


def test_int8_model_with_data_contracts_enters_and_is_scored(env: s.Env, int8_rule: CompiledModel) -> None:
    """An int8 model whose weights live in a data contract: committed from its compiled code before
    deployment (entry hash of the runtime with the immutables zero), revealed with its data
    contract, scored on chain exactly as the simulator predicts."""
    ts = s.rule_test_set(n=20)
    alice, bob = env.party(1), env.party(2)
    ch, salt = env.challenge(ts, model_gas_cap=300_000)
    entry = ch.commit(compiled_entry_hash(int8_rule), alice)  # nothing deployed yet
    honest = ch.submit(env.models["HonestRule"], bob)
    ch.advance_past("submission")
    deployed = int8_rule.deploy(alice)
    data = deployed_data_contracts(deployed)
    assert len(data) == len(int8_rule.program.data_contracts) == 1
    assert ch.check_entry(deployed.address, data) == entry.entry_hash
    s.expect_revert("ModelNotSelfContained", ch.check_entry, deployed.address)  # its EXTCODECOPY needs the data declared
    assert ch.reveal_entry(deployed.address, alice, entry.salt, data) == 0
    ch.reveal_entry(env.models["HonestRule"], bob, honest.salt)
    ch.advance_past("entry-reveal")
    ch.reveal(salt, ts)
    ch.evaluate_all(15)
    st = ch.status()
    x = np.asarray(ts.inputs, dtype=np.float64) / s.ONE
    expected = int(np.sum(int8_rule.simulate(x)["label"].reshape(-1) == np.asarray(ts.labels)))
    int8_entry = st.submissions[0]
    assert int8_entry["data_contracts"] == data
    assert (int8_entry["correct"], int8_entry["invalid"]) == (expected, 0)
    assert expected == ts.n_rows  # it learnt the rule: as good as HonestRule, and earlier on the tie
    assert st.phase == "final" and st.winner == 0
    assert ch.claim(alice) == s.ONE


def test_data_read_at_a_computed_address_is_refused(env: s.Env) -> None:
    s.computed_data_address(env)


def test_every_int8_copy_names_its_data_contract(int8_rule: CompiledModel) -> None:
    """What the scan proves of ml2sc's own int8 code: each EXTCODECOPY right after the PUSH32 of a
    linked data-contract placeholder."""
    code = int8_rule.artifact.runtime_bytecode
    pc, prev, copies = 0, -1, 0
    while pc < len(code):
        if code[pc] == 0x3C:
            copies += 1
            assert prev >= 0 and code[prev] == 0x7F and prev + 33 == pc and code[prev + 1 : pc] == placeholder(0), pc
        prev = pc
        pc += 1 + (code[pc] - 0x5F if 0x60 <= code[pc] <= 0x7F else 0)
    assert copies >= 1


def test_declared_data_contracts_must_be_pure_and_named_by_the_model(env: s.Env) -> None:
    ch, _ = env.challenge(s.rule_test_set())
    data, other = s.pure_data(env), s.pure_data(env, b"\x02")
    model = s.data_rule(env, data)
    assert ch.check_entry(model, [data]) == s.chain_entry_hash(env, model, [data])
    s.expect_revert("DataContractNotReferenced", ch.check_entry, model, [data, other])
    s.expect_revert("ModelNotSelfContained", ch.check_entry, model)  # undeclared EXTCODECOPY
    s.expect_revert("TooManyDataContracts", ch.check_entry, model, [data] * 33)


def test_data_contract_that_could_change_is_refused(env: s.Env) -> None:
    s.mutable_data_contract(env)


def test_model_reading_a_pure_data_contract_is_scored(env: s.Env) -> None:
    ts = s.rule_test_set()
    data = s.pure_data(env)
    model = s.data_rule(env, data)
    ch, salt = env.challenge(ts)
    entry = ch.submit(model, env.party(1), [data])
    ch.advance_past("submission")
    ch.reveal_entry(model, env.party(1), entry.salt, [data])
    ch.advance_past("entry-reveal")
    ch.reveal(salt, ts)
    ch.evaluate_all(50)
    assert ch.status().submissions[0]["correct"] == ts.n_rows


# --------------------------------------------------------------------------- the code scan


def _opcode_sets() -> tuple[str, set[int], int]:
    source = (runtime_sol_dir() / "ChallengeModels.sol").read_text()
    forbidden_text = re.search(r"FORBIDDEN = (.*?);", source, re.S).group(1)  # type: ignore[union-attr]
    forbidden = {int(v, 16) for v in re.findall(r"1 << (0x[0-9a-f]+)", forbidden_text)}
    halts = int(re.search(r"HALTS = (0x[0-9a-f]+);", source).group(1), 16)  # type: ignore[union-attr]
    return source, forbidden, halts


def test_scan_tables_match_the_opcode_sets() -> None:
    """ChallengeModels' live and dead tables say exactly what FORBIDDEN, HALTS and the PUSH
    lengths say."""
    source, forbidden, halts = _opcode_sets()

    def word(name: str) -> bytes:
        return int(re.search(rf"constant {name} = (0x[0-9a-f]+);", source).group(1), 16).to_bytes(32, "big")  # type: ignore[union-attr]

    live = b"".join(word(f"LIVE{k}") for k in range(8))
    dead = b"".join(word(n) for n in ("ONES", "ONES", "DEAD2", "LIVE3", "ONES", "ONES", "ONES", "ONES"))
    assert len(forbidden) == 28
    for op in range(256):
        skip = 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
        assert live[op] == skip | 0x40 * (op in forbidden) | 0x80 * (halts >> op & 1), hex(op)
        assert dead[op] == skip | 0x80 * (op == 0x5B), hex(op)


def _reference_scan(code: bytes, data: bytes | None = None) -> tuple[int, int] | None:
    """The scan's specification: the first live forbidden instruction (pc, opcode), or None.
    With ``data`` (a declared address, 32 bytes) an EXTCODECOPY is allowed right after
    ``PUSH32 data`` and nowhere else."""
    _, forbidden, halts = _opcode_sets()
    live, pc, prev = True, 0, -1
    while pc < len(code):
        op = code[pc]
        live = live or op == 0x5B
        pinned = data is not None and prev >= 0 and code[prev] == 0x7F and code[prev + 1 : prev + 33] == data
        if live and op in forbidden and not (op == 0x3C and pinned):
            return pc, op
        live = live and not halts >> op & 1
        prev, pc = pc, pc + 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return None


def test_scan_agrees_with_its_specification_on_random_code(env: s.Env) -> None:
    """Random code rich in PUSHes (forbidden bytes hidden in their data), halts, JUMPDESTs and
    forbidden opcodes, near the end too (the unrolled loop runs past it): the contract's verdict
    is the reference scan's, pc and opcode included."""
    rng = np.random.default_rng(5)
    ch, _ = env.challenge(s.rule_test_set())
    forbidden = [0x31, 0x3C, 0x54, 0x5A, 0xF1, 0xFA, 0xFF]
    verdicts = {"clean": 0, "refused": 0}
    for _ in range(40):
        code = bytearray([0x5F])
        for _ in range(int(rng.integers(1, 120))):
            kind = rng.random()
            if kind < 0.35:
                n = int(rng.integers(1, 33))
                code += bytes([0x5F + n]) + rng.choice(forbidden + [0x5B, 0x00], n).astype(np.uint8).tobytes()
            elif kind < 0.5:
                code.append(int(rng.choice([0x00, 0x56, 0xF3, 0xFD, 0xFE, 0x0C, 0xA5])))
            elif kind < 0.6:
                code.append(0x5B)
            elif kind < 0.63:
                code.append(int(rng.choice(forbidden)))
            else:
                code.append(int(rng.choice([0x01, 0x02, 0x16, 0x50, 0x80, 0x90, 0x35, 0x52, 0x51])))
        if rng.random() < 0.3:
            code += bytes([0x7F]) + bytes(int(rng.integers(0, 32)))  # a PUSH32 cut short by the end
        model = env.chain.deploy(data_initcode(bytes(code))).address or ""
        expected = _reference_scan(bytes(code))
        try:
            ch.check_entry(model)
            got = None
        except ContractError as e:
            assert e.error == "ModelNotSelfContained", e
            got = (e.args_["pc"], e.args_["opcode"])
        assert got == expected, (bytes(code).hex(), got, expected)
        verdicts["clean" if got is None else "refused"] += 1
    assert min(verdicts.values()) >= 5, verdicts


def test_scan_proves_every_extcodecopy_address_on_random_code(env: s.Env) -> None:
    """Random code around EXTCODECOPYs, with a data contract declared: right after PUSH32 of the
    declared address (allowed), after another PUSH32, after the address and one more instruction,
    bare, behind a halt (dead) or a JUMPDEST (live again): the contract's verdict is the
    reference scan's, pc and opcode included."""
    rng = np.random.default_rng(7)
    ch, _ = env.challenge(s.rule_test_set())
    data = s.pure_data(env)
    word = bytes.fromhex(data[2:]).rjust(32, b"\0")
    named = bytes([0x7F]) + word
    verdicts = {"clean": 0, "refused": 0}
    for _ in range(40):
        code = bytearray(named + bytes([0x50]))  # the model names its data contract once
        for _ in range(int(rng.integers(1, 40))):
            kind = rng.random()
            if kind < 0.4:
                code += named + b"\x3c"
            elif kind < 0.45:
                code += bytes([0x7F]) + bytes(rng.integers(0, 256, 32, dtype=np.uint8)) + b"\x3c"
            elif kind < 0.5:
                code += named + bytes([int(rng.choice([0x80, 0x90, 0x5B, 0x50]))]) + b"\x3c"
            elif kind < 0.53:
                code += b"\x3c"
            elif kind < 0.65:
                code.append(int(rng.choice([0x00, 0x56, 0xF3, 0xFE])))
            elif kind < 0.75:
                code.append(0x5B)
            else:
                code.append(int(rng.choice([0x01, 0x02, 0x16, 0x50, 0x80, 0x90, 0x35, 0x52, 0x51])))
        model = env.chain.deploy(data_initcode(bytes(code))).address or ""
        expected = _reference_scan(bytes(code), word)
        try:
            ch.check_entry(model, [data])
            got = None
        except ContractError as e:
            assert e.error == "ModelNotSelfContained", e
            got = (e.args_["pc"], e.args_["opcode"])
        assert got == expected, (bytes(code).hex(), got, expected)
        verdicts["clean" if got is None else "refused"] += 1
    assert min(verdicts.values()) >= 5, verdicts


# The scan as it was before issue 16 (one instruction per iteration, three bit tests), to measure
# the new one against on the same code.
SCAN_GAS_HARNESS = """
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;
import {ChallengeModels} from "ml2sc/ChallengeModels.sol";

contract ScanGas {
    function before(address model, uint256 forbidden) external view returns (uint256 used, bool bad) {
        uint256 g = gasleft();
        bytes memory code = model.code;
        uint256 halts = ChallengeModels.HALTS;
        assembly ("memory-safe") {
            let start := add(code, 32)
            let end := add(start, mload(code))
            let live := 1
            for { let p := start } lt(p, end) { p := add(p, 1) } {
                let op := byte(0, mload(p))
                if eq(op, 0x5b) { live := 1 }
                if and(live, and(shr(op, forbidden), 1)) {
                    bad := 1
                    break
                }
                if and(shr(op, halts), 1) { live := 0 }
                if and(gt(op, 0x5f), lt(op, 0x80)) { p := add(p, sub(op, 0x5f)) }
            }
        }
        used = g - gasleft();
    }

    function scanEntry(address model, address[] calldata data) external view returns (uint256 used, bool bad) {
        uint256 g = gasleft();
        (, uint256 pc,) = ChallengeModels.scanEntry(model, data);
        used = g - gasleft();
        bad = pc != ChallengeModels.CLEAN;
    }
}
"""


def scan_gas(chain: Any, model: str, data: list[str]) -> tuple[int, int]:
    """Gas of the old scan (with EXTCODECOPY allowed when ``data`` is declared, as scanEntry does)
    and of scanEntry on the code at ``model``, code copy and cold account access included."""
    from ml2sc.market.abi import Abi, Bound, market_contracts

    sources = {"ScanGas.sol": SCAN_GAS_HARNESS, "ml2sc/ChallengeModels.sol":
               (runtime_sol_dir() / "ChallengeModels.sol").read_text()}
    contract = compile_solidity(sources)["ScanGas"]
    assert market_contracts()  # the library compiles on its own too
    harness = Bound(Abi(contract), chain, chain.deploy(contract.bytecode).address)
    forbidden = sum(1 << op for op in _opcode_sets()[1] if not (data and op == 0x3C))  # EXTCODECOPY: data
    old, old_bad = harness.view("before", model, forbidden)
    new, new_bad = harness.view("scanEntry", model, data)
    assert not old_bad and not new_bad
    return old, new


def test_scan_gas_before_and_after(env: s.Env, int8_rule: CompiledModel, capsys: pytest.CaptureFixture) -> None:
    """The scan's gas on the same models, before and after (printed; run with -s to see it)."""
    import ml2sc

    prbmath = ml2sc.compile(int8_rule.onnx_model, name="prbmath_rule").deploy(env.chain)
    int8 = int8_rule.deploy(env.chain)
    rows = []
    for name, model, data in (("prbmath 3-6-2", prbmath.address, []),
                              ("int8 3-6-2 (data contract)", int8.address, deployed_data_contracts(int8))):
        size = len(env.chain.code(model))  # type: ignore[attr-defined]
        old, new = scan_gas(env.chain, model, data)
        rows.append((name, size, old, new))
        assert new * 2 < old, (name, old, new)
    with capsys.disabled():
        for name, size, old, new in rows:
            print(f"\nscan of {name}, {size:,} bytes: before {old:,} gas ({old / size:.1f}/byte), "
                  f"after {new:,} gas ({new / size:.1f}/byte)")


def test_test_set_encoding_matches_the_contract(env: s.Env) -> None:
    """The Python row hash and chunking agree with the contract's (reveal checks the hash)."""
    ts = s.rule_test_set(n=5)
    ch, salt = s.played(env, ts, "HonestRule")
    ch.reveal(salt, ts)
    assert ch.contract.view("rowHash") == ts.row_hash()
    assert ch.contract.view("rowsPerChunk") == ts.rows_per_chunk
