"""The pass interface: a frozen dataclass with a kebab-case name and ``apply``.

Its fields are its options (``quantize-fixed{decimals=18}``) and its
docstring is its documentation (``ml2sc passes`` prints the first line).
It lives beside the IR so that a plugin pass needs nothing but ``ml2sc.ir``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ml2sc.ir.module import Module


@dataclass(frozen=True)
class ModulePass:
    """A module-to-module rewrite (subclasses document themselves in their docstring)."""

    name: ClassVar[str] = ""

    def apply(self, module: Module) -> Module:
        raise NotImplementedError
