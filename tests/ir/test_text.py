"""The IR's textual form: printer and parser must round-trip every valid module exactly.

Exactly means dataclass equality, so constants and float attributes must come
back bit for bit; and the parser's errors must say where (file:line:col) and
what, on one line.
"""

from __future__ import annotations

import math
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

from ml2sc.ir import ops
from ml2sc.ir.module import Constant, Module, Output, Value
from ml2sc.ir.ops import OPS
from ml2sc.ir.parser import IRParseError, parse_module
from ml2sc.ir.printer import print_module
from ml2sc.ir.types import (
    F32,
    F64,
    I64,
    ElementType,
    FixedType,
    IntType,
    QuantType,
    TensorType,
    vector,
)
from ml2sc.ir.verifier import verify

try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover - hypothesis is a dev dependency
    st = None


def roundtrip(module: Module) -> str:
    """Assert print -> parse gives the module back and printing is canonical; return the text."""
    verify(module)
    text = print_module(module)
    back = parse_module(text)
    assert back == module
    assert print_module(back) == text
    return text


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


SCALAR_I64 = TensorType((), I64)


def chain(
    name: str,
    width: int,
    make_ops: Callable[[Value], list[ops.Op]],
    constants: tuple[Constant, ...] = (),
) -> Module:
    """A module of one vector input, the given ops, returning the last result."""
    x = Value("x", vector(width))
    body = make_ops(x)
    return Module(name, (x,), tuple(body), (Output("y", body[-1].result),), constants)


def vec(name: str, values: list[float]) -> Constant:
    return Constant(name, vector(len(values)), tuple(float(v) for v in values))


# ---------------------------------------------------------------------------
# One valid module per op class


def _gemm() -> Module:
    w = Constant("w", TensorType((2, 3), F32), (0.5, -1.25, 1e-05, 2.0, 0.0, -0.0))
    b = vec("b", [1.0, -1.0])
    return chain("gemm", 3, lambda x: [ops.Gemm(Value("0", vector(2)), x, "w", "b")], (w, b))


def _gemm_no_bias() -> Module:
    w = Constant("w", TensorType((2, 3), F32), (1.0,) * 6)
    return chain("gemm_nb", 3, lambda x: [ops.Gemm(Value("0", vector(2)), x, "w")], (w,))


def _affine() -> Module:
    consts = (vec("s", [2.0, 3.0]), vec("o", [-1.0, 0.25]))
    return chain("affine", 2, lambda x: [ops.Affine(Value("0", x.type), x, "s", "o")], consts)


def _batch_norm() -> Module:
    consts = tuple(vec(n, [1.0, 2.0]) for n in ("g", "b", "m", "v"))
    op = lambda x: [ops.BatchNorm(Value("0", x.type), x, "g", "b", "m", "v", epsilon=1e-3)]  # noqa: E731
    return chain("bn", 2, op, consts)


def _unary(cls: type[ops.Op], **attrs: float) -> Callable[[], Module]:
    def make() -> Module:
        return chain(cls.mnemonic, 4, lambda x: [cls(Value("r", x.type), x, **attrs)])

    return make


def _argmax() -> Module:
    return chain("argmax", 4, lambda x: [ops.ArgMax(Value("i", SCALAR_I64), x)])


def _label_map() -> Module:
    classes = Constant("classes", TensorType((4,), I64), (3, 1, 4, 1))
    return chain(
        "labels",
        4,
        lambda x: [
            ops.ArgMax(Value("i", SCALAR_I64), x),
            ops.LabelMap(Value("label", SCALAR_I64), Value("i", SCALAR_I64), "classes"),
        ],
        (classes,),
    )


