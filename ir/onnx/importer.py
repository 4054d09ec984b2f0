"""ONNX -> IR import.

``import_onnx`` reads and checks a model, binds its single [N, F] (or
[N, C, H, W], ...) input to the flat IR input ``%x`` (recording an N-D row
shape as the module attribute ``input_shape``, e.g. ``"1x28x28"``) and its initializers to constants, lowers each node through
the converter registered for its op (``registry.REGISTRY``), keeps the graph's
output names, drops whatever the outputs do not need, and verifies the result.
Every failure a user can cause is an ``OnnxImportError`` with a one-line
message naming the model, node or tensor at fault.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import numpy_helper

from ml2sc.ir.errors import OnnxImportError
from ml2sc.ir.module import Constant, Module, Output, Value, used_constants
from ml2sc.ir.onnx.lowering import Const, Data, Lowering, NodeView, Outputs, sanitize
from ml2sc.ir.onnx.registry import MAX_OPSET, MIN_OPSET, lookup
from ml2sc.ir.ops import Op, VerifyError
from ml2sc.ir.types import F32, TensorType
from ml2sc.ir.verifier import verify

MEMORY = "<memory>"
INPUT_NAME = "x"
INPUT_SHAPE = "input_shape"  # module attribute: the per-row shape of an N-D model input, e.g. "1x28x28"
REEXPORT = (f"re-export at an opset from {MIN_OPSET} to {MAX_OPSET}, e.g. torch.onnx.export(..., opset_version=21) "
            "or skl2onnx.to_onnx(..., target_opset={'': 21, 'ai.onnx.ml': 1})")


def _first_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(error).__name__


def _one_line(error: BaseException, limit: int = 300) -> str:
    """The checker's message on one line: its first line often ends in 'of node:' and the node follows."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- reading and checking ---------------------------------------------------------


def _read(path: str) -> onnx.ModelProto:
    def fail(reason: str) -> OnnxImportError:
        return OnnxImportError(f"cannot read ONNX model '{path}': {reason}")

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise fail(e.strerror or _first_line(e)) from None
    if not data:
        raise fail("the file is empty")
    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise fail(f"not a valid ONNX protobuf ({_first_line(e)})") from None
    if any(onnx.external_data_helper.uses_external_data(t) for t in model.graph.initializer):
        try:
            onnx.external_data_helper.load_external_data_for_model(model, str(Path(path).parent))
        except OSError as e:
            raise fail(f"cannot load external tensor data ({e.strerror or _first_line(e)})") from None
    return model


def _load(model: onnx.ModelProto | str | os.PathLike[str]) -> tuple[onnx.ModelProto, str]:
    """The model and the source name messages use; an empty or truncated model is an error."""
    if isinstance(model, onnx.ModelProto):
        proto, source = model, MEMORY
    elif isinstance(model, str | os.PathLike):
        source = os.fspath(model)
        proto = _read(source)
    else:
        raise TypeError(f"import_onnx expects an onnx.ModelProto or a path, got {type(model).__name__}")
    if not proto.HasField("graph"):
        raise OnnxImportError(f"cannot read ONNX model '{source}': it contains no graph")
    if not proto.graph.node:
        raise OnnxImportError(f"cannot read ONNX model '{source}': its graph has no nodes")
    return proto, source


def _opsets(proto: onnx.ModelProto, source: str) -> dict[str, int]:
    """Imported opset per domain (the default domain under ''); the default one must be one onnx knows, from 9 on."""
    found: dict[str, set[int]] = {}
    for o in proto.opset_import:
        domain = "" if o.domain in ("", "ai.onnx") else o.domain
        found.setdefault(domain, set()).add(int(o.version))
    for domain, versions in found.items():
        if len(versions) > 1:
            raise OnnxImportError(f"ONNX model '{source}' imports domain '{domain or 'ai.onnx'}' at several opsets {sorted(versions)}")
    if "" not in found:
        raise OnnxImportError(f"ONNX model '{source}' imports no opset of the default domain 'ai.onnx'")
    opset = next(iter(found[""]))
    if opset > MAX_OPSET:
        raise OnnxImportError(f"ONNX model '{source}' uses opset {opset} of the default domain, newer than the installed onnx "
                              f"{onnx.__version__} knows (up to {MAX_OPSET}); upgrade onnx or {REEXPORT}")
    if opset < MIN_OPSET:
        raise OnnxImportError(f"ONNX model '{source}' uses opset {opset} of the default domain; supported are opsets {MIN_OPSET}-{MAX_OPSET} ({REEXPORT})")
    return {domain: versions.pop() for domain, versions in found.items()}


