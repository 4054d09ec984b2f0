"""Issue 14, import side: non-finite constants, N-D inputs, opsets per definition, every Gemm layout."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from onnx_import_testlib import init, make_model, rng, run_ort

from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.onnx import import_onnx
from ml2sc.ir.reference import run_reference

F = 4


def refused(model: onnx.ModelProto, *fragments: str) -> str:
    with pytest.raises(Ml2scError) as info:
        import_onnx(model)
    message = str(info.value)
    assert "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    return message


def agrees(model: onnx.ModelProto, x: np.ndarray, atol: float = 1e-5) -> object:
    """Import, run the reference on rows flattened in C order, compare with onnxruntime per row."""
    module = import_onnx(model)
    x = np.asarray(x, dtype=np.float32)
    got = run_reference(module, x.reshape(x.shape[0], -1))
    for name, want in run_ort(model, x).items():
        want = np.asarray(want)
        np.testing.assert_allclose(got[name].reshape(want.shape[0], -1), want.reshape(want.shape[0], -1),
                                   rtol=1e-5, atol=atol, err_msg=name)
    return module


# -- 1. non-finite constants and attributes, malformed models ------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weight_names_op_node_and_tensor(bad):
    w = np.ones((3, F), np.float32)
    w[1, 2] = bad
    node = helper.make_node("Gemm", ["X", "fc.weight"], ["y"], name="/fc/Gemm", transB=1)
    refused(make_model([node], F, initializers=[init("fc.weight", w)]), "node '/fc/Gemm' (Gemm)", "B 'fc.weight'", "contains")


@pytest.mark.parametrize(("op", "attr"), [("LeakyRelu", "alpha"), ("HardSigmoid", "beta")])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_attribute(op, attr, bad):
    node = helper.make_node(op, ["X"], ["y"], name="act", **{attr: bad})
    refused(make_model([node], F), f"node 'act' ({op})", f"attribute '{attr}'")


def test_non_finite_constant_node_bias():
    nodes = [helper.make_node("Constant", [], ["c"], value=init("c", np.array([1.0, np.nan, 0.0, 2.0], np.float32))),
             helper.make_node("Add", ["X", "c"], ["y"], name="bias")]
    refused(make_model(nodes, F), "node 'bias' (Add)", "'c'", "NaN")


def test_gemm_alpha_overflowing_float32_is_refused():
    node = helper.make_node("Gemm", ["X", "W"], ["y"], name="fc", transB=1, alpha=1e30)
    refused(make_model([node], F, initializers=[init("W", np.full((2, F), 1e30, np.float32))]), "node 'fc' (Gemm)", "Inf")


def test_clip_nan_bound_refused_and_infinite_bound_kept():
    nodes = [helper.make_node("Clip", ["X", "lo", "hi"], ["y"], name="clip")]
    lo, hi = init("lo", np.array(np.nan, np.float32)), init("hi", np.array(np.inf, np.float32))
    refused(make_model(nodes, F, initializers=[lo, hi]), "node 'clip' (Clip)", "NaN")
    module = import_onnx(make_model(nodes, F, initializers=[init("lo", np.array(0.0, np.float32)), hi]))
    assert module.ops[0].max == float("inf")


@pytest.mark.parametrize("dtype", [TensorProto.FLOAT16, TensorProto.INT64, TensorProto.STRING, TensorProto.BFLOAT16])
def test_non_float_inputs_are_refused(dtype):
    model = make_model([helper.make_node("Identity", ["X"], ["y"])], F, input_type=dtype, outputs=(("y", dtype, ["N", F]),))
    refused(model, "input 'X'", "only float or double inputs")


def test_missing_initializer_is_an_ml2sc_error():
    model = make_model([helper.make_node("MatMul", ["X", "W"], ["y"], name="mm")], F,
                       initializers=[init("W", np.ones((F, 2), np.float32))])
    del model.graph.initializer[:]
    refused(model)


def test_cast_of_data_to_float16_is_refused():
    node = helper.make_node("Cast", ["X"], ["y"], name="c", to=TensorProto.FLOAT16)
    refused(make_model([node], F, outputs=(("y", TensorProto.FLOAT16, ["N", F]),)), "node 'c' (Cast)", "FLOAT16")


# -- 3. N-D inputs ------------------------------------------------------------------------------------


class MnistMlp(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(2 * 5 * 5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.body(torch.relu(x * 2.0 - 0.5)), dim=1)


class ViewMlp(MnistMlp):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body[1:](x.reshape(-1, 50))  # a constant shape; x.view(x.shape[0], -1) exports Shape, refused


def _export_image_model(model: torch.nn.Module) -> onnx.ModelProto:
    import io

    buffer = io.BytesIO()
    torch.onnx.export(model, (torch.zeros(1, 2, 5, 5),), buffer, opset_version=17, dynamo=False,
                      input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    return onnx.load_from_string(buffer.getvalue())


@pytest.mark.parametrize("cls", [MnistMlp, ViewMlp])
def test_pytorch_image_mlp_with_flatten_or_reshape(cls):
    torch.manual_seed(0)
    module = agrees(_export_image_model(cls().eval()), rng(0).normal(size=(6, 2, 5, 5)))
    assert module.attribute("input_shape") == "2x5x5"
    assert module.inputs[0].type.shape == (50,)


def test_batchnorm_and_elementwise_on_nchw_then_flatten():
    c = 3
    inits = [init("s", rng(1).normal(size=c).astype(np.float32)), init("b", rng(2).normal(size=c).astype(np.float32)),
             init("m", rng(3).normal(size=c).astype(np.float32)), init("v", rng(4).uniform(0.5, 2, size=c).astype(np.float32)),
             init("k", rng(5).normal(size=(c, 1, 1)).astype(np.float32)), init("W", rng(6).normal(size=(c * 4, 2)).astype(np.float32))]
    nodes = [helper.make_node("BatchNormalization", ["X", "s", "b", "m", "v"], ["bn"]),
             helper.make_node("Mul", ["bn", "k"], ["scaled"]),
             helper.make_node("LeakyRelu", ["scaled"], ["act"], alpha=0.1),
             helper.make_node("Dropout", ["act"], ["d"]),
             helper.make_node("Flatten", ["d"], ["flat"]),
             helper.make_node("MatMul", ["flat", "W"], ["y"])]
    module = agrees(make_model(nodes, initializers=inits, input_shape=["N", c, 2, 2]), rng(7).normal(size=(5, c, 2, 2)))
    assert module.attribute("input_shape") == "3x2x2"


@pytest.mark.parametrize(("opset", "axis", "ok"), [(11, 1, True), (11, 2, False), (13, 1, False), (13, -1, False), (11, 0, False)])
def test_softmax_axis_semantics_per_opset(opset, axis, ok):
    model = make_model([helper.make_node("Softmax", ["X"], ["y"], name="sm", axis=axis)], opset=opset, input_shape=["N", 2, 3])
    if ok:
        agrees(model, rng(0).normal(size=(4, 2, 3)))
    else:
        refused(model, "node 'sm' (Softmax)", f"axis={axis}")


def test_argmax_over_the_only_non_unit_axis():
    model = make_model([helper.make_node("ArgMax", ["X"], ["y"], axis=2, keepdims=1)], input_shape=["N", 1, 5],
                       outputs=(("y", TensorProto.INT64),))
    agrees(model, rng(0).normal(size=(7, 1, 5)))


# -- 4. opsets: every definition the installed onnx knows ---------------------------------------------


@pytest.mark.parametrize("opset", [9, 12, 13, 16, 18, 21, 22, onnx.defs.onnx_opset_version()])
def test_mlp_at_every_opset(opset):
    nodes = [helper.make_node("Gemm", ["X", "W", "b"], ["h"], transB=1),
             helper.make_node("HardSigmoid", ["h"], ["a"]),
             helper.make_node("Dropout", ["a"], ["d"]),
             helper.make_node("Softmax", ["d"], ["y"], axis=1)]
    inits = [init("W", rng(0).normal(size=(3, F)).astype(np.float32)), init("b", rng(1).normal(size=3).astype(np.float32))]
    model = make_model(nodes, F, initializers=inits, opset=opset)
    x = rng(2).normal(size=(5, F))
    got = run_reference(import_onnx(model), x)["y"]
    h = 1 / (1 + 0 * x[:, :1]) * np.clip(0.2 * (x @ np.asarray(inits[0].float_data or onnx.numpy_helper.to_array(inits[0])).T
                                                + onnx.numpy_helper.to_array(inits[1])) + 0.5, 0, 1)
    want = np.exp(h) / np.exp(h).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_dropout_training_mode_input_refused_from_opset_12():
    node = helper.make_node("Dropout", ["X", "r", "t"], ["y"], name="drop")
    inits = [init("r", np.array(0.5, np.float32)), init("t", np.array(True))]
    refused(make_model([node], F, initializers=inits, opset=13), "node 'drop' (Dropout)", "training_mode")


def test_clip_attributes_before_opset_11():
    agrees(make_model([helper.make_node("Clip", ["X"], ["y"], min=-0.5, max=0.25)], F, opset=9), rng(0).normal(size=(5, F)))


# -- 5. Gemm and MatMul in every layout with one constant operand -------------------------------------

M = 3


def _gemm_model(data_left: bool, trans_a: int, trans_b: int, alpha: float, beta: float, c_shape: tuple | None,
                transpose_back: bool) -> onnx.ModelProto:
    w = rng(1).normal(size=(M, F)).astype(np.float32)  # (out, in)
    if data_left:
        inputs, w_init = ["X", "W"], (w if trans_b else w.T)
    else:
        inputs, w_init = ["W", "X"], (w.T if trans_a else w)
    inits = [init("W", w_init)]
    if c_shape is not None:
        inits.append(init("C", rng(2).normal(size=c_shape).astype(np.float32)))
        inputs.append("C")
    out = "y" if data_left or not transpose_back else "yt"
    nodes = [helper.make_node("Gemm", inputs, [out], transA=trans_a, transB=trans_b, alpha=alpha, beta=beta)]
    if out == "yt":
        nodes.append(helper.make_node("Transpose", ["yt"], ["y"], perm=[1, 0]))
    return make_model(nodes, F, initializers=inits)


@pytest.mark.parametrize("c_shape", [None, (), (1,), (M,), (1, M)])
@pytest.mark.parametrize(("alpha", "beta"), [(1.0, 1.0), (0.5, -2.0)])
@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_data_left(trans_b, alpha, beta, c_shape):
    agrees(_gemm_model(True, 0, trans_b, alpha, beta, c_shape, False), rng(3).normal(size=(5, F)))


@pytest.mark.parametrize("c_shape", [None, (), (1,), (M, 1), (1, 1)])
@pytest.mark.parametrize("trans_a", [0, 1])
def test_gemm_weights_left_transposed_back(trans_a, c_shape):
    agrees(_gemm_model(False, trans_a, 1, 0.5, 1.5, c_shape, True), rng(3).normal(size=(5, F)))


def test_gemm_weights_left_without_transpose_back_is_refused():
    refused(_gemm_model(False, 0, 1, 1.0, 1.0, None, False), "graph output 'y'", "transpose it back")


def test_gemm_mixing_samples_is_refused():
    refused(_gemm_model(True, 1, 1, 1.0, 1.0, None, False), "transA=1", "mixes the samples")
    refused(_gemm_model(False, 0, 0, 1.0, 1.0, None, True), "transB=0", "mixes the samples")


def test_gemm_bias_per_sample_is_refused_for_the_transposed_layout():
    model = _gemm_model(False, 0, 1, 1.0, 1.0, (M, 5), True)
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 5
    refused(model, "C of shape [3, 5]", "depends on the batch")


def test_chained_weights_left_layout():
    """y = (W2 (W1 x')) ' : two gemms in the W x' layout, one Transpose at the end."""
    w1, w2 = rng(1).normal(size=(M, F)).astype(np.float32), rng(2).normal(size=(2, M)).astype(np.float32)
    nodes = [helper.make_node("Gemm", ["W1", "X"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["W2", "r"], ["o"]), helper.make_node("Transpose", ["o"], ["y"])]
    agrees(make_model(nodes, F, initializers=[init("W1", w1), init("W2", w2)]), rng(3).normal(size=(5, F)))


def test_single_output_weights_left_is_a_value_per_row():
    nodes = [helper.make_node("Gemm", ["W", "X"], ["h"], transB=1), helper.make_node("Reshape", ["h", "s"], ["y"])]
    inits = [init("W", rng(1).normal(size=(1, F)).astype(np.float32)), init("s", np.array([-1, 1], np.int64))]
    agrees(make_model(nodes, F, initializers=inits), rng(3).normal(size=(5, F)))


def test_matmul_constant_left_on_a_batched_matrix_is_refused():
    node = helper.make_node("MatMul", ["W", "X"], ["y"], name="mm")
    model = make_model([node], F, initializers=[init("W", np.ones((2, 5), np.float32))], input_shape=[5, F])
    refused(model, "node 'mm' (MatMul)", "mixes the samples")
