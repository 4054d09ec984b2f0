"""A small Solidity code writer that knows nothing of the IR.

Emitters decide *what* to write; this decides how it looks: indentation,
comment wrapping, blank lines. Keeping layout here keeps the generated code
uniform across backends.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class SolidityWriter:
    def __init__(self, indent: str = "    ") -> None:
        self._lines: list[str] = []
        self._depth = 0
        self._indent = indent

    def line(self, text: str = "") -> None:
        self._lines.append(f"{self._indent * self._depth}{text}" if text else "")

    def lines(self, texts: list[str]) -> None:
        for t in texts:
            self.line(t)

    def comment(self, text: str) -> None:
        for part in text.splitlines():
            self.line(f"// {part}".rstrip())

    def blank(self) -> None:
        if self._lines and self._lines[-1] != "":
            self._lines.append("")

    @contextmanager
    def block(self, header: str, closer: str = "}") -> Iterator[None]:
        self.line(f"{header} {{")
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            self.line(closer)

    def text(self) -> str:
        return "\n".join(self._lines).rstrip() + "\n"
