"""Keras 3 model (TensorFlow backend) -> ONNX, for ``ml2sc.compile(model)``.

The layers, and the activation of each Dense/Activation layer, are checked
before exporting so an unsupported model fails naming the Keras layer
(``Conv2D`` (conv2d)). The export is Keras's own ``model.export(path,
format="onnx")``: public API, it builds the serving signature with a dynamic
batch axis from the model's inputs and hands it to tf2onnx (which it requires on
the TensorFlow backend). Calling tf2onnx ourselves would duplicate that
signature logic against Keras internals. Keras and TensorFlow are imported only
when this is called.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ml2sc.frontends.errors import FrontendError
from ml2sc.frontends.normalize import default_output_names, normalize

if TYPE_CHECKING:
    import onnx

SUPPORTED_LAYERS = (
    "InputLayer", "Dense", "BatchNormalization", "Dropout", "Flatten", "Identity",
    "Activation", "ReLU", "LeakyReLU", "Softmax",
)  # fmt: skip
SUPPORTED_ACTIVATIONS = ("linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "hard_sigmoid")
_SUPPORTED_TEXT = ", ".join(SUPPORTED_LAYERS)


@contextmanager
def _native_stderr_muted() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null while TensorFlow's native code loads.

    TensorFlow's C++ side prints banners (oneDNN, absl's "before InitializeLog")
    straight to fd 2 while it loads, whatever TF_CPP_MIN_LOG_LEVEL says; the CLI
    promises one line per error, so those are muted. Python-level errors still
    propagate as exceptions.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (an embedded interpreter): nothing to mute
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _keras() -> Any:
    """Import Keras on TensorFlow, with TensorFlow's C++ logging quiet unless the user chose otherwise."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "keras" not in sys.modules:
        with _native_stderr_muted():
            import keras  # noqa: F401 - loaded here so its native banners are muted
    import keras

    if keras.backend.backend() != "tensorflow":
        raise FrontendError(f"ml2sc exports Keras models on the TensorFlow backend; KERAS_BACKEND is '{keras.backend.backend()}' (set KERAS_BACKEND=tensorflow before importing keras)")
    return keras


def _leaf_layers(model: Any, keras: Any) -> Iterator[Any]:
    """Every layer, descending into nested models (a Sequential inside a functional model)."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer, keras)
        else:
            yield layer


def _activation_name(fn: Any) -> str:
    return str(getattr(fn, "__name__", None) or type(fn).__name__)


def check_keras_layers(model: Any) -> None:
    """Raise a ``FrontendError`` naming the first layer (or activation) that is not part of an MLP."""
    keras = _keras()
    supported = {getattr(keras.layers, name) for name in SUPPORTED_LAYERS}
    for layer in _leaf_layers(model, keras):
        kind = type(layer).__name__
        if type(layer) not in supported:
            raise FrontendError(f"unsupported Keras layer '{kind}' ({layer.name}): ml2sc compiles MLPs: {_SUPPORTED_TEXT}")
        activation = getattr(layer, "activation", None)
        if activation is not None and _activation_name(activation) not in SUPPORTED_ACTIVATIONS:
            raise FrontendError(
                f"unsupported activation '{_activation_name(activation)}' in Keras layer '{kind}' ({layer.name}): "
                f"supported activations: {', '.join(SUPPORTED_ACTIVATIONS)}"
            )


def _ensure_built(model: Any, sample_input: Any) -> None:
    """``model.export`` needs a model that has been called once; call it on a sample if it has not."""
    if getattr(model, "_called", True) and model.built:
        return
    if sample_input is None:
        shape = getattr(model, "input_shape", None) if model.built else None
        if not (isinstance(shape, tuple) and len(shape) == 2 and isinstance(shape[1], int)):
            raise FrontendError(f"Keras model '{model.name}' has not been built: declare keras.Input((features,)) or pass sample_input")
        sample_input = np.zeros((1, shape[1]), dtype=np.float32)
    sample = np.asarray(sample_input, dtype=np.float32)
    model(sample[None, :] if sample.ndim == 1 else sample[:1])


def export_keras(
    model: Any,
    sample_input: Any = None,
    *,
    output_names: Sequence[str] | None = None,
    name: str | None = None,
    opset: int | None = None,
    strict: bool = True,
) -> onnx.ModelProto:
    """Export a trained Keras 3 MLP to an ONNX model ml2sc compiles.

    ``sample_input`` ([N, F] rows) is needed only for a model that was never built
    or called. ``output_names`` defaults to ``output``. ``opset`` is tf2onnx's
    (its default, 15 today, is within what ml2sc reads). ``strict=False`` skips the
    layer check and leaves the verdict to the ONNX importer.
    """
    keras = _keras()
    import onnx

    if not isinstance(model, keras.Model):
        raise FrontendError(f"export_keras expects a keras.Model, got {type(model).__name__}")
    if strict:
        check_keras_layers(model)
    _ensure_built(model, sample_input)
    with tempfile.TemporaryDirectory(prefix="ml2sc-keras-") as tmp:
        path = Path(tmp) / "model.onnx"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.export(str(path), format="onnx", verbose=False, opset_version=opset)
        except Exception as e:  # tf2onnx and TensorFlow raise many types; the cause stays chained
            first = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise FrontendError(f"Keras ONNX export failed on '{model.name}': {first}") from e
        proto = onnx.load_model(str(path))
    names = list(output_names) if output_names is not None else default_output_names(len(proto.graph.output))
    return normalize(proto, name or model.name, names)
