"""A float64 twin of an ONNX model, so that onnxruntime can serve as a float64 oracle.

The IR's reference semantics are float64 while exported models compute in
float32; comparing the two mixes the importer's errors with float32 rounding.
``to_float64`` rewrites a copy of the graph to compute in double: float
initializers, graph inputs, outputs and value_info become DOUBLE, casts to
float cast to double, and float constants become double constants.

onnxruntime has no double kernel for a few ops the importer accepts
(LeakyRelu at most opsets, HardSigmoid, Clip before opset 12); those are
rewritten into the primitives they are defined by (Less/Mul/Where,
Mul/Add/Min/Max), which compute the same formula. Whatever still has no
double kernel (the ai.onnx.ml ops, whose outputs are float by definition)
makes ``to_float64`` raise ``ValueError``: callers fall back to float32.
"""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

FLOAT, DOUBLE = onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _double_tensor(t: onnx.TensorProto) -> onnx.TensorProto:
    if t.data_type != FLOAT:
        return t
    return numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float64), t.name)


def _retype(info: onnx.ValueInfoProto) -> None:
    tensor = info.type.tensor_type
    if info.type.HasField("tensor_type") and tensor.elem_type == FLOAT:
        tensor.elem_type = DOUBLE


class _Names:
    """Fresh tensor names that collide with nothing in the model."""

    def __init__(self, graph: onnx.GraphProto):
        self._taken = {name for node in graph.node for name in (*node.input, *node.output)}
        self._taken |= {t.name for t in graph.initializer} | {i.name for i in graph.input}
        self._count = 0

    def __call__(self, base: str) -> str:
        while True:
            self._count += 1
            name = f"{base}__f64_{self._count}"
            if name not in self._taken:
                self._taken.add(name)
                return name


def _scalar(names: _Names, value: float, out: list[onnx.NodeProto]) -> str:
    """Append a Constant node holding a double scalar; return its output name."""
    name = names("c")
    out.append(helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.array(value, dtype=np.float64))))
    return name


def _attr(node: onnx.NodeProto, name: str, default: float) -> float:
    for a in node.attribute:
        if a.name == name:
            return float(helper.get_attribute_value(a))
    return default


def _leaky_relu(node: onnx.NodeProto, names: _Names) -> list[onnx.NodeProto]:
    """x >= 0 ? x : alpha * x, as onnxruntime's float kernel computes it."""
    out: list[onnx.NodeProto] = []
    x, y = node.input[0], node.output[0]
    alpha = _scalar(names, _attr(node, "alpha", np.float32(0.01)), out)
    zero = _scalar(names, 0.0, out)
    negative, scaled = names("negative"), names("scaled")
    out += [
        helper.make_node("Less", [x, zero], [negative]),
        helper.make_node("Mul", [x, alpha], [scaled]),
        helper.make_node("Where", [negative, scaled, x], [y], name=node.name),
    ]
    return out


def _hard_sigmoid(node: onnx.NodeProto, names: _Names) -> list[onnx.NodeProto]:
    """max(0, min(1, alpha * x + beta))."""
    out: list[onnx.NodeProto] = []
    alpha = _scalar(names, _attr(node, "alpha", np.float32(0.2)), out)
    beta = _scalar(names, _attr(node, "beta", np.float32(0.5)), out)
    zero, one = _scalar(names, 0.0, out), _scalar(names, 1.0, out)
    scaled, shifted, capped = names("scaled"), names("shifted"), names("capped")
    out += [
        helper.make_node("Mul", [node.input[0], alpha], [scaled]),
        helper.make_node("Add", [scaled, beta], [shifted]),
        helper.make_node("Min", [shifted, one], [capped]),
        helper.make_node("Max", [capped, zero], [node.output[0]], name=node.name),
    ]
    return out


def _clip(node: onnx.NodeProto, names: _Names, opset: int) -> list[onnx.NodeProto]:
    """min(max(x, lo), hi) with bounds from attributes (opset < 11) or optional inputs."""
    out: list[onnx.NodeProto] = []
    if opset < 11:
        bounds = [(op, _attr(node, key, None)) for op, key in (("Max", "min"), ("Min", "max"))]
        bounds = [(op, _scalar(names, v, out)) for op, v in bounds if v is not None]
    else:
        inputs = list(node.input) + ["", ""]
        bounds = [(op, name) for op, name in (("Max", inputs[1]), ("Min", inputs[2])) if name]
    current = node.input[0]
    if not bounds:
        return [helper.make_node("Identity", [current], [node.output[0]], name=node.name)]
    for k, (op, bound) in enumerate(bounds):
        target = node.output[0] if k == len(bounds) - 1 else names("clipped")
        out.append(helper.make_node(op, [current, bound], [target]))
        current = target
    return out