def _quantized() -> Module:
    """The int8 ops in a chain: quantize, qgemm, requantize, lut, qsoftmax (and relu/argmax on qi8)."""
    q_in, q_h = QuantType(8, 1 / 255, -128), QuantType(8, 0.05, -3)
    q_s, q_p = QuantType(8, 1 / 256, -128), QuantType(32, 2.0**-16, 0, signed=False)
    x = Value("x", vector(3, FixedType(18)))
    xq, acc, h = Value("xq", vector(3, q_in)), Value("acc", vector(2, IntType(32))), Value("h", vector(2, q_h))
    r, s, p = Value("r", vector(2, q_h)), Value("s", vector(2, q_s)), Value("p", vector(2, q_p))
    consts = (
        Constant("w", TensorType((2, 3), IntType(8)), (127, -5, 0, -127, 64, 3)),
        Constant("b", vector(2, IntType(32)), (-1000, 2**20)),
        Constant("m", vector(2, I64), (1 << 30, 1518500250)),
        Constant("sh", vector(2, I64), (37, 38)),
        Constant("t", vector(256, IntType(8)), tuple(range(-128, 128))),
        Constant("hi", vector(256, IntType(32)), (65536,) + (0,) * 255),
        Constant("lo", vector(256, IntType(32)), tuple(max(65536 - 256 * k, 0) for k in range(256))),
    )
    body = (
        ops.Quantize(xq, x, multiplier=17547786228187682816, shift=118),
        ops.QGemm(acc, xq, "w", "b", lanes=2),
        ops.Requantize(h, acc, "m", "sh", qmin=-3, qmax=127),
        ops.Relu(r, h),
        ops.TableLookup(s, r, "t"),
        ops.QSoftmax(p, s, "hi", "lo"),
        ops.ArgMax(Value("i", SCALAR_I64), p),
    )
    return Module("quantized", (x,), body, (Output("p", p), Output("i", body[-1].result)), consts)


OP_MODULES: dict[str, list[Callable[[], Module]]] = {
    "gemm": [_gemm, _gemm_no_bias],
    "affine": [_affine],
    "batch_norm": [_batch_norm],
    "relu": [_unary(ops.Relu)],
    "leaky_relu": [_unary(ops.LeakyRelu), _unary(ops.LeakyRelu, alpha=0.1)],
    "sigmoid": [_unary(ops.Sigmoid)],
    "tanh": [_unary(ops.Tanh)],
    "softmax": [_unary(ops.Softmax)],
    "hard_sigmoid": [_unary(ops.HardSigmoid, alpha=1 / 6, beta=0.5)],
    "clip": [_unary(ops.Clip, min=-math.inf, max=6.0), _unary(ops.Clip, min=-0.0, max=0.0)],
    "argmax": [_argmax],
    "label_map": [_label_map],
    **{name: [_quantized] for name in ("quantize", "qgemm", "requantize", "lut", "qsoftmax")},
}


def test_every_op_class_has_a_round_trip_case():
    assert set(OP_MODULES) == set(OPS), "add a module for the new op to OP_MODULES"


@pytest.mark.parametrize(
    "make",
    [m for makers in OP_MODULES.values() for m in makers],
    ids=[f"{k}-{i}" for k, makers in OP_MODULES.items() for i in range(len(makers))],
)
def test_op_round_trip(make: Callable[[], Module]):
    roundtrip(make())


# ---------------------------------------------------------------------------
# Numbers

AWKWARD_FLOATS = [
    1e-45,  # smallest float32 subnormal, as a double
    5e-324,  # smallest double subnormal
    -0.0,
    0.0,
    3.4028234663852886e38,  # float32 max
    1.7976931348623157e308,
    float(np.float32(0.1)),  # 0.10000000149011612
    0.1,
    1 / 3,
    -2.5e-08,
    123456789.0,
    math.inf,
    -math.inf,
]


def test_awkward_float_constants_round_trip_bit_for_bit():
    c = Constant("c", vector(len(AWKWARD_FLOATS)), tuple(AWKWARD_FLOATS))
    m = chain("floats", 2, lambda x: [ops.Relu(Value("r", x.type), x)], (c,))
    back = parse_module(roundtrip(m)).constant("c").values
    assert [bits(v) for v in back] == [bits(v) for v in AWKWARD_FLOATS]


def test_float32_values_print_shortest():
    c = Constant("c", vector(2), (float(np.float32(0.1)), 1e-45))
    m = chain("f", 1, lambda x: [ops.Relu(Value("r", x.type), x)], (c,))
    assert "= [0.10000000149011612, 1e-45]" in roundtrip(m)


