"""Chains that ml2sc deploys to and measures gas on.

Gas is the product's headline number, so every inference is a real
transaction whose receipt gives the gas, and whose return data gives the
outputs: one execution per row, nothing estimated. The hardfork is pinned
(Prague: the newest VM py-evm runs) so that gas is the same on every chain.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Protocol

from ml2sc.ir.errors import Ml2scError

HARDFORK = "prague"
TX_GAS_CAP = 16_777_216  # EIP-7825 per-transaction gas limit (live on mainnet since Fusaka)
TX_BASE_GAS = 21_000


class ChainError(Ml2scError):
    """A deployment or call failed on chain (out of gas, revert, node unreachable)."""


class Reverted(ChainError):
    """A transaction reverted; ``data`` holds the raw revert data (a custom error's selector + args)."""

    def __init__(self, message: str, data: bytes) -> None:
        super().__init__(message)
        self.data = data

    def explained(self, abi: list[dict[str, Any]], action: str) -> Reverted:
        """The same revert, its message naming the custom error in ``abi`` and its arguments:
        ``predict reverted: InputLength(expected=30, got=60)`` (unknown data: its hex)."""
        return Reverted(f"{action} reverted: {describe_revert(self.data, abi)}", self.data)


# Solidity's built-in revert reasons: require(..., "text") and assert/overflow panics.
_BUILTIN_ERRORS = [
    {"type": "error", "name": "Error", "inputs": [{"name": "message", "type": "string"}]},
    {"type": "error", "name": "Panic", "inputs": [{"name": "code", "type": "uint256"}]},
]


def _abi_type(param: dict[str, Any]) -> str:
    kind = param["type"]
    if not kind.startswith("tuple"):
        return kind
    return "(" + ",".join(_abi_type(c) for c in param["components"]) + ")" + kind[len("tuple"):]


def decode_revert(data: bytes, abi: list[dict[str, Any]]) -> tuple[str, dict[str, Any]] | None:
    """``(error name, {argument: value})`` of revert data whose selector is an error in ``abi``
    (or Solidity's ``Error(string)``/``Panic(uint256)``); None for unknown or malformed data."""
    from eth_abi import decode
    from eth_utils import keccak

    if len(data) < 4:
        return None
    for item in [*abi, *_BUILTIN_ERRORS]:
        if item.get("type") != "error":
            continue
        types = [_abi_type(p) for p in item.get("inputs", [])]
        if keccak(text=f"{item['name']}({','.join(types)})")[:4] != data[:4]:
            continue
        try:
            values = decode(types, data[4:])
        except Exception:  # noqa: BLE001 - malformed arguments: the name alone
            return item["name"], {}
        names = [p.get("name") or f"arg{i}" for i, p in enumerate(item.get("inputs", []))]
        return item["name"], {k: "0x" + v.hex() if isinstance(v, bytes) else v for k, v in zip(names, values, strict=True)}
    return None


def describe_revert(data: bytes, abi: list[dict[str, Any]] | None = None) -> str:
    """``InputLength(expected=30, got=60)``; unknown selectors as hex, no data as 'no revert data'."""
    decoded = decode_revert(data, abi or [])
    if decoded is not None:
        name, args = decoded
        return f"{name}({', '.join(f'{k}={v!r}' if isinstance(v, str) else f'{k}={v}' for k, v in args.items())})"
    return "0x" + data.hex() if data else "no revert data"


@dataclass(frozen=True)
class TxResult:
    """One mined transaction: the gas its receipt reports and what it returned or created."""

    gas_used: int
    output: bytes = b""
    address: str | None = None
    execution_gas: int = 0  # gas spent by the EVM itself: gas_used minus intrinsic cost and calldata floor
    tx_hash: str | None = None  # 0x-prefixed; what deployment records and explorers cite
    block: int | None = None  # the block that included it


def intrinsic_gas(data: bytes, create: bool = False) -> int:
    """The transaction's intrinsic cost under Prague (EIP-2028 calldata, EIP-3860 initcode).

    ``gas_used - intrinsic_gas(data)`` is the execution gas, unless the
    EIP-7623 calldata floor applied (see ``calldata_floor``).
    """
    zeros = data.count(0)
    gas = TX_BASE_GAS + 4 * zeros + 16 * (len(data) - zeros)
    if create:
        gas += 32_000 + 2 * ((len(data) + 31) // 32)
    return gas


def calldata_floor(data: bytes) -> int:
    """EIP-7623: a transaction pays at least 21,000 + 10 gas per calldata token."""
    zeros = data.count(0)
    return TX_BASE_GAS + 10 * (zeros + 4 * (len(data) - zeros))


class Chain(Protocol):
    """What ml2sc needs from a chain: deploy code and send transactions, with receipts."""

    name: str

    def deploy(self, initcode: bytes) -> TxResult: ...

    def transact(self, to: str, data: bytes) -> TxResult: ...

    def call(self, to: str, data: bytes) -> bytes: ...


class PartyChain(Chain, Protocol):
    """A chain with several funded accounts, ETH transfers and (on dev chains) time travel.

    What the marketplace needs (``ml2sc.market.challenge``): an organiser, submitters
    and challengers that pay and get paid, and deadlines to move past.
    """

    sender: str

    def deploy(self, initcode: bytes, value: int = 0) -> TxResult: ...

    def transact(self, to: str, data: bytes, value: int = 0, gas: int | None = None) -> TxResult: ...

    def party(self, index: int) -> PartyChain: ...

    def balance(self, address: str) -> int: ...

    def timestamp(self) -> int: ...

    def advance_time(self, seconds: int) -> int: ...


class EmbeddedChain:
    """An in-process py-evm chain (through eth-tester), Prague pinned, one block per transaction."""

    name = "embedded"

    def __init__(self) -> None:
        from eth.vm.forks import PragueVM
        from eth_tester import EthereumTester, PyEVMBackend

        self._backend = PyEVMBackend(vm_configuration=((0, PragueVM),))
        self._tester = EthereumTester(self._backend, auto_mine_transactions=False)
        self.sender = self._tester.get_accounts()[0]
        self._sender_raw = self._backend.get_accounts()[0]

    def _send(self, tx: dict) -> TxResult:
        from eth_utils import to_canonical_address

        if "to" in tx:
            tx["to"] = to_canonical_address(tx["to"])
        tx = {"from": self._sender_raw, "gas": TX_GAS_CAP, "value": 0, **tx}
        # eth-tester's public send_transaction drops the return data; applying the
        # signed transaction ourselves keeps it, so one execution gives both.
        signed = self._backend._get_normalized_and_signed_evm_transaction(tx)
        _, receipt, computation = self._backend.chain.apply_transaction(signed)
        block = self._backend.chain.get_canonical_head().block_number + 1  # the block being mined now
        self._backend.mine_blocks()
        if computation.is_error:
            data = bytes(computation.output)
            from eth.exceptions import Revert

            why = describe_revert(data) if isinstance(computation.error, Revert) else repr(computation.error)
            if not data and receipt.gas_used * 64 >= tx["gas"] * 63:  # a call keeps 1/64: an inner call ran dry
                why += f" (it used {receipt.gas_used:,} of its {tx['gas']:,} gas: out of gas)"
            raise Reverted(f"transaction reverted: {why}", data)
        address = None
        if "to" not in tx:
            address = "0x" + computation.msg.storage_address.hex()
        return TxResult(receipt.gas_used, bytes(computation.output), address, computation.get_gas_used(),
                        "0x" + bytes(signed.hash).hex(), block)

    def deploy(self, initcode: bytes, value: int = 0) -> TxResult:
        result = self._send({"data": initcode, "value": value})
        if result.gas_used >= TX_GAS_CAP:
            raise ChainError(f"deployment needs more than the per-transaction cap of {TX_GAS_CAP:,} gas")
        return result

    def transact(self, to: str, data: bytes, value: int = 0, gas: int | None = None) -> TxResult:
        return self._send({"to": to, "data": data, "value": value, **({"gas": gas} if gas else {})})

    def party(self, index: int) -> EmbeddedChain:
        """The same chain, sending from eth-tester's funded account ``index`` (0-9)."""
        import copy

        accounts = self._tester.get_accounts()
        if not 0 <= index < len(accounts):
            raise ChainError(f"account {index} does not exist: the embedded chain has accounts 0-{len(accounts) - 1}")
        view = copy.copy(self)
        view.sender, view._sender_raw = accounts[index], self._backend.get_accounts()[index]
        return view

    def balance(self, address: str) -> int:
        return int(self._tester.get_balance(address))

    def code(self, address: str) -> bytes:
        """The runtime code at ``address`` (empty if nothing is deployed there)."""
        code = self._tester.get_code(address)  # eth-tester returns a 0x-hex string
        return bytes.fromhex(code[2:]) if isinstance(code, str) else bytes(code)

    @property
    def chain_id(self) -> int:
        return int(self._backend.chain.chain_id)

    def timestamp(self) -> int:
        """The block timestamp the next transaction sees."""
        return int(self._backend.chain.header.timestamp)

    def advance_time(self, seconds: int) -> int:
        """Move the clock forward (for deadlines); returns the next transaction's timestamp.

        The extra block makes the latest block (what ``call`` sees) reach the new time too."""
        self._backend.time_travel(self.timestamp() + max(0, seconds))
        self._backend.mine_blocks()
        return self.timestamp()

    def call(self, to: str, data: bytes) -> bytes:
        from eth_tester.exceptions import TransactionFailed
        from eth_utils import to_canonical_address

        tx = {"from": self._sender_raw, "to": to_canonical_address(to), "data": data, "gas": TX_GAS_CAP}
        try:
            return bytes(self._backend.call(tx))
        except TransactionFailed as e:
            raw = _revert_bytes(e.args[0] if e.args else "")
            raise Reverted(f"call reverted: {describe_revert(raw) if raw else e}", raw) from None


def _revert_bytes(message: object) -> bytes:
    """eth-tester reports custom-error revert data as the repr of a bytes object."""
    if isinstance(message, bytes):
        return message
    text = str(message)
    if text.startswith(("b'", 'b"')):
        value = ast.literal_eval(text)
        return value if isinstance(value, bytes) else b""
    return b""


CHAINS = ("embedded", "anvil")


def open_chain(name: str = "embedded", rpc_url: str | None = None, key_env: str | None = None,
               keystore: str | None = None) -> Chain:
    """``--chain embedded|anvil``, or any node with ``--rpc-url`` (key from ``key_env`` or ``keystore``)."""
    if rpc_url:
        from ml2sc.chain.rpc import RpcChain, key_from

        return RpcChain(rpc_url, key_from(key_env, keystore))
    if name == "embedded":
        return EmbeddedChain()
    if name == "anvil":
        from ml2sc.chain.rpc import AnvilChain

        return AnvilChain()
    raise ChainError(f"unknown chain '{name}'; available: {', '.join(CHAINS)} (or --rpc-url URL)")
