"""Shared helpers of the int8 tests: compile a float module with calibration rows."""

from __future__ import annotations

import dataclasses
from dataclasses import replace

import numpy as np

from ml2sc.compiler.driver import CompiledModel, get_backend
from ml2sc.compiler.passes.manager import PassManager
from ml2sc.ir import ops
from ml2sc.ir.module import Module, Output, Value
from ml2sc.ir.types import I64, TensorType
from tests.conftest import f32_constant, mlp_module


def quantize(module: Module, calibration: np.ndarray, options: str = "", place: str = "") -> Module:
    """The int8 pipeline with ``options`` for quantize-int8 and ``place`` for place-weights."""
    pipeline = get_backend("int8").pipeline.replace("quantize-int8", f"quantize-int8{{{options}}}" if options else "quantize-int8")
    pipeline = pipeline.replace("place-weights", f"place-weights{{{place}}}" if place else "place-weights")
    manager = PassManager.from_pipeline(pipeline)
    manager.passes = [dataclasses.replace(p, calibration=calibration) if hasattr(p, "calibration") else p
                      for p in manager.passes]
    return manager.run(module)


def build(module: Module, calibration: np.ndarray, options: str = "", place: str = "") -> CompiledModel:
    backend = get_backend("int8")
    q = quantize(module, calibration, options, place)
    return CompiledModel(module, q, backend.emit(q), backend)


def with_head(m: Module, head: str) -> Module:
    """Append argmax (+ label_map) outputs to a classifier module; 'argmax-only' drops the probabilities."""
    probs = m.outputs[0].value
    idx = Value("idx", TensorType((), I64))
    extra: list[ops.Op] = [ops.ArgMax(idx, probs)]
    outputs = [Output("probabilities", probs), Output("label", idx)]
    consts = m.constants
    if head == "labels":
        lab = Value("lab", TensorType((), I64))
        extra.append(ops.LabelMap(lab, idx, "classes"))
        outputs[1] = Output("label", lab)
        consts += (replace(f32_constant("classes", np.zeros(3)), type=TensorType((3,), I64), values=(-7, 0, 42)),)
    if head == "argmax-only":
        outputs = outputs[1:]
    return replace(m, ops=m.ops + tuple(extra), outputs=tuple(outputs), constants=consts)


def hidden_output(m: Module) -> Module:
    """Also expose the first gemm's result: its relu can then not be fused into the requantize."""
    return replace(m, outputs=m.outputs + (Output("hidden", m.ops[0].result),))


MODELS = {
    "relu-softmax": lambda: mlp_module([6, 5, 3], ["relu", "softmax"]),
    "tanh-sigmoid": lambda: mlp_module([6, 4, 2], ["tanh", "sigmoid"]),
    "leaky-hard-sigmoid": lambda: replace(mlp_module([6, 4, 3], ["leaky_relu", "hard_sigmoid"]), name="leaky"),
    "linear": lambda: mlp_module([6, 2], [""]),
    "argmax-labels": lambda: with_head(mlp_module([6, 5, 3], ["relu", "softmax"]), "labels"),
    "argmax-only": lambda: with_head(mlp_module([6, 5, 3], ["relu", "softmax"]), "argmax-only"),
    "unfused-relu": lambda: hidden_output(mlp_module([6, 5, 3], ["relu", ""])),
    "deep": lambda: mlp_module([12, 24, 16, 8, 1], ["relu", "leaky_relu", "tanh", "sigmoid"]),
}


def _clip_model() -> Module:
    m = mlp_module([6, 5, 3], ["relu", ""], name="clip")
    relu = m.ops[1]
    return replace(m, ops=(m.ops[0], ops.Clip(relu.result, relu.input, -0.25, 0.5), m.ops[2]))


MODELS["clip"] = _clip_model


def _input_activation() -> Module:
    """tanh straight on the input: the int8 input is then read by a table, not only by qgemms."""
    m = mlp_module([6, 3], [""], name="inact")
    x = m.inputs[0]
    t = Value("t", x.type)
    return replace(m, ops=(ops.Tanh(t, x), replace(m.ops[0], input=t)))


MODELS["input-activation"] = _input_activation
MODELS["wide"] = lambda: mlp_module([300, 4, 2], ["relu", "softmax"], name="wide")  # > 256 inputs: looped unpack
