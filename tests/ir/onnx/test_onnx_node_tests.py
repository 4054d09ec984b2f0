"""onnx's own backend node tests for the MLP op families, through import and the float reference.

The cases come from the onnx package (``onnx.backend.test.case.node``: the
generators behind ``onnx/backend/test/data/node``, built in memory since the
wheel ships no data files). The importer compiles models with one data
input, so a case's first input is the data and every further input is bound
as an initializer with its test value (the "one operand is a constant" form
an exported MLP has). Each case must either import and match the expected
outputs or be refused with an ``Ml2scError``: never a wrong answer, never
another exception. The counts are printed and written to
``node_test_counts.json`` beside the test's tmp dir.
"""

from __future__ import annotations

import json
import re
import warnings
from functools import cache

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.onnx import import_onnx
from ml2sc.ir.reference import run_reference

FAMILIES = re.compile(r"^test_(gemm|relu|sigmoid|tanh|softmax|leakyrelu|hardsigmoid|flatten|batchnorm|dropout|identity"
                      r"|clip|argmax|add|sub|mul|div|matmul|reshape|cast)", re.IGNORECASE)
MIN_CORRECT = 45


@cache
def cases() -> tuple:
    from onnx.backend.test.case import node

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return tuple(c for c in node.collect_testcases(None) if FAMILIES.match(c.name))


def _with_constants(model: onnx.ModelProto, inputs: list[np.ndarray]) -> onnx.ModelProto:
    """The model with graph inputs 1.. turned into initializers holding the test's values."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    graph = m.graph
    for info, value in zip(list(graph.input)[1:], inputs[1:], strict=False):
        graph.initializer.append(numpy_helper.from_array(np.asarray(value), info.name))
    keep = list(graph.input)[:1]
    del graph.input[:]
    graph.input.extend(keep)
    return m


def _rows(array: np.ndarray, batched: bool) -> np.ndarray:
    a = np.asarray(array)
    return a.reshape(a.shape[0], -1) if batched and a.ndim >= 1 else a.reshape(1, -1)


def run_case(case) -> tuple[str, str]:
    """('correct' | 'refused' | 'wrong' | 'crashed', detail) for one node test case."""
    inputs, expected = case.data_sets[0]
    if not inputs or not all(isinstance(v, np.ndarray | np.generic) for v in (*inputs, *expected)):
        return "refused", "non-tensor inputs or outputs (sequences, optionals): not importable by design"
    try:
        module = import_onnx(_with_constants(case.model, list(inputs)))
    except Ml2scError as e:
        return "refused", str(e)
    except Exception as e:  # noqa: BLE001 - a crash is what this test counts
        return "crashed", f"import: {type(e).__name__}: {e}"
    x = np.asarray(inputs[0])
    batched = x.ndim >= 2
    try:
        got = run_reference(module, _rows(x, batched).astype(np.float64))
    except Exception as e:  # noqa: BLE001
        return "crashed", f"reference: {type(e).__name__}: {e}"
    for name, want in zip((o.name for o in case.model.graph.output), expected, strict=True):
        y = _rows(got[name], True)
        w = _rows(want, batched).astype(np.float64)
        if y.shape != w.shape or not np.allclose(y, w, rtol=1e-4, atol=1e-5):
            return "wrong", f"output '{name}': got {y.ravel()[:6]} (shape {y.shape}), expected {w.ravel()[:6]} (shape {w.shape})"
    return "correct", ""


@cache
def results() -> dict[str, tuple[str, str]]:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return {c.name: run_case(c) for c in cases()}


def counts() -> dict[str, int]:
    tally = dict.fromkeys(("correct", "refused", "wrong", "crashed"), 0)
    for outcome, _ in results().values():
        tally[outcome] += 1
    return tally


@pytest.mark.parametrize("name", [c.name for c in cases()])
def test_node_case_is_correct_or_refused(name):
    outcome, detail = results()[name]
    assert outcome in ("correct", "refused"), f"{name}: {outcome}: {detail}"
    if outcome == "refused":
        assert "\n" not in detail


def test_node_case_counts(tmp_path_factory):
    tally = counts()
    print(f"\nonnx node tests: {tally}")
    (tmp_path_factory.getbasetemp() / "node_test_counts.json").write_text(json.dumps(tally))
    assert tally["wrong"] == 0 and tally["crashed"] == 0
    assert tally["correct"] >= MIN_CORRECT, tally


if __name__ == "__main__":
    for case_name, (outcome, detail) in results().items():
        print(f"{outcome:8} {case_name}  {detail[:200]}")
    print(counts())
