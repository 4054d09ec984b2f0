"""Yul expression helpers: literals and sums shaped for cheap EVM code.

Yul has no negative literals, evaluates arguments right to left, and solc folds
constant sub-expressions; these helpers spell things so the generated code is
both short and readable.
"""

from __future__ import annotations


def hex_lit(v: int) -> str:
    """A non-negative literal in hex (addresses, masks, packed words)."""
    return f"0x{v:x}"


def lit(c: int) -> str:
    """A signed constant: -c is ``not(c - 1)``, one opcode and no 32-byte immediate."""
    return hex_lit(c) if c >= 0 else f"not({hex_lit(-c - 1)})"


def dec_lit(c: int) -> str:
    """A signed constant in decimal (fixed-point values read better so): -c is ``sub(0, c)``."""
    return str(c) if c >= 0 else f"sub(0, {-c})"


def plus(expr: str, c: int) -> str:
    """expr + c, subtracting the magnitude of a negative constant instead of pushing 32 bytes."""
    if c == 0:
        return expr
    return f"add({expr}, {c})" if c > 0 else f"sub({expr}, {-c})"


def times(expr: str, c: int) -> str:
    """expr * c for a signed constant: mul (c >= 0) or 0 - expr * |c|."""
    return f"mul({expr}, {c})" if c >= 0 else f"sub(0, mul({expr}, {-c}))"


def nested_sum(terms: list[str]) -> str:
    """t0 + t1 + ... as ``add(t0, add(t1, ...))``: Yul evaluates right to left, so the
    stack depth stays constant, with no DUP/SWAP/POP per term."""
    expr = terms[-1]
    for t in reversed(terms[:-1]):
        expr = f"add({t}, {expr})"
    return expr


def chunked_sums(terms: list[str], size: int) -> list[str]:
    """``nested_sum`` over consecutive chunks of ``size`` terms (bounded expression depth)."""
    return [nested_sum(terms[i : i + size]) for i in range(0, len(terms), size)]
