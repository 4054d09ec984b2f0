"""Pipelines: parse ``name{opt=value},name2`` and run the passes, verifying after each."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass

from ml2sc.compiler.registry import passes as pass_registry
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Module
from ml2sc.ir.ops import VerifyError
from ml2sc.ir.passes import ModulePass
from ml2sc.ir.verifier import verify

_ITEM = re.compile(r"\s*([a-z0-9][a-z0-9-]*)\s*(?:\{([^}]*)\})?\s*(?:,|$)")


class PipelineError(Ml2scError):
    pass


def _convert(cls: type, name: str, field: str, text: str) -> object:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if field not in fields:
        raise PipelineError(f"pass '{name}' has no option '{field}'; options: {', '.join(fields) or 'none'}")
    kind = str(fields[field].type)
    try:
        if kind in ("int", "<class 'int'>"):
            return int(text)
        if kind in ("float", "<class 'float'>"):
            return float(text)
        if kind in ("bool", "<class 'bool'>"):
            if text.lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                raise ValueError(text)
            return text.lower() in ("1", "true", "yes", "on")
    except ValueError:
        raise PipelineError(f"pass '{name}': option {field}={text!r} is not a {kind}") from None
    return text


def parse_pipeline(text: str) -> list[ModulePass]:
    """``canonicalize,quantize-fixed{decimals=18}`` -> pass instances (unknown names list the known ones)."""
    result: list[ModulePass] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _ITEM.match(text, pos)
        if not m or m.end() == pos:
            raise PipelineError(f"cannot parse pipeline at column {pos + 1}: {text[pos:]!r}")
        name, opts = m.group(1), m.group(2)
        cls = pass_registry.get(name)
        kwargs = {}
        for item in filter(None, (s.strip() for s in (opts or "").split(","))):
            key, _, value = item.partition("=")
            kwargs[key.strip()] = _convert(cls, name, key.strip(), value.strip())
        try:
            result.append(cls(**kwargs))
        except TypeError as e:
            raise PipelineError(f"pass '{name}': {e}") from None
        pos = m.end()
    return result


@dataclass
class PassManager:
    """Runs passes in order; verifies the module after each so a broken pass is named at once."""

    passes: list[ModulePass]
    verify_each: bool = True
    print_after_all: Callable[[str, Module], None] | None = None

    @classmethod
    def from_pipeline(cls, text: str, **kwargs: object) -> PassManager:
        return cls(parse_pipeline(text), **kwargs)  # type: ignore[arg-type]

    def run(self, module: Module) -> Module:
        verify(module)
        for p in self.passes:
            module = p.apply(module)
            if self.verify_each:
                try:
                    verify(module)
                except VerifyError as e:
                    raise PipelineError(f"IR is invalid after pass '{p.name}': {e}") from None
            if self.print_after_all:
                self.print_after_all(p.name, module)
        return module
