"""The trustless model marketplace, driven from Python over any chain (embedded, anvil, RPC).

An organiser posts a reward and a salted commitment to a hidden test set
(``Challenge.create``); anyone commits to an entry with a bond (``commit``: a
hash of the submitter, the entry's code hashes and a salt, so nobody can copy a
public model during the submission period), then reveals the model contract and
the data contracts it reads (``reveal_entry``); after that the organiser reveals
the test set (``reveal``), anyone runs the evaluation in gas-bounded batches
(``evaluate``) and every party pulls what the rules give it (``claim``). The
rules live in ``runtime_sol/Challenge.sol`` and docs/marketplace.md; this module
encodes the test set and the entry hash exactly as the contract computes them,
and records the gas of every step.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from ml2sc.backends.common.link import unlinked
from ml2sc.chain import ChainError, PartyChain
from ml2sc.ir.errors import Ml2scError
from ml2sc.market.abi import MarketContract, returned_uint

if TYPE_CHECKING:
    from ml2sc.compiler.driver import CompiledModel, DeployedModel

MAX_CHUNK = 24_575  # bytes of rows per SSTORE2 data contract (Challenge.MAX_CHUNK)
REVEAL_PART_BYTES = 48_000  # rows per reveal transaction: ~10M gas, well under the 16.8M cap
PHASES = ("submission", "entry-reveal", "reveal", "evaluation", "final")
DEADLINES = {"submission": "submissionDeadline", "entry-reveal": "entryRevealDeadline", "reveal": "revealDeadline",
             "evaluation": "evaluationDeadline"}


class MarketError(Ml2scError):
    """A marketplace input is invalid (test set, amounts, deadlines)."""


@dataclass(frozen=True)
class TestSet:
    """Integer test rows in the models' input format (e.g. SD59x18) plus their class labels.

    Stored on chain as ``lane_bytes``-byte big-endian two's-complement lanes per value, the
    label first; 8 bytes (int64, the models' packed lane) unless a value needs more.
    """

    __test__ = False  # not a pytest test class

    inputs: tuple[tuple[int, ...], ...]
    labels: tuple[int, ...]
    lane_bytes: int = 8

    @classmethod
    def build(cls, inputs: Sequence[Sequence[int]], labels: Sequence[int], lane_bytes: int | None = None) -> TestSet:
        rows = tuple(tuple(int(v) for v in row) for row in inputs)
        ys = tuple(int(v) for v in labels)
        if not rows or len(rows) != len(ys):
            raise MarketError(f"test set needs as many labels as rows (got {len(rows)} rows, {len(ys)} labels)")
        widths = {len(r) for r in rows}
        if len(widths) != 1 or 0 in widths:
            raise MarketError(f"test set rows must all have the same non-zero length (got {sorted(widths)})")
        need = max(_bytes_needed(v) for row in (*rows, ys) for v in row)
        width = lane_bytes or next(w for w in (8, 16, 32) if w >= need)
        if need > width:
            raise MarketError(f"a test-set value needs {need} bytes; lane_bytes={width} is too narrow")
        return cls(rows, ys, width)

    @property
    def n_rows(self) -> int:
        return len(self.inputs)

    @property
    def n_inputs(self) -> int:
        return len(self.inputs[0])

    @property
    def row_bytes(self) -> int:
        return self.lane_bytes * (self.n_inputs + 1)

    @property
    def rows_per_chunk(self) -> int:
        return MAX_CHUNK // self.row_bytes

    def encode_row(self, i: int) -> bytes:
        lane = self.lane_bytes
        return b"".join(v.to_bytes(lane, "big", signed=True) for v in (self.labels[i], *self.inputs[i]))

    def encode(self, start: int = 0, stop: int | None = None) -> bytes:
        return b"".join(self.encode_row(i) for i in range(start, self.n_rows if stop is None else stop))

    def row_hash(self) -> bytes:
        """h_0 = 0, h_i = keccak256(h_{i-1} ++ row_i): what Challenge._hashRows computes."""
        h = bytes(32)
        for i in range(self.n_rows):
            h = keccak(h + self.encode_row(i))
        return h

    def commitment(self, salt: bytes) -> bytes:
        """keccak256(abi.encode(salt, row_hash)): brute force needs the 32-byte salt."""
        return keccak(encode(["bytes32", "bytes32"], [salt, self.row_hash()]))

    def parts(self, part_bytes: int = REVEAL_PART_BYTES) -> list[tuple[int, int]]:
        """Row ranges of the reveal transactions: whole chunks, except the last part."""
        per_part = max(1, part_bytes // (self.rows_per_chunk * self.row_bytes)) * self.rows_per_chunk
        return [(a, min(a + per_part, self.n_rows)) for a in range(0, self.n_rows, per_part)]


def _bytes_needed(v: int) -> int:
    return max(1, (v.bit_length() + 8) // 8) if v >= 0 else max(1, ((~v).bit_length() + 8) // 8)


# --------------------------------------------------------------------------- entries
def normalized_code(code: bytes, data: Sequence[str] = ()) -> bytes:
    """``code`` with every PUSH32 immediate that is one of the ``data`` addresses zeroed, as
    ``ChallengeModels.scanEntry`` hashes it: solc leaves immutables zero in the runtime bytecode,
    so for an ml2sc model this is the compiler's runtime code, known before deployment."""
    targets = {int(a, 16) for a in data}
    out = bytearray(code)
    pc = 0
    while pc < len(code):
        op = code[pc]
        if op == 0x7F and targets and int.from_bytes(code[pc + 1 : pc + 33].ljust(32, b"\0"), "big") in targets:
            out[pc + 1 : pc + 33] = bytes(len(out[pc + 1 : pc + 33]))
        pc += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return bytes(out)


def entry_hash(model_code: bytes, data_codes: Sequence[bytes] = ()) -> bytes:
    """keccak256(keccak256(normalized model code) ++ keccak256(data code) for each data contract)."""
    return keccak(keccak(model_code) + b"".join(keccak(c) for c in data_codes))


def compiled_entry_hash(compiled: CompiledModel) -> bytes:
    """The entry hash of a compiled model before it is deployed (what a submitter commits to):
    its data contracts' placeholders zeroed, as the scan zeroes their linked addresses."""
    return entry_hash(unlinked(compiled.artifact.runtime_bytecode), compiled.program.data_contracts)


def entry_commitment(submitter: str, entry: bytes, salt: bytes) -> bytes:
    """keccak256(abi.encode(submitter, entryHash, salt)): what Challenge.commit stores."""
    return keccak(encode(["address", "bytes32", "bytes32"], [to_checksum_address(submitter), entry, salt]))


def data_contracts_of(chain: PartyChain, model: str) -> list[str]:
    """The pure data contracts a deployed model names as PUSH32 constants (its immutables), in
    order of first appearance: addresses with code that starts with STOP."""
    code, found, pc = chain.code(model), [], 0  # type: ignore[attr-defined]
    while pc < len(code):
        op = code[pc]
        if op == 0x7F:
            word = code[pc + 1 : pc + 33]
            if len(word) == 32 and not any(word[:12]) and any(word[12:]):
                address = to_checksum_address(word[12:])
                if address not in found:
                    data = chain.code(address)  # type: ignore[attr-defined]
                    if data[:1] == b"\0":
                        found.append(address)
        pc += 1 + (op - 0x5F if 0x60 <= op <= 0x7F else 0)
    return found


def deployed_data_contracts(deployed: DeployedModel) -> list[str]:
    """A deployed ml2sc model's data contracts in its program's order (the order of
    ``compiled_entry_hash``)."""
    runtimes = deployed.compiled.program.data_contracts
    if not runtimes:
        return []
    found = [(a, deployed.chain.code(a)) for a in data_contracts_of(deployed.chain, deployed.address)]  # type: ignore[arg-type, attr-defined]
    ordered: list[str] = []
    for k, code in enumerate(runtimes):
        match = next((a for a, c in found if c == code and a not in ordered), None)
        if match is None:
            raise MarketError(f"data contract {k} of the model at {deployed.address} is not among its constants")
        ordered.append(match)
    return ordered


@dataclass(frozen=True)
class Entry:
    """A submitter's secret until the entry reveal: the entry hash committed to and the salt."""

    entry_hash: bytes
    salt: bytes


@dataclass(frozen=True)
class Rules:
    """How a challenge is run; periods in seconds, counted from its creation."""

    n_classes: int = 2
    threshold: float = 0.0  # minimum accuracy to win; 0: the best model wins
    stake: int = 0  # wei of the organiser's stake (refunded on reveal, forfeited otherwise)
    submission_period: int = 3_600  # commitments
    entry_reveal_period: int = 3_600  # entries revealed
    reveal_period: int = 3_600  # the test set revealed
    evaluation_period: int = 3_600
    model_gas_cap: int = 1_000_000
    max_submissions: int = 16
    input_scale: int = 10**18
    entry_bond: int = 0  # wei each commitment locks; refunded on a valid entry reveal


@dataclass
class Status:
    """A challenge's state as the chain reports it."""

    address: str
    phase: str
    reward: int
    stake: int
    deadlines: dict[str, int]
    timestamp: int
    rows: int
    rows_revealed: int
    revealed: bool
    commits: int
    entry_bond: int
    submissions: list[dict[str, Any]]
    cursor: tuple[int, int]
    winner: int | None  # submission index
    balance: int

    def to_json(self) -> dict[str, Any]:
        return self.__dict__ | {"cursor": list(self.cursor)}


@dataclass
class Challenge(MarketContract):
    """A deployed Challenge contract and the gas of every transaction sent to it."""

    CONTRACT = "Challenge"

    # ----------------------------------------------------------------- create
    @classmethod
    def create(cls, chain: PartyChain, test_set: TestSet, reward: int, rules: Rules = Rules(),
               salt: bytes | None = None) -> tuple[Challenge, bytes]:
        """Deploy a challenge with ``reward`` (+ ``rules.stake``) escrowed; returns it and the salt
        (keep it secret with the test set until the reveal)."""
        if reward <= 0:
            raise MarketError("the reward must be positive")
        if not 0.0 <= rules.threshold <= 1.0:
            raise MarketError(f"threshold {rules.threshold} is not an accuracy in [0, 1]")
        salt = salt or os.urandom(32)
        now = chain.timestamp()
        sub = now + rules.submission_period
        entry = sub + rules.entry_reveal_period
        config = (test_set.commitment(salt), sub, entry, entry + rules.reveal_period,
                  entry + rules.reveal_period + rules.evaluation_period, test_set.n_rows, test_set.n_inputs,
                  rules.n_classes, test_set.lane_bytes, round(rules.threshold * 10_000), rules.stake,
                  rules.input_scale, rules.model_gas_cap, rules.max_submissions, rules.entry_bond)
        return cls._deploy(chain, "create", config, value=reward + rules.stake), salt

    # ----------------------------------------------------------------- entries
    def check_entry(self, model: str, data: Sequence[str] = ()) -> bytes:
        """The entry hash the contract computes for ``model`` reading ``data`` (an eth_call; raises
        the named error that would refuse the entry)."""
        return bytes(self.contract.view("checkEntry", to_checksum_address(model), [to_checksum_address(a) for a in data]))

    def commit(self, entry: bytes, by: PartyChain, salt: bytes | None = None) -> Entry:
        """Commit ``by`` to the entry whose hash is ``entry`` (with the entry bond); returns what
        ``reveal_entry`` needs (keep the salt secret until the submission deadline)."""
        secret = Entry(entry, salt or os.urandom(32))
        self._send("commit", entry_commitment(by.sender, entry, secret.salt), by=by, value=self.entry_bond)
        return secret

    def reveal_entry(self, model: str, by: PartyChain, salt: bytes, data: Sequence[str] = ()) -> int:
        """Reveal ``by``'s committed entry: the model contract and its data contracts; returns its index."""
        tx = self._send("revealEntry", to_checksum_address(model), [to_checksum_address(a) for a in data], salt, by=by)
        return returned_uint(tx)

    def submit(self, model: str, by: PartyChain, data: Sequence[str] = ()) -> Entry:
        """Commit to an already deployed model (its hash read back from the contract); reveal it
        with ``reveal_entry(model, by, entry.salt, data)`` once the submission period is over."""
        return self.commit(self.check_entry(model, data), by)

    @property
    def entry_bond(self) -> int:
        return int(self.contract.view("entryBond"))

    # ----------------------------------------------------------------- steps

    def reveal(self, salt: bytes, test_set: TestSet, by: PartyChain | None = None,
               part_bytes: int = REVEAL_PART_BYTES) -> list[int]:
        """Reveal the test set (in as many transactions as its size needs) and the salt."""
        gas = []
        parts = test_set.parts(part_bytes)
        for i, (a, b) in enumerate(parts):
            data = test_set.encode(a, b)
            if i == len(parts) - 1:
                tx = self.contract.send("reveal", salt, data, by=by or self.chain)
            else:
                tx = self.contract.send("revealRows", data, by=by or self.chain)
            gas.append(tx.gas_used)
        self.gas.append(("reveal", sum(gas)))
        return gas

    def evaluate(self, max_rows: int, by: PartyChain | None = None, gas: int | None = None) -> int:
        """Score up to ``max_rows`` (model, row) pairs; returns how many were scored."""
        return returned_uint(self._send("evaluate", max_rows, by=by, gas=gas))

    def evaluate_all(self, batch: int, by: PartyChain | None = None) -> int:
        """Evaluate to the end in batches of ``batch`` pairs; returns the number of transactions."""
        count = 0
        while self.status().phase == "evaluation":
            self.evaluate(batch, by)
            count += 1
        return count

    def claim(self, by: PartyChain, to: str | None = None) -> int:
        """Pull ``by``'s payout (to ``to`` if given); returns the amount in wei."""
        if to:
            return returned_uint(self._send("claimTo", to_checksum_address(to), by=by, label="claim"))
        return returned_uint(self._send("claim", by=by))

    def claimable(self, account: str) -> int:
        return int(self.contract.view("claimable", to_checksum_address(account)))

    # ----------------------------------------------------------------- time and state
    def deadline(self, which: str) -> int:
        if which not in DEADLINES:
            raise MarketError(f"unknown deadline '{which}'; one of {', '.join(DEADLINES)}")
        return int(self.contract.view(DEADLINES[which]))

    def advance_past(self, which: str) -> int:
        """Dev chains: move the clock just past a deadline; returns the new timestamp."""
        return self._advance_past(self.deadline(which))

    def status(self) -> Status:
        c = self.contract
        n = int(c.view("submissionCount"))
        subs = []
        for i in range(n):
            submitter, correct, invalid, evaluated, model, model_hash, entry = c.view("submission", i)
            subs.append({"index": i, "submitter": submitter, "model": model, "model_hash": "0x" + model_hash.hex(),
                         "entry_hash": "0x" + entry.hex(), "data_contracts": [to_checksum_address(a) for a in c.view("dataContracts", i)],
                         "correct": correct, "invalid": invalid, "evaluated": evaluated})
        progress = c.view("progress")
        winner = int(c.view("winner"))
        return Status(
            address=self.address, phase=PHASES[int(c.view("phase"))], reward=int(c.view("reward")),
            stake=int(c.view("stake")),
            deadlines={k: self.deadline(k) for k in DEADLINES},
            timestamp=self.chain.timestamp(), rows=int(c.view("nRows")), rows_revealed=int(c.view("rowsRevealed")),
            revealed=bool(c.view("revealed")), commits=int(c.view("commitCount")), entry_bond=int(c.view("entryBond")),
            submissions=subs, cursor=(int(progress[0]), int(progress[1])),
            winner=winner - 1 if winner else None, balance=self.chain.balance(self.address),
        )


def wei(amount: str | float | int) -> int:
    """ETH as text or number -> wei ("0.5" -> 5e17); an int is taken as wei already."""
    from decimal import Decimal, InvalidOperation

    if isinstance(amount, int):
        return amount
    try:
        value = Decimal(str(amount)) * 10**18
    except InvalidOperation:
        raise MarketError(f"'{amount}' is not an amount of ETH") from None
    if value < 0 or value != value.to_integral_value():
        raise MarketError(f"'{amount}' ETH is negative or finer than 1 wei")
    return int(value)


__all__ = ["Challenge", "ChainError", "Entry", "MarketError", "Rules", "Status", "TestSet", "compiled_entry_hash",
           "data_contracts_of", "deployed_data_contracts", "entry_commitment", "entry_hash", "normalized_code", "wei"]
