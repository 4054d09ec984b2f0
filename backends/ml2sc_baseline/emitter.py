"""Lowering of fixed<18> IR to a contract written the way ML2SC writes them.

ML2SC (arXiv 2404.16967, ANRGUSC/ML_onChain) is the baseline ml2sc is measured
against, so this emitter copies its choices on purpose, costs included:
- weights live in ``int256[][]`` storage, one array per neuron (``weights_layerK[n][i]``),
  biases in ``biases[K][n]``; both are uploaded by transactions after deployment
  (``uploadWeights``/``uploadBiases``, owner only) and frozen by ``finalize()``;
- every multiply and add is a PRBMath SD59x18 call (``x.mul(w)``, ``acc.add(..)``)
  in nested loops over storage, neuron results in ``SD59x18[] memory``;
- relu is ``x.gte(0) ? x : 0`` inside the neuron loop, sigmoid ``1 / (1 + exp(-x))``,
  tanh and softmax through PRBMath's ``exp`` and ``div`` as well;
- test rows are stored in ``testData`` (``uploadTestData``) and ``classifyStored``
  classifies a range of them in one call, each row copied from storage first.
What it adds to ML2SC: named custom errors, an owner, ``finalize()``, a (start, count)
range for ``classifyStored`` (ML2SC's nine models classify their 50 rows in one call,
larger ones need several under the per-transaction gas cap) and IML2SCModel's
``predict``/``classify``/``modelHash``. The fixed parts of the contract (errors, owner, uploads,
entry points, activations) are Solidity in ``runtime_sol/ML2SCBaseline.sol``; the generated
contract ``is ML2SCBaseline`` and writes only what depends on the model.
``simulator.py`` performs the same PRBMath calls in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

from ml2sc.backends.common import shell
from ml2sc.backends.common.dispatch import handles
from ml2sc.backends.common.emitter import Emitter
from ml2sc.ir import ops
from ml2sc.ir.module import Module

BASE = "ML2SCBaseline"  # runtime_sol/ML2SCBaseline.sol: the abstract contract every one extends


@dataclass(frozen=True)
class Layer:
    """One gemm: its index among the gemms (the upload API's ``layer``) and its shape."""

    index: int
    n_out: int
    n_in: int


def gemm_layers(module: Module) -> list[tuple[ops.Gemm, Layer]]:
    """The gemms in order, numbered as the contract numbers its weight arrays."""
    gemms = [op for op in module.ops if isinstance(op, ops.Gemm)]
    return [(g, Layer(k, g.result.type.size, g.input.type.size)) for k, g in enumerate(gemms)]


class Ml2scBaselineEmitter(Emitter):
    """ML2SC's contract shape; a gemm tagged ``{fuse = "sigmoid"}`` (``fuse-activation``) applies
    its activation inside the neuron loop, as ML2SC does."""

    backend = "ml2sc-baseline"

    def __init__(self, module: Module, metadata: dict[str, str]) -> None:
        super().__init__(module)
        self.metadata = metadata
        self.layers = gemm_layers(module)
        # IR value -> (Solidity variable, is it SD59x18[] (True) or raw int256[] (False))
        self.vars: dict[str, tuple[str, bool]] = {module.inputs[0].name: ("x", False)}

    def conventions(self) -> dict[str, object]:
        return {"input_decimals": 18, "packed_input_bytes": 0, "metadata": self.metadata}

    # ------------------------------------------------------------------ file
    def source(self) -> str:
        w = self.w
        shell.file_header(w, self.backend, self.m, [
            "The benchmark's baseline, written the way ML2SC (arXiv 2404.16967) writes contracts:",
            "weights in int256 storage uploaded by transactions after deployment, every multiply and",
            "add a PRBMath SD59x18 call, test rows stored on chain and classified by one call.",
            "It exists to be measured against; the prbmath backend is the one to deploy."])
        w.line('import { SD59x18, sd } from "@prb/math/src/SD59x18.sol";')
        w.line(f'import {{ {BASE} }} from "ml2sc/{BASE}.sol";')
        w.blank()
        w.comment(f"Errors, owner, uploads, entry points and activations: {BASE} (runtime_sol/{BASE}.sol).")
        return self.write_contract(f"contract {self.contract} is {BASE}", self._state, self._forward, self._label, self._layer)

    def _state(self) -> None:
        w = self.w
        w.line(f"bytes32 public constant modelHash = {self.model_hash};")
        w.blank()
        w.comment("Weights as ML2SC stores them: per gemm layer one int256[] per neuron (biases: in the base).")
        for _, layer in self.layers:
            w.line(f"int256[][] public weights_layer{layer.index}; // {layer.n_out} x {layer.n_in}")
        w.blank()
        with w.block("function _nIn() internal pure override returns (uint256)"):
            w.line(f"return {self.n_in};")
        w.blank()
        with w.block("function _nLayers() internal pure override returns (uint256)"):
            w.line(f"return {len(self.layers)};")
        w.blank()

    # --------------------------------------------------------------- forward
    def _forward(self) -> None:
        w = self.w
        w.comment("The forward pass of one row of SD59x18 inputs; returns the flat outputs.")
        with w.block("function _forward(int256[] memory x) internal view override returns (int256[] memory y)"):
            for i, op in enumerate(self.m.ops):
                self.var = f"v{i}"
                self.lower(op)
            self._write_outputs()
        w.blank()

    def _read(self, value: str, index: str) -> str:
        var, is_sd = self.vars[value]
        return f"{var}[{index}]" if is_sd else f"sd({var}[{index}])"

    @handles(ops.Softmax)
    def _softmax(self, op: ops.Softmax) -> None:
        w, var, n = self.w, self.var, op.result.type.size
        w.comment(f"{var}: softmax")
        src, is_sd = self.vars[op.operands[0].name]
        if not is_sd:  # softmax of the raw input row: wrap it first
            w.line(f"SD59x18[] memory {var}In = new SD59x18[]({n});")
            with w.block(f"for (uint256 n = 0; n < {n}; n++)"):
                w.line(f"{var}In[n] = sd({src}[n]);")
            src = f"{var}In"
        w.line(f"SD59x18[] memory {var} = softmax({src});")
        self.vars[op.result.name] = (var, True)

    @handles(ops.Relu, ops.Sigmoid, ops.Tanh)
    def _activation(self, op: ops.Op) -> None:
        w, var, n = self.w, self.var, op.result.type.size
        w.comment(f"{var}: {op.mnemonic}")
        w.line(f"SD59x18[] memory {var} = new SD59x18[]({n});")
        with w.block(f"for (uint256 n = 0; n < {n}; n++)"):
            w.line(f"{var}[n] = {op.mnemonic}({self._read(op.operands[0].name, 'n')});")
        self.vars[op.result.name] = (var, True)

    @handles(ops.Gemm)
    def _gemm(self, op: ops.Gemm) -> None:
        w, var = self.w, self.var
        layer = next(layer for g, layer in self.layers if g is op)
        rows = f"weights_layer{layer.index}"
        act = op.tag("fuse")
        src, _ = self.vars[op.input.name]
        fused = f", {act} in the neuron loop (as ML2SC)" if act else ""
        w.comment(f"{var}: layer {layer.index + 1} (weights_layer{layer.index}), gemm {layer.n_in} -> {layer.n_out}{fused}")
        w.line(f"SD59x18[] memory {var} = new SD59x18[]({rows}.length);")
        with w.block(f"for (uint256 n = 0; n < {rows}.length; n++)"):
            w.line(f"{var}[n] = sd(biases[{layer.index}][n]);")
            with w.block(f"for (uint256 i = 0; i < {src}.length; i++)"):
                w.line(f"{var}[n] = {var}[n].add({self._read(op.input.name, 'i')}.mul(sd({rows}[n][i])));")
            if act:
                w.line(f"{var}[n] = {act}({var}[n]);")
        self.vars[op.result.name] = (var, True)

    def _write_outputs(self) -> None:
        w = self.w
        w.comment("the outputs, flat, as int256")
        w.line(f"y = new int256[]({self.n_out});")
        for slot, out in zip(self.slots, self.m.outputs, strict=True):
            value = self._read(out.value.name, "k")
            index = f"{slot.offset} + k" if slot.offset else "k"
            with w.block(f"for (uint256 k = 0; k < {slot.size}; k++)"):
                w.line(f"y[{index}] = {value}.unwrap();")

    # --------------------------------------------------------------- helpers
    def _label(self) -> None:
        w = self.w
        size = self.m.outputs[0].value.type.size
        if size == 1:
            w.comment("The label: class 1 when the score is at least 0.5, else 0 (as ML2SC).")
        else:
            w.comment("The label: the index of the first maximum of the first output.")
        with w.block("function _label(int256[] memory y) internal pure override returns (int256 label)"):
            if size == 1:
                w.line("label = sd(y[0]).gte(sd(0.5e18)) ? int256(1) : int256(0);")
            else:
                loop = f"for (uint256 k = 1; k < {size}; k++)"
                with w.block(loop), w.block("if (y[k] > y[uint256(label)])"):
                    w.line("label = int256(k);")
        w.blank()

    def _layer(self) -> None:
        w = self.w
        w.comment("Layer index -> its weight arrays and shape (out x in).")
        header = ("function _layer(uint256 layer) internal view override "
                  "returns (int256[][] storage rows, uint256 nOut, uint256 nIn)")
        with w.block(header):
            for _, layer in self.layers:
                with w.block(f"if (layer == {layer.index})"):
                    w.line(f"return (weights_layer{layer.index}, {layer.n_out}, {layer.n_in});")
            w.line("revert UnknownLayer(layer);")
