"""Golden Solidity: the exact contract each backend writes for a few small models.

A case is a hand-written float IR file ``models/MODEL.mlir`` compiled by one backend's own
pipeline (with a pass option changed, for some cases); its golden is ``BACKEND/CASE.sol``,
compared character for character. Refresh them with ``pytest tests/golden --update-golden``,
then read the diff. A second test per backend compiles every golden of that backend in one
solc run and fails on any warning.
"""

from __future__ import annotations

import dataclasses
import difflib
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from ml2sc.compiler.driver import get_backend
from ml2sc.compiler.passes.manager import PassManager
from ml2sc.compiler.solc import compile_solidity
from ml2sc.ir.module import Module
from ml2sc.ir.parser import parse_module

HERE = Path(__file__).parent
MODELS = HERE / "models"
BACKENDS = ("prbmath", "int8", "ml2sc-baseline")
CALIBRATION_SEED = 0


class Case(NamedTuple):
    backend: str
    model: str
    variant: str = ""  # a suffix of the golden's name
    options: tuple[tuple[str, str], ...] = ()  # (pass, its options) replacing the pass in the pipeline

    @property
    def golden(self) -> Path:
        return HERE / self.backend / f"{self.model}{'-' + self.variant if self.variant else ''}.sol"


CASES = [
    *(Case("prbmath", m) for m in ("mlp_relu_softmax", "regressor_tanh_sigmoid", "linear_labels",
                                    "leaky_hard_clip")),
    *(Case("int8", m, "inline", (("place-weights", "weights=inline"),))
      for m in ("mlp_relu_softmax", "regressor_tanh_sigmoid", "linear_labels", "leaky_hard_clip")),
    Case("int8", "mlp_relu_softmax", "data", (("place-weights", "weights=data"),)),
    *(Case("int8", m, "dense", (("place-weights", "layout=dense"),)) for m in ("mlp_relu_softmax", "linear_labels")),
    # ml2sc-baseline has no argmax, label_map, leaky_relu, hard_sigmoid nor clip
    *(Case("ml2sc-baseline", m) for m in ("mlp_relu_softmax", "regressor_tanh_sigmoid")),
]


def load_model(name: str) -> Module:
    path = MODELS / f"{name}.mlir"
    return parse_module(path.read_text(encoding="utf-8"), filename=path.name)


def calibration(module: Module) -> np.ndarray:
    rng = np.random.default_rng(CALIBRATION_SEED)
    return rng.normal(0, 1, (64, module.inputs[0].type.size)).astype(np.float32)


def pipeline_of(case: Case) -> str:
    pipeline = get_backend(case.backend).pipeline
    for name, options in case.options:
        assert name in pipeline, f"{case.backend}'s pipeline has no pass '{name}'"
        pipeline = pipeline.replace(name, f"{name}{{{options}}}")
    return pipeline


def emit(case: Case) -> str:
    module = load_model(case.model)
    manager = PassManager.from_pipeline(pipeline_of(case))
    x = calibration(module)
    manager.passes = [dataclasses.replace(p, calibration=x) if hasattr(p, "calibration") else p
                      for p in manager.passes]
    return get_backend(case.backend).emit(manager.run(module)).solidity


def test_the_folder_has_goldens(update_golden: bool) -> None:
    found = sorted(HERE.glob("*/*.sol"))
    assert update_golden or len(found) >= 8, f"expected golden .sol files under {HERE}, found {len(found)}"
    orphans = sorted(set(found) - {c.golden for c in CASES})
    assert not orphans, f"goldens without a case: {[str(p.relative_to(HERE)) for p in orphans]}"
    assert {m.stem for m in MODELS.glob("*.mlir")} == {c.model for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=lambda c: str(c.golden.relative_to(HERE)))
def test_golden(case: Case, update_golden: bool) -> None:
    got = emit(case)
    if update_golden:
        case.golden.parent.mkdir(exist_ok=True)
        case.golden.write_text(got, encoding="utf-8")
        return
    assert case.golden.is_file(), f"no {case.golden.name} (create it with --update-golden)"
    expected = case.golden.read_text(encoding="utf-8")
    if got != expected:
        name = str(case.golden.relative_to(HERE))
        diff = difflib.unified_diff(expected.splitlines(keepends=True), got.splitlines(keepends=True),
                                    name, f"{case.backend} emits")
        pytest.fail(f"{name} differs (refresh with --update-golden):\n{''.join(diff)}", pytrace=False)


@pytest.mark.parametrize("backend", BACKENDS)
def test_goldens_compile_without_warnings(backend: str) -> None:
    files = sorted((HERE / backend).glob("*.sol"))
    assert files, f"no goldens for {backend} (create them with --update-golden)"
    result = compile_solidity({f"{backend}/{f.name}": f.read_text(encoding="utf-8") for f in files})
    assert not result.warnings, result.warnings[0]
