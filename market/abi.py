"""ABI plumbing for the marketplace contracts: compile once, encode calls, name custom errors.

The marketplace contracts (``runtime_sol/Challenge.sol``, ``VerifiedInference.sol`` and the
``ChallengeModels`` library they share) are ordinary Solidity compiled with the project's
pinned solc; a revert comes back as raw data, which ``ContractError`` turns into the custom
error's name and arguments so that a user (and a test) sees ``SubmissionClosed(deadline=...,
timestamp=...)`` rather than bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar, Self

from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address

from ml2sc.chain import Chain, PartyChain, Reverted, TxResult
from ml2sc.compiler.solc import CompiledContract, compile_solidity, runtime_sol_dir
from ml2sc.ir.errors import Ml2scError

MARKET_SOURCES = ("Challenge.sol", "ChallengeModels.sol", "VerifiedInference.sol")


class ContractError(Reverted):
    """A marketplace transaction reverted with a named custom error (``error``, ``args``)."""

    def __init__(self, message: str, data: bytes, error: str, args: dict[str, Any]) -> None:
        super().__init__(message, data)
        self.error = error
        self.args_ = args


def abi_type(param: dict) -> str:
    """The canonical ABI type of one ABI parameter, tuples spelled out."""
    kind = param["type"]
    if not kind.startswith("tuple"):
        return kind
    return "(" + ",".join(abi_type(c) for c in param["components"]) + ")" + kind[len("tuple"):]


@cache
def market_contracts(extra: tuple[tuple[str, str], ...] = ()) -> dict[str, CompiledContract]:
    """The marketplace contracts compiled with zero warnings (``extra``: more sources, for tests)."""
    folder = runtime_sol_dir()
    sources = {f"ml2sc/{name}": (folder / name).read_text() for name in MARKET_SOURCES} | dict(extra)
    result = compile_solidity(sources)
    if result.warnings:
        raise Ml2scError(f"marketplace Solidity compiled with warnings: {result.warnings[0].splitlines()[0]}")
    return result.contracts


@cache
def model_errors() -> tuple[dict, ...]:
    """The custom errors of ml2sc's model interfaces (IML2SCModel, IML2SCInt8Model): what a model
    contract given only by its address can revert with."""
    folder = runtime_sol_dir()
    names = ("IML2SCModel.sol", "IML2SCInt8Model.sol")
    result = compile_solidity({f"ml2sc/{name}": (folder / name).read_text() for name in names})
    return tuple(item for c in result.contracts.values() for item in c.abi if item["type"] == "error")


class Abi:
    """Encoder/decoder for one contract's functions, constructor and custom errors."""

    def __init__(self, contract: CompiledContract, *more_errors: CompiledContract) -> None:
        self.contract = contract
        self.functions = {f["name"]: f for f in contract.abi if f["type"] == "function"}
        self.errors: dict[bytes, dict] = {}
        for source in (contract, *more_errors):
            for item in source.abi:
                if item["type"] == "error":
                    sig = f"{item['name']}({','.join(abi_type(p) for p in item['inputs'])})"
                    self.errors[keccak(text=sig)[:4]] = item

    def _fn(self, name: str) -> dict:
        if name not in self.functions:
            raise Ml2scError(f"{self.contract.name} has no function '{name}'")
        return self.functions[name]

    def calldata(self, name: str, *args: Any) -> bytes:
        fn = self._fn(name)
        types = [abi_type(p) for p in fn["inputs"]]
        return keccak(text=f"{name}({','.join(types)})")[:4] + encode(types, list(args))

    def result(self, name: str, data: bytes) -> tuple:
        return tuple(decode([abi_type(p) for p in self._fn(name)["outputs"]], data))

    def initcode(self, *args: Any) -> bytes:
        ctor = next((f for f in self.contract.abi if f["type"] == "constructor"), {"inputs": []})
        return self.contract.bytecode + encode([abi_type(p) for p in ctor["inputs"]], list(args))

    def explain(self, exc: Reverted, action: str) -> Reverted:
        """A ContractError naming the custom error in ``exc``'s revert data (``exc`` if unknown)."""
        item = self.errors.get(exc.data[:4]) if len(exc.data) >= 4 else None
        if item is None:
            return exc
        try:
            values = decode([abi_type(p) for p in item["inputs"]], exc.data[4:])
        except Exception:  # noqa: BLE001 - malformed data: report the name alone
            values = ()
        args = {p["name"] or f"arg{i}": _show(v) for i, (p, v) in enumerate(zip(item["inputs"], values, strict=False))}
        text = ", ".join(f"{k}={v}" for k, v in args.items())
        return ContractError(f"{action} reverted: {item['name']}({text})", exc.data, item["name"], args)