def _retyped_node(node: onnx.NodeProto, names: _Names, opset: int) -> list[onnx.NodeProto]:
    """The node, or the nodes replacing it, computing in double."""
    if node.domain in ("", "ai.onnx"):
        if node.op_type == "LeakyRelu":
            return _leaky_relu(node, names)
        if node.op_type == "HardSigmoid":
            return _hard_sigmoid(node, names)
        if node.op_type == "Clip" and opset < 12:
            return _clip(node, names, opset)
    new = onnx.NodeProto()
    new.CopyFrom(node)
    _retype_attributes(new, opset)
    return [new]


def _retype_attributes(node: onnx.NodeProto, opset: int) -> None:
    for a in node.attribute:
        if a.name in ("to", "dtype") and a.type == onnx.AttributeProto.INT and a.i == FLOAT:
            a.i = DOUBLE
        elif a.type == onnx.AttributeProto.TENSOR:
            a.t.CopyFrom(_double_tensor(a.t))
        elif a.type == onnx.AttributeProto.GRAPH:
            _retype_graph(a.g, opset)
        elif a.type == onnx.AttributeProto.GRAPHS:
            for g in a.graphs:
                _retype_graph(g, opset)
    if node.op_type == "Constant":
        for a in list(node.attribute):
            if a.name in ("value_float", "value_floats"):
                value = np.asarray(helper.get_attribute_value(a), dtype=np.float64)
                node.attribute.remove(a)
                node.attribute.append(helper.make_attribute("value", numpy_helper.from_array(value)))


def _retype_graph(graph: onnx.GraphProto, opset: int) -> None:
    for i, t in enumerate(graph.initializer):
        graph.initializer[i].CopyFrom(_double_tensor(t))
    for info in (*graph.input, *graph.output, *graph.value_info):
        _retype(info)
    names = _Names(graph)
    nodes = [new for node in graph.node for new in _retyped_node(node, names, opset)]
    del graph.node[:]
    graph.node.extend(nodes)


def _default_opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def _float_only(node: onnx.NodeProto, opsets: dict[str, int]) -> bool:
    """True if the op's schema types an output as float32 whatever its inputs (Scaler, LinearClassifier...)."""
    domain = "" if node.domain == "ai.onnx" else node.domain
    try:
        schema = onnx.defs.get_schema(node.op_type, opsets.get(domain, 1), domain)
    except onnx.defs.SchemaError:
        return False
    allowed = {c.type_param_str: set(c.allowed_type_strs) for c in schema.type_constraints}
    return any(allowed.get(out.type_str, {out.type_str}) == {"tensor(float)"} for out in schema.outputs)


def _still_float(twin: onnx.ModelProto) -> None:
    """Fail if some op still computes in float32.

    Such a graph may even run, a following Cast restoring double, but it is no
    float64 oracle any more. Ops whose schema fixes a float output (the
    ai.onnx.ml ops) are found from their schema, since ONNX infers no types
    for several of them; anything else still float is found by type inference.
    """
    opsets = {("" if o.domain == "ai.onnx" else o.domain): o.version for o in twin.opset_import}
    try:
        inferred = onnx.shape_inference.infer_shapes(twin)
    except onnx.shape_inference.InferenceError as e:
        raise ValueError(f"cannot infer the types of the float64 model: {_first_line(e)}") from e
    infos = (*inferred.graph.value_info, *inferred.graph.output)
    floats = {i.name for i in infos if i.type.HasField("tensor_type") and i.type.tensor_type.elem_type == FLOAT}
    for node in inferred.graph.node:
        if _float_only(node, opsets) or any(name in floats for name in node.output):
            where = f"'{node.name}'" if node.name else f"producing '{node.output[0]}'"
            raise ValueError(f"op '{node.op_type}' (node {where}, domain '{node.domain or 'ai.onnx'}') computes in float32 only")


def to_float64(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` computing in double; ``ValueError`` if onnxruntime cannot run it so."""
    twin = onnx.ModelProto()
    twin.CopyFrom(model)
    _retype_graph(twin.graph, _default_opset(twin))
    _still_float(twin)
    options = ort.SessionOptions()
    options.log_severity_level = 4
    try:
        ort.InferenceSession(twin.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own Fail/NotImplemented/InvalidGraph types
        raise ValueError(f"onnxruntime cannot run a float64 version of this model: {_first_line(e)}") from e
    return twin
