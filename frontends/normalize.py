"""Bring what an exporter emits to one shape: the same input name, a dynamic batch, opset <= 21.

Each exporter has its own habits: torch's dynamo exporter names the input after
the forward argument and uses opset 18-20, tf2onnx (behind Keras's
``model.export``) calls it ``keras_tensor_7`` and the output ``Identity:0``,
skl2onnx imports the default domain twice. Users and the contract's artifact see
these names (``deployed.predict(x)`` is keyed by output name), so the frontends
normalise them here: input ``x``, outputs named by the caller or the frontend,
batch axis ``N``, one opset per domain, no unused domains, graph named after
the model (the contract is named after the graph).
"""

from __future__ import annotations

from collections.abc import Sequence

import onnx

from ml2sc.frontends.errors import FrontendError

MAX_OPSET = 21  # the importer lowers opsets 9-21 of the default domain
MIN_OPSET = 9
BATCH = "N"


def _names_in_use(graph: onnx.GraphProto) -> set[str]:
    names = {t.name for t in graph.initializer}
    names |= {v.name for v in (*graph.input, *graph.output, *graph.value_info)}
    for node in graph.node:
        names |= set(node.input) | set(node.output)
    return names - {""}


def _rename(graph: onnx.GraphProto, old: str, new: str) -> None:
    """Rename tensor ``old`` to ``new`` everywhere in ``graph``; a clashing ``new`` is moved aside first."""
    if old == new:
        return
    in_use = _names_in_use(graph)
    if new in in_use:
        spare = next(f"{new}_{i}" for i in range(1, len(in_use) + 2) if f"{new}_{i}" not in in_use)
        _rename(graph, new, spare)
    for node in graph.node:
        node.input[:] = [new if n == old else n for n in node.input]
        node.output[:] = [new if n == old else n for n in node.output]
    for v in (*graph.input, *graph.output, *graph.value_info):
        if v.name == old:
            v.name = new
    for t in graph.initializer:
        if t.name == old:
            t.name = new


def _dynamic_batch(value: onnx.ValueInfoProto) -> None:
    tensor = value.type.tensor_type
    if value.type.HasField("tensor_type") and tensor.HasField("shape") and len(tensor.shape.dim) >= 1:
        tensor.shape.dim[0].Clear()
        tensor.shape.dim[0].dim_param = BATCH


def _opsets(proto: onnx.ModelProto) -> onnx.ModelProto:
    """One entry per used domain; the default domain converted down to ``MAX_OPSET`` if newer."""
    used = {"" if n.domain == "ai.onnx" else n.domain for n in proto.graph.node}
    versions: dict[str, int] = {}
    for o in proto.opset_import:
        domain = "" if o.domain == "ai.onnx" else o.domain
        if domain in used or domain == "":
            versions[domain] = max(versions.get(domain, 0), int(o.version))
    del proto.opset_import[:]
    for domain, version in sorted(versions.items()):
        proto.opset_import.add(domain=domain, version=version)
    default = versions.get("", 0)
    if default > MAX_OPSET or 0 < default < MIN_OPSET:
        target = min(max(default, MIN_OPSET), MAX_OPSET)
        try:
            proto = onnx.version_converter.convert_version(proto, target)
        except Exception as e:  # the converter raises bare RuntimeErrors from C++
            raise FrontendError(f"the exporter emitted ONNX opset {default} and it cannot be converted to opset {target}: {str(e).splitlines()[0]}") from e
    return proto


def normalize(
    proto: onnx.ModelProto,
    name: str,
    output_names: Sequence[str] | None = None,
    input_name: str = "x",
) -> onnx.ModelProto:
    """A copy of ``proto`` with input ``input_name``, the given output names, batch axis ``N`` and opset <= 21."""
    model = onnx.ModelProto()
    model.CopyFrom(proto)
    model = _opsets(model)
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1:
        listed = ", ".join(f"'{i.name}'" for i in inputs) or "none"
        raise FrontendError(f"the exported model has {len(inputs)} data inputs ({listed}); ml2sc compiles models with one [N, features] input")
    _rename(graph, inputs[0].name, input_name)
    if output_names is not None:
        if len(output_names) != len(graph.output):
            raise FrontendError(f"{len(output_names)} output names given for {len(graph.output)} model outputs")
        if len(set(output_names)) != len(output_names) or input_name in output_names:
            raise FrontendError(f"output names must be distinct and differ from the input name '{input_name}': {list(output_names)}")
        for i, new in enumerate(output_names):
            _rename(graph, graph.output[i].name, new)
    for value in (*graph.input, *graph.output):
        if value.name not in initializers:
            _dynamic_batch(value)
    del graph.value_info[:]  # stale after the batch change; the importer re-infers shapes
    graph.name = name
    return model


def default_output_names(count: int) -> list[str]:
    """``output`` for one output, ``output_0``, ``output_1``, ... for several."""
    return ["output"] if count == 1 else [f"output_{i}" for i in range(count)]
