"""examples/market_demo.py plays a whole challenge (slow: trains two models)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

DEMO = Path(__file__).parents[2] / "examples" / "market_demo.py"


def _demo():  # noqa: ANN202 - the example module
    spec = importlib.util.spec_from_file_location("market_demo", DEMO)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.mark.slow
@pytest.mark.evm
@pytest.mark.parametrize("chain", ["embedded", "anvil"])
def test_market_demo_runs_end_to_end(chain: str, capsys: pytest.CaptureFixture) -> None:
    assert _demo().main(["--chain", chain]) == 0
    out = capsys.readouterr().out
    assert "winner: bob" in out and "full challenge" in out
