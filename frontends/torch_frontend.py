"""PyTorch ``nn.Module`` -> ONNX, for ``ml2sc.compile(module)``.

The layers are checked before exporting, so an unsupported model fails with the
name of the PyTorch layer (``Conv2d`` at ``features.0``) rather than with an
ONNX op the user never wrote. The export uses torch's dynamo exporter (the
default since torch 2.9; the TorchScript one is deprecated) at opset 21 with a
dynamic batch axis, in eval mode so Dropout is gone and BatchNorm uses its
running statistics; the module's own training flag is restored afterwards.
torch is imported only when this is called.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from ml2sc.frontends.errors import FrontendError
from ml2sc.frontends.normalize import MAX_OPSET, default_output_names, normalize

if TYPE_CHECKING:
    import onnx
    import torch

# Leaf modules an MLP is made of; containers (Sequential, a user's nn.Module with
# children) are walked through, their forward is checked by the ONNX importer.
SUPPORTED_LAYERS = (
    "Linear", "BatchNorm1d", "Dropout", "Flatten", "Identity",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "Hardsigmoid",
)  # fmt: skip
_SUPPORTED_TEXT = ", ".join(SUPPORTED_LAYERS)


def check_torch_layers(module: torch.nn.Module) -> None:
    """Raise a ``FrontendError`` naming the first leaf module that is not an MLP layer."""
    import torch

    supported = {getattr(torch.nn, name) for name in SUPPORTED_LAYERS}
    for path, sub in module.named_modules():
        if type(sub) in supported:
            continue
        container = next(sub.children(), None) is not None
        if container and not any(True for _ in sub.parameters(recurse=False)):
            continue
        where = path or "the model itself"
        raise FrontendError(f"unsupported PyTorch layer '{type(sub).__name__}' ({where}): ml2sc compiles MLPs: {_SUPPORTED_TEXT}")


def _features(module: torch.nn.Module) -> int:
    """The input width, read off the first Linear or BatchNorm1d (registration order)."""
    import torch

    for sub in module.modules():
        if isinstance(sub, torch.nn.Linear):
            return int(sub.in_features)
        if isinstance(sub, torch.nn.BatchNorm1d):
            return int(sub.num_features)
    raise FrontendError("cannot tell the input width of this PyTorch model: pass sample_input (a few input rows)")


def _sample(module: torch.nn.Module, sample_input: Any) -> torch.Tensor:
    """A float [B >= 2, F] tensor in the module's dtype: batch 1 would let torch.export specialise the batch."""
    import torch

    param = next(module.parameters(), None)
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    if sample_input is None:
        return torch.zeros(2, _features(module), dtype=dtype)
    data = sample_input.detach().cpu() if isinstance(sample_input, torch.Tensor) else torch.from_numpy(np.asarray(sample_input))
    data = data.to(dtype)
    if data.ndim == 1:
        data = data[None, :]
    if data.ndim != 2 or data.shape[0] == 0:
        raise FrontendError(f"sample_input has shape {tuple(data.shape)}; ml2sc compiles models on [N, features] inputs (flatten images before the model)")
    return torch.cat([data[:1], data[:1]]) if data.shape[0] == 1 else data[:2]


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's chatter (missing torchvision ops, deprecations) during export only."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _export(module: torch.nn.Module, sample: torch.Tensor, input_name: str, opset: int, dynamo: bool) -> onnx.ModelProto:
    import onnx
    import torch

    if dynamo:
        batch = torch.export.Dim("batch")
        program = torch.onnx.export(
            module, (sample,), dynamo=True, opset_version=opset, input_names=[input_name],
            dynamic_shapes=({0: batch},), verbose=False, optimize=True,
        )  # fmt: skip
        return program.model_proto
    buf = io.BytesIO()
    torch.onnx.export(
        module, (sample,), buf, dynamo=False, opset_version=opset, input_names=[input_name],
        dynamic_axes={input_name: {0: "N"}},
    )  # fmt: skip
    return onnx.load_model_from_string(buf.getvalue())


def export_torch(
    module: torch.nn.Module,
    sample_input: Any = None,
    *,
    output_names: Sequence[str] | None = None,
    name: str | None = None,
    opset: int = MAX_OPSET,
    dynamo: bool = True,
    strict: bool = True,
) -> onnx.ModelProto:
    """Export a trained PyTorch MLP to an ONNX model ml2sc compiles.

    ``sample_input``: a few input rows (array or tensor, [N, F]); optional when the
    first layer is a Linear or BatchNorm1d (its width is used). ``output_names``
    defaults to ``output`` (``output_0``, ... for several outputs). ``dynamo=False``
    uses the legacy TorchScript exporter. ``strict=False`` skips the layer check and
    leaves the verdict to the ONNX importer (for custom modules that export to
    supported ops). The module is exported in eval mode; its mode is restored.
    """
    import torch

    if not isinstance(module, torch.nn.Module):
        raise FrontendError(f"export_torch expects a torch.nn.Module, got {type(module).__name__}")
    if strict:
        check_torch_layers(module)
    sample = _sample(module, sample_input)
    training = module.training
    module.eval()
    try:
        with _quiet(), torch.no_grad():
            proto = _export(module, sample, "x", opset, dynamo)
    except FrontendError:
        raise
    except Exception as e:  # the exporters raise many types; the cause stays chained
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise FrontendError(f"torch.onnx.export failed on {type(module).__name__}: {first}") from e
    finally:
        module.train(training)
    names = list(output_names) if output_names is not None else default_output_names(len(proto.graph.output))
    return normalize(proto, name or type(module).__name__, names)
