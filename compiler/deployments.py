"""Deployment records: deploy a model once, then call it from any process, any client.

``ml2sc deploy`` writes ``deployments/<chain id>/<Name>.json`` in the spirit of hardhat-deploy
and Foundry's broadcast files: hardhat-deploy's top-level ``address``, ``abi``,
``transactionHash`` (so ethers and viem scripts read it as they read theirs), then every
contract deployed (data and stage contracts first, the model last) with its transaction, block,
gas and code hash, the compiler settings, the ONNX file's sha256, the model hash the contract
reports, the backend, pipeline and the input/output scales and names.

The record also holds the backend's final IR as text (``ir``). That, not the ONNX path, is what
``attach`` rebuilds the model from: the IR parses back exactly (``ml2sc.ir.parser``), re-emitting
it gives the program that quantizes inputs and decodes outputs, and its hash must equal the
``modelHash`` the contract reports. An ONNX path alone would not do: an int8 model also depends
on its calibration rows, and files move. Attaching checks the keccak of each contract's code on
chain against the record, and the contract's ``modelHash()`` against the IR's hash, so a record
never drives a call to code it does not describe, nor decodes outputs with another model's IR.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils import keccak, to_checksum_address

from ml2sc.backends.common.naming import model_hash
from ml2sc.chain import Chain, ChainError
from ml2sc.compiler.driver import (
    CompiledModel,
    DeployedModel,
    DeployJournal,
    GasReport,
    get_backend,
)
from ml2sc.compiler.solc import SOLC_VERSION, CompiledContract, standard_json_input
from ml2sc.ir.errors import Ml2scError

FORMAT = "ml2sc-deployment/1"
DEFAULT_DIR = "deployments"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


@dataclass
class Deployment:
    """What ``deploy_model`` did: the handle, the record and where it is, whether anything was sent."""

    model: DeployedModel
    record: dict[str, Any]
    path: Path
    deployed: bool  # False: the record was found and its code is on chain; nothing was sent
    note: str = ""  # why a record was replaced, if it was


class RecordingChain:
    """The chain, keeping each creation transaction's hash, block and gas in the journal.

    A resumed deployment must still know the transactions of the contracts an interrupted run
    deployed, so they go to the journal as soon as they are mined."""

    def __init__(self, chain: Chain, journal: DeployJournal) -> None:
        self._chain, self._journal = chain, journal

    def __getattr__(self, name: str) -> Any:
        return getattr(self._chain, name)

    def deploy(self, initcode: bytes, value: int = 0) -> Any:
        tx = self._chain.deploy(initcode, value) if value else self._chain.deploy(initcode)
        info: dict[str, Any] = {"gasUsed": tx.gas_used}
        if tx.tx_hash is not None:
            info |= {"transactionHash": tx.tx_hash, "blockNumber": tx.block}
        self._journal.note(self._chain, tx.address or "", info)
        return tx


def chain_id_of(chain: Any) -> int:
    if getattr(chain, "chain_id", None) is None:
        raise Ml2scError(f"chain '{getattr(chain, 'name', chain)}' has no chain id: deployment records are per chain id")
    return int(chain.chain_id)


def record_path(directory: str | os.PathLike[str], chain_id: int, name: str) -> Path:
    if not _NAME.match(name):
        raise Ml2scError(f"deployment name '{name}': use letters, digits, '_', '.' and '-' (it names a file)")
    return Path(directory) / str(chain_id) / f"{name}.json"


def code_hash(chain: Any, address: str) -> str:
    return "0x" + keccak(chain.code(address)).hex()


def check_code(chain: Any, record: dict[str, Any], where: str) -> None:
    """Every contract of the record holds, on this chain, the code whose hash the record keeps."""
    for contract in record["contracts"]:
        found = code_hash(chain, contract["address"])
        if found != contract["codeHash"]:
            what = "no code" if found == "0x" + keccak(b"").hex() else f"code hash {found}"
            raise Ml2scError(
                f"{where}: {contract['name']} at {contract['address']} on chain {record['chainId']} has {what}, "
                f"not the recorded {contract['codeHash']} (another chain, or a dev chain restarted since?)"
            )


def deploy_model(
    compiled: CompiledModel,
    chain: Chain,
    directory: str | os.PathLike[str] = DEFAULT_DIR,
    name: str | None = None,
    source: str | os.PathLike[str] | None = None,
    pipeline: str | None = None,
    progress: bool = True,
) -> Deployment:
    """Deploy ``compiled`` unless ``directory/<chain id>/<name>.json`` already records it on this
    chain; write that record. An interrupted deployment resumes from a journal beside the record.

    A record of another model under the same name is an error (pass another ``name``), not an
    overwrite: callers may rely on that address. A record whose code is gone from the chain (a dev
    chain restarted with the same id) is replaced, and ``note`` says so."""
    name = name or compiled.program.contract_name
    path = record_path(directory, chain_id_of(chain), name)
    note = ""
    if path.exists():
        record = load_record(path)
        try:
            check_code(chain, record, str(path))
        except Ml2scError as e:  # nothing of it left to protect: deploy afresh
            note = f"replaced {path}: {e}"
        else:
            if record.get("modelHash") != model_hash(compiled.ir):
                raise Ml2scError(
                    f"{path} records another model (model hash {record.get('modelHash')}, this one is "
                    f"{model_hash(compiled.ir)}): pass --name to deploy it under another name, or remove the record"
                )
            return Deployment(attach(record, chain=chain, where=str(path)), record, path, deployed=False)
    journal_path = path.with_name(f".{name}.journal.json")
    journal = DeployJournal(journal_path)
    deployed = compiled.deploy(RecordingChain(chain, journal), progress, journal_path)  # type: ignore[arg-type]
    deployed.chain = chain
    record = build_record(compiled, deployed, journal, name, source, pipeline)
    deployed.address = record["address"]  # checksummed, as attach gives it
    _write_json(path, record)
    journal_path.unlink(missing_ok=True)
    return Deployment(deployed, record, path, deployed=True, note=note)


def build_record(
    compiled: CompiledModel,
    deployed: DeployedModel,
    journal: DeployJournal,
    name: str,
    source: str | os.PathLike[str] | None,
    pipeline: str | None,
) -> dict[str, Any]:
    """The deployment record (see the module docstring) of a model just deployed."""
    chain, program = deployed.chain, compiled.program
    notes = journal.notes(chain)
    labels = [program.data_contract_names[k] if k < len(program.data_contract_names) else f"data{k}"
              for k in range(len(program.data_contracts))]
    addresses = [journal.lookup(chain, runtime) or "" for runtime in program.data_contracts]
    contracts = [_contract(chain, f"{program.contract_name}.{label}", address, notes)
                 for label, address in zip(labels, addresses, strict=True)]
    entry = _contract(chain, program.contract_name, deployed.address, notes)
    contracts.append(entry)
    reported = "0x" + deployed.model_hash().hex()
    if reported != model_hash(compiled.ir):
        raise Ml2scError(f"{program.contract_name} at {deployed.address} reports model hash {reported}, "
                         f"the compiled IR hashes to {model_hash(compiled.ir)}")
    from importlib.metadata import version

    settings = {k: v for k, v in standard_json_input(program.sources)["settings"].items() if k != "outputSelection"}
    return {
        "format": FORMAT,
        "name": name,
        "contractName": program.contract_name,
        "chainId": chain_id_of(chain),
        "address": entry["address"],
        "abi": compiled.artifact.abi,
        "transactionHash": entry.get("transactionHash"),
        "blockNumber": entry.get("blockNumber"),
        "deployer": getattr(chain, "sender", None),
        "codeHash": entry["codeHash"],
        "modelHash": reported,
        "contracts": contracts,
        "gas": {"deploy": sum(c["gasUsed"] or 0 for c in contracts), "upload": sum(deployed.gas.upload),
                "uploadTransactions": len(deployed.gas.upload)},
        "model": {"source": os.fspath(source) if source else None, "onnxSha256": _onnx_sha256(compiled, source),
                  "backend": compiled.backend.name, "pipeline": pipeline or compiled.backend.pipeline,
                  "calibrationAgreement": compiled.agreement},
        "io": _io(compiled) | {k: _reported(deployed, f"{k}()") for k in ("inputScale", "outputScale")},
        "compiler": {"ml2sc": version("ml2sc"), "solc": SOLC_VERSION, "settings": settings},
        "bytecode": "0x" + compiled.artifact.bytecode.hex(),
        "deployedBytecode": "0x" + compiled.artifact.runtime_bytecode.hex(),
        "ir": compiled.ir_text,
    }


def _contract(chain: Any, label: str, address: str, notes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    info = notes.get(address.lower(), {})
    return {"name": label, "address": to_checksum_address(address), "transactionHash": info.get("transactionHash"),
            "blockNumber": info.get("blockNumber"), "gasUsed": info.get("gasUsed"), "codeHash": code_hash(chain, address)}


def _reported(deployed: DeployedModel, signature: str) -> int | None:
    """A ``uint256`` getter of the model contract (``inputScale()``: 1e18 per unit), None if it has none."""
    from eth_abi import decode

    from ml2sc.backends.common.naming import selector

    if not any(f.get("name") == signature[:-2] for f in deployed.compiled.artifact.abi):
        return None
    return int(decode(["uint256"], deployed.chain.call(deployed.address, selector(signature)))[0])


def _io(compiled: CompiledModel) -> dict[str, Any]:
    """Names and scales: the inputs' (decimal fixed point, or int8's per-feature scales in the IR)
    and each output's place in the flat result, decimals or int8 scale and zero point."""
    program, proto = compiled.program, compiled.onnx_model
    initializers = {t.name for t in proto.graph.initializer} if proto is not None else set()
    names = [i.name for i in proto.graph.input if i.name not in initializers] if proto is not None else []
    return {
        "inputNames": names,
        "inputs": program.n_inputs,
        "inputDecimals": program.input_decimals,
        "inputBits": int(program.metadata["input_bits"]) if program.metadata.get("input_bits") else None,
        "packedInputBytes": program.packed_input_bytes,
        "outputs": [{"name": s.name, "offset": s.offset, "size": s.size, "shape": list(s.shape), "decimals": s.decimals,
                     "scale": s.scale, "zeroPoint": s.zero_point} for s in program.outputs],
    }