def test_nan_survives_as_nan():
    # nan != nan, so equality cannot hold; the value must still come back as a nan.
    c = Constant("c", vector(3), (math.nan, 1.0, -math.inf))
    m = chain("nan", 1, lambda x: [ops.Relu(Value("r", x.type), x)], (c,))
    text = print_module(m)
    assert "[nan, 1.0, -inf]" in text
    values = parse_module(text).constant("c").values
    assert math.isnan(values[0]) and values[1:] == (1.0, -math.inf)


def test_float_attributes_bit_for_bit():
    alpha = float(np.float32(0.01))
    m = chain("a", 2, lambda x: [ops.HardSigmoid(Value("r", x.type), x, alpha=alpha, beta=-0.0)])
    op = parse_module(roundtrip(m)).ops[0]
    assert bits(op.alpha) == bits(alpha) and bits(op.beta) == bits(-0.0)


def test_big_int_constants():
    fixed = FixedType(18)
    x, y = Value("x", vector(2, fixed)), Value("y", vector(1, fixed))
    w = Constant("w", TensorType((1, 2), fixed), (10**40, -(2**255)))
    b = Constant("b", TensorType((1,), fixed), (2**255 - 1,))
    m = Module("big", (x,), (ops.Gemm(y, x, "w", "b"),), (Output("y", y),), (w, b))
    text = roundtrip(m)
    assert f"[{10**40}, {-(2**255)}]" in text


def test_attribute_given_as_int_becomes_float():
    text = print_module(_unary(ops.LeakyRelu, alpha=0.5)()).replace("alpha = 0.5", "alpha = 1")
    op = parse_module(text).ops[0]
    assert op.alpha == 1.0 and type(op.alpha) is float


def test_omitted_attribute_takes_its_default():
    text = print_module(_unary(ops.Clip, min=0.0, max=6.0)()).replace(" {min = 0.0, max = 6.0}", "")
    assert parse_module(text).ops[0] == ops.Clip(Value("r", vector(4)), Value("x", vector(4)))


# ---------------------------------------------------------------------------
# Types, names, attributes, outputs

ELEMENTS: list[ElementType] = [
    F32,
    F64,
    I64,
    IntType(32),
    IntType(8, signed=False),
    FixedType(18),
    FixedType(0),
    QuantType(8, 0.0123, -3),
    QuantType(8, float(np.float32(0.05)), 128, signed=False),
]


@pytest.mark.parametrize("element", ELEMENTS, ids=str)
def test_element_types(element: ElementType):
    is_float = element in (F32, F64)
    values = (1.5, -0.0, 2.0, 3.0, 4.0, 5.0) if is_float else (1, -2, 3, 0, 5, 255)
    c = Constant("c", TensorType((2, 3), element), values)
    inputs = (Value("v", vector(3, element)), Value("s", TensorType((), element)))
    m = Module("types", inputs, (), tuple(Output(v.name, v) for v in inputs), (c,))
    text = roundtrip(m)
    assert f"tensor<2x3x{element}>" in text and f"tensor<{element}>" in text


def test_type_spelling():
    t = TensorType((2, 4), QuantType(8, 0.0123, -3))
    m = Module("t", (Value("x", t),), (), (Output("y", Value("x", t)),))
    assert "%x: tensor<2x4xqi8<0.0123, -3>>" in roundtrip(m)


def test_module_attributes_with_quotes_and_backslashes():
    attrs = {
        "producer": 'say "hi"',
        "path": "C:\\models\\mlp.onnx",
        "multi": "line1\nline2\ttab\x00nul",
        "unicode": "модель ✓",
        "needs quoting": "k",
        "dotted.key": "",
    }
    m = chain("a", 1, lambda x: [ops.Relu(Value("r", x.type), x)])
    m = Module(m.name, m.inputs, m.ops, m.outputs, attributes=tuple(sorted(attrs.items())))
    text = roundtrip(m)
    assert r'path = "C:\\models\\mlp.onnx"' in text
    assert r'producer = "say \"hi\""' in text
    assert '"needs quoting" = "k"' in text
    assert text.count("\n") == 6  # no raw newline leaked out of a string


def test_no_attributes_clause_when_empty():
    assert print_module(_affine()).startswith("module @affine {\n")


