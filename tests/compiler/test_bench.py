"""The benchmark harness on one small model: measured rows, the markdown table and the plot."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml2sc.tools import bench
from ml2sc.tools import ml2sc_suite as suite


@pytest.mark.evm
def test_measure_render_and_plot(chain, tmp_path: Path) -> None:
    sizes = suite.ARCHITECTURES["MLP_2L_1n"]
    _, _, x_test, y_test = suite.breast_cancer()
    model = suite.train(sizes, epochs=1)
    case = bench.Case("MLP_2L_1n", suite.to_onnx(model), x_test, y_test, 0.5, 33, 31)
    result = bench.measure(case, "prbmath", chain, sample_rows=3)
    assert result.error is None
    assert result.deploy > 0 and result.inference > 21_000 and result.classify_all > 0
    assert result.rows == 50 and 0 <= result.chain_accuracy <= 1
    assert result.inference_exec / result.macs > 0

    broken = bench.measure(case, "no-such-backend", chain)
    assert broken.error and "no-such-backend" in broken.error

    text = bench.render_markdown([result, broken], ["prbmath", "no-such-backend"])
    assert "| MLP_2L_1n | 33 | prbmath |" in text
    assert "ML2SC (published)" in text and "not compiled" in text
    assert "below ML2SC's published total" in text
    bench.plot([result], ["prbmath"], tmp_path / "b.png")
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.evm
def test_large_models_section_on_a_small_model(tmp_path: Path) -> None:
    """The large-model harness end to end on a model small enough for the default run: both int8
    layouts measured on chain (EVM == simulator asserted inside), the table, the break-even line
    and the layout plot."""
    from ml2sc.tools import bench_large as large

    results = [large.measure_large((32, 16, 4), "int8", layout) for layout in ("swar", "dense", "inline")]
    swar, dense, inline = results
    assert swar.error is None and dense.error is None and inline.error is None
    assert inline.label == "int8 inline" and inline.exec_gas <= swar.exec_gas
    assert dense.contracts > swar.contracts  # dense always keeps its weights in a data contract
    assert dense.deploy < swar.deploy and dense.exec_gas > swar.exec_gas
    assert swar.transactions_per_row == 1 and swar.agreement == 1.0
    text = "\n".join(large.render_large(results))
    assert "| 32-16-4 | int8 | swar | 596 |" in text
    assert "`dense` costs less in total below" in text
    large.plot_large(results, tmp_path / "l.png")
    assert (tmp_path / "l.png").read_bytes()[:4] == b"\x89PNG"
