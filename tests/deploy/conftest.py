"""Models and chains for the deployment tests: a small ONNX classifier (label and probabilities,
built with onnx.helper: no framework, no training) and anvil, started and stopped per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from ml2sc.chain.rpc import AnvilChain

N_IN, N_HIDDEN, N_CLASSES = 6, 5, 3


def classifier_onnx(path: Path, seed: int = 0, label: bool = True) -> Path:
    """6-5-3 relu MLP with a softmax head and an ArgMax label: two outputs, an int and a float one
    (``label=False``: the probabilities only, for ml2sc-baseline, which has no argmax)."""
    rng = np.random.default_rng(seed)

    def tensor(name: str, shape: list[int], scale: float) -> onnx.TensorProto:
        return helper.make_tensor(name, TensorProto.FLOAT, shape, (scale * rng.normal(size=shape)).ravel().tolist())

    inits = [tensor("w1", [N_IN, N_HIDDEN], 0.6), tensor("b1", [N_HIDDEN], 0.1),
             tensor("w2", [N_HIDDEN, N_CLASSES], 0.8), tensor("b2", [N_CLASSES], 0.1)]
    nodes = [helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1"), helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Gemm", ["r", "w2", "b2"], ["z"], name="fc2"),
             helper.make_node("Softmax", ["z"], ["probabilities"], axis=1),
             helper.make_node("ArgMax", ["z"], ["label"], axis=1, keepdims=0)][: 5 if label else 4]
    graph = helper.make_graph(nodes, "classifier", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", N_IN])],
                              [helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
                               helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", N_CLASSES])
                               ][1 - label:],
                              inits)
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def rows(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, N_IN)).astype(np.float32)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return classifier_onnx(tmp_path_factory.mktemp("model") / "classifier.onnx")


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilChain]:
    with AnvilChain() as chain:
        yield chain
