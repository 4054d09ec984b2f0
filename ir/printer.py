"""The IR's canonical textual form; ``ml2sc.ir.parser`` reads it back exactly.

The text is meant for people (``ml2sc compile --dump-ir``, golden tests, bug
reports) and for tools that must get the very same module back, so every
choice here serves ``parse_module(print_module(m)) == m``:

* floats are printed with ``repr``, Python's shortest string that converts
  back to the same double (``-0.0``, ``1e-45`` and float32 values included);
  ``inf``, ``-inf`` and ``nan`` are spelled that way;
* ints are printed in full decimal, however large (fixed-point weights are
  big integers);
* strings are JSON string literals, so quotes, backslashes and control
  characters survive;
* names that are not plain ``[A-Za-z0-9_.]+`` are printed quoted
  (``%"onnx::Gemm_0"``) instead of being mangled.

Ops are printed from their class's ``operand_fields``, ``constant_fields`` and
``attribute_fields``, so a new op prints without a change here. The helpers
shared with the parser (names, attribute kinds) live in this module because
it defines the spelling.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Iterable
from dataclasses import fields
from functools import cache

from ml2sc.ir.module import Constant, Module, Output, Scalar, Value
from ml2sc.ir.ops import Op
from ml2sc.ir.types import ElementType, FixedType, FloatType, IntType, QuantType, TensorType

#: Names of values, constants and the module that need no quoting.
BARE_NAME = re.compile(r"[A-Za-z0-9_.]+")
#: Module attribute keys that need no quoting (the grammar's NAME token).
BARE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")

#: The one function of a module; the name is fixed because Module has no field for it.
FUNC_NAME = "main"

_INDENT = "  "


def quote(text: str) -> str:
    """A JSON string literal: escapes quotes, backslashes and control characters."""
    if not isinstance(text, str):
        raise TypeError(f"expected a str, got {type(text).__name__} {text!r}")
    return json.dumps(text, ensure_ascii=False)


def format_name(sigil: str, name: str) -> str:
    """``%name`` / ``@name``, quoted when the name is not a plain identifier."""
    return f"{sigil}{name}" if BARE_NAME.fullmatch(name) else f"{sigil}{quote(name)}"


def format_float(value: float) -> str:
    """Shortest round-trip spelling; ``repr`` already gives ``inf``, ``-inf`` and ``nan``."""
    return repr(float(value))


@cache
def attribute_kind(cls: type[Op], name: str) -> type[int] | type[float]:
    """Whether attribute ``name`` of ``cls`` is an int or a float, from its annotation.

    Ops use ``from __future__ import annotations``, so annotations are
    usually strings; a class defined without it has real types. The kind
    decides both how a value prints and how a parsed number is converted
    (``alpha = 1`` must become ``1.0``).
    """
    for f in fields(cls):
        if f.name == name:
            spelled = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
            if spelled == "float":
                return float
            if spelled == "int":
                return int
            raise TypeError(f"{cls.__name__}.{name}: attribute type {f.type!r} is not int or float")
    raise TypeError(f"{cls.__name__} has no field {name!r} named in attribute_fields")


def format_element(element: ElementType) -> str:
    """Element type spelling; mirrors ``str()`` but never depends on numpy reprs."""
    if isinstance(element, FloatType):
        return f"f{element.bits}"
    if isinstance(element, IntType):
        return f"{'i' if element.signed else 'u'}{element.bits}"
    if isinstance(element, FixedType):
        return f"fixed<{element.decimals}>"
    if isinstance(element, QuantType):
        kind = "qi" if element.signed else "qu"
        return f"{kind}{element.bits}<{format_float(element.scale)}, {element.zero_point}>"
    raise TypeError(f"cannot print element type {element!r}")


def format_type(t: TensorType) -> str:
    """``tensor<4x3xf32>``, or ``tensor<i64>`` for a scalar."""
    dims = "".join(f"{d}x" for d in t.shape)
    return f"tensor<{dims}{format_element(t.element)}>"


def format_values(values: Iterable[Scalar], element: ElementType) -> str:
    """Flat ``[...]`` list; converting first keeps numpy scalars from printing as ``np.float32(..)``.

    ``operator.index`` (not ``int``) so that a float in an integer constant
    fails loudly instead of being truncated into different weights.
    """
    convert = float if isinstance(element, FloatType) else operator.index
    return "[" + ", ".join(map(repr, map(convert, values))) + "]"


def _module_attributes(attributes: tuple[tuple[str, str], ...]) -> str:
    """`` attributes {k = "v", ...}``, or nothing when there are none (the common case)."""
    if not attributes:
        return ""
    items = ", ".join(
        f"{key if BARE_KEY.fullmatch(key) else quote(key)} = {quote(value)}"
        for key, value in attributes
    )
    return f" attributes {{{items}}}"


def _constant(c: Constant) -> str:
    t = c.type
    return f"const {format_name('@', c.name)} : {format_type(t)} = {format_values(c.values, t.element)}"


def _attribute(cls: type[Op], name: str, value: float | int) -> str:
    if attribute_kind(cls, name) is float:
        return f"{name} = {format_float(value)}"
    return f"{name} = {operator.index(value)}"


def _constant_refs(op: Op) -> list[str]:
    """The op's constant names; a None field may only be followed by None fields.

    The parser matches constants to ``constant_fields`` positionally, so an
    unset optional constant in the middle would shift the ones after it.
    """
    names = [getattr(op, f) for f in op.constant_fields]
    while names and names[-1] is None:
        names.pop()
    if None in names:
        raise ValueError(f"{op.mnemonic} {op.result}: only trailing constant fields may be None")
    return [format_name("@", n) for n in names]


def format_op(op: Op) -> str:
    """``%r = mnemonic %a, @w {attr = v} : type``; operand types are known from their definitions."""
    args = [format_name("%", v.name) for v in op.operands] + _constant_refs(op)
    text = f"{format_name('%', op.result.name)} = {op.mnemonic}"
    if args:
        text += " " + ", ".join(args)
    attrs = [_attribute(type(op), f, getattr(op, f)) for f in op.attribute_fields]
    attrs += [f"{key} = {quote(value)}" for key, value in op.tags]
    if attrs:
        text += f" {{{', '.join(attrs)}}}"
    return f"{text} : {format_type(op.result.type)}"


def _param(v: Value) -> str:
    return f"{format_name('%', v.name)}: {format_type(v.type)}"


def _output(out: Output) -> str:
    return f"output {quote(out.name)} = {format_name('%', out.value.name)} : {format_type(out.value.type)}"


def print_module(module: Module) -> str:
    """The module as text, one item per line, ending in a newline."""
    body = _INDENT * 2
    lines = [f"module {format_name('@', module.name)}{_module_attributes(module.attributes)} {{"]
    lines += [_INDENT + _constant(c) for c in module.constants]
    params = ", ".join(_param(v) for v in module.inputs)
    lines.append(f"{_INDENT}func {format_name('@', FUNC_NAME)}({params}) {{")
    lines += [body + format_op(op) for op in module.ops]
    lines += [body + _output(out) for out in module.outputs]
    lines += [_INDENT + "}", "}"]
    return "\n".join(lines) + "\n"
