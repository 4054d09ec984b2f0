"""Shared helpers for the ONNX import tests: building small models and comparing with onnxruntime.

Every comparison runs the imported module through the float64 reference
interpreter and checks it against onnxruntime twice: against the model as
exported (float32, loose tolerance) and, where onnxruntime can run it in
double (``to_float64``), against that float64 twin with a tight tolerance, so
a misread op cannot hide inside float32 rounding.
"""

from __future__ import annotations

import io
import warnings
from typing import TYPE_CHECKING

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from ml2sc.ir.module import Module
from ml2sc.ir.onnx import import_onnx
from ml2sc.ir.reference import run_reference
from ml2sc.tools.onnx_float64 import to_float64

if TYPE_CHECKING:
    import torch

RTOL32 = ATOL32 = 1e-5
TOL64 = 1e-9  # nothing but float64 rounding separates the reference from a float64 twin...
FOLDED64 = 1e-6  # ...unless the importer folded constants (alpha * B, 1 / c) into float32 once


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def init(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(array), name)


def make_model(nodes: list[onnx.NodeProto], features: int = 4, *, initializers: tuple = (), opset: int = 13,
               outputs: tuple = (("y", TensorProto.FLOAT),), ml_opset: int | None = None,
               input_shape: list | None = None, input_type: int = TensorProto.FLOAT,
               name: str = "test_graph") -> onnx.ModelProto:
    """A model with one input 'X' of shape [N, features] (or ``input_shape``) and the given nodes."""
    shape = input_shape if input_shape is not None else ["N", features]
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("X", input_type, shape)],
        [helper.make_tensor_value_info(o[0], o[1], o[2] if len(o) > 2 else None) for o in outputs],
        initializer=list(initializers),
    )
    opsets = [helper.make_opsetid("", opset)]
    if ml_opset is not None:
        opsets.append(helper.make_opsetid("ai.onnx.ml", ml_opset))
    # The IR version that goes with the opset, so that old opsets stay loadable.
    model = helper.make_model_gen_version(graph, opset_imports=opsets, producer_name="ml2sc-tests")
    return _with_output_shapes(model)


def _with_output_shapes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Declare undeclared graph output shapes as shape inference finds them (the checker wants one)."""
    inferred = onnx.shape_inference.infer_shapes(model)
    known = {v.name: v for v in (*inferred.graph.value_info, *inferred.graph.output)}
    for out in model.graph.output:
        if out.type.tensor_type.HasField("shape"):
            continue
        info = known.get(out.name)
        assert info is not None and info.type.tensor_type.HasField("shape"), f"declare the shape of output '{out.name}'"
        out.type.tensor_type.shape.CopyFrom(info.type.tensor_type.shape)
    return model


def run_ort(model: onnx.ModelProto, x: np.ndarray) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {session.get_inputs()[0].name: x}), strict=True))


def _input_dtype(model: onnx.ModelProto) -> type:
    elem = model.graph.input[0].type.tensor_type.elem_type
    return np.float64 if elem == TensorProto.DOUBLE else np.float32


def _compare(got: dict[str, np.ndarray], expected: dict[str, np.ndarray], rtol: float, atol: float, what: str) -> None:
    assert set(got) == set(expected), f"{what}: outputs {sorted(got)} != {sorted(expected)}"
    for name, want in expected.items():
        have = got[name]
        assert have.size == want.size, f"{what}: output '{name}' has {have.size} values, expected {want.size}"
        want = want.reshape(have.shape)
        if want.dtype.kind in "iu":
            np.testing.assert_array_equal(have, want, err_msg=f"{what}: labels '{name}' differ")
        else:
            np.testing.assert_allclose(have, want, rtol=rtol, atol=atol, err_msg=f"{what}: output '{name}'")


def check_model(model: onnx.ModelProto, x: np.ndarray, *, rtol: float = RTOL32, atol: float = ATOL32,
                need_float64: bool = False, tol64: float = TOL64) -> Module:
    """Import ``model`` and compare the reference interpreter with onnxruntime on rows ``x``."""
    module = import_onnx(model)
    rows = np.asarray(x, dtype=np.float32)
    batched = len(model.graph.input[0].type.tensor_type.shape.dim) == 2
    ort_x = rows.astype(_input_dtype(model))
    got = run_reference(module, rows if batched else rows[None])
    if not batched:
        got = {k: v[0] for k, v in got.items()}
    _compare(got, run_ort(model, ort_x if batched else ort_x[0]), rtol, atol, "float32 onnxruntime")
    try:
        twin = to_float64(model)
    except ValueError:
        assert not need_float64, "to_float64 failed on a model that has double kernels"
        return module
    x64 = rows.astype(np.float64)
    _compare(got, run_ort(twin, x64 if batched else x64[0]), tol64, tol64, "float64 onnxruntime")
    return module


def mnemonics(module: Module) -> list[str]:
    return [op.mnemonic for op in module.ops]


def f32_values(array: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in np.asarray(array).astype(np.float32).ravel())


# -- PyTorch models (torch is imported lazily: it is an optional dependency) -----------------------


def all_activations_mlp() -> torch.nn.Module:
    """Every layer type the importer knows, with non-trivial BatchNorm statistics."""
    import torch

    nn = torch.nn
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Flatten(),
        nn.Linear(6, 10), nn.BatchNorm1d(10), nn.ReLU(), nn.Dropout(0.3),
        nn.Linear(10, 10), nn.LeakyReLU(0.1),
        nn.Linear(10, 10), nn.Sigmoid(),
        nn.Linear(10, 10), nn.Tanh(),
        nn.Linear(10, 10), nn.Hardsigmoid(),
        nn.Linear(10, 10), nn.ReLU6(),
        nn.Linear(10, 4), nn.Softmax(dim=1),
    )
    _randomize_batchnorm(model[2])
    return model.eval()


def normalized_input_mlp() -> torch.nn.Module:
    """BatchNorm straight on the input and a bias-free Linear (MatMul in the legacy exporter)."""
    import torch

    nn = torch.nn
    torch.manual_seed(1)
    model = nn.Sequential(nn.BatchNorm1d(6), nn.Linear(6, 8, bias=False), nn.LeakyReLU(), nn.Linear(8, 3))
    _randomize_batchnorm(model[0])
    return model.eval()


def _randomize_batchnorm(bn: torch.nn.BatchNorm1d) -> None:
    import torch

    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.3, 3)
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)


def export_legacy(model: torch.nn.Module, opset: int | None) -> onnx.ModelProto:
    """The TorchScript exporter (deprecated, still what most published models went through)."""
    import torch

    buffer = io.BytesIO()
    kwargs = {} if opset is None else {"opset_version": opset}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(model, (torch.randn(8, 6),), buffer, dynamo=False, input_names=["features"],
                          output_names=["scores"], dynamic_axes={"features": {0: "batch"}, "scores": {0: "batch"}}, **kwargs)
    return onnx.load_model_from_string(buffer.getvalue())


def export_dynamo(model: torch.nn.Module, opset: int | None) -> onnx.ModelProto:
    """The torch.export-based exporter (needs onnxscript; runs offline)."""
    import torch

    kwargs = {} if opset is None else {"opset_version": opset}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model, (torch.randn(8, 6),), dynamo=True, verbose=False, input_names=["features"],
                                    output_names=["scores"], dynamic_shapes=({0: torch.export.Dim("batch")},), **kwargs)
    return program.model_proto