def _checked(proto: onnx.ModelProto, source: str, opsets: dict[str, int]) -> onnx.ModelProto:
    """Run the ONNX checker and shape and type inference; return the model with inferred value_info.

    Types are checked too (``check_type``): a model whose tensors break an op's type
    constraints (a double weight under a float Gemm) is one onnxruntime refuses to load, and
    the importer reads every initializer as numbers, so it would otherwise compile it."""
    try:
        onnx.checker.check_model(proto)
    except (onnx.checker.ValidationError, ValueError) as e:
        raise OnnxImportError(f"invalid ONNX model '{source}': {_one_line(e)}") from None
    try:
        return onnx.shape_inference.infer_shapes(proto, check_type=True, strict_mode=True)
    except (onnx.shape_inference.InferenceError, ValueError) as e:
        mismatch = _type_mismatch(proto, source, opsets)
        if mismatch:
            raise OnnxImportError(mismatch) from None
        raise OnnxImportError(f"ONNX shape inference failed on model '{source}': {_one_line(e)}") from None


def _type_name(elem_type: int) -> str:
    """ONNX's name of an element type as its schemas spell it: ``float``, ``int64``, ``float16``."""
    try:
        return onnx.TensorProto.DataType.Name(elem_type).lower()
    except ValueError:
        return f"type {elem_type}"


def _elem_types(proto: onnx.ModelProto) -> dict[str, int]:
    """The element type of each named tensor: declared, inferred (without type checks), initializers."""
    try:
        graph = onnx.shape_inference.infer_shapes(proto).graph
    except (onnx.shape_inference.InferenceError, ValueError):
        graph = proto.graph
    types = {}
    for info in (*graph.input, *graph.value_info, *graph.output):
        if info.type.HasField("tensor_type") and info.type.tensor_type.elem_type:
            types[info.name] = info.type.tensor_type.elem_type
    types.update({t.name: t.data_type for t in graph.initializer})
    return types


def _type_mismatch(proto: onnx.ModelProto, source: str, opsets: dict[str, int]) -> str | None:
    """The first node input whose element type its op's schema does not allow, as a one-line
    message naming node, input, tensor and types (None: type inference failed for another reason)."""
    types = _elem_types(proto)
    for node in proto.graph.node:
        domain = "" if node.domain in ("", "ai.onnx") else node.domain
        try:
            schema = onnx.defs.get_schema(node.op_type, opsets.get(domain, 0), domain)
        except onnx.defs.SchemaError:
            continue
        if not schema.inputs:
            continue
        allowed = {c.type_param_str: set(c.allowed_type_strs) for c in schema.type_constraints}
        bound: dict[str, tuple[str, str, str]] = {}  # type parameter -> (type, formal input, tensor)
        for i, name in enumerate(node.input):
            if not name or name not in types:
                continue
            formal = schema.inputs[min(i, len(schema.inputs) - 1)]
            got = _type_name(types[name])
            what = f"node '{node.name or node.op_type}' ({node.op_type}): input {formal.name} '{name}'"
            ok = allowed.get(formal.type_str, {formal.type_str})
            if f"tensor({got})" not in ok:
                kinds = ", ".join(sorted(t[7:-1] for t in ok if t.startswith("tensor(")))
                return f"{what} of ONNX model '{source}' is {got}; {node.op_type} takes {kinds or sorted(ok)} there"
            first = bound.setdefault(formal.type_str, (got, formal.name, name))
            if first[0] != got and formal.type_str in allowed and getattr(formal, "is_homogeneous", True):
                return (f"{what} of ONNX model '{source}' is {got}, but input {first[1]} '{first[2]}' is {first[0]}; "
                        f"{node.op_type} needs one element type for {formal.type_str} (onnxruntime refuses the model too)")
    return None


