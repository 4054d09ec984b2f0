"""Float64 reference semantics of the float IR, for tests and validation.

It is the IR's meaning before quantization: what ``import`` promises to keep
from the ONNX graph, and what a quantized simulator is compared against.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ml2sc.ir import ops
from ml2sc.ir.module import Module


def _const(module: Module, name: str) -> np.ndarray:
    c = module.constant(name)
    return np.asarray(c.values, dtype=np.float64).reshape(c.type.shape)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))


def _eval_op(op: ops.Op, x: np.ndarray, module: Module) -> np.ndarray:  # noqa: C901 - a flat dispatch
    match op:
        case ops.Gemm():
            y = x @ _const(module, op.weight).T
            return y + _const(module, op.bias) if op.bias else y
        case ops.Affine():
            return x * _const(module, op.scale) + _const(module, op.offset)
        case ops.BatchNorm():
            c = {n: _const(module, getattr(op, n)) for n in ("scale", "bias", "mean", "var")}
            return (x - c["mean"]) / np.sqrt(c["var"] + op.epsilon) * c["scale"] + c["bias"]
        case ops.Relu():
            return np.maximum(x, 0.0)
        case ops.LeakyRelu():
            return np.where(x >= 0, x, x * op.alpha)
        case ops.Sigmoid():
            return _sigmoid(x)
        case ops.Tanh():
            return np.tanh(x)
        case ops.Softmax():
            return _softmax(x)
        case ops.HardSigmoid():
            return np.clip(op.alpha * x + op.beta, 0.0, 1.0)
        case ops.Clip():
            return np.clip(x, op.min, op.max)
        case ops.ArgMax():
            return np.argmax(x, axis=-1).astype(np.int64)
        case ops.LabelMap():
            return np.asarray(module.constant(op.classes).values, dtype=np.int64)[x]
    raise NotImplementedError(f"no reference semantics for {op.mnemonic}")


def run_reference(module: Module, x: np.ndarray) -> dict[str, np.ndarray]:
    """Evaluate a float module on a batch ``x`` of shape (N, features); outputs keyed by name."""
    env: dict[str, np.ndarray] = {module.inputs[0].name: np.asarray(x, dtype=np.float64)}
    for op in module.ops:
        env[op.result.name] = _eval_op(op, env[op.operands[0].name], module)
    return {out.name: env[out.value.name] for out in module.outputs}


Evaluator = Callable[[Module, np.ndarray], dict[str, np.ndarray]]


def evaluate_all(module: Module, x: np.ndarray) -> dict[str, np.ndarray]:
    """Like ``run_reference`` but returns every value (input and op results) by name.

    Calibration needs the range of each intermediate value, not only the outputs.
    """
    env: dict[str, np.ndarray] = {module.inputs[0].name: np.asarray(x, dtype=np.float64)}
    for op in module.ops:
        env[op.result.name] = _eval_op(op, env[op.operands[0].name], module)
    return env
