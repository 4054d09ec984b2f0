"""Parse the IR's textual form (see ``ml2sc.ir.printer``) back into a ``Module``.

lark parses the shape of the text (``grammar.lark``); this module gives it
meaning: it resolves ``%values`` in definition order, looks op mnemonics up in
``ml2sc.ir.ops.OPS``, matches arguments to the op class's field tuples, and
converts numbers by the declared type, so new ops need no change here.

Every problem, whether a syntax error, an unknown name or an invariant the
verifier rejects, is raised as one ``IRParseError`` whose message is a single
``file:line:col: message`` line, the form editors and CI logs link to.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import MISSING, dataclass, fields
from functools import cache
from importlib.resources import files

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Constant, Module, Output, Scalar, Value
from ml2sc.ir.ops import OPS, Op, VerifyError
from ml2sc.ir.printer import FUNC_NAME, attribute_kind
from ml2sc.ir.types import ElementType, FixedType, FloatType, IntType, QuantType, TensorType
from ml2sc.ir.verifier import verify

__all__ = ["IRParseError", "parse_module"]


class IRParseError(Ml2scError, ValueError):
    """Malformed or invalid IR text; ``str()`` is ``file:line:col: message`` on one line.

    A ``ValueError`` for library callers, an ``Ml2scError`` so that the CLI
    prints it as the one-line diagnostic it already is.
    """

    def __init__(self, message: str, filename: str, line: int, column: int) -> None:
        self.message = " ".join(message.splitlines())
        self.filename = filename
        self.line = line
        self.column = column
        super().__init__(f"{filename}:{line}:{column}: {self.message}")

    def __reduce__(self) -> tuple[type[IRParseError], tuple[str, str, int, int]]:
        """Pickle by fields (the default re-calls ``__init__`` with the formatted text only)."""
        return type(self), (self.message, self.filename, self.line, self.column)


@dataclass(frozen=True)
class _Loc:
    """A 1-based line and column, from a token or a tree node."""

    line: int
    column: int


_Where = Token | Tree | _Loc


@cache
def _parser() -> Lark:
    """The LALR parser, built on first use (building takes tens of milliseconds)."""
    grammar = (files("ml2sc.ir") / "grammar.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=False)


# ---------------------------------------------------------------------------
# Numbers and types

_INT = r"[+-]?\d+"
_FLOAT = r"[+-]?(?:inf|nan|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
_INT_RE = re.compile(_INT)
_FLOAT_RE = re.compile(_FLOAT)
# Whole-list validators: one C-speed match for 100,000 values before splitting.
_INT_LIST_RE = re.compile(rf"\s*(?:{_INT}\s*(?:,\s*{_INT}\s*)*)?")
_FLOAT_LIST_RE = re.compile(rf"\s*(?:{_FLOAT}\s*(?:,\s*{_FLOAT}\s*)*)?")
_COMMENT_RE = re.compile(r"//[^\n]*")

_TENSOR_RE = re.compile(r"tensor<((?:\d+x)*)(.*)>", re.DOTALL)
_ELEMENTS: list[tuple[re.Pattern[str], Callable[..., ElementType]]] = [
    (re.compile(r"f(\d+)"), lambda bits: FloatType(int(bits))),
    (re.compile(r"([iu])(\d+)"), lambda s, bits: IntType(int(bits), signed=s == "i")),
    (re.compile(r"fixed<\s*([+-]?\d+)\s*>"), lambda decimals: FixedType(int(decimals))),
    (
        re.compile(rf"q([iu])(\d+)<\s*({_FLOAT})\s*,\s*({_INT})\s*>"),
        lambda s, bits, scale, zp: QuantType(int(bits), float(scale), int(zp), signed=s == "i"),
    ),
]


def _element(text: str) -> ElementType | None:
    """The element type spelled ``text``, or None if it spells none."""
    for pattern, build in _ELEMENTS:
        if m := pattern.fullmatch(text):
            return build(*m.groups())
    return None


def _line_col(text: str, base: Token, offset: int) -> _Loc:
    """Position of ``offset`` inside ``base``'s text, which may span lines."""
    before = text[:offset]
    newlines = before.count("\n")
    if not newlines:
        return _Loc(base.line, base.column + offset)
    return _Loc(base.line + newlines, offset - before.rfind("\n"))


# ---------------------------------------------------------------------------
# Tree -> Module


