"""The ml2sc-baseline backend: ML2SC's contract style, so the benchmark measures the baseline.

Its contracts cost what ML2SC's cost (storage weights, a PRBMath call per
multiply and add); ``ml2sc bench`` runs it next to our backends on the same
chain. Besides the Backend interface it offers what the bench needs for
ML2SC's way of classifying: storing the test rows (``test_data_calls``) and
classifying them from storage (``classify_stored_calls``).
"""

from __future__ import annotations

from typing import ClassVar

from eth_abi import decode, encode

from ml2sc.backends.base import Backend, Program
from ml2sc.backends.common.naming import selector
from ml2sc.backends.ml2sc_baseline import simulator
from ml2sc.backends.ml2sc_baseline.emitter import Ml2scBaselineEmitter, gemm_layers
from ml2sc.backends.ml2sc_baseline.simulator import Ml2scBaselineSimulator
from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Module
from ml2sc.ir.types import FixedType

TX_GAS_CAP = 16_777_216  # EIP-7825 per-transaction gas limit
# Values per upload transaction: a fresh storage word costs 22,100 gas, and with the row
# bookkeeping and calldata a value measured ~24,700, so 400 values stay near 9.9M gas.
UPLOAD_CHUNK = 400
# One classifyStored transaction may plan to use this much (95% of the cap): the estimate
# below is within 3% of every measured shape, and its rows get a further 5% margin.
CALL_BUDGET = 15_900_000
ROW_MARGIN = 1.05
# The gas model of classifyStored, fitted on ten MLP shapes measured on the embedded chain
# (tests/backends/ml2sc_baseline compare it with the chain). Per row: each multiply-accumulate
# reads weights[n][i] from storage (two lengths, two hashes) and calls PRBMath mul and add;
# each input is a cold storage read when the row is copied to memory; each sigmoid, tanh or
# softmax element calls PRBMath exp and div. Once per call: the first row reads every
# parameter and every neuron's array length cold (2,100 gas each).
ROW_BASE, ROW_PER_LAYER, ROW_PER_INPUT = 1_300, 3_100, 2_150
ROW_PER_MAC, ROW_PER_NEURON, ROW_PER_EXP = 1_360, 550, 4_200
COLD_BASE, COLD_PER_LAYER, COLD_PER_PARAMETER, COLD_PER_NEURON = 28_400, 3_750, 2_000, 2_050


UPLOAD_WEIGHTS = selector("uploadWeights(uint256,int256[])")
UPLOAD_BIASES = selector("uploadBiases(uint256,int256[])")
UPLOAD_TEST_DATA = selector("uploadTestData(int256[])")
FINALIZE = selector("finalize()")
CLASSIFY_STORED = selector("classifyStored(uint256,uint256)")


def row_gas_estimate(module: Module) -> int:
    """Gas of one more row in classifyStored (parameters already warm)."""
    layers = [layer for _, layer in gemm_layers(module)]
    exps = sum(op.result.type.size for op in module.ops
               if isinstance(op, ops.Sigmoid | ops.Tanh | ops.Softmax) or op.tag("fuse") in ("sigmoid", "tanh"))
    return (ROW_BASE + ROW_PER_LAYER * len(layers) + ROW_PER_INPUT * module.inputs[0].type.size
            + ROW_PER_MAC * sum(la.n_out * la.n_in for la in layers)
            + ROW_PER_NEURON * sum(la.n_out for la in layers) + ROW_PER_EXP * exps)


def call_gas_estimate(module: Module, rows: int) -> int:
    """Gas of one classifyStored transaction over ``rows`` rows, transaction base cost included."""
    layers = [layer for _, layer in gemm_layers(module)]
    cold = (COLD_BASE + COLD_PER_LAYER * len(layers) + COLD_PER_PARAMETER * parameter_count(module)
            + COLD_PER_NEURON * sum(la.n_out for la in layers))
    return cold + rows * row_gas_estimate(module)


