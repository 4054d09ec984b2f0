"""Inference jobs: staked workers run a pinned model off chain, the chain judges the disputes.

Driver for ``runtime_sol/InferenceJob.sol`` (contract ``InferenceJobs``, every job an
id) over any chain. A poster publishes rows to classify with its hidden verification
rows shuffled among them (``hide``) and escrows a reward (``InferenceJob.create``);
workers stake (``join``), commit to the Merkle root of their outputs (``commit``) and
reveal them (``reveal``); the poster opens the verification set (``open``); every
worker's outputs on those rows are checked (``check``), any row where a revealed
output differs from the model can be disputed (``dispute``), and after the dispute
deadline everyone pulls what the rules give it (``claim``). The Merkle trees and the commitments are computed here
exactly as the contract computes them; the rules are in docs/marketplace.md.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address

from ml2sc.backends.common.naming import selector
from ml2sc.chain import PartyChain, Reverted, TxResult
from ml2sc.compiler.solc import CompiledContract, compile_solidity, runtime_sol_dir
from ml2sc.ir.errors import Ml2scError
from ml2sc.market.abi import Abi, MarketContract, returned_uint

JOB_SOURCES = ("InferenceJob.sol", "ChallengeModels.sol")
PHASES = ("commit", "reveal", "open", "check", "final", "cancelled", "defaulted")
STATUSES = ("none", "joined", "committed", "revealed", "verified", "slashed")
NO_OUTPUT = -(2**255)  # InferenceJobs.NO_OUTPUT: the output of a row the model fails on

Rows = Sequence[Sequence[int]]


class JobError(Ml2scError):
    """An inference-job input is invalid (rows, outputs, verification set, terms)."""


@cache
def job_contracts() -> dict[str, CompiledContract]:
    """InferenceJob (and the ChallengeModels library it uses) compiled with zero warnings."""
    folder = runtime_sol_dir()
    result = compile_solidity({f"ml2sc/{name}": (folder / name).read_text() for name in JOB_SOURCES})
    if result.warnings:
        raise Ml2scError(f"InferenceJob.sol compiled with warnings: {result.warnings[0].splitlines()[0]}")
    return result.contracts


# --------------------------------------------------------------------------- Merkle trees, as the contract builds them
def depth_of(n_rows: int) -> int:
    """Both trees have ``n_rows`` leaves zero-padded to ``2**depth``."""
    d = 0
    while (1 << d) < n_rows:
        d += 1
    return d


def output_leaf(row: int, output: int) -> bytes:
    """keccak256(abi.encode(row, output)): the row index is in the leaf, so a proof opens one row."""
    return keccak(encode(["uint256", "int256"], [row, output]))


def lane_bytes(rows: Rows) -> int:
    """Bytes per value of the packed rows: 8 (int64, the models' packed lane) unless a value
    needs 16 or 32."""
    need = max(max(1, ((int(v) if v >= 0 else ~int(v)).bit_length() + 8) // 8) for row in rows for v in row)
    for width in (8, 16, 32):
        if need <= width:
            return width
    raise JobError(f"an input needs {need} bytes: more than an int256")


def pack_row(x: Sequence[int], lane: int) -> bytes:
    """A row as the contract takes it: each value ``lane`` bytes of big-endian two's complement."""
    try:
        return b"".join(int(v).to_bytes(lane, "big", signed=True) for v in x)
    except OverflowError:
        raise JobError(f"an input of the row does not fit {lane}-byte lanes") from None


def row_leaf(row: int, packed: bytes) -> bytes:
    """keccak256(abi.encodePacked(row, packed row bytes)): InferenceJobs.rowLeaf."""
    return keccak(row.to_bytes(32, "big") + packed)


class MerkleTree:
    """A binary tree over leaves zero-padded to a power of two; parents keccak256(left ++ right)."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        if not leaves:
            raise JobError("a Merkle tree needs at least one leaf")
        level = list(leaves) + [bytes(32)] * ((1 << depth_of(len(leaves))) - len(leaves))
        self.levels = [level]
        while len(level) > 1:
            level = [keccak(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
            self.levels.append(level)

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def proof(self, index: int) -> list[bytes]:
        """The siblings from leaf ``index`` up to the root (what InferenceJob._verify takes)."""
        return [level[(index >> i) ^ 1] for i, level in enumerate(self.levels[:-1])]

    @classmethod
    def of_outputs(cls, outputs: Sequence[int]) -> MerkleTree:
        return cls([output_leaf(i, int(y)) for i, y in enumerate(outputs)])

    @classmethod
    def of_rows(cls, rows: Rows, lane: int) -> MerkleTree:
        return cls([row_leaf(i, pack_row(x, lane)) for i, x in enumerate(rows)])


def verify_proof(root: bytes, index: int, leaf: bytes, proof: Sequence[bytes]) -> bool:
    h = leaf
    for i, sibling in enumerate(proof):
        h = keccak(h + sibling) if (index >> i) & 1 == 0 else keccak(sibling + h)
    return h == root


def commitment(worker: str, salt: bytes, root: bytes) -> bytes:
    """keccak256(abi.encode(worker, salt, root)): InferenceJob.commitmentOf."""
    return keccak(encode(["address", "bytes32", "bytes32"], [to_checksum_address(worker), salt, root]))


# --------------------------------------------------------------------------- the poster's hidden verification set
@dataclass(frozen=True)
class Verification:
    """The poster's secret: where its verification rows sit among the rows, and their answers."""

    salt: bytes
    positions: tuple[int, ...]
    answers: tuple[int, ...]

    def commitment(self) -> bytes:
        """keccak256(abi.encode(salt, positions, answers)), stored at creation."""
        return keccak(encode(["bytes32", "uint256[]", "int256[]"], [self.salt, list(self.positions), list(self.answers)]))

    def to_json(self) -> dict[str, Any]:
        return {"salt": "0x" + self.salt.hex(), "positions": list(self.positions), "answers": list(self.answers)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verification:
        return cls(bytes.fromhex(data["salt"][2:]), tuple(data["positions"]), tuple(data["answers"]))


def hide(job_rows: Rows, check_rows: Rows, answers: Sequence[int], seed: int | None = None,
         salt: bytes | None = None) -> tuple[list[list[int]], Verification]:
    """Shuffle the verification rows in among the job rows at random positions.

    Returns every row (what the job publishes) and the secret verification set. Workers see
    one list of rows and cannot tell which are checked, so skipping work on some rows is caught
    with a probability that grows with the number of verification rows."""
    if not job_rows or not check_rows:
        raise JobError("a job needs at least one job row and one verification row")
    if len(check_rows) != len(answers):
        raise JobError(f"{len(check_rows)} verification rows but {len(answers)} answers")
    n = len(job_rows) + len(check_rows)
    rng = random.Random(seed) if seed is not None else random.SystemRandom()
    positions = sorted(rng.sample(range(n), len(check_rows)))
    rows: list[list[int]] = []
    jobs, checks = iter(job_rows), iter(check_rows)
    hidden = set(positions)
    for i in range(n):
        rows.append([int(v) for v in next(checks if i in hidden else jobs)])
    return rows, Verification(salt or os.urandom(32), tuple(positions), tuple(int(a) for a in answers))


@dataclass(frozen=True)
class Terms:
    """How a job runs; periods in seconds, each counted from the end of the previous one."""

    worker_stake: int = 10**17
    poster_stake: int = 10**17
    commit_period: int = 3_600
    reveal_period: int = 3_600
    open_period: int = 3_600
    dispute_period: int = 3_600
    min_workers: int = 1
    max_workers: int = 16
    model_gas_cap: int = 1_000_000


@dataclass(frozen=True)
class WorkerSecret:
    """What a worker keeps between commit and reveal."""

    salt: bytes
    outputs: tuple[int, ...]

    @property
    def root(self) -> bytes:
        return MerkleTree.of_outputs(self.outputs).root

    def to_json(self) -> dict[str, Any]:
        return {"salt": "0x" + self.salt.hex(), "outputs": list(self.outputs)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorkerSecret:
        return cls(bytes.fromhex(data["salt"][2:]), tuple(data["outputs"]))


def classify_rows(chain: PartyChain, model: str, rows: Rows) -> list[int]:
    """The model's ``classify`` of each row through eth_call (no transaction), NO_OUTPUT where the
    model fails, exactly as the contract scores a failure. What a worker computes, and what the
    poster's verification answers are."""
    out = []
    for x in rows:
        try:
            raw = chain.call(model, selector("classify(int256[])") + encode(["int256[]"], [[int(v) for v in x]]))
        except Reverted:
            out.append(NO_OUTPUT)
            continue
        out.append(decode(["int256"], raw)[0] if len(raw) == 32 else NO_OUTPUT)
    return out


def _rows(rows: Rows) -> list[list[int]]:
    return [[int(v) for v in row] for row in rows]


# --------------------------------------------------------------------------- the contract
@dataclass
class InferenceJob(MarketContract):
    """One job (``id``) of the InferenceJobs contract at ``address``, and the gas of every
    transaction this object sent for it."""

    CONTRACT = "InferenceJobs"
    id: int = 0
    rows: list[list[int]] = field(default_factory=list)  # the job's public rows (from its creation calldata)
    lane: int = 8  # bytes per value of the packed rows
    data: list[str] = field(default_factory=list)  # the pure data contracts the model reads, declared at creation

    @classmethod
    def abi(cls) -> Abi:
        contracts = job_contracts()
        return Abi(contracts[cls.CONTRACT], contracts["ChallengeModels"])

    @classmethod
    def deploy(cls, chain: PartyChain) -> InferenceJob:
        """Deploy the InferenceJobs contract (once per chain: every job lives in it)."""
        return cls._deploy(chain, "deploy InferenceJobs (once)")

    @classmethod
    def create(cls, chain: PartyChain, model: str, rows: Rows, verification: Verification, reward: int,
               terms: Terms = Terms(), jobs: str | None = None, data: Sequence[str] | None = None) -> InferenceJob:
        """Create a job in the InferenceJobs contract at ``jobs`` (deployed first if None), escrowing
        ``reward + terms.poster_stake``; ``rows`` and ``verification`` come from ``hide``. ``data``:
        the pure data contracts the model reads (default: those its code names, as an ml2sc int8
        model with its weights in data contracts links them)."""
        if reward <= 0:
            raise JobError("the reward must be positive")
        if not rows or len({len(r) for r in rows}) != 1 or not rows[0]:
            raise JobError("the rows must all have the same non-zero length")
        if any(p >= len(rows) for p in verification.positions):
            raise JobError(f"a verification position is past the {len(rows)} rows")
        model = to_checksum_address(model)
        code = chain.code(model)  # type: ignore[attr-defined] - EmbeddedChain and RpcChain have it
        if not code:
            raise JobError(f"no model contract at {model} on the {chain.name} chain")
        job = cls.deploy(chain) if jobs is None else cls(chain, to_checksum_address(jobs))
        now = chain.timestamp()
        commit = now + terms.commit_period
        reveal = commit + terms.reveal_period
        open_ = reveal + terms.open_period
        dispute = open_ + terms.dispute_period
        lane = lane_bytes(rows)
        config = (model, keccak(code), verification.commitment(), terms.worker_stake, terms.poster_stake, commit,
                  reveal, open_, dispute, terms.min_workers, terms.max_workers, terms.model_gas_cap, len(rows[0]), lane)
        job.rows, job.lane = _rows(rows), lane
        packed = b"".join(pack_row(x, lane) for x in job.rows)
        if data is None:
            from ml2sc.market.challenge import data_contracts_of

            data = data_contracts_of(chain, model)
        job.data = [to_checksum_address(a) for a in data]
        job.id = returned_uint(job._send("create", config, job.data, packed, value=reward + terms.poster_stake))
        return job

    def at(self, job_id: int, rows: Rows) -> InferenceJob:
        """This contract's job ``job_id`` with its public rows known (e.g. read from a state file)."""
        self.id, self.rows = job_id, _rows(rows)
        self.lane = self.terms()["lane_bytes"]
        return self

    def row_bytes(self, row: int) -> bytes:
        """Row ``row`` packed as the contract hashes it (what check and dispute send)."""
        return pack_row(self.rows[row], self.lane)

    def rows_tree(self) -> MerkleTree:
        return MerkleTree.of_rows(self.rows, self.lane)

    def send(self, name: str, *args: Any, by: PartyChain | None = None, label: str | None = None,
             value: int = 0) -> TxResult:
        """Send ``name(id, *args)`` (raw arguments: how the tests send malformed calls) and record its gas."""
        return self._send(name, self.id, *args, by=by, label=label or name, value=value)

    def view(self, name: str, *args: Any) -> Any:
        return self.contract.view(name, self.id, *args)

    # ----------------------------------------------------------------- workers
    def model_outputs(self, rows: Rows | None = None) -> list[int]:
        """A worker's off-chain run of the job's model (see ``classify_rows``)."""
        return classify_rows(self.chain, self.terms()["model"], self.rows if rows is None else rows)

    def join(self, by: PartyChain, label: str = "join") -> None:
        self.send("join", by=by, value=self.terms()["worker_stake"], label=label)

    def commit(self, outputs: Sequence[int], by: PartyChain, salt: bytes | None = None, label: str = "commit",
               join: bool = False) -> WorkerSecret:
        """Commit to ``outputs`` (one per row; ``join``: staking in the same transaction); returns
        the secret to keep until the reveal."""
        if len(outputs) != len(self.rows):
            raise JobError(f"{len(outputs)} outputs for {len(self.rows)} rows")
        secret = WorkerSecret(salt or os.urandom(32), tuple(int(y) for y in outputs))
        self.send("commit", commitment(by.sender, secret.salt, secret.root), by=by, label=label,
                  value=self.terms()["worker_stake"] if join else 0)
        return secret

    def reveal(self, secret: WorkerSecret, by: PartyChain, label: str = "reveal") -> None:
        self.send("reveal", secret.salt, list(secret.outputs), by=by, label=label)

    # ----------------------------------------------------------------- poster
    def open(self, verification: Verification, by: PartyChain | None = None, label: str = "open") -> None:
        self.send("open", verification.salt, list(verification.positions), list(verification.answers), by=by,
                   label=label)

    # ----------------------------------------------------------------- checks and disputes
    def check(self, worker: str, outputs: Sequence[int], opened: tuple[Sequence[int], Sequence[int]],
              by: PartyChain | None = None, label: str = "check") -> bool:
        """Check ``worker`` (whose revealed outputs are ``outputs``) on the opened verification set
        ``(positions, answers)``; returns whether it passed (False: it was slashed)."""
        positions, answers = [int(p) for p in opened[0]], [int(a) for a in opened[1]]
        tree, rows = MerkleTree.of_outputs(outputs), self.rows_tree()
        lied = bool(self.view("outcome")[2])  # then the contract runs the model on every row
        checks = []
        for row, answer in zip(positions, answers, strict=True):
            differs = int(outputs[row]) != answer or lied
            checks.append((int(outputs[row]), tree.proof(row), self.row_bytes(row) if differs else b"",
                           rows.proof(row) if differs else []))
        self.send("check", to_checksum_address(worker), positions, answers, checks, by=by, label=label)
        return self.worker(worker)["status"] == "verified"

    def dispute(self, row: int, sides: Sequence[tuple[str, Sequence[int]]], by: PartyChain | None = None,
                label: str = "dispute") -> list[str]:
        """Run the model on ``row`` on chain against each ``(worker, its revealed outputs)``; returns
        the workers slashed (the call reverts with ResultHolds if every side was right)."""
        if not 0 <= row < len(self.rows):
            raise JobError(f"row {row} is not one of the job's {len(self.rows)} rows")
        encoded = [(to_checksum_address(w), int(out[row]), MerkleTree.of_outputs(out).proof(row)) for w, out in sides]
        before = {w: self.worker(w)["status"] for w, _, _ in encoded}
        self.send("dispute", row, self.row_bytes(row), self.rows_tree().proof(row), encoded, by=by,
                   label=label)
        return [w for w in before if self.worker(w)["status"] == "slashed" and before[w] != "slashed"]

    # ----------------------------------------------------------------- settlement
    def settle(self, by: PartyChain | None = None) -> None:
        self.send("settle", by=by)

    def claim(self, by: PartyChain, label: str = "claim") -> int:
        """Pull ``by``'s payout (settling first if needed); returns the amount in wei."""
        return returned_uint(self.send("claim", by=by, label=label))

    def claimable(self, account: str) -> int:
        return int(self.view("claimable", to_checksum_address(account)))

    def is_final_result(self, row: int, output: int, outputs: Sequence[int]) -> bool:
        """A consumer's check: ``output`` is the final result of ``row`` (proof built from ``outputs``,
        the revealed outputs of an honest worker)."""
        return bool(self.view("isFinalResult", row, int(output), MerkleTree.of_outputs(outputs).proof(row)))

    # ----------------------------------------------------------------- state and time
    def terms(self) -> dict[str, Any]:
        (model, code_hash, verification, worker_stake, poster_stake, commit, reveal, open_, dispute, min_w, max_w,
         gas_cap, n_inputs, lane), n_rows, reward, rows_root, committed = self.view("job")
        return {"model": model, "model_code_hash": "0x" + code_hash.hex(), "verification": "0x" + verification.hex(),
                "worker_stake": worker_stake, "poster_stake": poster_stake, "min_workers": min_w,
                "max_workers": max_w, "model_gas_cap": gas_cap, "rows": n_rows, "inputs": n_inputs,
                "lane_bytes": lane, "reward": reward,
                "rows_root": "0x" + rows_root.hex(), "committed": committed,
                "deadlines": {"commit": commit, "reveal": reveal, "open": open_, "dispute": dispute}}

    def worker(self, address: str) -> dict[str, Any]:
        status, digest = self.view("workers", to_checksum_address(address))
        revealed = STATUSES[status] in ("revealed", "verified", "slashed")  # the slot holds the root from then on
        return {"address": to_checksum_address(address), "status": STATUSES[status],
                "commitment": None if revealed else "0x" + digest.hex(), "root": "0x" + digest.hex() if revealed else None}

    def phase(self) -> str:
        return PHASES[int(self.view("phase"))]

    def deadline(self, which: str) -> int:
        deadlines = self.terms()["deadlines"]
        if which not in deadlines:
            raise JobError(f"unknown deadline '{which}'; one of {', '.join(deadlines)}")
        return int(deadlines[which])

    def advance_past(self, which: str) -> int:
        """Dev chains: move the clock just past a deadline; returns the new timestamp."""
        return self._advance_past(self.deadline(which))

    def status(self) -> dict[str, Any]:
        poster, opened, lied, settled, honest, share, result_root, escrow = self.view("outcome")
        workers = [self.worker(w) for w in self.view("workerList")]
        for w in workers:
            w["claimable"] = self.claimable(w["address"]) if settled else None
            w["claimed"] = bool(self.view("claimed", w["address"]))
        return {
            "address": self.address, "id": self.id, "phase": self.phase(), **self.terms(), "poster": poster,
            "opened": opened, "poster_lied": lied, "timestamp": self.chain.timestamp(), "workers": workers,
            "settled": settled, "honest_workers": honest, "share": share, "result_root": "0x" + result_root.hex(),
            "poster_claimable": self.claimable(poster) if settled else None, "escrow": escrow,
        }


__all__ = [
    "NO_OUTPUT", "InferenceJob", "JobError", "MerkleTree", "Terms", "Verification", "WorkerSecret", "classify_rows",
    "commitment", "hide", "job_contracts", "lane_bytes", "output_leaf", "pack_row", "row_leaf", "verify_proof",
]  # fmt: skip
