"""Data-contract addresses linked into a model's code as PUSH32 constants.

A model that reads data contracts with EXTCODECOPY could keep their addresses in immutables and
pass them to a shared copy routine; but then nothing in its code says which address an
EXTCODECOPY reads, and a verifier (the marketplace's ``ChallengeModels.scanEntry``) cannot tell
it from code that computes an address at run time and reads whatever is deployed there later.
So each EXTCODECOPY of a linked model takes its address from the PUSH32 right before it. solc
cannot put an immutable there (inline assembly cannot read one), so the Solidity names a
placeholder constant per data contract, ``placeholder(k)``, and the deployer replaces each
``PUSH32 placeholder(k)`` of the creation code with ``PUSH32 address(k)`` once the data contracts
are on chain: linking, as solc's library linker does with PUSH20 placeholders.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_utils import keccak

PUSH32 = 0x7F


def placeholder(k: int) -> bytes:
    """Data contract k's placeholder: 32 bytes no code computes (a hash), first byte 0x4c ("L")
    so that solc emits a full PUSH32 for it."""
    return b"\x4c" + keccak(f"ml2sc.link.data.{k}".encode())[1:]


def literal(k: int) -> str:
    """``placeholder(k)`` as a Solidity literal."""
    return "0x" + placeholder(k).hex()


def links(code: bytes) -> int:
    """How many data contracts ``code`` links (placeholders 0..n-1 present as PUSH32 immediates)."""
    n = 0
    while bytes([PUSH32]) + placeholder(n) in code:
        n += 1
    return n


def link(code: bytes, addresses: Sequence[str]) -> bytes:
    """``code`` with each ``PUSH32 placeholder(k)`` made ``PUSH32 addresses[k]`` (left-padded)."""
    out = bytes(code)
    for k, address in enumerate(addresses):
        target = bytes.fromhex(address[2:] if address.startswith("0x") else address).rjust(32, b"\0")
        out = out.replace(bytes([PUSH32]) + placeholder(k), bytes([PUSH32]) + target)
    return out


def unlinked(code: bytes) -> bytes:
    """``code`` with every placeholder zeroed: what a linked copy is once its addresses are zeroed
    (the marketplace's entry hash), whatever addresses it was linked with."""
    return link(code, ["0x" + "00" * 20] * links(code))