def rows_per_call(module: Module) -> int:
    """How many stored rows one classifyStored call may classify under CALL_BUDGET (0: not even one)."""
    first = call_gas_estimate(module, 0)
    return max(0, int((CALL_BUDGET - first) // (ROW_MARGIN * row_gas_estimate(module))))


def parameter_count(module: Module) -> int:
    return sum(layer.n_out * (layer.n_in + 1) for _, layer in gemm_layers(module))


class Ml2scBaselineBackend(Backend):
    name: ClassVar[str] = "ml2sc-baseline"
    description: ClassVar[str] = (
        "ML2SC's style, for benchmarks: int256 storage weights uploaded after deployment, "
        "a PRBMath SD59x18 call per multiply and add"
    )
    pipeline: ClassVar[str] = ("canonicalize,fold-batchnorm,fuse-affine,quantize-fixed{decimals=18,exact_weights=false},"
                               "fuse-activation{ops=relu+sigmoid+tanh}")
    emitter: ClassVar[type | None] = Ml2scBaselineEmitter
    simulator: ClassVar[type | None] = Ml2scBaselineSimulator
    cost_model: ClassVar[str | None] = "ml2sc.backends.ml2sc_baseline.cost"

    def emit(self, module: Module) -> Program:
        self._check(module)
        per_call = rows_per_call(module)
        if per_call == 0:
            raise Ml2scError(
                f"ml2sc-baseline: one inference of '{module.name}' needs ~{call_gas_estimate(module, 1):,} gas "
                f"({parameter_count(module):,} parameters in storage, a PRBMath call per multiply-add), "
                f"over 95% of the {TX_GAS_CAP:,} per-transaction gas cap"
            )
        metadata = {"rows_per_classify_call": str(per_call), "parameters": str(parameter_count(module))}
        return Ml2scBaselineEmitter(module, metadata).program()

    def _check(self, module: Module) -> None:
        supported = Ml2scBaselineSimulator.supported_ops()
        unsupported = [op for op in module.ops if type(op) not in supported]
        if unsupported:
            names = ", ".join(sorted(t.mnemonic for t in supported))
            raise Ml2scError(f"ml2sc-baseline backend: unsupported op '{unsupported[0].mnemonic}' (supports {names})")
        if len(module.inputs) != 1 or module.inputs[0].type.element != FixedType(18):
            raise Ml2scError(
                f"ml2sc-baseline backend expects one fixed<18> input, got "
                f"{', '.join(str(v.type) for v in module.inputs)} (run quantize-fixed)"
            )
        for op in module.ops:
            if isinstance(op, ops.Gemm) and module.constant(op.weight).type.element != FixedType(18):
                raise Ml2scError(
                    f"ml2sc-baseline backend: weights @{op.weight} are {module.constant(op.weight).type.element}, "
                    "expected fixed<18> (use quantize-fixed{exact_weights=false})"
                )
        if not module.outputs or not gemm_layers(module):
            raise Ml2scError("ml2sc-baseline backend: the model has no gemm layer or no output")


    # ------------------------------------------------------------ transactions
    def setup_calls(self, module: Module, program: Program) -> list[bytes]:
        """Weights then biases of each layer, at most UPLOAD_CHUNK values a transaction, then finalize()."""
        calls = []
        for op, layer in gemm_layers(module):
            weights, bias = simulator.gemm_constants(module, op)
            for chunk in _chunks(list(weights)):
                calls.append(UPLOAD_WEIGHTS + encode(["uint256", "int256[]"], [layer.index, chunk]))
            for chunk in _chunks(list(bias)):
                calls.append(UPLOAD_BIASES + encode(["uint256", "int256[]"], [layer.index, chunk]))
        return [*calls, FINALIZE]

    def test_data_calls(self, rows: list[list[int]]) -> list[bytes]:
        """ML2SC's data upload: the rows back to back, at most UPLOAD_CHUNK values a transaction."""
        flat = [v for row in rows for v in row]
        return [UPLOAD_TEST_DATA + encode(["int256[]"], [chunk]) for chunk in _chunks(flat)]

    def classify_stored_calls(self, program: Program, n_rows: int) -> list[bytes]:
        """``classifyStored(start, count)`` over all stored rows, as few calls as the gas cap allows.

        ML2SC classified its 50 rows in one transaction; that still fits for its nine
        models, while larger ones (digits 64-32-10: ~3.4M gas a row) need the range split
        under today's per-transaction cap (see docs/backends.md).
        """
        per_call = int(program.metadata["rows_per_classify_call"])
        return [CLASSIFY_STORED + encode(["uint256", "uint256"], [start, min(per_call, n_rows - start)])
                for start in range(0, n_rows, per_call)]

    def decode_classify_stored(self, output: bytes) -> list[int]:
        return list(decode(["int256[]"], output)[0])


def _chunks(values: list[int]) -> list[list[int]]:
    return [values[i : i + UPLOAD_CHUNK] for i in range(0, len(values), UPLOAD_CHUNK)] or [[]]
