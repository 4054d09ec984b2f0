"""``--accept-loss`` through the CLI, and the calibration agreement in ``ml2sc validate``.

A raw-feature model (StandardScaler -> MLP on breast cancer, feature ranges 10^4 apart)
forced to one input scale (``quantize-int8{inputs=tensor}``) decides like the float model
on well under 95% of its calibration rows: ``ml2sc compile`` refuses it in one line giving
that agreement (exit 2, nothing written) and compiles it with ``--accept-loss``. With the
default pipeline (per-feature input scales) ``validate`` prints the agreement it measured.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from ml2sc.compiler import cli

TENSOR_INPUTS = "canonicalize,fold-batchnorm,fuse-affine,quantize-int8{inputs=tensor},place-weights"


@pytest.fixture(scope="module")
def raw_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The raw-feature pipeline as an .onnx file and its training rows as calibration .npy."""
    import onnx
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from ml2sc.frontends.dispatch import to_onnx

    x, y = load_breast_cancer(return_X_y=True)
    x_tr, _, y_tr, _ = train_test_split(x.astype(np.float32), y, test_size=0.25, random_state=0)
    pipe = Pipeline([("scale", StandardScaler()), ("mlp", MLPClassifier((16,), max_iter=2000, random_state=0))])
    pipe.fit(x_tr, y_tr)
    d = tmp_path_factory.mktemp("accept_loss")
    onnx.save_model(to_onnx(pipe, n_features=30, name="bc_raw"), str(d / "bc_raw.onnx"))
    np.save(d / "calib.npy", x_tr)
    return d / "bc_raw.onnx", d / "calib.npy"


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_low_agreement_refused_then_accepted(raw_model: tuple[Path, Path], tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    model, calib = raw_model
    args = ["compile", str(model), "-b", "int8", "--pipeline", TENSOR_INPUTS, "--calibration", str(calib)]
    refused = tmp_path / "refused"
    assert cli.main([*args, "-o", str(refused)]) == 2
    line = _one_line(capsys.readouterr().err)
    m = re.search(r"agrees with the float model on (\d+\.\d)% of the calibration rows, (\d+\.\d)% below the 95% "
                  r"threshold; pass --accept-loss", line)
    assert m, line
    assert float(m.group(1)) < 95 and abs(float(m.group(1)) + float(m.group(2)) - 95) < 0.15, line
    assert not refused.exists()  # refused before anything is written

    accepted = tmp_path / "accepted"
    assert cli.main([*args, "--accept-loss", "-o", str(accepted)]) == 0
    assert "below the 95% threshold, accepted by --accept-loss" in capsys.readouterr().err  # the loss is said
    assert (accepted / "BcRaw.sol").is_file() or any(accepted.glob("*.sol"))


def test_default_pipeline_is_not_refused(raw_model: tuple[Path, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture) -> None:
    """The same model and rows with per-feature input scales (inputs=auto): no refusal."""
    model, calib = raw_model
    assert cli.main(["compile", str(model), "-b", "int8", "--calibration", str(calib), "-o", str(tmp_path)]) == 0
    capsys.readouterr()


@pytest.mark.evm
def test_validate_reports_calibration_agreement(raw_model: tuple[Path, Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture) -> None:
    model, calib = raw_model
    rows = tmp_path / "rows.npy"
    np.save(rows, np.load(calib)[:40])
    assert cli.main(["validate", str(model), "-b", "int8", "--data", str(rows), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert 0.95 <= report["calibration_agreement"] <= 1.0, report
    assert cli.main(["validate", str(model), "-b", "int8", "--data", str(rows)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"calibration .*int8 vs .*\d+\.\d\d%", out), out  # the table's calibration row
