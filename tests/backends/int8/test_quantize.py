"""int8 quantization pass, IR ops and the SWAR lane proof (no EVM)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from ml2sc.backends.int8 import numerics as nx
from ml2sc.backends.int8.calibrate import quant_type, value_range
from ml2sc.backends.int8.simulator import run_row
from ml2sc.backends.int8.swar import auto_lanes, init_word, pack_group, prove_lanes, swar_dot
from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.parser import IRParseError, parse_module
from ml2sc.ir.printer import print_module
from ml2sc.ir.types import QuantType
from ml2sc.ir.verifier import verify
from tests.backends.int8.helpers import MODELS, build, quantize
from tests.conftest import mlp_module

X = np.random.default_rng(0).normal(0, 1, (32, 6)).astype(np.float32)


@pytest.mark.parametrize("name", ["relu-softmax", "tanh-sigmoid", "leaky-hard-sigmoid", "argmax-labels", "clip"])
def test_quantized_ir_round_trips_as_text(name: str) -> None:
    q = quantize(MODELS[name](), X)
    text = print_module(q)
    assert parse_module(text) == q
    assert print_module(parse_module(text)) == text
    assert "qgemm" in text and "requantize" in text and "quantize %x" in text


def test_verifier_rejects_bad_quantized_ops() -> None:
    q = quantize(MODELS["relu-softmax"](), X)
    text = print_module(q)
    bad = text.replace("qmin = -128, qmax = 127", "qmin = -300, qmax = 127", 1)
    with pytest.raises(IRParseError, match="clamp"):
        parse_module(bad)
    gemm = next(op for op in q.ops if isinstance(op, ops.QGemm))
    with pytest.raises(ops.VerifyError, match="lanes"):
        verify(replace(q, ops=tuple(replace(op, lanes=40) if op is gemm else op for op in q.ops)))
    with pytest.raises(ops.VerifyError, match="float or fixed-point"):  # sigmoid has no integer semantics
        sig = ops.Sigmoid(replace(gemm.input, name="s"), gemm.input)
        verify(replace(q, ops=q.ops + (sig,)))


@pytest.mark.parametrize("seed", range(4))
def test_swar_kernel_equals_plain_dot(seed: int) -> None:
    """The packed mod-2^256 arithmetic the EVM does gives exactly the integer dot products."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(-127, 128, (23, 97)).tolist()
    rows[0] = [127] * 97  # extreme lanes: all at the bound
    rows[1] = [-127] * 97
    lanes = auto_lanes(rows, -128, 127)
    plan = prove_lanes(rows, -128, 127, lanes, "test")
    for q in (rng.integers(-128, 128, 97).tolist(), [-128] * 97, [127] * 97):
        for group in plan.groups(len(rows)):
            got = swar_dot(pack_group(rows, group, plan), q, init_word(group, plan), group, plan)
            assert got == [sum(w * v for w, v in zip(rows[j], q, strict=True)) for j in group]


def test_lane_proof_refuses_too_many_lanes() -> None:
    rows = [[127] * 784, [-127] * 784]  # range 784 * 127 * 255 needs 25 bits
    assert auto_lanes(rows, -128, 127) == 2  # capped by the number of outputs
    prove_lanes(rows, -128, 127, 10, "ok")  # 25-bit lanes hold it
    with pytest.raises(Ml2scError) as e:
        prove_lanes(rows, -128, 127, 11, "qgemm %0 (784 inputs)")
    message = str(e.value)
    assert "\n" not in message and "needs 25 bits" in message and "at most 10 lanes" in message


def test_forced_lanes_option_is_proven_or_refused() -> None:
    m = mlp_module([784, 16, 2], ["relu", ""], name="wide")
    x = np.random.default_rng(1).uniform(0, 1, (8, 784)).astype(np.float32)
    q = quantize(m, x, "lanes=4")
    assert [op.lanes for op in q.ops if isinstance(op, ops.QGemm)] == [4, 4]
    with pytest.raises(Ml2scError, match="SWAR lanes"):
        quantize(m, x, "lanes=16")


