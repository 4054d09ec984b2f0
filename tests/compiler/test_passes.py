"""Pass manager and built-in passes on small IR snippets: each pass keeps the float meaning."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import pytest

from ml2sc.compiler.passes.manager import PassManager, PipelineError, parse_pipeline
from ml2sc.compiler.registry import passes as registry
from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Module, Output, Value
from ml2sc.ir.passes import ModulePass
from ml2sc.ir.reference import run_reference
from ml2sc.ir.types import FixedType, FloatType, vector
from tests.conftest import f32_constant, mlp_module

X = np.random.default_rng(1).normal(size=(16, 6))


def same_meaning(a: Module, b: Module) -> None:
    ra, rb = run_reference(a, X), run_reference(b, X)
    for k in ra:
        np.testing.assert_allclose(ra[k], rb[k], rtol=1e-12, atol=1e-12)


def test_pipeline_parses_names_and_options() -> None:
    ps = parse_pipeline("canonicalize, quantize-fixed{decimals=12, exact_weights=false}")
    assert [p.name for p in ps] == ["canonicalize", "quantize-fixed"]
    assert ps[1].decimals == 12 and ps[1].exact_weights is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no-such-pass", "unknown pass 'no-such-pass'; available: canonicalize"),
        ("quantize-fixed{bits=3}", "pass 'quantize-fixed' has no option 'bits'"),
        ("quantize-fixed{decimals=x}", "option decimals='x' is not a int"),
        ("canonicalize,,", "cannot parse pipeline at column"),
    ],
)
def test_pipeline_errors_are_one_line(text: str, message: str) -> None:
    with pytest.raises(Ml2scError) as e:
        parse_pipeline(text)
    assert message in str(e.value) and "\n" not in str(e.value)


def with_batchnorm(m: Module, standalone: bool) -> Module:
    """Insert batch_norm after the first gemm (or on the input when standalone)."""
    n = 4 if not standalone else 6
    p = "in" if standalone else "h"
    consts = [f32_constant(f"bn{p}_{k}", v) for k, v in
              (("g", np.linspace(0.5, 2, n)), ("b", np.linspace(-1, 1, n)), ("m", np.linspace(-0.3, 0.3, n)), ("v", np.linspace(0.1, 3, n)))]
    first_gemm = next(op for op in m.ops if isinstance(op, ops.Gemm))
    src = m.inputs[0] if standalone else first_gemm.result
    bn = Value(f"bn{p}", vector(n))
    bn_op = ops.BatchNorm(bn, src, f"bn{p}_g", f"bn{p}_b", f"bn{p}_m", f"bn{p}_v", epsilon=1e-5)
    at = 0 if standalone else m.ops.index(first_gemm) + 1
    rest = [replace(op, input=bn) if op.operands[0] == src else op for op in m.ops]
    return replace(m, ops=tuple(rest[:at] + [bn_op] + rest[at:]), constants=m.constants + tuple(consts))


@pytest.mark.parametrize("standalone", [False, True])
def test_fold_batchnorm_keeps_meaning(mlp: Module, standalone: bool) -> None:
    before = with_batchnorm(mlp, standalone)
    after = PassManager.from_pipeline("fold-batchnorm").run(before)
    assert not any(isinstance(op, ops.BatchNorm) for op in after.ops)
    kinds = [op.mnemonic for op in after.ops]
    assert kinds[0] == ("affine" if standalone else "gemm")
    same_meaning(before, after)


def test_fuse_affine_folds_both_directions(mlp: Module) -> None:
    before = with_batchnorm(with_batchnorm(mlp, standalone=True), standalone=False)
    after = PassManager.from_pipeline("fold-batchnorm,fuse-affine").run(before)
    assert [op.mnemonic for op in after.ops] == ["gemm", "relu", "gemm", "softmax"]
    same_meaning(before, after)


def test_canonicalize_drops_identity_and_dead_code(mlp: Module) -> None:
    x = mlp.inputs[0]
    ident = ops.Affine(Value("id", x.type), x, "one", "zero")
    dead = ops.Tanh(Value("dead", x.type), x)
    clip = ops.Clip(Value("c", vector(4)), mlp.ops[0].result, 0.0, float("inf"))
    body = [ident, dead, replace(mlp.ops[0], input=ident.result), clip, replace(mlp.ops[2], input=clip.result), mlp.ops[3]]
    m = replace(mlp, ops=tuple(body), constants=mlp.constants + (f32_constant("one", np.ones(6)), f32_constant("zero", np.zeros(6))))
    out = PassManager.from_pipeline("canonicalize").run(m)
    assert [op.mnemonic for op in out.ops] == ["gemm", "relu", "gemm", "softmax"]
    assert {c.name for c in out.constants} == {"w0", "b0", "w1", "b1"}
    same_meaning(m, out)


def test_quantize_fixed_types_and_weight_forms() -> None:
    m = mlp_module([5, 3, 2], ["tanh", ""])
    q = PassManager.from_pipeline("quantize-fixed").run(m)
    assert all(isinstance(op.result.type.element, FixedType) for op in q.ops)
    assert isinstance(q.constant("w0").type.element, FloatType), "float32 weights stay exact when smaller"
    assert q.constant("b0").type.element == FixedType(18)
    rounded = PassManager.from_pipeline("quantize-fixed{exact_weights=false}").run(m)
    w = rounded.constant("w0")
    assert w.type.element == FixedType(18) and w.values[0] == round(__import__("fractions").Fraction(m.constant("w0").values[0]) * 10**18)


@dataclass(frozen=True)
class BreakTypes(ModulePass):
    """A deliberately broken pass: retypes the output so the verifier must object."""

    name: ClassVar[str] = "break-types"

    def apply(self, module: Module) -> Module:
        out = module.outputs[0]
        return replace(module, outputs=(Output(out.name, Value(out.value.name, vector(99))),))


def test_manager_names_the_pass_that_broke_the_ir(mlp: Module) -> None:
    registry.register("break-types", BreakTypes)
    try:
        with pytest.raises(PipelineError, match="IR is invalid after pass 'break-types'"):
            PassManager.from_pipeline("canonicalize,break-types").run(mlp)
    finally:
        registry.unregister("break-types")