def _onnx_sha256(compiled: CompiledModel, source: str | os.PathLike[str] | None) -> str | None:
    """sha256 of the .onnx file compiled, or of the ONNX a framework model was exported to."""
    if source is not None and Path(source).suffix == ".onnx" and Path(source).is_file():
        return hashlib.sha256(Path(source).read_bytes()).hexdigest()
    if compiled.onnx_model is not None and hasattr(compiled.onnx_model, "SerializeToString"):
        return hashlib.sha256(compiled.onnx_model.SerializeToString()).hexdigest()
    return None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def load_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise Ml2scError(f"deployment record '{p}' not found")
    try:
        record = json.loads(p.read_text())
    except ValueError as e:
        raise Ml2scError(f"deployment record '{p}' is not valid JSON: {e}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise Ml2scError(f"'{p}' is not an ml2sc deployment record (no \"format\": \"{FORMAT}\")")
    return record


def find_record(directory: str | os.PathLike[str], chain_id: int, address: str) -> Path:
    """The record in ``directory/<chain id>/`` whose model contract is at ``address``."""
    folder = Path(directory) / str(chain_id)
    for path in sorted(folder.glob("*.json")):
        try:
            if json.loads(path.read_text()).get("address", "").lower() == address.lower():
                return path
        except ValueError:
            continue
    raise Ml2scError(f"no deployment record for {address} in {folder}/ (pass the record's path, or --deployments DIR)")


def compiled_from_record(record: dict[str, Any], where: str) -> CompiledModel:
    """The compiled model the record describes, rebuilt from its IR without ONNX or solc."""
    from ml2sc.ir.parser import parse_module

    module = parse_module(record["ir"], filename=f"{where}#ir")
    if model_hash(module) != record["modelHash"]:
        raise Ml2scError(f"{where}: its IR hashes to {model_hash(module)}, not its modelHash {record['modelHash']} (edited?)")
    backend = get_backend(record["model"]["backend"])
    program = backend.emit(module)
    compiled = CompiledModel(module, module, program, backend)  # no float IR: only the chain's integers are decoded
    artifact = CompiledContract(program.contract_name, record["abi"], bytes.fromhex(record["bytecode"][2:]),
                                bytes.fromhex(record["deployedBytecode"][2:]))
    compiled.__dict__["artifact"] = artifact  # the cached_property, filled: nothing to recompile
    return compiled


class ReadOnlyChain:
    """A node reached without a signing key: reads and ``eth_call`` (which needs a sender, not
    funds: a throwaway key gives one); a transaction is a one-line error naming the missing key."""

    def __init__(self, chain: Chain, key_env: str) -> None:
        self._chain, self._key_env = chain, key_env

    def __getattr__(self, name: str) -> Any:
        return getattr(self._chain, name)

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise ChainError(f"no signing key for transactions on {getattr(self._chain, 'url', 'this node')}: set "
                         f"${self._key_env} (hex private key) or pass a keystore; calls (eth_call) need none")

    deploy = transact = _refuse


def rpc_chain(rpc_url: str, key_env: str | None = None, keystore: str | None = None) -> Chain:
    """A chain on ``rpc_url`` signing with the configured key, or, without one, read-only."""
    from ml2sc.chain.rpc import RpcChain, key_from

    var = key_env or "ML2SC_PRIVATE_KEY"
    if keystore or os.environ.get(var):
        return RpcChain(rpc_url, key_from(key_env, keystore))
    return ReadOnlyChain(RpcChain(rpc_url, "0x" + os.urandom(32).hex()), var)  # type: ignore[return-value]


def attach(
    target: str | os.PathLike[str] | dict[str, Any],
    rpc_url: str | None = None,
    chain: Chain | None = None,
    key_env: str | None = None,
    keystore: str | None = None,
    directory: str | os.PathLike[str] = DEFAULT_DIR,
    where: str | None = None,
) -> DeployedModel:
    """The deployed model of a record (its path or the dict) or of an address (its record found in
    ``directory/<chain id>/``), on ``chain`` or the node at ``rpc_url``: the handle ``deploy``
    returns, after checking that the chain holds the recorded code at every recorded address."""
    if chain is None:
        if not rpc_url:
            raise Ml2scError("attach needs the chain: pass rpc_url (or chain)")
        chain = rpc_chain(rpc_url, key_env, keystore)
    record, where = _resolve(target, chain, directory, where)
    if int(record["chainId"]) != chain_id_of(chain):
        raise Ml2scError(f"{where} is a deployment on chain {record['chainId']}; this node is chain {chain_id_of(chain)}")
    check_code(chain, record, where)
    compiled = compiled_from_record(record, where)
    contracts = [(c["name"], c.get("gasUsed") or 0) for c in record["contracts"]]
    gas = GasReport(sum(g for _, g in contracts), len(bytes.fromhex(record["deployedBytecode"][2:])), contracts=contracts)
    handle = DeployedModel(compiled, chain, record["address"], gas)
    reported = "0x" + handle.model_hash().hex()  # the contract vouches for the IR that decodes its outputs
    if reported != record["modelHash"]:
        raise Ml2scError(f"{where}: the contract at {record['address']} reports model hash {reported}, "
                         f"the record's IR is {record['modelHash']}")
    return handle


def _resolve(target: Any, chain: Chain, directory: str | os.PathLike[str], where: str | None) -> tuple[dict[str, Any], str]:
    if isinstance(target, dict):
        return target, where or f"deployment record of {target.get('address')}"
    text = os.fspath(target)
    if _ADDRESS.match(text):
        path = find_record(directory, chain_id_of(chain), text)
        return load_record(path), str(path)
    return load_record(text), where or text