def test_odd_names_are_quoted():
    x = Value("onnx::Gemm_0", vector(2))
    r = Value('a "b"\\c', vector(2))
    c = Constant("weight one", vector(2), (1.0, 2.0))
    m = Module(
        "my-model",
        (x,),
        (ops.Affine(r, x, "weight one", "weight one"),),
        (Output("", r),),
        (c,),
    )
    text = roundtrip(m)
    assert 'module @"my-model"' in text
    assert '%"onnx::Gemm_0"' in text and '@"weight one"' in text
    assert r'%"a \"b\"\\c" = affine' in text


def test_names_may_start_with_digits_and_hold_dots():
    x = Value("input.1", vector(2))
    m = Module(
        "1.mlp", (x,), (ops.Relu(Value("3", x.type), x),), (Output("out", Value("3", x.type)),)
    )
    text = roundtrip(m)
    assert "module @1.mlp {" in text and "%3 = relu %input.1 :" in text


def test_multiple_outputs_and_inputs():
    x, z = Value("x", vector(3)), Value("z", vector(3))
    p = Value("p", vector(3))
    i = Value("i", SCALAR_I64)
    m = Module(
        "multi",
        (x, z),
        (ops.Softmax(p, x), ops.ArgMax(i, p)),
        (Output("probabilities", p), Output("label", i), Output("again", p), Output("z", z)),
    )
    text = roundtrip(m)
    assert "func @main(%x: tensor<3xf32>, %z: tensor<3xf32>) {" in text


def test_no_inputs_and_empty_constant():
    c = Constant("empty", TensorType((0, 3), F32), ())
    m = Module("none", (), (), (), (c,))
    with pytest.raises(IRParseError, match="module has no outputs"):
        parse_module(print_module(m))
    x = Value("x", vector(1))
    roundtrip(Module("one", (x,), (), (Output("x", x),), (c,)))


def test_comments_are_ignored():
    text = print_module(_gemm())
    text = "// header\n" + text.replace("= [0.5,", "= [ // the weights\n 0.5,").replace(
        "%x, @w", "%x, // input\n @w"
    )
    assert parse_module(text) == _gemm()


def test_module_str_uses_printer():
    assert str(_gemm()) == print_module(_gemm())


# ---------------------------------------------------------------------------
# Golden text

GOLDEN = """\
module @mlp attributes {producer = "pytorch", source = "model.onnx"} {
  const @w0 : tensor<4x3xf32> = [0.5, -1.25, 1e-05, 2.0, 0.0, -0.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
  const @b0 : tensor<4xf32> = [0.0, 0.0, 0.0, 0.0]
  const @classes : tensor<3xi64> = [0, 1, 2]
  func @main(%x: tensor<3xf32>) {
    %0 = gemm %x, @w0, @b0 : tensor<4xf32>
    %1 = leaky_relu %0 {alpha = 0.01} : tensor<4xf32>
    %2 = softmax %1 : tensor<4xf32>
    %3 = argmax %2 : tensor<i64>
    output "probabilities" = %2 : tensor<4xf32>
    output "label" = %3 : tensor<i64>
  }
}
"""


def golden_module() -> Module:
    x = Value("x", vector(3))
    v = [Value(str(i), vector(4)) for i in range(3)]
    label = Value("3", SCALAR_I64)
    w0 = (0.5, -1.25, 1e-05, 2.0, 0.0, -0.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)
    return Module(
        name="mlp",
        inputs=(x,),
        ops=(
            ops.Gemm(v[0], x, "w0", "b0"),
            ops.LeakyRelu(v[1], v[0], alpha=0.01),
            ops.Softmax(v[2], v[1]),
            ops.ArgMax(label, v[2]),
        ),
        outputs=(Output("probabilities", v[2]), Output("label", label)),
        constants=(
            Constant("w0", TensorType((4, 3), F32), w0),
            Constant("b0", vector(4), (0.0,) * 4),
            Constant("classes", TensorType((3,), I64), (0, 1, 2)),
        ),
        attributes=(("producer", "pytorch"), ("source", "model.onnx")),
    )


def test_golden_text():
    assert print_module(golden_module()) == GOLDEN
    assert parse_module(GOLDEN) == golden_module()


# ---------------------------------------------------------------------------
# New ops need no parser change


