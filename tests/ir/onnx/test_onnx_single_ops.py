"""One ONNX op at a time: every supported op and attribute variant against onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from onnx_import_testlib import FOLDED64, check_model, f32_values, init, make_model, mnemonics, rng

from ml2sc.ir import ops

F, M = 5, 3
OPSETS = [9, 11, 13, 17, 21]


def x_rows(features: int = F, n: int = 16, seed: int = 1) -> np.ndarray:
    return rng(seed).normal(scale=2.0, size=(n, features)).astype(np.float32)


def weights(shape: tuple[int, ...], seed: int = 2) -> np.ndarray:
    return rng(seed).normal(size=shape).astype(np.float32)


def unary_model(op: str, opset: int, **attrs: object) -> object:
    return make_model([helper.make_node(op, ["X"], ["y"], name=op.lower(), **attrs)], F, opset=opset)


# -- Gemm and MatMul -------------------------------------------------------------------------

BIAS_SHAPES = {"none": None, "scalar": (), "one": (1,), "vector": (M,), "row": (1, M), "cell": (1, 1)}


@pytest.mark.parametrize("bias", list(BIAS_SHAPES))
@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize(("alpha", "beta"), [(1.0, 1.0), (0.5, 1.0), (1.0, -2.0), (1.5, 0.25)])
def test_gemm_attribute_variants(trans_b, alpha, beta, bias):
    b = weights((M, F) if trans_b else (F, M))
    inits = [init("B", b)]
    inputs = ["X", "B"]
    if BIAS_SHAPES[bias] is not None:
        inits.append(init("C", weights(BIAS_SHAPES[bias], seed=3)))
        inputs.append("C")
    node = helper.make_node("Gemm", inputs, ["y"], name="fc", transB=trans_b, alpha=alpha, beta=beta)
    model = make_model([node], F, initializers=inits)
    module = check_model(model, x_rows(), need_float64=True, tol64=FOLDED64)
    assert mnemonics(module) == ["gemm"]
    gemm = module.ops[0]
    assert module.constant(gemm.weight).type.shape == (M, F)
    assert (gemm.bias is None) == (BIAS_SHAPES[bias] is None)


@pytest.mark.parametrize("opset", OPSETS)
def test_gemm_across_opsets(opset):
    node = helper.make_node("Gemm", ["X", "W", "b"], ["y"], transB=1)
    w, b = weights((M, F)), weights((M,), seed=3)
    module = check_model(make_model([node], F, opset=opset, initializers=[init("W", w), init("b", b)]), x_rows())
    gemm = module.ops[0]
    # Weights are the exact float32 values of the initializers, no arithmetic on the way.
    assert module.constant(gemm.weight).values == f32_values(w)
    assert module.constant(gemm.bias).values == f32_values(b)


def test_gemm_weights_transposed_exactly():
    b = weights((F, M))
    node = helper.make_node("Gemm", ["X", "B"], ["y"])
    module = check_model(make_model([node], F, opset=13, initializers=[init("B", b)]), x_rows())
    assert module.constant(module.ops[0].weight).values == f32_values(b.T)


def test_gemm_alpha_beta_folded_in_float64_then_rounded_once():
    b, c = weights((M, F)), weights((M,), seed=3)
    node = helper.make_node("Gemm", ["X", "B", "C"], ["y"], transB=1, alpha=0.3, beta=0.7)
    module = check_model(make_model([node], F, initializers=[init("B", b), init("C", c)]), x_rows(), tol64=FOLDED64)
    gemm = module.ops[0]
    alpha, beta = float(np.float32(0.3)), float(np.float32(0.7))
    assert module.constant(gemm.weight).values == f32_values(alpha * b.astype(np.float64))
    assert module.constant(gemm.bias).values == f32_values(beta * c.astype(np.float64))


@pytest.mark.parametrize("opset", OPSETS)
def test_matmul_then_add_fuses_into_one_gemm(opset):
    w, b = weights((F, M)), weights((M,), seed=3)
    nodes = [helper.make_node("MatMul", ["X", "W"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])]
    module = check_model(make_model(nodes, F, opset=opset, initializers=[init("W", w), init("b", b)]), x_rows())
    assert mnemonics(module) == ["gemm"]
    assert module.constant(module.ops[0].bias).values == f32_values(b)


def test_matmul_bias_first_operand_and_row_shaped():
    w, b = weights((F, M)), weights((1, M), seed=3)
    nodes = [helper.make_node("MatMul", ["X", "W"], ["h"]), helper.make_node("Add", ["b", "h"], ["y"])]
    module = check_model(make_model(nodes, F, initializers=[init("W", w), init("b", b)]), x_rows())
    assert mnemonics(module) == ["gemm"]


def test_matmul_with_a_second_user_is_not_fused():
    w, b = weights((F, M)), weights((M,), seed=3)
    nodes = [helper.make_node("MatMul", ["X", "W"], ["h"]), helper.make_node("Add", ["h", "b"], ["y"])]
    model = make_model(nodes, F, initializers=[init("W", w), init("b", b)],
                       outputs=(("y", TensorProto.FLOAT), ("h", TensorProto.FLOAT)))
    module = check_model(model, x_rows())
    assert mnemonics(module) == ["gemm", "affine"]
    assert [o.name for o in module.outputs] == ["y", "h"]


def test_matmul_alone_has_no_bias():
    module = check_model(make_model([helper.make_node("MatMul", ["X", "W"], ["y"])], F,
                                    initializers=[init("W", weights((F, M)))]), x_rows())
    assert mnemonics(module) == ["gemm"] and module.ops[0].bias is None


def test_one_dimensional_input():
    nodes = [helper.make_node("MatMul", ["X", "W"], ["h"]), helper.make_node("Softmax", ["h"], ["y"])]
    model = make_model(nodes, F, initializers=[init("W", weights((F, M)))], input_shape=[F])
    module = check_model(model, x_rows(n=1))
    assert mnemonics(module) == ["gemm", "softmax"]


def test_static_batch_and_double_input():
    node = helper.make_node("Gemm", ["X", "W"], ["y"], transB=1)
    model = make_model([node], F, initializers=[init("W", weights((M, F)).astype(np.float64))],
                       input_shape=[16, F], input_type=TensorProto.DOUBLE, outputs=(("y", TensorProto.DOUBLE),))
    module = check_model(model, x_rows())
    assert module.inputs[0].type.shape == (F,)


# -- elementwise arithmetic with constants ------------------------------------------------------

CONST_SHAPES = {"scalar": (), "one": (1,), "vector": (F,), "row": (1, F)}


# c / x is not affine and is rejected (see test_onnx_errors).
ARITHMETIC = [(op, first) for op in ("Add", "Sub", "Mul", "Div") for first in (True, False) if (op, first) != ("Div", False)]


@pytest.mark.parametrize("shape", list(CONST_SHAPES))
@pytest.mark.parametrize(("op", "data_first"), ARITHMETIC)
def test_arithmetic_with_constant(op, data_first, shape):
    c = rng(4).uniform(0.5, 2.0, size=CONST_SHAPES[shape]).astype(np.float32)
    inputs = ["X", "c"] if data_first else ["c", "X"]
    model = make_model([helper.make_node(op, inputs, ["y"])], F, initializers=[init("c", c)])
    module = check_model(model, x_rows(), need_float64=True, tol64=FOLDED64)
    assert mnemonics(module) == ["affine"]


@pytest.mark.parametrize("opset", OPSETS)
def test_arithmetic_across_opsets(opset):
    nodes = [helper.make_node("Sub", ["X", "m"], ["c"]), helper.make_node("Div", ["c", "s"], ["y"])]
    inits = [init("m", weights((F,))), init("s", rng(5).uniform(0.5, 2, size=F).astype(np.float32))]
    module = check_model(make_model(nodes, F, opset=opset, initializers=inits), x_rows(), tol64=FOLDED64)
    assert mnemonics(module) == ["affine", "affine"]


def test_constant_minus_data_is_negated_affine():
    c = weights((F,))
    model = make_model([helper.make_node("Sub", ["c", "X"], ["y"])], F, initializers=[init("c", c)])
    module = check_model(model, x_rows())
    affine = module.ops[0]
    assert module.constant(affine.scale).values == (-1.0,) * F
    assert module.constant(affine.offset).values == f32_values(c)


def test_constants_are_folded():
    nodes = [
        helper.make_node("Constant", [], ["two"], value_float=2.0),
        helper.make_node("Constant", [], ["v"], value_floats=[1.0, 2.0, 3.0, 4.0, 5.0]),
        helper.make_node("Mul", ["two", "v"], ["c"]),
        helper.make_node("Add", ["X", "c"], ["y"]),
    ]
    module = check_model(make_model(nodes, F, opset=13), x_rows())
    assert module.constant(module.ops[0].offset).values == (2.0, 4.0, 6.0, 8.0, 10.0)


def test_constant_node_tensor_value():
    c = weights((F,))
    nodes = [helper.make_node("Constant", [], ["c"], value=init("cv", c)), helper.make_node("Mul", ["X", "c"], ["y"])]
    check_model(make_model(nodes, F, opset=9), x_rows())


# -- activations -------------------------------------------------------------------------------


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize(("op", "mnemonic"), [("Relu", "relu"), ("Sigmoid", "sigmoid"), ("Tanh", "tanh")])
def test_plain_activations(op, mnemonic, opset):
    assert mnemonics(check_model(unary_model(op, opset), x_rows())) == [mnemonic]


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("attrs", [{}, {"alpha": 0.2}])
def test_leaky_relu(opset, attrs):
    module = check_model(unary_model("LeakyRelu", opset, **attrs), x_rows())
    assert module.ops[0].alpha == float(np.float32(attrs.get("alpha", 0.01)))


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("attrs", [{}, {"alpha": 1 / 6}, {"alpha": 0.3, "beta": 0.4}])
def test_hard_sigmoid(opset, attrs):
    module = check_model(unary_model("HardSigmoid", opset, **attrs), x_rows())
    assert isinstance(module.ops[0], ops.HardSigmoid)


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize("axis", [None, -1, 1])
def test_softmax(opset, axis):
    attrs = {} if axis is None else {"axis": axis}
    assert mnemonics(check_model(unary_model("Softmax", opset, **attrs), x_rows())) == ["softmax"]


@pytest.mark.parametrize(("lo", "hi"), [(0.0, 6.0), (-1.0, None), (None, 1.5), (None, None)])
@pytest.mark.parametrize("opset", OPSETS)
def test_clip(opset, lo, hi):
    if opset < 11:
        attrs = {k: v for k, v in (("min", lo), ("max", hi)) if v is not None}
        model = unary_model("Clip", opset, **attrs)
    else:
        inputs = ["X", "lo" if lo is not None else "", "hi" if hi is not None else ""]
        inits = [init(n, np.array(v, dtype=np.float32)) for n, v in (("lo", lo), ("hi", hi)) if v is not None]
        while inputs[-1] == "":
            inputs.pop()
        model = make_model([helper.make_node("Clip", inputs, ["y"])], F, opset=opset, initializers=inits)
    clip = check_model(model, x_rows()).ops[0]
    assert (clip.min, clip.max) == (-np.inf if lo is None else lo, np.inf if hi is None else hi)


# -- data movement -------------------------------------------------------------------------------


@pytest.mark.parametrize("opset", OPSETS)
def test_identity_dropout_flatten_vanish(opset):
    dropout = helper.make_node("Dropout", ["a"], ["b"], ratio=0.5) if opset < 12 else helper.make_node("Dropout", ["a"], ["b"])
    nodes = [helper.make_node("Identity", ["X"], ["a"]), dropout, helper.make_node("Flatten", ["b"], ["c"]),
             helper.make_node("Relu", ["c"], ["y"])]
    assert mnemonics(check_model(make_model(nodes, F, opset=opset), x_rows())) == ["relu"]


@pytest.mark.parametrize("opset", [12, 13, 21])
def test_dropout_with_ratio_and_training_mode_inputs(opset):
    nodes = [helper.make_node("Dropout", ["X", "r", "t"], ["a", "mask"]), helper.make_node("Relu", ["a"], ["y"])]
    inits = [init("r", np.array(0.3, np.float32)), init("t", np.array(False))]
    assert mnemonics(check_model(make_model(nodes, F, opset=opset, initializers=inits), x_rows())) == ["relu"]


@pytest.mark.parametrize("shape", [[-1, F], [0, F], [0, -1]])
@pytest.mark.parametrize("opset", OPSETS)
def test_reshape_to_rows_vanishes(opset, shape):
    nodes = [helper.make_node("Reshape", ["X", "s"], ["a"]), helper.make_node("Relu", ["a"], ["y"])]
    model = make_model(nodes, F, opset=opset, initializers=[init("s", np.array(shape, dtype=np.int64))])
    assert mnemonics(check_model(model, x_rows())) == ["relu"]


@pytest.mark.parametrize("to", [TensorProto.FLOAT, TensorProto.DOUBLE])
def test_cast_to_float_vanishes(to):
    nodes = [helper.make_node("Cast", ["X"], ["a"], to=to), helper.make_node("Relu", ["a"], ["y"])]
    model = make_model(nodes, F, outputs=(("y", to),))
    assert mnemonics(check_model(model, x_rows())) == ["relu"]


# -- BatchNormalization, ArgMax, class labels ---------------------------------------------------------------


@pytest.mark.parametrize("opset", [9, 13, 15, 21])
def test_batch_normalization(opset):
    r = rng(6)
    stats = {"scale": r.uniform(0.5, 2, F), "bias": r.normal(size=F), "mean": r.normal(size=F), "var": r.uniform(0.2, 3, F)}
    inits = [init(k, v.astype(np.float32)) for k, v in stats.items()]
    node = helper.make_node("BatchNormalization", ["X", *stats], ["y"], epsilon=1e-3)
    module = check_model(make_model([node], F, opset=opset, initializers=inits), x_rows())
    bn = module.ops[0]
    assert isinstance(bn, ops.BatchNorm) and bn.epsilon == float(np.float32(1e-3))
    assert module.constant(bn.var).values == f32_values(stats["var"])


@pytest.mark.parametrize("opset", OPSETS)
@pytest.mark.parametrize(("axis", "keepdims"), [(1, 1), (1, 0), (-1, 1), (-1, 0)])
def test_argmax(opset, axis, keepdims):
    node = helper.make_node("ArgMax", ["X"], ["y"], axis=axis, keepdims=keepdims)
    model = make_model([node], F, opset=opset, outputs=(("y", TensorProto.INT64),))
    assert mnemonics(check_model(model, x_rows())) == ["argmax"]


def test_argmax_cast_to_int64_vanishes():
    nodes = [helper.make_node("ArgMax", ["X"], ["i"], axis=1, keepdims=0), helper.make_node("Cast", ["i"], ["y"], to=TensorProto.INT64)]
    model = make_model(nodes, F, outputs=(("y", TensorProto.INT64),))
    assert mnemonics(check_model(model, x_rows())) == ["argmax"]


def test_class_label_lookup_like_skl2onnx():
    """ArgMax -> ArrayFeatureExtractor(classes) -> Reshape([-1]) -> Cast(int64), as skl2onnx writes it."""
    nodes = [
        helper.make_node("ArgMax", ["X"], ["i"], axis=1),
        helper.make_node("ArrayFeatureExtractor", ["classes", "i"], ["l"], domain="ai.onnx.ml"),
        helper.make_node("Reshape", ["l", "shape"], ["r"]),
        helper.make_node("Cast", ["r"], ["label"], to=TensorProto.INT64),
    ]
    inits = [init("classes", np.array([3, 1, 4, 15, 9], dtype=np.int64)), init("shape", np.array([-1], dtype=np.int64))]
    model = make_model(nodes, F, opset=13, ml_opset=1, initializers=inits, outputs=(("label", TensorProto.INT64),))
    module = check_model(model, x_rows())
    assert mnemonics(module) == ["argmax", "label_map"]
    assert module.constant(module.ops[1].classes).values == (3, 1, 4, 15, 9)


def test_binary_sigmoid_concat_becomes_two_class_softmax():
    """skl2onnx's binary head: p = sigmoid(x W + b); Concat(1 - p, p); ArgMax."""
    w, b = weights((F, 1)), weights((1, 1), seed=3)
    nodes = [
        helper.make_node("MatMul", ["X", "W"], ["z0"]),
        helper.make_node("Add", ["z0", "b"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["p"]),
        helper.make_node("Sub", ["one", "p"], ["q"]),
        helper.make_node("Concat", ["q", "p"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
    ]
    inits = [init("W", w), init("b", b), init("one", np.array(1.0, dtype=np.float32))]
    model = make_model(nodes, F, initializers=inits, outputs=(("label", TensorProto.INT64), ("probabilities", TensorProto.FLOAT)))
    module = check_model(model, x_rows())
    assert mnemonics(module) == ["gemm", "softmax", "argmax"]
    rows = module.constant(module.ops[0].weight).rows()
    assert rows[0] == (0.0,) * F and rows[1] == f32_values(w)


def test_binary_concat_without_a_gemm_before_the_sigmoid():
    nodes = [
        helper.make_node("MatMul", ["X", "W"], ["z"]),
        helper.make_node("Relu", ["z"], ["r"]),
        helper.make_node("Sigmoid", ["r"], ["p"]),
        helper.make_node("Sub", ["one", "p"], ["q"]),
        helper.make_node("Concat", ["q", "p"], ["y"], axis=-1),
    ]
    inits = [init("W", weights((F, 1))), init("one", np.array([1.0], dtype=np.float32))]
    module = check_model(make_model(nodes, F, initializers=inits), x_rows())
    assert mnemonics(module) == ["gemm", "relu", "gemm", "softmax"]


# -- ai.onnx.ml ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("offset", "scale"), [([0.5], [2.0]), (list(range(F)), [0.5, 1, 2, 3, 4]), ([1, -1, 0, 2, 3], [0.1, 0.2, 0.3, 0.4, 0.5])])
def test_scaler(offset, scale):
    node = helper.make_node("Scaler", ["X"], ["y"], domain="ai.onnx.ml", offset=[float(v) for v in offset], scale=[float(v) for v in scale])
    model = make_model([node], F, ml_opset=1, outputs=(("y", TensorProto.FLOAT, ["N", F]),))
    module = check_model(model, x_rows(), tol64=FOLDED64)
    assert mnemonics(module) == ["affine"]


def linear_classifier(rows: int, labels: list[int], transform: str, seed: int = 7) -> object:
    r = rng(seed)
    node = helper.make_node(
        "LinearClassifier", ["X"], ["label", "probabilities"], domain="ai.onnx.ml",
        coefficients=[float(v) for v in r.normal(size=rows * F).astype(np.float32)],
        intercepts=[float(v) for v in r.normal(size=rows).astype(np.float32)],
        classlabels_ints=labels, post_transform=transform,
    )
    classes = max(rows, 2)
    outputs = (("label", TensorProto.INT64, ["N"]), ("probabilities", TensorProto.FLOAT, ["N", classes]))
    return make_model([node], F, ml_opset=1, outputs=outputs)


@pytest.mark.parametrize("transform", ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO"])
def test_linear_classifier_binary_one_row(transform):
    module = check_model(linear_classifier(1, [3, 7], transform), x_rows(n=64))
    # Label from argmax([0, z]); probabilities softmax([0, z]) for LOGISTIC, else [1 - z, z].
    head = "softmax" if transform == "LOGISTIC" else "gemm"
    assert sorted(mnemonics(module)) == sorted(["gemm", "argmax", "label_map", head])


@pytest.mark.parametrize("transform", ["NONE", "LOGISTIC", "SOFTMAX"])
@pytest.mark.parametrize(("rows", "labels"), [(2, [0, 1]), (4, [5, 2, 8, 1])])
def test_linear_classifier_multirow(rows, labels, transform):
    check_model(linear_classifier(rows, labels, transform), x_rows(n=64))


def test_linear_classifier_softmax_then_l1_normalizer():
    """What skl2onnx writes for a multiclass LogisticRegression."""
    model = linear_classifier(3, [0, 1, 2], "SOFTMAX")
    node = model.graph.node[0]
    node.output[1] = "raw"
    model.graph.node.append(helper.make_node("Normalizer", ["raw"], ["probabilities"], domain="ai.onnx.ml", norm="L1"))
    module = check_model(model, x_rows(n=64))
    assert sorted(mnemonics(module)) == ["argmax", "gemm", "label_map", "softmax"]


@pytest.mark.parametrize(("targets", "intercepts"), [(1, True), (2, True), (3, False)])
def test_linear_regressor(targets, intercepts):
    r = rng(8)
    attrs = {"coefficients": [float(v) for v in r.normal(size=targets * F).astype(np.float32)], "targets": targets}
    if intercepts:
        attrs["intercepts"] = [float(v) for v in r.normal(size=targets).astype(np.float32)]
    node = helper.make_node("LinearRegressor", ["X"], ["y"], domain="ai.onnx.ml", **attrs)
    model = make_model([node], F, ml_opset=1, outputs=(("y", TensorProto.FLOAT, ["N", targets]),))
    module = check_model(model, x_rows())
    assert mnemonics(module) == ["gemm"] and (module.ops[0].bias is not None) == intercepts


# -- module-level properties --------------------------------------------------------------------------------


def test_module_name_attributes_and_output_names():
    nodes = [helper.make_node("Relu", ["X"], ["hidden"]), helper.make_node("Identity", ["hidden"], ["out.b"])]
    model = make_model(nodes, F, outputs=(("hidden", TensorProto.FLOAT), ("out.b", TensorProto.FLOAT)), name="my net (v2)")
    module = check_model(model, x_rows())
    assert module.name == "my_net_v2"
    assert module.attributes == (("opset", "13"), ("producer", "ml2sc-tests"), ("source", "<memory>"))
    assert [o.name for o in module.outputs] == ["hidden", "out.b"]
    assert module.outputs[0].value == module.outputs[1].value
    assert module.inputs[0].name == "x"


def test_import_from_path_and_name_override(tmp_path):
    from ml2sc.ir.onnx import import_onnx

    model = unary_model("Relu", 13)
    path = tmp_path / "relu.onnx"
    path.write_bytes(model.SerializeToString())
    module = import_onnx(path, name="relu_model")
    assert module.name == "relu_model"
    assert module.attribute("source") == str(path)
    assert import_onnx(str(path)).attribute("source") == str(path)


def test_import_from_path_with_external_weights(tmp_path):
    import onnx

    from ml2sc.ir.onnx import import_onnx

    w = weights((M, F))
    model = make_model([helper.make_node("Gemm", ["X", "W"], ["y"], transB=1)], F, initializers=[init("W", w)])
    path = tmp_path / "external.onnx"
    onnx.save_model(model, str(path), save_as_external_data=True, location="weights.bin", size_threshold=0)
    module = import_onnx(path)
    assert module.constant(module.ops[0].weight).values == f32_values(w)


def test_unused_branches_are_dropped():
    nodes = [helper.make_node("Relu", ["X"], ["y"]), helper.make_node("Sigmoid", ["X"], ["unused"])]
    assert mnemonics(check_model(make_model(nodes, F), x_rows())) == ["relu"]
