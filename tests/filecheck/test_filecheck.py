"""Golden textual-IR tests: every ``NAME.mlir`` here runs through ``ml2sc opt``.

A case is ``NAME.mlir``, whose first line is ``// RUN: opt`` (the round trip) or
``// RUN: opt -p PIPELINE``, followed by the input IR, and ``NAME.expected`` beside
it: the printed module, or the one-line error for invalid input. Refresh the
goldens with ``pytest tests/filecheck --update-golden``, then read the diff.
Relative paths in a pipeline (``calibration=data/calib.npy``) are relative to
this folder, as the tests run from here.
"""

from __future__ import annotations

import difflib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ml2sc.compiler.opt import run_opt
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.parser import parse_module
from ml2sc.ir.printer import print_module

HERE = Path(__file__).parent
CASES = sorted(HERE.glob("*.mlir"))
RUN = re.compile(r"// RUN: opt(?:\s+-p\s+(?P<pipeline>\S.*?))?\s*")


def pipeline_of(case: Path) -> str:
    """The ``-p`` argument of the case's RUN line ('' for a round trip)."""
    first = case.read_text(encoding="utf-8").partition("\n")[0]
    m = RUN.fullmatch(first)
    assert m, f"{case.name}: the first line must be '// RUN: opt [-p PIPELINE]', got {first!r}"
    return m.group("pipeline") or ""


def expected_of(case: Path) -> Path:
    return case.with_suffix(".expected")


def actual(case: Path) -> str:
    """What ``ml2sc opt`` prints for the case: the module, or the error line + newline."""
    try:
        return run_opt(case.read_text(encoding="utf-8"), pipeline_of(case), case.name)
    except Ml2scError as e:
        return f"{e}\n"


def input_is_valid(case: Path) -> bool:
    """Invalid input is what the golden reports at a line and column of the case."""
    return not re.match(rf"{re.escape(case.name)}:\d+:\d+: ", expected_of(case).read_text(encoding="utf-8"))


def unified_diff(expected: str, got: str, expected_name: str, got_name: str) -> str:
    return "".join(difflib.unified_diff(expected.splitlines(keepends=True), got.splitlines(keepends=True),
                                        expected_name, got_name))


@pytest.fixture
def in_here(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(HERE)
    return HERE


def test_the_folder_has_cases(update_golden: bool) -> None:
    assert len(CASES) >= 16, f"expected golden cases in {HERE}, found {len(CASES)}"
    orphans = [p.name for p in HERE.glob("*.expected") if not p.with_suffix(".mlir").is_file()]
    assert not orphans, f"goldens without a case: {orphans}"
    missing = [c.name for c in CASES if not expected_of(c).is_file()]
    assert update_golden or not missing, f"no .expected for {missing} (create with --update-golden)"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_golden(case: Path, in_here: Path, update_golden: bool) -> None:
    got = actual(case)
    golden = expected_of(case)
    if update_golden:
        golden.write_text(got, encoding="utf-8")
        return
    expected = golden.read_text(encoding="utf-8")
    if got != expected:
        pytest.fail(f"{case.name} differs from {golden.name} (refresh with --update-golden):\n"
                    + unified_diff(expected, got, golden.name, f"ml2sc opt {case.name}"), pytrace=False)


def roundtrip_texts() -> list[object]:
    """Every valid input and every module golden, as pytest params (name, text)."""
    files = [c for c in CASES if expected_of(c).is_file() and input_is_valid(c)]
    files += [p for p in sorted(HERE.glob("*.expected")) if p.read_text(encoding="utf-8").startswith("module ")]
    return [pytest.param(p.name, p.read_text(encoding="utf-8"), id=p.name) for p in files]


@pytest.mark.parametrize(("name", "text"), roundtrip_texts())
def test_roundtrip(name: str, text: str) -> None:
    module = parse_module(text, filename=name)
    printed = print_module(module)
    assert parse_module(printed, filename=name) == module
    assert print_module(parse_module(printed, filename=name)) == printed
    assert run_opt(printed, "", name) == printed


def ml2sc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ml2sc.compiler.cli", *args], capture_output=True, text=True,
                          cwd=HERE)


def test_cli_prints_the_golden() -> None:
    case = HERE / "pipeline_prbmath.mlir"
    proc = ml2sc("opt", case.name, "-p", pipeline_of(case))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == expected_of(case).read_text(encoding="utf-8")


def test_cli_error_is_one_line() -> None:
    case = HERE / "invalid_gemm_weight_shape.mlir"
    proc = ml2sc("opt", case.name)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [f"ml2sc: error: {expected_of(case).read_text(encoding='utf-8').strip()}"]


def test_cli_stdin_output_file_and_print_after_all(tmp_path: Path) -> None:
    case = HERE / "fuse_affine_into_gemm.mlir"
    out = tmp_path / "out.mlir"
    proc = subprocess.run([sys.executable, "-m", "ml2sc.compiler.cli", "opt", "-", "-p", "canonicalize,fuse-affine",
                           "--print-ir-after-all", "-o", str(out)],
                          input=case.read_text(encoding="utf-8"), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text(encoding="utf-8") == expected_of(case).read_text(encoding="utf-8")
    assert proc.stdout == ""
    banners = [line for line in proc.stderr.splitlines() if line.startswith("// -----// IR after")]
    assert banners == ["// -----// IR after canonicalize //----- //", "// -----// IR after fuse-affine //----- //"]