# -- the input -----------------------------------------------------------------------


def _dim(d: onnx.TensorShapeProto.Dimension) -> int | None:
    return int(d.dim_value) if d.HasField("dim_value") else None


def _shape_text(dims: list[onnx.TensorShapeProto.Dimension]) -> str:
    return "[" + ", ".join(str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in dims) + "]"


def _data_input(graph: onnx.GraphProto, source: str) -> tuple[onnx.ValueInfoProto, int | None, bool, tuple[int, ...]]:
    """The one non-initializer input: (proto, static batch or None, batched, row dims)."""
    initializers = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1:
        names = ", ".join(f"'{i.name}'" for i in inputs) or "none"
        raise OnnxImportError(f"ONNX model '{source}' has {len(inputs)} data inputs ({names}); exactly one [N, F] float input is supported")
    inp = inputs[0]
    tensor = inp.type.tensor_type
    if not inp.type.HasField("tensor_type"):
        raise OnnxImportError(f"input '{inp.name}' of ONNX model '{source}' is not a tensor")
    if tensor.elem_type not in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE):
        kind = onnx.TensorProto.DataType.Name(tensor.elem_type)
        raise OnnxImportError(f"input '{inp.name}' of ONNX model '{source}' has element type {kind}; only float or double inputs are supported")
    if not tensor.HasField("shape"):
        raise OnnxImportError(f"input '{inp.name}' of ONNX model '{source}' has no declared shape; declare it as [N, F]")
    dims = list(tensor.shape.dim)
    if not dims:
        raise OnnxImportError(f"input '{inp.name}' of ONNX model '{source}' is a scalar; only [N, F], [N, C, H, W], ... or [F] inputs are supported")
    batched = len(dims) >= 2
    row = [_dim(d) for d in dims[1:]] if batched else [_dim(dims[0])]
    if any(not d for d in row):
        raise OnnxImportError(f"input '{inp.name}' of ONNX model '{source}' has shape {_shape_text(dims)}; every dimension but the batch must be static and non-zero")
    return inp, _dim(dims[0]) if batched else None, batched, tuple(int(d) for d in row if d)


def _constant(t: onnx.TensorProto, source: str) -> Const:
    try:
        return Const(numpy_helper.to_array(t))
    except (ValueError, TypeError, OSError) as e:
        raise OnnxImportError(f"cannot read initializer '{t.name}' of ONNX model '{source}': {_first_line(e)}") from None


def _start(graph: onnx.GraphProto, source: str) -> tuple[Lowering, Value, tuple[int, ...]]:
    inp, batch, batched, row = _data_input(graph, source)
    consumers = Counter(name for node in graph.node for name in node.input if name)
    ctx = Lowering(batch, batched, consumers, {o.name for o in graph.output})
    if graph.sparse_initializer:
        raise OnnxImportError(f"ONNX model '{source}' has sparse initializers, which are not supported")
    for t in graph.initializer:
        ctx.env[t.name] = _constant(t, source)
    x = ctx.new_value(INPUT_NAME, TensorType((int(np.prod(row)),), F32))
    ctx.env[inp.name] = Data(x, row)
    return ctx, x, row


# -- the nodes --------------------------------------------------------------------------


def _inferred_shapes(graph: onnx.GraphProto) -> dict[str, list[int | None]]:
    shapes = {}
    for info in (*graph.value_info, *graph.output):
        tensor = info.type.tensor_type
        if info.type.HasField("tensor_type") and tensor.HasField("shape"):
            shapes[info.name] = [_dim(d) for d in tensor.shape.dim]
    return shapes


