"""Plugins come through entry points exactly like the built-ins; proven with a real package."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ml2sc.compiler.passes.manager import PassManager
from ml2sc.compiler.registry import PASS_GROUP, Registry, RegistryError
from ml2sc.ir.module import Module

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plugin_pass"


def install_metadata(site: Path) -> None:
    """What ``pip install examples/plugin_pass`` leaves behind for discovery: a dist-info with entry points."""
    info = site / "ml2sc_prune-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ml2sc-prune\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[{PASS_GROUP}]\nprune-weights = ml2sc_prune:PruneWeights\n")


@pytest.fixture
def plugin_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    install_metadata(tmp_path)
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_third_party_pass_is_discovered_and_runs(plugin_path: Path, mlp: Module) -> None:
    registry = Registry(PASS_GROUP, "pass")
    assert {"prune-weights", "canonicalize", "quantize-fixed"} <= set(registry.names())
    import ml2sc.compiler.passes.manager as manager

    old = manager.pass_registry
    manager.pass_registry = registry
    try:
        out = PassManager.from_pipeline("prune-weights{threshold=0.3},quantize-fixed").run(mlp)
    finally:
        manager.pass_registry = old
    pruned = [v for v in out.constant("w0").values if v == 0]
    assert pruned and len(pruned) == sum(abs(v) < 0.3 for v in mlp.constant("w0").values)


def test_cli_lists_the_plugin(plugin_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(plugin_path), str(EXAMPLE)]))
    out = subprocess.run([sys.executable, "-m", "ml2sc.compiler.cli", "passes"], capture_output=True, text=True, env=env, check=True)
    assert "prune-weights" in out.stdout and "Zero every float gemm weight" in out.stdout


def test_duplicate_names_are_an_error() -> None:
    registry = Registry(PASS_GROUP, "pass")

    class Other:
        pass

    with pytest.raises(RegistryError, match="'canonicalize' is registered twice"):
        registry.register("canonicalize", Other)