class _Builder:
    """Walks the parse tree in order, keeping the names defined so far."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.constants: dict[str, Constant] = {}
        self.values: dict[str, Value] = {}
        self.defined_at: dict[str, _Loc] = {}
        # Verifier message prefix -> where that item was written.
        self.locations: dict[str, _Loc] = {}

    # -- errors ------------------------------------------------------------

    def error(self, where: _Where, message: str) -> IRParseError:
        loc = _loc(where)
        return IRParseError(message, self.filename, loc.line, loc.column)

    # -- leaves ------------------------------------------------------------

    def string(self, token: Token) -> str:
        """Decode a JSON string literal, reporting bad escapes where they are."""
        try:
            return json.loads(token.value)
        except json.JSONDecodeError as e:
            raise self.error(
                _line_col(token.value, token, e.pos), f"invalid string: {e.msg}"
            ) from None

    def name(self, token: Token) -> str:
        """The name in a ``%name`` / ``@name`` token, unquoted."""
        text = token.value[1:]
        if not text.startswith('"'):
            return text
        return self.string(Token(token.type, text, line=token.line, column=token.column + 1))

    def type(self, token: Token) -> TensorType:
        m = _TENSOR_RE.fullmatch(token.value)
        if m is None:
            raise self.error(token, f"unknown type '{token.value}' (expected tensor<...>)")
        element = _element(m.group(2).strip())
        if element is None:
            raise self.error(token, f"unknown element type '{m.group(2)}' in '{token.value}'")
        shape = tuple(int(d) for d in m.group(1).split("x")[:-1])
        return TensorType(shape, element)

    def use_value(self, token: Token) -> Value:
        name = self.name(token)
        try:
            return self.values[name]
        except KeyError:
            raise self.error(token, f"use of undefined value '{token.value}'") from None

    def use_constant(self, token: Token) -> str:
        name = self.name(token)
        if name not in self.constants:
            raise self.error(token, f"use of undefined constant '{token.value}'")
        return name

    def define_value(self, token: Token, t: TensorType) -> Value:
        name = self.name(token)
        if name in self.values:
            first = self.defined_at[name]
            raise self.error(
                token, f"redefinition of value '{token.value}' (first defined at line {first.line})"
            )
        value = Value(name, t)
        self.values[name] = value
        self.defined_at[name] = _loc(token)
        return value

    # -- numbers -----------------------------------------------------------

    def values_list(self, token: Token, element: ElementType) -> tuple[Scalar, ...]:
        """Split a ``[...]`` token into ints or floats, as the element type requires."""
        body = token.value[1:-1]
        if "//" in body:  # blank comments out, keeping offsets for error positions
            body = _COMMENT_RE.sub(lambda m: " " * len(m.group()), body)
        is_float = isinstance(element, FloatType)
        whole, convert = (_FLOAT_LIST_RE, float) if is_float else (_INT_LIST_RE, int)
        if not whole.fullmatch(body):
            raise self.bad_number(token, body, is_float)
        if not body.strip():
            return ()
        try:
            return tuple(map(convert, body.split(",")))
        except ValueError as e:  # e.g. more digits than int() accepts
            raise self.error(token, f"invalid number: {e}") from None

    def bad_number(self, token: Token, body: str, is_float: bool) -> IRParseError:
        """Locate the first malformed item of a number list that failed to match as a whole."""
        single = _FLOAT_RE if is_float else _INT_RE
        wanted = "a number" if is_float else "an integer"
        offset = 1
        for part in body.split(","):
            item = part.strip()
            if not single.fullmatch(item):
                at = offset + (part.index(item) if item else 0)
                shown = f"'{item}'" if item else "nothing"
                return self.error(
                    _line_col(token.value, token, at), f"expected {wanted}, got {shown}"
                )
            offset += len(part) + 1
        return self.error(token, f"malformed number list: expected {wanted}s")

    def attribute(self, cls: type[Op], key: Token, number: Token) -> float | int:
        if attribute_kind(cls, key.value) is float:
            return float(number.value)
        if not _INT_RE.fullmatch(number.value):
            raise self.error(
                number, f"attribute '{key.value}' of '{cls.mnemonic}' must be an integer"
            )
        return int(number.value)

    # -- structure ---------------------------------------------------------

    def module(self, tree: Tree) -> Module:
        name_token, *rest = tree.children
        attributes: tuple[tuple[str, str], ...] = ()
        constants: list[Constant] = []
        for child in rest:
            if child.data == "module_attrs":
                attributes = self.module_attributes(child)
            elif child.data == "constant":
                constants.append(self.constant(child))
        inputs, ops, outputs = self.func(rest[-1])
        self.locations["module has no outputs"] = _loc(rest[-1])
        return Module(self.name(name_token), inputs, ops, outputs, tuple(constants), attributes)

    def module_attributes(self, tree: Tree) -> tuple[tuple[str, str], ...]:
        items: dict[str, str] = {}
        for attr in tree.children:
            key_token, value_token = attr.children
            key = self.string(key_token) if key_token.type == "STRING" else key_token.value
            if key in items:
                raise self.error(key_token, f"duplicate module attribute '{key}'")
            items[key] = self.string(value_token)
        return tuple(items.items())

    def constant(self, tree: Tree) -> Constant:
        name_token, type_token, list_token = tree.children
        name = self.name(name_token)
        if name in self.constants:
            raise self.error(name_token, f"redefinition of constant '{name_token.value}'")
        t = self.type(type_token)
        c = Constant(name, t, self.values_list(list_token, t.element))
        self.constants[name] = c
        self.locations[f"constant @{name}:"] = _loc(tree)
        return c

    def func(self, tree: Tree) -> tuple[tuple[Value, ...], tuple[Op, ...], tuple[Output, ...]]:
        name_token, *items = tree.children
        if self.name(name_token) != FUNC_NAME:
            raise self.error(name_token, f"the module's function must be named '@{FUNC_NAME}'")
        inputs, ops, outputs = [], [], []
        for item in items:
            if item.data == "param":
                value_token, type_token = item.children
                inputs.append(self.define_value(value_token, self.type(type_token)))
            elif item.data == "op":
                ops.append(self.op(item))
            else:
                outputs.append(self.output(item))
        return tuple(inputs), tuple(ops), tuple(outputs)

    def op(self, tree: Tree) -> Op:
        result_token, mnemonic, *args, type_token = tree.children
        cls = OPS.get(mnemonic.value)
        if cls is None:
            raise self.error(mnemonic, f"unknown op '{mnemonic.value}'")
        attr_tree = args.pop() if args and isinstance(args[-1], Tree) else None
        kwargs = self.operands(cls, mnemonic, args)
        kwargs.update(self.attributes(cls, attr_tree))
        tags = kwargs.pop("tags", ())
        self.require_fields(cls, mnemonic, kwargs)
        kwargs["tags"] = tags
        op = cls(self.define_value(result_token, self.type(type_token)), **kwargs)
        self.locations[f"{op.mnemonic} {op.result}:"] = _loc(tree)
        return op

    def operands(self, cls: type[Op], mnemonic: Token, args: list[Token]) -> dict[str, object]:
        """Match ``%values`` to operand_fields, then ``@names`` to constant_fields, positionally."""
        n, most = len(cls.operand_fields), len(cls.constant_fields)
        for i, token in enumerate(args):
            want = "VALUE" if i < n else "SYMBOL"
            if token.type != want:
                what = "a %value operand" if want == "VALUE" else "a @constant"
                raise self.error(
                    token, f"'{cls.mnemonic}' expects {what} here, got '{token.value}'"
                )
        if len(args) < n:
            raise self.error(
                mnemonic, f"'{cls.mnemonic}' expects {n} %value operand(s), got {len(args)}"
            )
        if len(args) > n + most:
            raise self.error(args[n + most], f"'{cls.mnemonic}' takes at most {most} @constant(s)")
        values, symbols = args[:n], args[n:]
        kwargs: dict[str, object] = {
            f: self.use_value(t) for f, t in zip(cls.operand_fields, values, strict=True)
        }
        kwargs.update(
            {f: self.use_constant(t) for f, t in zip(cls.constant_fields, symbols, strict=False)}
        )
        return kwargs

    def attributes(self, cls: type[Op], tree: Tree | None) -> dict[str, object]:
        """The op's own attributes (numbers) by name, and its tags (strings) under ``tags``."""
        found: dict[str, object] = {}
        tags: dict[str, str] = {}
        for attr in tree.children if tree is not None else ():
            key, number = attr.children
            if key.value in found or key.value in tags:
                raise self.error(key, f"duplicate attribute '{key.value}'")
            if number.type == "STRING":
                if key.value in cls.attribute_fields:
                    raise self.error(number, f"attribute '{key.value}' of '{cls.mnemonic}' is a number, not a string")
                tags[key.value] = self.string(number)
                continue
            if key.value not in cls.attribute_fields:
                raise self.error(key, f"unknown attribute '{key.value}' for op '{cls.mnemonic}'")
            found[key.value] = self.attribute(cls, key, number)
        if tags:
            found["tags"] = tuple(sorted(tags.items()))
        return found

    def require_fields(self, cls: type[Op], mnemonic: Token, kwargs: dict[str, object]) -> None:
        """Fields left out must have defaults (e.g. Gemm's bias, LeakyRelu's alpha)."""
        for f in fields(cls)[1:]:
            if f.name not in kwargs and f.default is MISSING and f.default_factory is MISSING:
                what = "attribute" if f.name in cls.attribute_fields else "constant"
                raise self.error(mnemonic, f"'{cls.mnemonic}' requires {what} '{f.name}'")

    def output(self, tree: Tree) -> Output:
        name_token, value_token, type_token = tree.children
        value = self.use_value(value_token)
        declared = self.type(type_token)
        if declared != value.type:
            raise self.error(
                type_token, f"'{value_token.value}' has type {value.type}, not {declared}"
            )
        return Output(self.string(name_token), value)

    def verify(self, module: Module, fallback: _Loc) -> Module:
        """Run the verifier, placing its error at the item it names (else the module)."""
        try:
            return verify(module)
        except VerifyError as e:
            message = str(e)
            where = next(
                (loc for prefix, loc in self.locations.items() if message.startswith(prefix)),
                fallback,
            )
            raise self.error(where, message) from e


