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
