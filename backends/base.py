"""What a backend is: a named pipeline to its IR, an emitter, and a simulator.

Backends are found through the ``ml2sc.backends`` entry-point group (ours
too), so a third-party backend is exactly as capable as a built-in one.
A backend imports ``ml2sc.ir`` and this module, never the compiler driver or
another backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ml2sc.ir.module import Module


@dataclass(frozen=True)
class OutputSlot:
    """Where one IR output sits in the contract's flat ``int256[]`` result."""

    name: str
    offset: int
    size: int
    shape: tuple[int, ...]
    decimals: int | None  # None: an integer output (class index or label), or a quantized one
    scale: float | None = None  # quantized output: real = scale * (q - zero_point)
    zero_point: int = 0


@dataclass(frozen=True)
class Program:
    """A backend's product: Solidity sources plus the ABI conventions to talk to it."""

    contract_name: str
    sources: dict[str, str]
    main_file: str
    n_inputs: int
    input_decimals: int
    packed_input_bytes: int
    outputs: tuple[OutputSlot, ...]
    metadata: dict[str, str] = field(default_factory=dict)
    #: Runtime code of data contracts (e.g. int8 weights, SSTORE2 style), each at most 24,576
    #: bytes. The driver deploys them first, in order, and passes their addresses to the main
    #: contract's constructor as ``address[]``.
    data_contracts: tuple[bytes, ...] = ()

    @property
    def solidity(self) -> str:
        return self.sources[self.main_file]

    @property
    def n_outputs(self) -> int:
        return sum(s.size for s in self.outputs)


class Backend:
    """Base class for backends; subclasses set the class attributes and implement the methods."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    pipeline: ClassVar[str] = ""

    def emit(self, module: Module) -> Program:
        raise NotImplementedError

    def quantize_inputs(self, module: Module, x: np.ndarray) -> list[list[int]]:
        """Float rows -> the integers the contract takes (exactly what ``predict`` is sent)."""
        raise NotImplementedError

    def simulate(self, module: Module, rows: list[list[int]]) -> list[list[int]]:
        """Bit-exact model of the emitted contract: integer inputs -> flat integer outputs."""
        raise NotImplementedError

    def setup_calls(self, module: Module, program: Program) -> list[bytes]:
        """Calldata of the transactions to send right after deployment (e.g. a storage
        upload of the weights, then ``finalize()``); their gas is reported as upload gas.
        Backends whose contracts are complete once deployed return []."""
        return []

    def pack_row(self, row: list[int]) -> list[int] | bytes | None:
        """The words ``predictPacked(uint256[])`` takes for this row (or, as ``bytes``, the
        argument of ``predictPacked(bytes)``), or None when the backend has no packed form or
        a value does not fit (callers then use ``predict``)."""
        return None