def _loc(where: _Where) -> _Loc:
    if isinstance(where, _Loc):
        return where
    if isinstance(where, Tree):
        return _Loc(where.meta.line, where.meta.column)
    return _Loc(where.line, where.column)


# ---------------------------------------------------------------------------
# Syntax errors

_TOKEN_NAMES = {
    "VALUE": "%value",
    "SYMBOL": "@name",
    "NAME": "a name",
    "STRING": "a string",
    "NUMBER": "a number",
    "TYPE": "a type",
    "NUMBER_LIST": "'[' numbers ']'",
    "$END": "end of input",
}


def _describe(terminal: str) -> str:
    """Human spelling of a terminal: ``'{'`` for punctuation and keywords."""
    if terminal in _TOKEN_NAMES:
        return _TOKEN_NAMES[terminal]
    try:
        pattern = _parser().get_terminal(terminal).pattern
    except KeyError:
        return terminal
    return f"'{pattern.value}'" if pattern.type == "str" else terminal


def _show(text: str, limit: int = 40) -> str:
    text = text.encode("unicode_escape").decode("ascii")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _expected(terminals: set[str] | frozenset[str] | None) -> str:
    names = sorted({_describe(t) for t in terminals or ()})
    return f", expected {' or '.join(names)}" if names else ""


