"""``ml2sc opt``: run passes on hand-written textual IR (ml2sc's xdsl-opt / mlir-opt).

The input is parsed and verified, the pipeline runs with verification after every
pass, and the result is printed. Without a pipeline this is the print -> parse round
trip. Every failure is one ``Ml2scError`` line that names the file (and, for parse
and verifier errors in the input, the line and column); the golden tests in
``tests/filecheck/`` compare these lines and modules exactly.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from ml2sc.compiler.passes.manager import PassManager
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Module
from ml2sc.ir.parser import IRParseError, parse_module
from ml2sc.ir.printer import print_module

__all__ = ["OptError", "opt_command", "run_opt"]

STDIN = "-"

AfterPass = Callable[[str, Module], None]


class OptError(Ml2scError):
    """A pipeline or pass failure, prefixed with the input's file name."""


def run_opt(text: str, pipeline: str = "", filename: str = "<stdin>",
            after_pass: AfterPass | None = None) -> str:
    """Parse ``text``, run ``pipeline`` (verifying after each pass) and print the result.

    ``after_pass(name, module)`` is called after every pass (``--print-ir-after-all``).
    Raises ``IRParseError`` (``file:line:col: ...``) for bad input and ``OptError``
    (``file: ...``) for a bad pipeline or a failing pass.
    """
    try:
        manager = PassManager.from_pipeline(pipeline, print_after_all=after_pass)
        module = parse_module(text, filename=filename)
        return print_module(manager.run(module))
    except IRParseError:
        raise
    except Ml2scError as e:
        raise OptError(f"{filename}: {e}") from None


def _print_after(name: str, module: Module) -> None:
    """MLIR's ``--mlir-print-ir-after-all`` banner; on stderr so stdout stays the result."""
    sys.stderr.write(f"// -----// IR after {name} //----- //\n{print_module(module)}\n")


def _read(path: str) -> str:
    if path == STDIN:
        return sys.stdin.read()
    p = Path(path)
    if not p.is_file():
        raise Ml2scError(f"input file '{path}' not found")
    try:
        return p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise Ml2scError(f"cannot read '{path}': {e}") from None


def opt_command(args: argparse.Namespace) -> int:
    """``ml2sc opt FILE [-p PIPELINE] [--print-ir-after-all] [-o OUT]``."""
    filename = "<stdin>" if args.file == STDIN else args.file
    after = _print_after if args.print_ir_after_all else None
    result = run_opt(_read(args.file), args.pipeline or "", filename, after_pass=after)
    if args.output is None:
        sys.stdout.write(result)
        return 0
    Path(args.output).write_text(result, encoding="utf-8")
    return 0
