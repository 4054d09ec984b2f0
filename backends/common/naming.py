"""Names and fingerprints a contract carries: its Solidity name, model hash and selectors."""

from __future__ import annotations

import re
from dataclasses import replace

from eth_utils import keccak

from ml2sc.ir.module import Module
from ml2sc.ir.printer import print_module

SOLIDITY_PRAGMA = "0.8.30"


def contract_name(module: Module) -> str:
    """The module's name as a Solidity identifier in PascalCase (``mlp_2l-4n`` -> ``Mlp2l4n``)."""
    words = re.split(r"[^A-Za-z0-9]+", module.name)
    name = "".join(w[:1].upper() + w[1:] for w in words if w) or "Model"
    return name if name[0].isalpha() else f"Model{name}"


def model_hash(module: Module) -> str:
    """keccak256 of the final IR's text, as a bytes32 literal.

    It covers the model and every decision the passes wrote on it, not where the model was
    read from: the ``source`` attribute (a file path) is dropped.
    """
    portable = replace(module, attributes=tuple(a for a in module.attributes if a[0] != "source"))
    return "0x" + keccak(text=print_module(portable)).hex()


def selector(signature: str) -> bytes:
    """The 4-byte ABI selector of a function or error signature."""
    return keccak(text=signature)[:4]
