"""The dependency direction of docs (shared design): imports flow from the faces down to the core.

Every ``.py`` under the source folders is parsed with ``ast`` and every ``ml2sc.*`` import is
collected, wherever it stands (module level, inside functions, under ``if TYPE_CHECKING``).
Each folder has an allow-list of the ``ml2sc`` modules it may import; a failure names the file,
the line and the forbidden import.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# source folder -> the package it is installed as (pyproject.toml [tool.setuptools] package-dir)
PACKAGES = {
    "ml2sc": "ml2sc",
    "ir": "ml2sc.ir",
    "frontends": "ml2sc.frontends",
    "backends": "ml2sc.backends",
    "chain": "ml2sc.chain",
    "compiler": "ml2sc.compiler",
    "market": "ml2sc.market",
    "tools": "ml2sc.tools",
}
SUBPACKAGES = {name.removeprefix("ml2sc.") for name in PACKAGES.values()} | {"runtime_sol"}

# ``import ml2sc`` / ``from ml2sc import compile``: the library face (ml2sc/__init__.py), which
# reaches the compiler driver and the frontends.
FACE = "ml2sc"
# Solidity sources read through importlib.resources: data, which any layer may read.
DATA = "ml2sc.runtime_sol"


LAZY_NAME = re.compile(r"ml2sc(\.[a-z_][a-z0-9_]*)+")


@dataclass(frozen=True)
class Import:
    target: str  # the module, or module.name for ``from module import name``
    line: int


def imports_of(source: str, package: str) -> list[Import]:
    """Every ml2sc import in ``source`` (a module of ``package``), relative ones resolved."""
    found: list[Import] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            found += [Import(f"{base}.{alias.name}", node.lineno) for alias in node.names]
        elif isinstance(node, ast.Dict | ast.Call):
            # lazy imports by name: {"export_torch": "ml2sc.frontends.torch_frontend"}, import_module("...")
            values = node.values if isinstance(node, ast.Dict) else node.args
            found += [Import(v.value, v.lineno) for v in values
                      if isinstance(v, ast.Constant) and isinstance(v.value, str) and LAZY_NAME.fullmatch(v.value)]
    return [i for i in found if i.target == "ml2sc" or i.target.startswith("ml2sc.")]


def normalize(target: str) -> str:
    """``ml2sc.compile``, ``ml2sc.__version__``, ``ml2sc`` -> the face; anything else unchanged."""
    parts = target.split(".")
    if len(parts) == 1 or parts[1] not in SUBPACKAGES:
        return FACE
    return target


def within(target: str, prefix: str) -> bool:
    return target == prefix or target.startswith(prefix + ".")


@dataclass(frozen=True)
class Rule:
    allowed: tuple[str, ...]  # packages or modules (with their submodules); FACE: the library face
    forbidden: tuple[str, ...] = ("ml2sc.compiler.cli",)  # exceptions inside ``allowed``
    anything: bool = False

    def permits(self, target: str) -> bool:
        target = normalize(target)
        if self.anything or within(target, DATA):
            return True
        if target == FACE:
            return FACE in self.allowed
        if any(within(target, f) for f in self.forbidden):
            return False
        return any(within(target, a) for a in self.allowed if a != FACE)


ANYTHING = Rule(allowed=("anything",), anything=True)
CONSUMERS = ("ml2sc.ir", "ml2sc.frontends", "ml2sc.compiler", "ml2sc.chain", "ml2sc.backends.base",
             "ml2sc.backends.common", FACE)


def rule_for(rel: Path) -> Rule:
    """The allow-list of one source file, by its path relative to the repository root."""
    top = rel.parts[0]
    if top == "ir":
        return Rule(("ml2sc.ir",))
    if top == "frontends":
        return Rule(("ml2sc.frontends", "ml2sc.ir.errors"))
    if top == "backends":
        core = ("ml2sc.ir", "ml2sc.backends.base", "ml2sc.backends.common")
        if len(rel.parts) > 2 and rel.parts[1] != "common":  # backends/<name>/...
            return Rule((*core, f"ml2sc.backends.{rel.parts[1]}"))
        return Rule(core)  # backends/__init__.py, base.py, common/
    if top == "chain":
        return Rule(("ml2sc.ir", "ml2sc.chain", "ml2sc.backends.common.naming"))
    if top == "compiler":
        if rel == Path("compiler/cli.py"):
            return ANYTHING  # the face: it wires every command
        return Rule(("ml2sc.ir", "ml2sc.backends", "ml2sc.chain", "ml2sc.compiler", "ml2sc.frontends"))
    if top == "tools":
        return Rule((*CONSUMERS, "ml2sc.tools"))
    if top == "market":
        return Rule((*CONSUMERS, "ml2sc.market"))
    if top == "ml2sc":
        return Rule(("ml2sc.compiler", "ml2sc.frontends"))
    raise AssertionError(f"{rel}: no layering rule for the folder '{top}'; add one to {Path(__file__).name}")


def source_files() -> list[Path]:
    files = [p for folder in PACKAGES for p in sorted((ROOT / folder).rglob("*.py"))]
    return [p for p in files if "__pycache__" not in p.parts]


def package_of(rel: Path) -> str:
    """The package a source file belongs to (for an ``__init__.py``: the package it defines)."""
    return ".".join([PACKAGES[rel.parts[0]], *rel.parts[1:-1]])


def violations(rel: Path, source: str) -> list[str]:
    rule = rule_for(rel)
    return [f"{rel}:{i.line}: imports {i.target} (allowed here: {', '.join(rule.allowed)})"
            for i in imports_of(source, package_of(rel)) if not rule.permits(i.target)]


def test_every_source_folder_is_scanned() -> None:
    files = source_files()
    assert len(files) > 50
    for folder in PACKAGES:
        assert any(p.relative_to(ROOT).parts[0] == folder for p in files), folder


def test_imports_follow_the_dependency_direction() -> None:
    problems = []
    for path in source_files():
        rel = path.relative_to(ROOT)
        problems += violations(rel, path.read_text())
    assert not problems, "forbidden imports:\n" + "\n".join(problems)


# --- the checker itself

@pytest.mark.parametrize("rel,source,bad", [
    ("chain/rpc.py", "def f():\n    from ml2sc.compiler.solc import node_modules_dir\n", "ml2sc.compiler.solc"),
    ("compiler/driver.py", "import ml2sc.tools.validate\n", "ml2sc.tools.validate"),
    ("compiler/driver.py", "from ml2sc.market import challenge\n", "ml2sc.market.challenge"),
    ("compiler/driver.py", "from ml2sc.compiler.cli import main\n", "ml2sc.compiler.cli"),
    ("market/cli.py", "from ml2sc.backends.prbmath.fixed import to_fixed\n", "ml2sc.backends.prbmath"),
    ("market/cli.py", "from ml2sc.tools import bench\n", "ml2sc.tools.bench"),
    ("tools/bench.py", "from ml2sc.compiler.cli import main\n", "ml2sc.compiler.cli"),
    ("backends/int8/emitter.py", "from ml2sc.backends.prbmath import layout\n", "ml2sc.backends.prbmath"),
    ("backends/int8/emitter.py", "from ..prbmath import layout\n", "ml2sc.backends.prbmath"),
    ("backends/common/io.py", "from ml2sc.backends.int8 import numerics\n", "ml2sc.backends.int8"),
    ("ir/ops.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ml2sc.backends import base\n",
     "ml2sc.backends.base"),
    ("frontends/detect.py", "from ml2sc.ir.module import Module\n", "ml2sc.ir.module"),
    ("backends/prbmath/emitter.py", "import ml2sc\n", "ml2sc"),
    ("frontends/__init__.py", "_LAZY = {'import_onnx': 'ml2sc.ir.onnx.importer'}\n", "ml2sc.ir.onnx.importer"),
    ("chain/base.py", "import_module('ml2sc.compiler.solc')\n", "ml2sc.compiler.solc"),
])
def test_the_checker_names_file_and_import(rel: str, source: str, bad: str) -> None:
    [problem] = violations(Path(rel), source)
    assert problem.startswith(f"{rel}:") and f"imports {bad}" in problem


@pytest.mark.parametrize("rel,source", [
    ("chain/rpc.py", "from ml2sc.chain.base import Reverted\nfrom ml2sc.backends.common.naming import selector\n"),
    ("backends/int8/emitter.py", "from . import numerics\nfrom ml2sc.backends.common.fixed import UNIT\n"),
    ("tools/bench.py", "import ml2sc\nfrom ml2sc.compiler.driver import decode_outputs\n"),
    ("compiler/cli.py", "from ml2sc.market.cli import register\nfrom ml2sc.tools.bench import run_bench\n"),
])
def test_the_checker_allows_the_permitted_edges(rel: str, source: str) -> None:
    assert violations(Path(rel), source) == []
