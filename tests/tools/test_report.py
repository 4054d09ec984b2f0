"""``ml2sc validate --report``: the page is built from a real run and rendered by headless Chromium.

Chromium is a system package (``apt-get install chromium``): without it these tests skip on a
developer's machine, and fail on CI, which installs it and sets ML2SC_REQUIRE_CHROMIUM=1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import onnx
import pytest

from ml2sc.tools import report_data as rd
from ml2sc.tools.report import render
from ml2sc.tools.validate import OutputCheck, ValidationReport
from tests.e2e import onnx_models as zoo

INT8_DATA = "canonicalize,fold-batchnorm,fuse-affine,quantize-int8,place-weights{weights=data}"
CHROMIUM = "/usr/bin/chromium"  # Debian's package
ORANGE, BLUE = (0xD0, 0x8A, 0x1E), (0x2F, 0x6F, 0xB0)  # report_svg.ESTIMATED, MEASURED bars


def chromium() -> str:
    """The browser, or skip (a laptop without it) / fail (CI, where it must be there)."""
    path = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if path:
        return path
    if os.environ.get("ML2SC_REQUIRE_CHROMIUM"):
        pytest.fail("ML2SC_REQUIRE_CHROMIUM is set but chromium is not installed (apt-get install chromium)")
    pytest.skip("chromium is not installed (apt-get install chromium); CI installs it and sets ML2SC_REQUIRE_CHROMIUM=1")


def run_chromium(page: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp / 'chromium-profile'}", *args, page.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


class Dom(HTMLParser):
    """The charts and the visible text of a dumped DOM."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.charts: dict[str, list[dict[str, int]]] = {}
        self.text: list[str] = []
        self._chart: dict[str, int] | None = None
        self._skip = 0
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg":
            self._chart = {}
            self.charts.setdefault(a.get("data-chart") or "?", []).append(self._chart)
        elif self._chart is not None and tag in ("rect", "text"):
            key = f"{tag}.{a.get('class') or ''}"
            self._chart[key] = self._chart.get(key, 0) + 1
        self._skip += tag in ("style", "title")

    def handle_endtag(self, tag: str) -> None:
        self._chart = None if tag == "svg" else self._chart
        self._skip -= tag in ("style", "title")

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.text.append(data.strip())


def ml2sc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ml2sc.compiler.cli", *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def iris_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sklearn.neural_network import MLPClassifier

    x, y = zoo.iris()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: accuracy is not what is tested here
        clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=400, random_state=0).fit(x, y)
    folder = tmp_path_factory.mktemp("report")
    onnx.save_model(zoo.sklearn_onnx(clf, x), str(folder / "iris.onnx"))
    np.save(folder / "x.npy", x[::5])  # 30 rows, every class
    return folder


@pytest.mark.evm
@pytest.mark.parametrize("backend", ["prbmath", pytest.param("int8", marks=pytest.mark.slow)])  # int8: ~20 s more
def test_report_renders_in_chromium(iris_model: Path, tmp_path: Path, backend: str) -> None:
    extra = ["--pipeline", INT8_DATA] if backend == "int8" else []  # weights in a data contract: a 2-contract plan
    report = tmp_path / "report.html"
    proc = ml2sc("validate", "iris.onnx", "--data", "x.npy", "--backend", backend, *extra, "--json",
                 "--report", str(report), cwd=iris_model)
    assert proc.returncode == 0, proc.stderr
    measured = json.loads(proc.stdout)["gas"]  # the same run's figures, as validate prints them
    html = report.read_text()
    for external in ("http:", "https:", "<script", "<link", "src=", "@import", "url("):  # self-contained
        assert external not in html, external

    dom = Dom(run_chromium(report, tmp_path, "--dump-dom").stdout)
    text = " ".join(dom.text)
    charts = dom.charts
    assert {"error-histogram", "confusion", "gas-per-contract", "gas-per-layer-deploy", "gas-per-layer-inference"} <= set(charts)
    assert charts["confusion"][0]["rect.cell"] == 9  # 3 classes
    assert charts["error-histogram"][0]["rect.bin"] >= 2
    contracts = 2 if backend == "int8" else 1
    assert charts["gas-per-contract"][0]["rect."] == contracts
    assert charts["gas-per-layer-inference"][0]["rect."] >= 3  # two layers and the contract-wide rest
    for figure in (f"{measured['deploy_gas']:,}", f"{measured['runtime_bytes']:,}", "30/30", "PASS",
                   "measured", "estimated", "layer 1", "layer 2", "contract-wide", "Deployment plan",
                   "model contract", f"ml2sc validate iris.onnx --data x.npy --backend {backend}", str(iris_model)):
        assert figure in text, figure
    if backend == "int8":
        assert "data contract" in text and f"{measured['deploy_gas_per_contract'][0]['gas']:,}" in text

    png = tmp_path / "report.png"
    run_chromium(report, tmp_path, f"--screenshot={png}", "--window-size=1280,2400")
    from PIL import Image

    with Image.open(png) as im:
        assert im.size == (1280, 2400)
        colors = {c: n for n, c in im.convert("RGB").getcolors(1 << 20)}
    assert colors.get(ORANGE, 0) > 2000 and colors.get(BLUE, 0) > 2000  # the bars were painted, not just parsed


