"""What the importer refuses, and that it says so in one precise line."""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx_import_testlib import init, make_model

from ml2sc.ir.errors import Ml2scError, OnnxImportError
from ml2sc.ir.onnx import import_onnx

F = 4


def relu_model(opset: int = 13) -> object:
    return make_model([helper.make_node("Relu", ["X"], ["y"], name="act")], F, opset=opset)


def import_error(model: object, *fragments: str) -> str:
    """Import ``model``, expect an OnnxImportError whose one-line message has all ``fragments``."""
    with pytest.raises(OnnxImportError) as info:
        import_onnx(model)
    message = str(info.value)
    assert isinstance(info.value, Ml2scError)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


# -- unreadable models --------------------------------------------------------------------------


def test_missing_file(tmp_path):
    path = tmp_path / "nope.onnx"
    import_error(path, f"cannot read ONNX model '{path}'", "No such file")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    import_error(path, "cannot read ONNX model", "empty")


def test_truncated_file(tmp_path):
    data = make_model([helper.make_node("Gemm", ["X", "W"], ["y"])], F,
                      initializers=[init("W", np.ones((F, 64), np.float32))]).SerializeToString()
    path = tmp_path / "truncated.onnx"
    path.write_bytes(data[: len(data) // 2])
    import_error(path, f"cannot read ONNX model '{path}'")


@pytest.mark.parametrize("garbage", [b"this is not an ONNX model\n" * 20, bytes(range(256)) * 4, b"\x00" * 100])
def test_garbage_file(tmp_path, garbage):
    path = tmp_path / "garbage.onnx"
    path.write_bytes(garbage)
    import_error(path, f"cannot read ONNX model '{path}'")


def test_directory_instead_of_file(tmp_path):
    import_error(tmp_path, "cannot read ONNX model")


def test_model_without_nodes():
    model = relu_model()
    del model.graph.node[:]
    import_error(model, "cannot read ONNX model '<memory>'", "no nodes")


def test_invalid_model_fails_the_checker():
    model = make_model([helper.make_node("Relu", ["X"], ["y"])], F)
    model.graph.node[0].input[0] = "missing"
    import_error(model, "invalid ONNX model '<memory>'", "topologically sorted", "'missing'")


def test_not_a_model():
    with pytest.raises(TypeError):
        import_onnx(42)


# -- opsets ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("opset", [7, 8])
def test_unsupported_opsets(opset):
    import_error(relu_model(opset), f"opset {opset}", f"9-{onnx.defs.onnx_opset_version()}", "opset_version=21")


def test_opset_newer_than_installed_onnx():
    newest = onnx.defs.onnx_opset_version()
    model = relu_model(13)
    model.opset_import[0].version = newest + 1
    import_error(model, f"opset {newest + 1}", "newer than the installed onnx", f"up to {newest}")


# -- ops ---------------------------------------------------------------------------------------------------------


def test_conv_names_op_node_domain_and_opset():
    w = init("W", np.ones((2, 1, 3), np.float32))
    nodes = [helper.make_node("Conv", ["X", "W"], ["y"], name="conv1")]
    model = make_model(nodes, initializers=[w], input_shape=["N", 1, 8])
    message = import_error(model, "unsupported ONNX op 'Conv'", "node 'conv1'", "domain 'ai.onnx'", "opset 13", "supported: ")
    supported = message.split("supported: ")[1].split(", ")
    assert supported == sorted(supported) and "Gemm" in supported and "LinearClassifier" in supported


def test_unsupported_op_in_an_unnamed_node():
    model = make_model([helper.make_node("Relu", ["X"], ["a"]), helper.make_node("Elu", ["a"], ["y"])], F)
    import_error(model, "unsupported ONNX op 'Elu'", "node #1 producing 'y'")


def test_unsupported_op_of_another_domain():
    node = helper.make_node("Binarizer", ["X"], ["y"], domain="ai.onnx.ml", name="bin")
    model = make_model([node], F, ml_opset=1, outputs=(("y", TensorProto.FLOAT, ["N", F]),))
    import_error(model, "unsupported ONNX op 'Binarizer'", "domain 'ai.onnx.ml'", "opset 1")


def test_constant_divided_by_data():
    model = make_model([helper.make_node("Div", ["c", "X"], ["y"], name="recip")], F,
                       initializers=[init("c", np.ones(F, np.float32))])
    import_error(model, "node 'recip' (Div)", "c / x is not an affine")


def test_two_data_operands():
    model = make_model([helper.make_node("Mul", ["X", "X"], ["y"], name="square")], F)
    import_error(model, "node 'square' (Mul)", "two computed tensors")


def test_gemm_trans_a():
    node = helper.make_node("Gemm", ["X", "W"], ["y"], name="fc", transA=1)
    model = make_model([node], F, initializers=[init("W", np.ones((7, 3), np.float32))], input_shape=[7, F])
    import_error(model, "node 'fc' (Gemm)", "transA=1")


def test_non_constant_weights():
    nodes = [helper.make_node("Relu", ["X"], ["r"]), helper.make_node("Transpose", ["r"], ["t"]),
             helper.make_node("MatMul", ["X", "t"], ["y"], name="mm")]
    import_error(make_model(nodes, F, input_shape=[F, F]), "node 'mm' (MatMul)", "two computed tensors")
    node = helper.make_node("Gemm", ["X", "X"], ["y"], name="fc", transB=1)
    import_error(make_model([node], F), "node 'fc' (Gemm)", "two computed tensors")


def test_gemm_bias_varying_per_row():
    node = helper.make_node("Gemm", ["X", "W", "C"], ["y"], name="fc", transB=1)
    inits = [init("W", np.ones((3, F), np.float32)), init("C", np.arange(6, dtype=np.float32).reshape(2, 3))]
    import_error(make_model([node], F, initializers=inits, input_shape=[2, F]), "node 'fc' (Gemm)", "C of shape [2, 3]")


def test_weight_shape_mismatch():
    node = helper.make_node("MatMul", ["X", "W"], ["y"], name="mm")
    model = make_model([node], F, initializers=[init("W", np.ones((F, 3), np.float32))])
    model.graph.initializer[0].CopyFrom(init("W", np.ones((F + 1, 3), np.float32)))
    import_error(model, "shape inference failed", "node name: mm", "Incompatible dimensions")


def test_multiple_data_inputs():
    graph = helper.make_graph(
        [helper.make_node("Add", ["A", "B"], ["y"])], "two",
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, ["N", F]), helper.make_tensor_value_info("B", TensorProto.FLOAT, ["N", F])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", F])],
    )
    model = helper.make_model_gen_version(graph, opset_imports=[helper.make_opsetid("", 13)])
    import_error(model, "2 data inputs ('A', 'B')", "exactly one")


def test_three_dimensional_input_with_a_grouped_softmax():
    model = make_model([helper.make_node("Softmax", ["X"], ["y"], name="sm")], input_shape=["N", 2, 3])
    import_error(model, "node 'sm' (Softmax)", "[N, 2, 3]", "several groups")


def test_dynamic_feature_count():
    import_error(make_model([helper.make_node("Relu", ["X"], ["y"])], input_shape=["N", "F"]), "every dimension but the batch must be static")


def test_integer_input():
    model = make_model([helper.make_node("Cast", ["X"], ["y"], to=TensorProto.FLOAT)], F,
                       input_type=TensorProto.INT64)
    import_error(model, "input 'X'", "INT64")


def test_reshape_across_samples():
    nodes = [helper.make_node("Reshape", ["X", "s"], ["y"], name="rs")]
    model = make_model(nodes, F, initializers=[init("s", np.array([2, -1], np.int64))])
    import_error(model, "node 'rs' (Reshape)", "[N, 4]", "[2, -1]", "one row per sample")


def test_reshape_merging_rows():
    nodes = [helper.make_node("Reshape", ["X", "s"], ["y"], name="rs")]
    model = make_model(nodes, F, initializers=[init("s", np.array([-1], np.int64))])
    import_error(model, "node 'rs' (Reshape)", "one row per sample")


@pytest.mark.parametrize(("op", "attrs", "fragment"), [
    ("Softmax", {"axis": 0}, "axis=0"),
    ("ArgMax", {"axis": 0}, "axis=0"),
    ("ArgMax", {"axis": 1, "select_last_index": 1}, "select_last_index=1"),
    ("Flatten", {"axis": 0}, "axis=0"),
])
def test_axis_attributes(op, attrs, fragment):
    out_type = TensorProto.INT64 if op == "ArgMax" else TensorProto.FLOAT
    model = make_model([helper.make_node(op, ["X"], ["y"], name="n1", **attrs)], F, outputs=(("y", out_type),))
    import_error(model, f"node 'n1' ({op})", fragment)


def test_softmax_default_axis_on_a_one_dimensional_input_before_opset_13():
    model = make_model([helper.make_node("Softmax", ["X"], ["y"], name="sm")], F, opset=11, input_shape=[F],
                       outputs=(("y", TensorProto.FLOAT, [F]),))
    import_error(model, "node name: sm", "'axis' must be in [-1 , 0]")


def test_clip_min_above_max():
    nodes = [helper.make_node("Clip", ["X"], ["y"], name="clip", min=2.0, max=1.0)]
    import_error(make_model(nodes, F, opset=9), "node 'clip' (Clip)", "min 2.0 is greater than max 1.0")


def test_dropout_mask_is_unsupported():
    nodes = [helper.make_node("Dropout", ["X"], ["y", "mask"], name="drop")]
    model = make_model(nodes, F, outputs=(("y", TensorProto.FLOAT), ("mask", TensorProto.BOOL)))
    import_error(model, "node 'drop' (Dropout)", "output 1 'mask'")


def test_cast_of_features_to_int():
    model = make_model([helper.make_node("Cast", ["X"], ["y"], name="c", to=TensorProto.INT64)], F,
                       outputs=(("y", TensorProto.INT64),))
    import_error(model, "node 'c' (Cast)", "to INT64")


def test_constant_graph_output():
    nodes = [helper.make_node("Relu", ["X"], ["y"]), helper.make_node("Constant", [], ["k"], value_float=1.0)]
    model = make_model(nodes, F, outputs=(("y", TensorProto.FLOAT), ("k", TensorProto.FLOAT)))
    import_error(model, "graph output 'k' is a constant")


# -- scikit-learn heads -------------------------------------------------------------------------------------------


def test_string_class_labels():
    nodes = [
        helper.make_node("ArgMax", ["X"], ["i"], axis=1),
        helper.make_node("ArrayFeatureExtractor", ["classes", "i"], ["y"], domain="ai.onnx.ml", name="labels"),
    ]
    classes = helper.make_tensor("classes", TensorProto.STRING, [F], [b"a", b"b", b"c", b"d"])
    model = make_model(nodes, F, ml_opset=1, initializers=[classes], outputs=(("y", TensorProto.STRING, ["N", 1]),))
    message = import_error(model, "node 'labels' (ArrayFeatureExtractor)", "string class labels are not supported")
    assert re.search(r"integer labels", message)


def test_linear_classifier_string_labels():
    node = helper.make_node("LinearClassifier", ["X"], ["label", "p"], domain="ai.onnx.ml", name="lc",
                            coefficients=[1.0] * (2 * F), intercepts=[0.0, 0.0], classlabels_strings=["a", "b"])
    outputs = (("label", TensorProto.STRING, ["N"]), ("p", TensorProto.FLOAT, ["N", 2]))
    import_error(make_model([node], F, ml_opset=1, outputs=outputs), "node 'lc' (LinearClassifier)", "string class labels")


def test_zipmap_gives_the_export_advice():
    nodes = [
        helper.make_node("Softmax", ["X"], ["p"]),
        helper.make_node("ZipMap", ["p"], ["y"], domain="ai.onnx.ml", name="zm", classlabels_int64s=[0, 1, 2, 3]),
    ]
    graph = helper.make_graph(nodes, "zip", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", F])],
                              [helper.make_value_info("y", helper.make_sequence_type_proto(
                                  helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, []))))])
    model = helper.make_model_gen_version(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("ai.onnx.ml", 1)])
    import_error(model, "node 'zm' (ZipMap)", "options={id(model): {'zipmap': False}}", "export_sklearn")


def test_normalizer_other_than_l1_after_softmax():
    node = helper.make_node("Normalizer", ["X"], ["y"], domain="ai.onnx.ml", name="norm", norm="L2")
    model = make_model([node], F, ml_opset=1, outputs=(("y", TensorProto.FLOAT, ["N", F]),))
    import_error(model, "node 'norm' (Normalizer)", "norm='L2'")


def test_scaler_lengths_must_match():
    node = helper.make_node("Scaler", ["X"], ["y"], domain="ai.onnx.ml", name="sc", offset=[0.0], scale=[1.0] * F)
    model = make_model([node], F, ml_opset=1, outputs=(("y", TensorProto.FLOAT, ["N", F]),))
    import_error(model, "node 'sc' (Scaler)", "equal lengths")
