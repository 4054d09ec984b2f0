"""Chains over JSON-RPC: any node (``--rpc-url``) and a local anvil that ml2sc runs itself.

Transactions are signed locally with a key from an environment variable or a
keystore file; anvil's funded development key is used for the anvil chain.
A receipt gives the gas but not the return data, so each inference is first
run with ``eth_call`` on the same state (outputs), then sent (receipt gas).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ml2sc.chain.base import (
    HARDFORK,
    TX_GAS_CAP,
    ChainError,
    Reverted,
    TxResult,
    describe_revert,
    intrinsic_gas,
)
from ml2sc.chain.npm import find_node_modules

# anvil's first development account (public, funded on every anvil chain).
ANVIL_DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


class RpcChain:
    """Any JSON-RPC node; transactions signed here with ``private_key``."""

    name = "rpc"

    def __init__(self, url: str, private_key: str, timeout: float = 60.0) -> None:
        from eth_account import Account

        self.url = url
        self.timeout = timeout
        self.account = Account.from_key(private_key)
        self.sender = self.account.address
        self._ids = 0
        self.chain_id = int(self.rpc("eth_chainId"), 16)

    def rpc(self, method: str, *params: Any) -> Any:
        self._ids += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._ids, "method": method, "params": list(params)}).encode()
        request = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                reply = json.loads(response.read())
        except (urllib.error.URLError, OSError) as e:
            raise ChainError(f"cannot reach the node at {self.url}: {e}") from None
        if "error" in reply:
            err = reply["error"]
            data = err.get("data")
            raw = bytes.fromhex(data[2:]) if isinstance(data, str) and data.startswith("0x") else b""
            if raw or "revert" in str(err.get("message", "")).lower():
                raise Reverted(f"{method} reverted: {describe_revert(raw) if raw else err.get('message')}", raw)
            raise ChainError(f"{method} failed: {err.get('message', err)}")
        return reply["result"]

    def _fees(self) -> dict[str, int]:
        tip = int(self.rpc("eth_maxPriorityFeePerGas"), 16)
        base = int(self.rpc("eth_getBlockByNumber", "latest", False)["baseFeePerGas"], 16)
        return {"maxPriorityFeePerGas": tip, "maxFeePerGas": 2 * base + tip}

    def _send(self, tx: dict[str, Any]) -> dict[str, Any]:
        nonce = int(self.rpc("eth_getTransactionCount", self.sender, "pending"), 16)
        full = {"chainId": self.chain_id, "nonce": nonce, "gas": TX_GAS_CAP, "value": 0, "type": 2, **self._fees(), **tx}
        signed = self.account.sign_transaction(full)
        raw = getattr(signed, "raw_transaction", None) or signed.rawTransaction
        tx_hash = self.rpc("eth_sendRawTransaction", "0x" + bytes(raw).hex())
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            receipt = self.rpc("eth_getTransactionReceipt", tx_hash)
            if receipt:
                if int(receipt["status"], 16) != 1:
                    raise ChainError(f"transaction {tx_hash} failed on chain (gas used {int(receipt['gasUsed'], 16):,})")
                return receipt
            time.sleep(0.05)
        raise ChainError(f"no receipt for {tx_hash} after {self.timeout:.0f} s")

    def deploy(self, initcode: bytes, value: int = 0) -> TxResult:
        if value:  # a reverting constructor surfaces here, with its custom error
            self.rpc("eth_call", {"from": self.sender, "data": "0x" + initcode.hex(), "value": hex(value),
                                  "gas": hex(TX_GAS_CAP)}, "latest")
        receipt = self._send({"data": "0x" + initcode.hex(), "value": value})
        gas = int(receipt["gasUsed"], 16)
        return TxResult(gas, b"", receipt["contractAddress"], gas - intrinsic_gas(initcode, create=True),
                        receipt["transactionHash"], int(receipt["blockNumber"], 16))

    def call(self, to: str, data: bytes, value: int = 0) -> bytes:
        params = {"from": self.sender, "to": to, "data": "0x" + data.hex(), "gas": hex(TX_GAS_CAP)}
        result = self.rpc("eth_call", params | ({"value": hex(value)} if value else {}), "latest")
        return bytes.fromhex(result[2:])

    def transact(self, to: str, data: bytes, value: int = 0, gas: int | None = None) -> TxResult:
        output = self.call(to, data, value)  # reverts surface here, with their data
        from eth_utils import to_checksum_address

        tx = {"to": to_checksum_address(to), "data": "0x" + data.hex(), "value": value, **({"gas": gas} if gas else {})}
        receipt = self._send(tx)
        gas_used = int(receipt["gasUsed"], 16)
        return TxResult(gas_used, output, None, gas_used - intrinsic_gas(data), receipt["transactionHash"],
                        int(receipt["blockNumber"], 16))

    # Several parties, balances and time: what the marketplace needs (ml2sc.market.challenge).
    def party(self, index: int) -> RpcChain:
        """Only the configured key on a generic node; anvil overrides this with its dev accounts."""
        if index != 0:
            raise ChainError(f"account {index}: an --rpc-url chain signs with one key only (pass another --key-env)")
        return self

    def balance(self, address: str) -> int:
        return int(self.rpc("eth_getBalance", address, "latest"), 16)

    def code(self, address: str) -> bytes:
        """The runtime code at ``address`` (empty if nothing is deployed there)."""
        return bytes.fromhex(self.rpc("eth_getCode", address, "latest")[2:])

    def timestamp(self) -> int:
        """The latest block's timestamp (the next block's is at least this)."""
        return int(self.rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16)

    def advance_time(self, seconds: int) -> int:
        """Dev nodes only (anvil, hardhat): ``evm_increaseTime`` then ``evm_mine``."""
        try:
            self.rpc("evm_increaseTime", max(0, seconds))
            self.rpc("evm_mine")
        except ChainError as e:
            raise ChainError(f"this node cannot move its clock (evm_increaseTime): {e}; wait for the deadline instead") from None
        return self.timestamp()


ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


def anvil_dev_key(index: int) -> str:
    """The private key of anvil's dev account ``index`` (public, like ANVIL_DEV_KEY)."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    return "0x" + bytes(Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}").key).hex()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: anvil gets SIGTERM if ml2sc dies without cleaning up (e.g. SIGKILL)."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def anvil_binary() -> Path:
    modules = find_node_modules(".bin/anvil")
    path = (modules or Path("node_modules")) / ".bin" / "anvil"
    if modules is None or not path.exists():
        raise ChainError(f"anvil not found at {path}: run 'make setup' (npm install) in the ml2sc checkout")
    return path