def _syntax_error(e: UnexpectedInput, text: str, filename: str) -> IRParseError:
    """One-line message for lark's (multi-line) syntax errors."""
    if isinstance(e, UnexpectedCharacters):
        message = f"unexpected character '{_show(text[e.pos_in_stream])}'{_expected(e.allowed)}"
        return IRParseError(message, filename, e.line, e.column)
    if isinstance(e, UnexpectedToken) and e.token.type != "$END":
        expected = e.accepts or e.expected
        message = f"unexpected '{_show(e.token.value)}'{_expected(expected)}"
        return IRParseError(message, filename, e.line, e.column)
    expected = e.expected if isinstance(e, UnexpectedEOF | UnexpectedToken) else None
    line = text.count("\n") + 1
    column = len(text) - (text.rfind("\n") + 1) + 1
    return IRParseError(f"unexpected end of input{_expected(expected)}", filename, line, column)


# ---------------------------------------------------------------------------


def parse_module(text: str, filename: str = "<string>") -> Module:
    """Parse and verify one module; raises ``IRParseError`` for any problem.

    ``filename`` is only used in error messages.
    """
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as e:
        raise _syntax_error(e, text, filename) from None
    module_tree = tree.children[0]
    builder = _Builder(filename)
    return builder.verify(builder.module(module_tree), _loc(module_tree))
