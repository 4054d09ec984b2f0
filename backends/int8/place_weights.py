"""place-weights: decide where an int8 model's SWAR weight words live, and say why.

Inline, the words are PUSH32 immediates in the model's own code: a multiply-accumulate
word costs 17 gas instead of 20 and no cold data contract is touched (2,600 gas), but
every group of outputs has its own code (~39 bytes a word), so only small models fit.
Otherwise they go to data contracts read with EXTCODECOPY. The decision is written on
the module (``int8.weights``, and ``int8.weights.why``) for the emitter and the cost
model to read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ml2sc.backends.common.evm import CODE_SIZE_LIMIT
from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Module
from ml2sc.ir.passes import ModulePass

INLINE_BYTES = 14_000  # auto: immediates in the model's code when they take at most this (of 24,576)
WEIGHT_MODES = ("auto", "data", "inline")
LAYOUTS = ("auto", "swar", "dense")
DEFAULT_CALLS = 1_000  # layout=auto: the inferences the model is expected to serve
# layout=auto prices the two layouts with these (measured on 784-128-10, docs/backends.md):
DEPLOY_GAS_PER_BYTE = 216  # code deposit 200 + calldata 16 per data byte
SWAR_GAS_PER_MAC = 3.0
INLINE_GAS_PER_MAC = 2.3  # words as immediates in tile contracts (784-128-10: 2.45; 784-512-256-10: 2.20)
DENSE_GAS_PER_MAC = 7.8
COLD_ACCESS_GAS = 2_600
SPLITS = ("auto", "tiles", "none")
SPLIT_BYTES = 23_000  # split=auto: tiles when the one-contract SWAR code is estimated above this
TX_GAS_CAP = 16_777_216  # EIP-7825 (chain.base.TX_GAS_CAP; a backend does not import the chain)
STEP_CODE_BYTES = 2_500  # begin/step and the state helpers, when a lower cap may need them (784-128-10: +2,150)


def inline_code_bytes(module: Module) -> int:
    """About how many bytes of code the weights and tables take as immediates."""
    size = 0
    for op in module.ops:
        if isinstance(op, ops.QGemm):
            n_out, n_in = module.constant(op.weight).type.shape
            size += 39 * n_in * -(-n_out // op.lanes)
        elif isinstance(op, ops.TableLookup | ops.QSoftmax):
            size += 36 * (8 if isinstance(op, ops.TableLookup) else 64)
    return size


def layout_tradeoff(module: Module, inline: bool) -> tuple[float, float]:
    """(deployment gas dense saves over the SWAR words, execution gas it adds per inference).

    SWAR words cost 32 bytes each in data contracts or ~39 as immediates; inline SWAR also
    spares each inference the cold access of a data contract (2,600 gas)."""
    from ml2sc.backends.int8.dense import plan_dense

    saved, extra = 0.0, COLD_ACCESS_GAS if inline else 0.0
    for op in module.ops:
        if isinstance(op, ops.QGemm):
            n_out, n_in = module.constant(op.weight).type.shape
            swar_bytes = (39 if inline else 32) * n_in * -(-n_out // max(op.lanes, 1))
            dense_bytes = sum(32 * p.words for p in plan_dense(n_out, n_in, "").passes)
            saved += DEPLOY_GAS_PER_BYTE * (swar_bytes - dense_bytes)
            extra += (DENSE_GAS_PER_MAC - SWAR_GAS_PER_MAC) * n_out * n_in
    return saved, extra


def inline_tradeoff(module: Module) -> tuple[float, float]:
    """(deployment gas the words as immediates in tile contracts add over data contracts,
    execution gas they save per inference): ~39 bytes of code a word instead of 32 of data,
    INLINE_GAS_PER_MAC instead of SWAR_GAS_PER_MAC (tiles.inline_tile_code)."""
    more = less = 0.0
    for op in module.ops:
        if isinstance(op, ops.QGemm):
            n_out, n_in = module.constant(op.weight).type.shape
            more += DEPLOY_GAS_PER_BYTE * (39 - 32) * n_in * -(-n_out // max(op.lanes, 1))
            less += (SWAR_GAS_PER_MAC - INLINE_GAS_PER_MAC) * n_out * n_in
    return more, less


def swar_code_bytes(module: Module) -> int:
    """About how many bytes of runtime code the one-contract SWAR model takes (weights in data
    contracts): per layer the unrolled dot function (10 bytes an input), per group its copy and
    call, per output its requantization. Fitted on solc's output (784-128-10: 20,967 bytes;
    784-512-256-10: 76,516)."""
    size = 2_400
    for op in module.ops:
        if isinstance(op, ops.QGemm):
            n_out, n_in = module.constant(op.weight).type.shape
            size += 10 * n_in + 60 * -(-n_out // max(op.lanes, 1)) + 62 * n_out
        elif isinstance(op, ops.TableLookup | ops.QSoftmax):
            size += 300
    return size


def weights_inline(module: Module) -> bool:
    """The decision the pass wrote; a one-line error if no pass decided."""
    mode = module.attribute("int8.weights", "auto")
    if mode not in ("data", "inline"):
        raise Ml2scError(f"int8 backend: weights={mode} is undecided; end the pipeline with place-weights")
    return mode == "inline"


@dataclass(frozen=True)
class PlaceWeights(ModulePass):
    """Put int8 weights inline (code immediates) or in data contracts; writes int8.weights and why."""

    name: ClassVar[str] = "place-weights"
    weights: str = "auto"  # auto | inline | data; auto keeps a choice quantize-int8{weights=...} recorded
    layout: str = "swar"  # swar (pre-spread words) | dense (one byte a weight) | auto (from calls)
    calls: int = DEFAULT_CALLS
    split: str = "auto"  # auto | tiles | none: SWAR layers in tile contracts when the model is over EIP-170
    # (weights=inline on such a model: the words as immediates in the tiles, tiles.inline_tile_code)
    tx_gas_cap: int = TX_GAS_CAP  # the per-transaction cap; an inference above it runs in steps (session.py)

    def apply(self, module: Module) -> Module:
        module = self._place(module)
        layout, why = self._layout(module)
        if layout == "swar-inline":  # auto's third choice: the words as immediates (in tiles)
            layout = "swar"
            module = module.with_attribute("int8.weights", "inline").with_attribute("int8.weights.why", "layout=auto: " + why)
        if layout == "dense" and module.attribute("int8.weights") == "inline":
            if self.weights == "inline":
                raise Ml2scError("int8 backend: the dense layout needs weights=data (one byte a weight in data contracts)")
            module = module.with_attribute("int8.weights", "data").with_attribute("int8.weights.why", "dense layout")
        module = module.with_attribute("int8.layout", layout).with_attribute("int8.layout.why", why)
        if self.tx_gas_cap != TX_GAS_CAP:  # written only when asked: the default leaves the model (and its hash) as it was
            if self.tx_gas_cap < 50_000:
                raise Ml2scError(f"int8 backend: tx_gas_cap={self.tx_gas_cap:,} is below what any transaction needs")
            if self.tx_gas_cap > TX_GAS_CAP:
                raise Ml2scError(f"int8 backend: tx_gas_cap={self.tx_gas_cap:,} is above the chain's per-transaction cap "
                                 f"of {TX_GAS_CAP:,} (EIP-7825)")
            module = module.with_attribute("int8.tx_gas_cap", str(self.tx_gas_cap))
        return self._split(module, layout)

    def _split(self, module: Module, layout: str) -> Module:
        """Tile contracts for SWAR layers when the one-contract model would exceed EIP-170 (dense
        kernels are loops: their model contract stays ~4 KB however large the model)."""
        if self.split not in SPLITS:
            raise Ml2scError(f"int8 backend: split={self.split} is not one of {', '.join(SPLITS)}")
        if self.split == "none" or layout == "dense":
            if self.split == "tiles":
                raise Ml2scError("int8 backend: split=tiles needs layout=swar")
            return module
        inline = module.attribute("int8.weights") == "inline"
        size = (2_400 + inline_code_bytes(module) if inline else swar_code_bytes(module)) + (
            STEP_CODE_BYTES if self.tx_gas_cap != TX_GAS_CAP else 0)
        if self.split == "auto" and size <= SPLIT_BYTES:
            return module
        why = "asked for" if self.split == "tiles" else (
            f"~{size:,} bytes of code in one contract > {SPLIT_BYTES:,} (EIP-170 allows {CODE_SIZE_LIMIT:,})")
        return module.with_attribute("int8.split", "tiles").with_attribute("int8.split.why", why)

    def _layout(self, module: Module) -> tuple[str, str]:
        if self.layout not in LAYOUTS:
            raise Ml2scError(f"int8 backend: layout={self.layout} is not one of {', '.join(LAYOUTS)}")
        if self.layout == "swar":
            return "swar", "pre-spread SWAR words, the cheapest per inference (the default)"
        if self.layout == "dense":
            return "dense", "asked for: one byte a weight, the cheapest to deploy"
        inline = module.attribute("int8.weights") == "inline"
        saved, extra = layout_tradeoff(module, inline)
        calls = max(self.calls, 0)
        choice = "dense" if saved > calls * extra else "swar"
        why = (f"dense saves ~{saved:,.0f} deployment gas and costs ~{extra:,.0f} more per inference: "
               f"{'worth it' if choice == 'dense' else 'not worth it'} over {calls:,} calls")
        if inline or self.weights != "auto":
            return choice, why
        # weights auto-placed in data contracts (too many for the model's own code): the words as
        # immediates in tile contracts are the third choice, dearer to deploy, cheaper to run
        more, less = inline_tradeoff(module)
        best = min(("swar", 0.0), ("dense", -saved + calls * extra), ("swar-inline", more - calls * less), key=lambda c: c[1])
        return best[0], why + (f"; inline words in tile contracts cost ~{more:,.0f} more to deploy and save ~{less:,.0f} "
                               f"per inference: {'worth it' if best[0] == 'swar-inline' else 'not worth it'} over {calls:,} calls")

    def _place(self, module: Module) -> Module:
        mode = self.weights if self.weights != "auto" else module.attribute("int8.weights", "auto")
        if mode not in WEIGHT_MODES:
            raise Ml2scError(f"int8 backend: weights={mode} is not one of {', '.join(WEIGHT_MODES)}")
        why = "asked for"
        if mode == "auto":
            size = inline_code_bytes(module)
            mode = "inline" if size <= INLINE_BYTES else "data"
            why = f"{size} bytes of weight immediates {'<=' if mode == 'inline' else '>'} {INLINE_BYTES}"
        return module.with_attribute("int8.weights", mode).with_attribute("int8.weights.why", why)
