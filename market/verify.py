"""Verified off-chain inference: an operator's claimed predictions, challengeable on chain.

Driver for ``runtime_sol/VerifiedInference.sol`` over any chain. The operator runs
the model off chain (here: an ``eth_call`` of the model contract, or ml2sc's
bit-exact simulator) and posts its claimed outputs with a stake; anyone who
disagrees challenges one row within the window and the contract re-runs the model
on chain; a false claim's stake goes to the challenger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import decode, encode
from eth_utils import to_checksum_address

from ml2sc.backends.common.naming import selector
from ml2sc.chain import PartyChain, Reverted
from ml2sc.ir.errors import Ml2scError
from ml2sc.market.abi import MarketContract, model_errors, returned_uint

MODES = ("classify", "predict")
STATUSES = ("none", "pending", "final", "slashed")

Rows = Sequence[Sequence[int]]


@dataclass
class VerifiedInference(MarketContract):
    """A deployed VerifiedInference contract and the gas of every transaction sent to it."""

    CONTRACT = "VerifiedInference"

    @classmethod
    def deploy(cls, chain: PartyChain, model: str, mode: str = "classify", claim_stake: int = 10**17,
               window: int = 3_600, model_gas_cap: int = 1_000_000) -> VerifiedInference:
        if mode not in MODES:
            raise Ml2scError(f"unknown mode '{mode}'; one of {', '.join(MODES)}")
        return cls._deploy(chain, "deploy", to_checksum_address(model), MODES.index(mode), claim_stake, window,
                           model_gas_cap)

    @property
    def mode(self) -> str:
        return MODES[int(self.contract.view("mode"))]

    @property
    def model(self) -> str:
        return str(self.contract.view("model"))

    def model_outputs(self, xs: Rows) -> list[list[int]]:
        """The operator's off-chain run: the model's answers through eth_call (no transaction)."""
        name = "classify" if self.mode == "classify" else "predict"
        out = []
        for x in xs:
            data = selector(f"{name}(int256[])") + encode(["int256[]"], [list(x)])
            try:
                raw = self.chain.call(self.model, data)
            except Reverted as e:
                raise e.explained(list(model_errors()), f"model {self.model} {name}") from None
            out.append([decode(["int256"], raw)[0]] if name == "classify" else list(decode(["int256[]"], raw)[0]))
        return out

    def deposit(self, amount: int, by: PartyChain) -> None:
        self._send("deposit", by=by, value=amount)

    def post(self, xs: Rows, ys: Rows, by: PartyChain) -> int:
        """Claim that the model maps each row of xs to the row of ys; returns the claim id."""
        return returned_uint(self._send("post", _rows(xs), _rows(ys), by=by))

    def challenge(self, claim_id: int, xs: Rows, ys: Rows, row: int, by: PartyChain) -> None:
        """Re-run the model on one row; slashes the claim if it was false, reverts (ClaimHolds) if not."""
        self._send("challenge", claim_id, _rows(xs), _rows(ys), row, by=by)

    def finalize(self, claim_id: int, by: PartyChain | None = None) -> None:
        self._send("finalize", claim_id, by=by)

    def withdraw(self, by: PartyChain) -> int:
        return returned_uint(self._send("withdraw", by=by))

    def claim(self, claim_id: int) -> dict[str, Any]:
        operator, deadline, status, digest = self.contract.view("claims", claim_id)
        return {"id": claim_id, "operator": operator, "deadline": deadline, "status": STATUSES[status],
                "digest": "0x" + digest.hex()}

    def balance_of(self, account: str) -> int:
        return int(self.contract.view("balanceOf", to_checksum_address(account)))

    def advance_past_window(self, claim_id: int) -> int:
        """Dev chains: move the clock past the claim's challenge window."""
        return self._advance_past(self.claim(claim_id)["deadline"])


def _rows(rows: Rows) -> list[list[int]]:
    return [[int(v) for v in row] for row in rows]
