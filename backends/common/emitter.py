"""The emitter skeleton: IR module in, ``Program`` out, one ``@handles`` method per op.

A backend's emitter subclasses ``Emitter``: its ``@handles(ops.X)`` methods write the
code of one op with ``self.w`` (a ``SolidityWriter``, which knows nothing of the IR),
and ``program()`` assembles the file around them from ``shell``. The decisions those
methods follow (fusion, weight layout) are tags and attributes the backend's passes
wrote on the IR, so the simulator and the cost model read the same answers.
"""

from __future__ import annotations

from collections.abc import Callable

from ml2sc.backends.base import Program
from ml2sc.backends.common.dispatch import OpDispatch
from ml2sc.backends.common.io import output_slots
from ml2sc.backends.common.naming import contract_name, model_hash
from ml2sc.backends.common.solidity import SolidityWriter
from ml2sc.ir import ops
from ml2sc.ir.module import Module


class Emitter(OpDispatch):
    def __init__(self, module: Module) -> None:
        self.m = module
        self.w = SolidityWriter()
        self.contract = contract_name(module)
        self.model_hash = model_hash(module)
        self.n_in = module.inputs[0].type.size
        self.slots = output_slots(module)
        self.n_out = sum(s.size for s in self.slots)

    def lower(self, op: ops.Op) -> None:
        self.handler(op)(op)

    def source(self) -> str:
        """The whole Solidity file."""
        raise NotImplementedError

    def write_contract(self, header: str, *parts: Callable[[], None]) -> str:
        """``header { parts... }`` closing the file: each part writes one section of the body."""
        with self.w.block(header):
            for part in parts:
                part()
        return self.w.text()

    def conventions(self) -> dict[str, object]:
        """The Program fields that say how to talk to this contract (``input_decimals``,
        ``packed_input_bytes``, ``metadata``, ``data_contracts``); read after ``source()``."""
        raise NotImplementedError

    def program(self) -> Program:
        """The one-file Program for this module."""
        source = self.source()
        file = f"{self.contract}.sol"
        return Program(contract_name=self.contract, sources={file: source}, main_file=file,
                       n_inputs=self.n_in, outputs=self.slots, **self.conventions())  # type: ignore[arg-type]