class AnvilChain(RpcChain):
    """A private anvil on a free loopback port, Prague pinned like the embedded chain; stopped on close."""

    name = "anvil"

    def __init__(self, startup_timeout: float = 30.0) -> None:
        port = _free_port()
        cmd = [str(anvil_binary()), "--hardfork", HARDFORK, "--host", "127.0.0.1", "--port", str(port),
               "--gas-limit", "60000000", "--silent"]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      preexec_fn=_die_with_parent if os.name == "posix" else None)
        atexit.register(self.close)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + startup_timeout
        while True:
            if self._proc.poll() is not None:
                err = (self._proc.stderr.read() or b"").decode(errors="replace").strip().splitlines()
                raise ChainError(f"anvil exited at start: {err[-1] if err else 'no output'}")
            try:
                super().__init__(url, ANVIL_DEV_KEY)
                return
            except ChainError:
                if time.monotonic() > deadline:
                    self.close()
                    raise ChainError(f"anvil did not answer on {url} within {startup_timeout:.0f} s") from None
                time.sleep(0.1)

    def party(self, index: int) -> RpcChain:
        """Another of anvil's funded dev accounts (from its public test mnemonic), same node."""
        if index == 0:
            return self
        if not 0 <= index < 10:
            raise ChainError(f"account {index} does not exist: anvil has dev accounts 0-9")
        view = RpcChain(self.url, anvil_dev_key(index), self.timeout)
        view.name = self.name
        return view

    def close(self) -> None:
        proc = getattr(self, "_proc", None)
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()

    def __enter__(self) -> AnvilChain:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def key_from(key_env: str | None, keystore: str | None) -> str:
    """The signing key for --rpc-url: a keystore file (password in $ML2SC_KEYSTORE_PASSWORD or asked) or an env var."""
    if keystore:
        from eth_account import Account

        path = Path(keystore)
        if not path.is_file():
            raise ChainError(f"keystore file '{keystore}' not found")
        password = os.environ.get("ML2SC_KEYSTORE_PASSWORD")
        if password is None:
            import getpass

            password = getpass.getpass(f"password for {keystore}: ")
        try:
            return "0x" + bytes(Account.decrypt(json.loads(path.read_text()), password)).hex()
        except (ValueError, KeyError) as e:
            raise ChainError(f"cannot decrypt keystore '{keystore}': {e}") from None
    var = key_env or "ML2SC_PRIVATE_KEY"
    key = os.environ.get(var)
    if not key:
        raise ChainError(f"--rpc-url needs a signing key: set ${var} (hex private key) or pass --keystore FILE")
    return key