def test_report_path_checked_before_the_run(iris_model: Path) -> None:
    proc = ml2sc("validate", "iris.onnx", "--data", "x.npy", "--report", "no/such/dir/r.html", cwd=iris_model)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "--report" in proc.stderr and "no/such/dir" in proc.stderr
    proc = ml2sc("validate", "iris.onnx", "--data", "x.npy", "--report", ".", cwd=iris_model)
    assert proc.returncode == 2 and "is a directory" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def page(decisions: rd.Decisions | None, estimate: rd.GasEstimate, same: int = 4, gas: dict | None = None) -> str:
    v = ValidationReport(4, same, "float64", [OutputCheck("y", "values", 3e-17, 1e-16)], gas or {})
    v.values["y"] = (np.array([[1.0], [2.0], [3.0], [4.0]]), np.array([[1.0], [2.0], [3.0 + 3e-17], [4.0]]))
    data = rd.ReportData(
        contract="Net<b>", backend="prbmath", command="ml2sc validate m.onnx --data x.npy --report r.html", cwd="/w",
        chain="embedded", validation=v, transactions=[rd.Transaction("model contract", "Net", 1_000, 300_000)],
        estimate=estimate, decisions=decisions, inference_gas=[25_000] * 4, atol=1e-6, rtol=1e-6, min_agreement=0.99,
        quantized=False, decisions_note="a regressor: its outputs are values, not decisions", version="ml2sc 0", generated="t")
    return render(data)


def test_render_regressor_and_no_cost_model() -> None:
    html = page(None, rd.GasEstimate(unavailable="backend 'x' has no gas model"))
    assert "regressor" in html and "No confusion matrix" in html and 'data-chart="confusion"' not in html
    assert "No per-layer split: backend &#x27;x&#x27; has no gas model" in html
    assert "Net&lt;b&gt;" in html and "Net<b>" not in html  # names are escaped
    assert 'data-chart="error-histogram"' in html and "300,000" in html and "PASS" in html


def test_render_failed_validation() -> None:
    html = page(None, rd.GasEstimate(), same=3)  # one row where the EVM and the simulator differ
    assert "FAIL" in html and "PASS" not in html and "3/4" in html and '<span class="no">NO</span>' in html


def test_render_rows_over_several_transactions() -> None:  # int8 under --tx-gas-cap
    html = page(None, rd.GasEstimate(), gas={"inference_transactions_per_row": 3, "inference_gas_per_row_mean": 90_000.4})
    assert "inference transactions per row</td><td class=\"n\">3<" in html and "90,000" in html


def test_render_confusion_counts_changed_decisions() -> None:
    html = page(rd.Decisions("y", "'y' ≥ 0.5", ["0", "1"], [[2, 1], [0, 1]]), rd.GasEstimate())
    assert "3/4 agree" in html and "75.00%" in html  # the chart title and the summary card
    assert html.count('class="cell"') == 4 and "No confusion matrix" not in html


def test_rpc_url_is_not_quoted() -> None:
    """Node URLs often carry an API key; the page quotes the command, and pages get shared."""
    from ml2sc.compiler.cli import _without_rpc_url

    argv = ["validate", "m.onnx", "--rpc-url", "https://node/KEY", "--data", "x.npy", "--rpc-url=https://n/KEY2"]
    assert _without_rpc_url(argv) == ["validate", "m.onnx", "--rpc-url", "<RPC_URL>", "--data", "x.npy",
                                      "--rpc-url=<RPC_URL>"]


@pytest.mark.parametrize("backend", ["prbmath", "int8"])
def test_layer_shares_sum_to_the_estimate(iris_model: Path, backend: str) -> None:
    """The per-layer split adds up to the cost model's whole-contract estimate (no solc, no chain)."""
    import ml2sc

    x = np.load(iris_model / "x.npy")
    est = rd.gas_estimate(ml2sc.compile(str(iris_model / "iris.onnx"), backend=backend, calibration=x), x)
    assert est.unavailable is None
    named = [c for c in est.layers if c.label.startswith("layer")]
    assert [c.label for c in named] == ["layer 1", "layer 2"] and est.layers[-1].label == "contract-wide"
    assert all(c.deploy > 0 and c.inference_exec > 0 for c in named)  # type: ignore[operator]
    assert abs(sum(c.deploy for c in est.layers) - est.deploy) <= 1  # type: ignore[misc]
    assert abs(sum(c.inference_exec for c in est.layers) - est.inference_exec) <= 1  # type: ignore[misc]