def _show(value: Any) -> Any:
    return "0x" + value.hex() if isinstance(value, bytes) else value


class Bound:
    """One deployed contract on one chain: ``send`` (a transaction) and ``view`` (an eth_call)."""

    def __init__(self, abi: Abi, chain: Chain, address: str) -> None:
        self.abi, self.chain, self.address = abi, chain, address

    def send(self, name: str, *args: Any, by: Any = None, value: int = 0, gas: int | None = None) -> TxResult:
        chain = by or self.chain
        try:
            return chain.transact(self.address, self.abi.calldata(name, *args), value=value, gas=gas)
        except Reverted as e:
            raise self.abi.explain(e, f"{self.abi.contract.name}.{name}") from None

    def view(self, name: str, *args: Any) -> Any:
        try:
            raw = self.chain.call(self.address, self.abi.calldata(name, *args))
        except Reverted as e:
            raise self.abi.explain(e, f"{self.abi.contract.name}.{name}") from None
        if not raw and self.abi.functions[name]["outputs"]:
            raise Ml2scError(f"no {self.abi.contract.name} contract at {self.address} on the {self.chain.name} chain")
        out = self.abi.result(name, raw)
        return out[0] if len(out) == 1 else out


@dataclass
class MarketContract:
    """A deployed marketplace contract (``CONTRACT``) on one chain and the gas of every
    transaction sent to it, as ``(label, gas)`` pairs."""

    CONTRACT: ClassVar[str]

    chain: PartyChain
    address: str
    gas: list[tuple[str, int]] = field(default_factory=list)

    @classmethod
    def abi(cls) -> Abi:
        contracts = market_contracts()
        return Abi(contracts[cls.CONTRACT], contracts["ChallengeModels"])

    @property
    def contract(self) -> Bound:
        return Bound(self.abi(), self.chain, self.address)

    @classmethod
    def _deploy(cls, chain: PartyChain, label: str, *args: Any, value: int = 0) -> Self:
        """Deploy with constructor ``args`` (and ``value`` wei); the gas is recorded as ``label``."""
        abi = cls.abi()
        try:
            tx = chain.deploy(abi.initcode(*args), value=value)
        except Reverted as e:
            raise abi.explain(e, f"{cls.CONTRACT} constructor") from None
        deployed = cls(chain, to_checksum_address(tx.address or ""))
        deployed.gas.append((label, tx.gas_used))
        return deployed

    def _send(self, name: str, *args: Any, by: PartyChain | None = None, label: str | None = None,
              **kwargs: Any) -> TxResult:
        """Send ``name(args)`` from ``by`` (default: this chain's sender) and record its gas."""
        tx = self.contract.send(name, *args, by=by or self.chain, **kwargs)
        self.gas.append((label or name, tx.gas_used))
        return tx

    def _advance_past(self, deadline: int) -> int:
        """Dev chains: move the clock just past ``deadline``; returns the new timestamp."""
        now = self.chain.timestamp()
        return self.chain.advance_time(deadline + 1 - now) if deadline + 1 > now else now


def returned_uint(tx: TxResult) -> int:
    """The first return word of a transaction, as an unsigned integer."""
    return int.from_bytes(tx.output[:32], "big")