def _check_shape(ctx: Lowering, n: NodeView, name: str, t: Data, inferred: list[int | None] | None) -> None:
    """Cross-check a lowered row against ONNX shape inference, so a misread op fails loudly here."""
    if inferred is None:
        return
    batch: list[int | None] = [None] if ctx.batched else []
    ours = list(t.dims) + batch if t.transposed else batch + list(t.dims)
    clash = len(inferred) != len(ours) or any(a is not None and b is not None and a != b for a, b in zip(inferred, ours, strict=True))
    if clash:
        theirs = "[" + ", ".join("?" if d is None else str(d) for d in inferred) + "]"
        raise n.fail(f"output '{name}' has inferred ONNX shape {theirs}, but lowers to {ctx.onnx_shape(t.dims, t.transposed)}")


def _bind(ctx: Lowering, n: NodeView, results: Outputs, shapes: dict[str, list[int | None]]) -> None:
    for i, name in enumerate(n.outputs):
        if not name:
            continue
        t = results[i] if i < len(results) else None
        if t is None:
            if ctx.is_used(name):
                raise n.fail(f"output {i} '{name}' is not supported, but the model uses it")
            continue
        if isinstance(t, Data):
            _check_shape(ctx, n, name, t, shapes.get(name))
        ctx.env[name] = t


def _node_views(graph: onnx.GraphProto, opsets: dict[str, int]) -> list[NodeView]:
    views = []
    for index, node in enumerate(graph.node):
        domain = "" if node.domain in ("", "ai.onnx") else node.domain
        views.append(NodeView(node, index, opsets.get(domain, 0)))
    return views


def _lower_nodes(ctx: Lowering, graph: onnx.GraphProto, nodes: list[NodeView]) -> None:
    shapes = _inferred_shapes(graph)
    for n in nodes:
        ctx.node = n
        _bind(ctx, n, lookup(n)(ctx, n), shapes)
    ctx.node = None


# -- outputs and assembly ------------------------------------------------------------------


def _outputs(ctx: Lowering, graph: onnx.GraphProto) -> tuple[Output, ...]:
    outputs = []
    for o in graph.output:
        t = ctx.env.get(o.name)
        if not isinstance(t, Data):
            raise OnnxImportError(f"graph output '{o.name}' is a constant that does not depend on the input")
        if t.transposed:
            raise OnnxImportError(f"graph output '{o.name}' has the samples on its last axis ({ctx.onnx_shape(t.dims, True)}, "
                                  "from W x' with the weights as the left operand); transpose it back to [N, F] in the model")
        outputs.append(Output(o.name, t.value))
    return tuple(outputs)


def _live_ops(all_ops: list[Op], outputs: tuple[Output, ...]) -> tuple[Op, ...]:
    """The ops the outputs depend on, in order: drops what rewrites and unused outputs left behind."""
    live = {o.value.name for o in outputs}
    kept = []
    for op in reversed(all_ops):
        if op.result.name in live:
            kept.append(op)
            live.update(v.name for v in op.operands)
    return tuple(reversed(kept))


def _verified(module: Module) -> Module:
    try:
        return verify(module)
    except VerifyError as e:
        raise OnnxImportError(f"internal error: the imported module does not verify: {e}") from e


def import_onnx(model: onnx.ModelProto | str | os.PathLike[str], name: str | None = None) -> Module:
    """Lower an ONNX model (a ModelProto or a path to a .onnx file) to a verified float IR module."""
    proto, source = _load(model)
    opsets = _opsets(proto, source)
    proto = _checked(proto, source, opsets)
    graph = proto.graph
    nodes = _node_views(graph, opsets)
    for n in nodes:  # an unsupported op is the real problem even when the input shape fails first
        lookup(n)
    ctx, x, row = _start(graph, source)
    _lower_nodes(ctx, graph, nodes)
    outputs = _outputs(ctx, graph)
    ops = _live_ops(ctx.ops, outputs)
    constants: tuple[Constant, ...] = used_constants(ops, tuple(ctx.constants))
    attributes = [("opset", str(opsets[""])), ("producer", proto.producer_name), ("source", source)]
    if len(row) > 1:
        attributes.append((INPUT_SHAPE, "x".join(str(d) for d in row)))
    module = Module(
        name=sanitize(name if name is not None else graph.name, "model"),
        inputs=(x,),
        ops=ops,
        outputs=outputs,
        constants=constants,
        attributes=tuple(sorted(attributes)),
    )
    return _verified(module)