@dataclass(frozen=True)
class _Shift(ops.Unary):
    """A test-only op with an int attribute."""

    amount: int = 0
    scale: float = 1.0
    mnemonic: ClassVar[str] = "test_shift"
    attribute_fields: ClassVar[tuple[str, ...]] = ("amount", "scale")


def test_new_op_with_int_attribute(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(OPS, _Shift.mnemonic, _Shift)
    m = chain("new", 2, lambda x: [_Shift(Value("r", x.type), x, amount=-(10**30), scale=2.0)])
    text = roundtrip(m)
    assert "{amount = -1000000000000000000000000000000, scale = 2.0}" in text
    with pytest.raises(
        IRParseError,
        match=r"^<string>:3:34: attribute 'amount' of 'test_shift' must be an integer$",
    ):
        parse_module(text.replace("amount = -1000000000000000000000000000000", "amount = 1.5"))


def test_printer_rejects_a_gap_in_constant_fields(monkeypatch: pytest.MonkeyPatch):
    @dataclass(frozen=True)
    class Gap(ops.Op):
        input: Value
        a: str | None = None
        b: str | None = None
        mnemonic: ClassVar[str] = "gap"
        operand_fields: ClassVar[tuple[str, ...]] = ("input",)
        constant_fields: ClassVar[tuple[str, ...]] = ("a", "b")

    x = Value("x", vector(1))
    m = Module(
        "g", (x,), (Gap(Value("r", x.type), x, None, "c"),), (Output("r", Value("r", x.type)),)
    )
    with pytest.raises(ValueError, match="only trailing constant fields may be None"):
        print_module(m)


# ---------------------------------------------------------------------------
# Errors

VALID = """\
module @m {
  const @w : tensor<2x3xf32> = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
  func @main(%x: tensor<3xf32>) {
    %0 = gemm %x, @w : tensor<2xf32>
    %1 = relu %0 : tensor<2xf32>
    output "y" = %1 : tensor<2xf32>
  }
}
"""

ERRORS = {
    "undefined value": (
        ("relu %0", "relu %7"),
        "m.mlir:5:15: use of undefined value '%7'",
    ),
    "undefined constant": (
        ("@w : tensor<2xf32>", "@v : tensor<2xf32>"),
        "m.mlir:4:19: use of undefined constant '@v'",
    ),
    "unknown op": (
        ("relu", "conv"),
        "m.mlir:5:10: unknown op 'conv'",
    ),
    "unknown element type": (
        ("relu %0 : tensor<2xf32>", "relu %0 : tensor<2xfloat>"),
        "m.mlir:5:20: unknown element type 'float' in 'tensor<2xfloat>'",
    ),
    "unknown type": (
        ("relu %0 : tensor<2xf32>", "relu %0 : vector<2xf32>"),
        "m.mlir:5:20: unknown type 'vector<2xf32>' (expected tensor<...>)",
    ),
    "bare element type": (
        ("relu %0 : tensor<2xf32>", "relu %0 : f32"),
        "m.mlir:5:20: unexpected 'f32', expected a type",
    ),
    "unknown attribute": (
        ("relu %0", "relu %0 {alpha = 0.5}"),
        "m.mlir:5:19: unknown attribute 'alpha' for op 'relu'",
    ),
    "constant value count": (
        ("[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]", "[1.0, 2.0, 3.0, 4.0, 5.0]"),
        "m.mlir:2:3: constant @w: 5 values for type tensor<2x3xf32> of size 6",
    ),
    "bad number": (
        ("[1.0, 2.0, 3.0", "[1.0, 2.0, three"),
        "m.mlir:2:43: expected a number, got 'three'",
    ),
    "float in int constant": (
        ("tensor<2x3xf32> = [1.0", "tensor<2x3xi64> = [1.0"),
        "m.mlir:2:33: expected an integer, got '1.0'",
    ),
    "verifier op error": (
        ("gemm %x, @w : tensor<2xf32>", "gemm %x, @w : tensor<3xf32>"),
        "m.mlir:4:5: gemm %0: result type tensor<3xf32>, expected tensor<2xf32>",
    ),
    "duplicated value": (
        ("%1 = relu", "%0 = relu"),
        "m.mlir:5:5: redefinition of value '%0' (first defined at line 4)",
    ),
    "duplicated input": (
        ("%x: tensor<3xf32>", "%x: tensor<3xf32>, %x: tensor<3xf32>"),
        "m.mlir:3:33: redefinition of value '%x' (first defined at line 3)",
    ),
    "duplicated constant": (
        ("  func", "  const @w : tensor<1xf32> = [1.0]\n  func"),
        "m.mlir:3:9: redefinition of constant '@w'",
    ),
    "missing colon": (
        ("relu %0 :", "relu %0"),
        "m.mlir:5:18: unexpected 'tensor<2xf32>', expected ',' or ':' or '{'",
    ),
    "stray character": (
        ("relu %0", "relu %0 !"),
        "m.mlir:5:18: unexpected character '!', expected ',' or ':' or '{'",
    ),
    "unexpected end": (
        ("  }\n}\n", "  }\n"),
        "m.mlir:8:1: unexpected end of input, expected '}'",
    ),
    "operand in constant slot": (
        ("gemm %x, @w", "gemm %x, %x"),
        "m.mlir:4:19: 'gemm' expects a @constant here, got '%x'",
    ),
    "missing operand": (
        ("relu %0 :", "relu :"),
        "m.mlir:5:10: 'relu' expects 1 %value operand(s), got 0",
    ),
    "missing required constant": (
        ("gemm %x, @w", "gemm %x"),
        "m.mlir:4:10: 'gemm' requires constant 'weight'",
    ),
    "output type mismatch": (
        ('"y" = %1 : tensor<2xf32>', '"y" = %1 : tensor<2xf64>'),
        "m.mlir:6:23: '%1' has type tensor<2xf32>, not tensor<2xf64>",
    ),
    "bad string escape": (
        ('"y"', '"\\q"'),
        "m.mlir:6:13: invalid string: Invalid \\escape",
    ),
    "function name": (
        ("@main", "@forward"),
        "m.mlir:3:8: the module's function must be named '@main'",
    ),
}


@pytest.mark.parametrize("case", ERRORS, ids=list(ERRORS))
def test_errors_name_place_and_problem(case: str):
    (old, new), expected = ERRORS[case]
    assert old in VALID
    with pytest.raises(IRParseError) as info:
        parse_module(VALID.replace(old, new, 1), "m.mlir")
    assert str(info.value) == expected
    assert "\n" not in str(info.value)


def test_valid_base_text_parses():
    assert print_module(parse_module(VALID)) == VALID


def test_error_is_value_error_with_position():
    with pytest.raises(ValueError) as info:
        parse_module(
            "module @m {\n  func @main() {\n    %0 = conv : tensor<i64>\n  }\n}\n", "model.mlir"
        )
    err = info.value
    assert isinstance(err, IRParseError)
    assert (err.filename, err.line, err.column) == ("model.mlir", 3, 10)
    assert err.message == "unknown op 'conv'"


def test_error_position_inside_multiline_constant():
    text = VALID.replace("[1.0, 2.0, 3.0", "[\n    1.0,\n    2.0,\n    x3.0")
    with pytest.raises(IRParseError, match=r"^m\.mlir:5:5: expected a number, got 'x3\.0'$"):
        parse_module(text, "m.mlir")


def test_syntax_error_messages_are_one_line():
    texts = ["", "module", "module @m { func @main( } }", 'module @m attributes {a = "\n"} {}']
    for text in texts:
        with pytest.raises(IRParseError) as info:
            parse_module(text, "f.mlir")
        assert re.fullmatch(r"f\.mlir:\d+:\d+: [^\n]+", str(info.value)), str(info.value)


# ---------------------------------------------------------------------------
# Size


def test_large_module_is_fast():
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((128, 784)).astype(np.float32)
    w2 = rng.standard_normal((10, 128)).astype(np.float32)
    x, h, r, o = (Value(n, vector(k)) for n, k in (("x", 784), ("h", 128), ("r", 128), ("o", 10)))
    m = Module(
        "mnist",
        (x,),
        (ops.Gemm(h, x, "w1", "b1"), ops.Relu(r, h), ops.Gemm(o, r, "w2")),
        (Output("logits", o),),
        (
            Constant(
                "w1", TensorType((128, 784), F32), tuple(w1.astype(np.float64).ravel().tolist())
            ),
            Constant("b1", vector(128), (0.0,) * 128),
            Constant(
                "w2", TensorType((10, 128), F32), tuple(w2.astype(np.float64).ravel().tolist())
            ),
        ),
    )
    parse_module('module @warm { func @main(%x: tensor<f32>) { output "x" = %x : tensor<f32> } }')
    start = time.perf_counter()
    back = parse_module(print_module(m))
    elapsed = time.perf_counter() - start
    assert back == m
    assert elapsed < 2.0, f"print + parse took {elapsed:.2f}s"


# ---------------------------------------------------------------------------
# Property: random small MLPs round-trip

if st is not None:
    NAMES = st.one_of(
        st.from_regex(r"[A-Za-z0-9_.]{1,6}", fullmatch=True),
        st.text(st.characters(codec="utf-8"), min_size=1, max_size=6),
    )
    FLOATS = st.one_of(st.floats(width=32, allow_nan=False), st.floats(allow_nan=False))

    @st.composite
    def mlp_modules(draw: st.DrawFn) -> Module:
        """Gemm / affine / batch_norm layers and activations, ending in softmax and maybe argmax."""
        used: set[str] = set()

        def fresh() -> str:
            name = draw(NAMES.filter(lambda n: n not in used))
            used.add(name)
            return name

        float_values = st.floats(width=32, allow_nan=False)
        constants: list[Constant] = []

        def constant(shape: tuple[int, ...]) -> str:
            size = math.prod(shape)
            values = draw(st.lists(float_values, min_size=size, max_size=size))
            constants.append(Constant(fresh(), TensorType(shape, F32), tuple(values)))
            return constants[-1].name

        width = draw(st.integers(1, 4))
        x = Value(fresh(), vector(width))
        current, body = x, []
        for _ in range(draw(st.integers(0, 4))):
            kind = draw(st.sampled_from(["gemm", "affine", "batch_norm", "unary"]))
            if kind == "gemm":
                out = draw(st.integers(1, 4))
                w = constant((out, width))
                b = constant((out,)) if draw(st.booleans()) else None
                width = out
                op: ops.Op = ops.Gemm(Value(fresh(), vector(width)), current, w, b)
            elif kind == "affine":
                op = ops.Affine(
                    Value(fresh(), current.type), current, constant((width,)), constant((width,))
                )
            elif kind == "batch_norm":
                names = [constant((width,)) for _ in range(4)]
                op = ops.BatchNorm(
                    Value(fresh(), current.type), current, *names, epsilon=draw(FLOATS)
                )
            else:
                op = draw(unary_ops(Value(fresh(), current.type), current))
            body.append(op)
            current = op.result
        body.append(ops.Softmax(Value(fresh(), current.type), current))
        outputs = [Output(draw(st.text(max_size=5)), body[-1].result)]
        if draw(st.booleans()):
            body.append(ops.ArgMax(Value(fresh(), SCALAR_I64), body[-1].result))
            outputs.append(Output("label", body[-1].result))
        attributes = draw(st.dictionaries(st.text(max_size=5), st.text(max_size=8), max_size=3))
        return Module(
            fresh(),
            (x,),
            tuple(body),
            tuple(outputs),
            tuple(constants),
            tuple(sorted(attributes.items())),
        )

    @st.composite
    def unary_ops(draw: st.DrawFn, result: Value, operand: Value) -> ops.Op:
        cls = draw(
            st.sampled_from(
                [ops.Relu, ops.Sigmoid, ops.Tanh, ops.LeakyRelu, ops.HardSigmoid, ops.Clip]
            )
        )
        if cls is ops.LeakyRelu:
            return cls(result, operand, alpha=draw(FLOATS))
        if cls is ops.HardSigmoid:
            return cls(result, operand, alpha=draw(FLOATS), beta=draw(FLOATS))
        if cls is ops.Clip:
            lo, hi = sorted(draw(st.lists(FLOATS, min_size=2, max_size=2)))
            return cls(result, operand, min=lo, max=hi)
        return cls(result, operand)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(mlp_modules())
    def test_random_mlps_round_trip(module: Module):
        roundtrip(module)

else:  # pragma: no cover

    @pytest.mark.skip(reason="hypothesis is not installed (pip install -e '.[dev]')")
    def test_random_mlps_round_trip():
        pass
