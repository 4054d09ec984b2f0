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
    #: What each data contract is, for gas reports (e.g. prbmath's stage contracts, which hold code:
    #: ``stage0:L1[0:96]``); default ``data<k>``.
    data_contract_names: tuple[str, ...] = ()

    @property
    def solidity(self) -> str:
        return self.sources[self.main_file]

    @property
    def n_outputs(self) -> int:
        return sum(s.size for s in self.outputs)


class Backend:
    """Base class for backends: the class attributes declare its parts, the methods use them.

    ``pipeline`` takes float IR to what ``emitter`` accepts (its last passes are the
    backend's own decisions, written on the IR as attributes); ``emitter`` is a
    ``ml2sc.backends.common.emitter.Emitter`` subclass turning that IR into a ``Program``;
    ``simulator`` computes, in Python, exactly the integers the emitted contract returns;
    ``cost_model`` names the module whose ``TERMS`` and ``cost_features`` ``ml2sc estimate``
    prices with the fitted ``gas_model.json`` beside it (None: no gas model).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    pipeline: ClassVar[str] = ""
    emitter: ClassVar[type | None] = None
    simulator: ClassVar[type | None] = None
    cost_model: ClassVar[str | None] = None

    def emit(self, module: Module) -> Program:
        if self.emitter is None:
            raise NotImplementedError(f"backend '{self.name}' declares no emitter")
        return self.emitter(module).program()

    def spread(self, module: Module) -> Module | None:
        """``module`` with the decision to spread the model over more contracts written on it, or
        None when it already is (the default: a backend that never splits).

        A backend whose size estimate puts a model near EIP-170 emits it in one contract and
        says so (``Program.metadata["code_size"] = "near-limit"``); when solc's code of it is over
        the limit after all, the compiler emits ``spread(module)`` instead
        (``compiler.driver.emit_program``). An estimate cannot tell a model 300 bytes under the
        limit from one 300 bytes over; solc can."""
        return None

    def quantize_inputs(self, module: Module, x: np.ndarray) -> list[list[int]]:
        """Float rows -> the integers the contract takes (exactly what ``predict`` is sent).

        By default the input's own number format: decimal fixed point ``fixed<d>``."""
        from ml2sc.backends.common.io import fixed_rows
        from ml2sc.ir.types import FixedType

        element = module.inputs[0].type.element
        if not isinstance(element, FixedType):
            raise NotImplementedError(f"backend '{self.name}': no default input conversion for {element}")
        return fixed_rows(x, element.decimals)

    def simulate(self, module: Module, rows: list[list[int]]) -> list[list[int]]:
        """Bit-exact model of the emitted contract: integer inputs -> flat integer outputs."""
        if self.simulator is None:
            raise NotImplementedError(f"backend '{self.name}' declares no simulator")
        sim = self.simulator(module)
        return [sim.run(row) for row in rows]

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