def test_missing_calibration_is_one_line_error() -> None:
    from ml2sc.compiler.driver import get_backend
    from ml2sc.compiler.passes.manager import PassManager

    with pytest.raises(Ml2scError, match="calibration") as e:
        PassManager.from_pipeline(get_backend("int8").pipeline).run(MODELS["linear"]())
    assert "\n" not in str(e.value)


def test_calibration_methods() -> None:
    v = np.concatenate([np.linspace(-1, 1, 10_000), [50.0]])
    assert value_range(v, "minmax") == (-1.0, 50.0)
    lo, hi = value_range(v, "percentile", 99.9)
    assert hi < 2 and lo < -0.9
    heavy = np.random.default_rng(0).laplace(0, 1, 20_000)
    lo, hi = value_range(heavy, "mse")
    assert heavy.min() < lo < 0 < hi < heavy.max()  # heavy tails: clipping them lowers the error
    with pytest.raises(Ml2scError, match="unknown calibration method"):
        value_range(v, "kl")
    q = quant_type(0.0, 1.0)
    assert q == QuantType(8, 1 / 255, -128)
    for method in ("minmax", "percentile", "mse"):
        assert quantize(MODELS["relu-softmax"](), X, f"method={method}").attribute("calibration") == method


def test_input_quantization_thresholds_match_the_formula() -> None:
    q = QuantType(8, 1 / 255, -128)
    a, s = nx.input_multiplier(q.scale)
    v_lo, v_hi = nx.input_thresholds(a, s, q)
    assert nx.quantize_input(v_lo, a, s, q) == -128 < nx.quantize_input(v_lo + 1, a, s, q)
    assert nx.quantize_input(v_hi - 1, a, s, q) < 127 == nx.quantize_input(v_hi, a, s, q)
    assert nx.quantize_input(10**18, a, s, q) == 127 and nx.quantize_input(0, a, s, q) == -128


def test_requantize_and_activations_semantics() -> None:
    assert nx.requantize(100, 2**30, 31, -3, -128, 127) == 50 - 3
    assert nx.requantize(-101, 2**30, 31, 0, -128, 127) == -50  # floor(-50.5 + 0.5): half rounds up
    assert nx.requantize(1000, 2**30, 31, 0, -128, 127) == 127  # clamped
    assert nx.leaky_relu(-10, 0, nx.leaky_multiplier(0.1), -128, 127) == -1
    assert nx.softmax([5, 5], *nx.exp_tables(0.1)) == [32768, 32768]
    m, s = nx.multiplier_shift(0.001234)
    assert 2**30 <= m < 2**31 and abs(m / 2**s - 0.001234) < 1e-12


def test_simulator_tracks_the_float_model() -> None:
    m = MODELS["deep"]()
    x = np.random.default_rng(5).normal(0, 1, (64, 12)).astype(np.float32)
    c = build(m, x)
    from ml2sc.ir.reference import run_reference

    ref, got = run_reference(m, x)["y"], c.simulate(x)["y"]
    assert np.abs(ref - got).max() < 0.05
    env = run_row(c.ir, c.quantize(x[:1])[0])
    assert all(isinstance(v, int) for vals in env.values() for v in vals)


def test_dead_relu_gets_a_usable_scale() -> None:
    """A hidden value that is 0 on every calibration row must not get a tiny scale (int32 bias blow-up)."""
    m = mlp_module([6, 2, 1], ["relu", "sigmoid"], name="dead")
    b0 = m.constant("b0")
    m = replace(m, constants=tuple(replace(c, values=(-100.0, -100.0)) if c is b0 else c for c in m.constants))
    c = build(m, X)
    hidden = c.ir.ops[2].result.type.element
    assert isinstance(hidden, QuantType) and hidden.scale == 1 / 255
    from ml2sc.ir.reference import run_reference

    assert np.abs(c.simulate(X)["y"] - run_reference(m, X)["y"]).max() < 0.01
