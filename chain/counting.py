"""An in-process EVM that counts: every transaction's gas and the events a fork re-prices.

``ml2sc estimate`` runs the compiled contracts once here instead of predicting their gas
from a fitted model: the code ml2sc emits is mostly straight-line, so one execution of
the real bytecode *is* its gas count, exact to the gas for the rows it runs. It is the
embedded chain's EVM (py-evm, Prague) with three differences, all for counting:

- no per-transaction cap and a block gas limit of 2^40, so that a deployment or an
  inference over EIP-7825's 16,777,216 gas is counted (then split or refused by the
  plan) rather than failing;
- a code-size limit set by the caller (the fork's: EIP-7954 allows 64 KiB);
- each transaction is recorded as a ``forks.TxCount``: the consumed gas and the cold
  account accesses, code bytes stored, new storage slots and EXTCODE* reads that the
  other forks price differently.

Nothing here is a network: no node, no key, nothing persists.
"""

from __future__ import annotations

from typing import Any

from ml2sc.chain.base import EmbeddedChain, Reverted, TxResult, describe_revert, intrinsic_gas
from ml2sc.chain.forks import PRAGUE_CODE_DEPOSIT, PRAGUE_COLD_ACCOUNT, PRAGUE_SSTORE_SET, TxCount

BLOCK_GAS_LIMIT = 2**40
_COLD_REASONS = ("EXTCODECOPY", "EXTCODEHASH", "BALANCE")  # EXTCODESIZE is charged as EXTCODEHASH in py-evm


class _Tally:
    """What one transaction consumed, by kind (filled by the counting computation)."""

    def __init__(self) -> None:
        self.deposit_bytes = self.cold_accounts = self.extcode_reads = self.sstore_sets = self.creates = 0
        self.initcode_gas = 0  # py-evm charges a creation transaction's EIP-3860 cost in the EVM, not as intrinsic

    def record(self, amount: int, reason: str) -> None:
        if reason == "EIP-3860 initcode cost":
            self.initcode_gas += amount
        elif reason == "Write contract code for CREATE":
            self.deposit_bytes += amount // PRAGUE_CODE_DEPOSIT
        elif reason in _COLD_REASONS or reason.endswith("charges implicit account load for reading code"):
            self.cold_accounts += amount == PRAGUE_COLD_ACCOUNT
            self.extcode_reads += reason == "EXTCODECOPY"
        elif reason.startswith("SSTORE") and amount == PRAGUE_SSTORE_SET:
            self.sstore_sets += 1
        elif reason in ("CREATE", "CREATE2"):
            self.creates += 1


def _counting_vm(code_size_limit: int, initcode_size_limit: int, tally: list[_Tally]) -> type:
    """PragueVM whose computations report every gas charge to ``tally[0]`` and accept code
    up to ``code_size_limit`` bytes (initcode up to ``initcode_size_limit``)."""
    from eth.exceptions import OutOfGas
    from eth.vm.forks import PragueVM
    from eth.vm.forks.prague.computation import PragueComputation

    base_state = PragueVM._state_class

    class Computation(PragueComputation):  # type: ignore[misc, valid-type]
        def consume_gas(self, amount: int, reason: str) -> None:
            super().consume_gas(amount, reason)
            tally[0].record(amount, reason)

        @classmethod
        def validate_contract_code(cls, contract_code: bytes) -> None:
            if len(contract_code) > code_size_limit:
                raise OutOfGas(f"contract code of {len(contract_code)} bytes is over {code_size_limit}")
            if contract_code[:1] == b"\xef":  # EIP-3541, as London's check
                raise OutOfGas("contract code starts with 0xEF (EIP-3541)")

        @classmethod
        def validate_create_message(cls, message: Any) -> None:
            if len(message.code) > initcode_size_limit:
                raise OutOfGas(f"initcode of {len(message.code)} bytes is over {initcode_size_limit}")

    state = type("CountingPragueState", (base_state,), {"computation_class": Computation})
    return type("CountingPragueVM", (PragueVM,), {"_state_class": state})


class CountingChain(EmbeddedChain):
    """The embedded chain with a code-size limit of the caller's choosing, no transaction cap,
    and a ``TxCount`` per transaction in ``self.counts`` (in order)."""

    name = "counting"

    def __init__(self, code_size_limit: int = 24_576, initcode_size_limit: int = 49_152) -> None:
        from eth_tester import EthereumTester, PyEVMBackend

        self._tally = [_Tally()]
        vm = _counting_vm(code_size_limit, initcode_size_limit, self._tally)
        params = PyEVMBackend.generate_genesis_params(overrides={"gas_limit": BLOCK_GAS_LIMIT})
        self._backend = PyEVMBackend(genesis_parameters=params, vm_configuration=((0, vm),))
        self._tester = EthereumTester(self._backend, auto_mine_transactions=False)
        self.sender = self._tester.get_accounts()[0]
        self._sender_raw = self._backend.get_accounts()[0]
        self.counts: list[TxCount] = []

    def _send(self, tx: dict) -> TxResult:
        from eth.exceptions import Revert
        from eth_utils import to_canonical_address

        create = "to" not in tx
        if not create:
            tx["to"] = to_canonical_address(tx["to"])
        tx = {"from": self._sender_raw, "gas": BLOCK_GAS_LIMIT // 2, "value": 0, **tx}
        self._tally[0] = _Tally()
        signed = self._backend._get_normalized_and_signed_evm_transaction(tx)
        _, receipt, computation = self._backend.chain.apply_transaction(signed)
        self._backend.mine_blocks()
        if computation.is_error:
            data = bytes(computation.output)
            why = describe_revert(data) if isinstance(computation.error, Revert) else repr(computation.error)
            raise Reverted(f"transaction reverted: {why}", data)
        t = self._tally[0]
        self.counts.append(TxCount(
            bytes(tx.get("data", b"")), create, computation.get_gas_used() - t.initcode_gas, computation.get_gas_refund(),
            t.deposit_bytes, t.cold_accounts, t.extcode_reads, t.sstore_sets, t.creates,
        ))
        address = "0x" + computation.msg.storage_address.hex() if create else None
        execution = receipt.gas_used - intrinsic_gas(bytes(tx.get("data", b"")), create)
        return TxResult(receipt.gas_used, bytes(computation.output), address, execution)

    def deploy(self, initcode: bytes, value: int = 0) -> TxResult:
        return self._send({"data": initcode, "value": value})
