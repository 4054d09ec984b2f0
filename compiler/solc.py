"""The Solidity compiler driver: one pinned solc, native if present, else solcjs.

Both paths take the same standard-JSON input and return the same output, so a
contract compiles to the same bytecode whichever is used (a test checks it
where both exist). Results are cached on disk by the hash of the input: solcjs
takes a second or two per compile and the test-suite compiles the same small
contracts many times.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from ml2sc.chain.npm import find_node_modules
from ml2sc.ir.errors import Ml2scError

SOLC_VERSION = "0.8.30"
EVM_VERSION = "prague"
OPTIMIZER_RUNS = 200


class SolcError(Ml2scError):
    """The Solidity compiler rejected a source or could not be run."""


@dataclass(frozen=True)
class CompiledContract:
    """What deployment needs (ABI, creation code) plus what reports want (runtime size)."""

    name: str
    abi: list[dict]
    bytecode: bytes
    runtime_bytecode: bytes

    @property
    def runtime_size(self) -> int:
        return len(self.runtime_bytecode)

    def to_json(self) -> dict:
        return {
            "contractName": self.name,
            "abi": self.abi,
            "bytecode": "0x" + self.bytecode.hex(),
            "deployedBytecode": "0x" + self.runtime_bytecode.hex(),
            "compiler": {"solc": SOLC_VERSION, "evmVersion": EVM_VERSION, "optimizerRuns": OPTIMIZER_RUNS},
        }


@dataclass(frozen=True)
class CompileResult:
    contracts: dict[str, CompiledContract]
    warnings: tuple[str, ...]

    def __getitem__(self, name: str) -> CompiledContract:
        return self.contracts[name]


def runtime_sol_dir() -> Path:
    return Path(str(resources.files("ml2sc.runtime_sol")))


@cache
def node_modules_dir() -> Path:
    """Locate the project's node_modules: $ML2SC_NODE_MODULES, else walk up from here or the cwd."""
    found = find_node_modules("solc", "@prb/math")
    if found is not None:
        return found
    raise SolcError("cannot find node_modules with solc and @prb/math: run 'make setup' (or npm ci) in the ml2sc checkout, or set ML2SC_NODE_MODULES")


def _standard_input(sources: dict[str, str]) -> dict:
    return {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sorted(sources.items())},
        "settings": {
            "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
            "evmVersion": EVM_VERSION,
            "remappings": ["ml2sc/=ml2sc/"],
            # No CBOR metadata tail: it adds ~53 bytes (~11,000 deploy gas) to every
            # model; the artifact JSON records the compiler settings instead.
            "metadata": {"appendCBOR": False, "bytecodeHash": "none"},
            "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}},
        },
    }


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ml2sc" / f"solc-{SOLC_VERSION}"


def _native_solc() -> str | None:
    """A native solc of exactly the pinned version: $ML2SC_SOLC, else ``solc`` on PATH."""
    path = os.environ.get("ML2SC_SOLC") or shutil.which("solc")
    if not path:
        return None
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return path if f"Version: {SOLC_VERSION}" in out else None


_IMPORT = re.compile(r"""^\s*import\s[^;]*?["']([^"']+)["']""", re.MULTILINE)


def _resolve_imports(std_input: dict) -> dict:
    """Inline every imported file (ml2sc/..., @prb/math/..., relative) into one closed input.

    Both compilers then see exactly the same sources, and solcjs needs no
    file-system callback.
    """
    roots = {"ml2sc/": runtime_sol_dir(), "@prb/math/": node_modules_dir() / "@prb" / "math"}
    sources = std_input["sources"]
    pending = list(sources)
    while pending:
        importer = pending.pop()
        for target in _IMPORT.findall(sources[importer]["content"]):
            if target.startswith("."):
                target = posixpath.normpath(posixpath.join(posixpath.dirname(importer), target))
            if target in sources:
                continue
            prefix = next((p for p in roots if target.startswith(p)), None)
            path = roots[prefix] / target[len(prefix):] if prefix else None
            if path is None or not path.is_file():
                raise SolcError(f"import '{target}' (from {importer}) not found")
            sources[target] = {"content": path.read_text()}
            pending.append(target)
    return std_input


def _run_native(path: str, std_input: dict) -> dict:
    """The native compiler through py-solc-x (the import-free input needs no paths)."""
    import solcx
    from solcx.exceptions import SolcError as PySolcError

    try:
        return solcx.compile_standard(std_input, solc_binary=path, allow_empty=True)
    except PySolcError as e:
        raise SolcError(f"solc ({path}) failed: {str(e).strip().splitlines()[0]}") from None


def _run_solcjs(std_input: dict) -> dict:
    script = Path(__file__).with_name("solcjs_compile.js")
    cmd = ["node", str(script), str(node_modules_dir())]
    try:
        proc = subprocess.run(cmd, input=json.dumps(std_input), capture_output=True, text=True, timeout=600)
    except FileNotFoundError as e:
        raise SolcError(f"cannot run solcjs with node: {e}") from None
    if proc.returncode != 0 or not proc.stdout.strip():
        raise SolcError(f"solcjs failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    return json.loads(proc.stdout)


def _run_compiler(std_input: dict) -> dict:
    """Native solc of the pinned version when on PATH (via py-solc-x), else solcjs from node_modules."""
    native = _native_solc()
    return _run_native(native, std_input) if native else _run_solcjs(std_input)


def standard_json_input(sources: dict[str, str]) -> dict:
    """The closed standard-JSON input ml2sc compiles ``sources`` with: every import inlined,
    the pinned settings (what a block explorer's verifier needs to reproduce the bytecode)."""
    return _resolve_imports(_standard_input(sources))


def compile_solidity(sources: dict[str, str]) -> CompileResult:
    """Compile ``{filename: source}``; imports of ``ml2sc/...`` and ``@prb/math/...`` are resolved."""
    std_input = standard_json_input(sources)
    key = hashlib.sha256(json.dumps(std_input, sort_keys=True).encode()).hexdigest()
    cache_file = _cache_dir() / f"{key}.json"
    if cache_file.is_file():
        output = json.loads(cache_file.read_text())
    else:
        output = _run_compiler(std_input)
        if not any(e["severity"] == "error" for e in output.get("errors", [])):
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(output))
            tmp.replace(cache_file)
    return _parse_output(output, set(sources))


def _parse_output(output: dict, own_files: set[str]) -> CompileResult:
    errors = [e for e in output.get("errors", []) if e["severity"] == "error"]
    if errors:
        first = errors[0].get("formattedMessage", errors[0]["message"]).strip().splitlines()
        raise SolcError(f"solc: {first[0]}" + (f" ({first[1].strip()})" if len(first) > 1 else ""))
    warnings = tuple(
        e.get("formattedMessage", e["message"]).strip()
        for e in output.get("errors", [])
        if e["severity"] == "warning" and e.get("sourceLocation", {}).get("file") in own_files
    )
    contracts: dict[str, CompiledContract] = {}
    for file, by_name in output.get("contracts", {}).items():
        for name, c in by_name.items():
            contracts[name if file in own_files else f"{file}:{name}"] = CompiledContract(
                name=name,
                abi=c["abi"],
                bytecode=bytes.fromhex(c["evm"]["bytecode"]["object"]),
                runtime_bytecode=bytes.fromhex(c["evm"]["deployedBytecode"]["object"]),
            )
    return CompileResult(contracts, warnings)
