"""Models over EIP-170's 24,576 bytes split into stage contracts and run end to end.

Each split model is deployed on a fresh embedded chain; every entry point (predict,
predictPacked, predictBatch, classify) must return the simulator's integers exactly, the
outputs must match onnxruntime within 1e-6, and every deployment transaction must stay
under the per-transaction gas cap (EIP-7825).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from eth_abi import encode
from onnx import TensorProto, helper, numpy_helper

import ml2sc
from ml2sc.backends.prbmath import ranges
from ml2sc.backends.prbmath.emitter import PrbMathEmitter
from ml2sc.backends.prbmath.stages import CODE_SIZE_LIMIT, assemble, split_gemm
from ml2sc.backends.prbmath.weights import gemm_rows
from ml2sc.chain import ChainError, Reverted
from ml2sc.compiler.driver import CompiledModel, data_initcode, decode_outputs
from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError
from tests.compiler.test_deploy_journal import FailingAfter

pytestmark = pytest.mark.evm

TX_GAS_CAP = 16_777_216


def mlp_onnx(sizes: list[int], seed: int = 0) -> onnx.ModelProto:
    """Gemm + relu layers, a softmax head: float32 weights ~ N(0, 1/fan-in)."""
    rng = np.random.default_rng(seed)
    nodes, inits, prev = [], [], "x"
    for i, (a, b) in enumerate(zip(sizes, sizes[1:], strict=False)):
        inits += [numpy_helper.from_array(rng.normal(0, 1 / np.sqrt(a), (b, a)).astype(np.float32), f"w{i}"),
                  numpy_helper.from_array(rng.normal(0, 0.1, b).astype(np.float32), f"b{i}")]
        nodes.append(helper.make_node("Gemm", [prev, f"w{i}", f"b{i}"], [f"g{i}"], transB=1))
        prev = f"g{i}"
        if i < len(sizes) - 2:
            nodes.append(helper.make_node("Relu", [prev], [f"r{i}"]))
            prev = f"r{i}"
    nodes.append(helper.make_node("Softmax", [prev], ["y"], axis=1))
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", sizes[0]])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", sizes[-1]])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def onnxruntime_outputs(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    return ort.InferenceSession(model.SerializeToString()).run(None, {"x": x.astype(np.float32)})[0]


def check_end_to_end(model: onnx.ModelProto, compiled: CompiledModel, chain, n_rows: int, label: str) -> None:  # noqa: ANN001
    program = compiled.program
    assert program.data_contracts, "expected stage contracts"
    assert all(len(code) <= CODE_SIZE_LIMIT for code in program.data_contracts)
    deployed = compiled.deploy(chain, progress=False)
    gas = deployed.gas
    assert len(gas.contracts) == len(program.data_contracts) + 1
    assert all(g <= TX_GAS_CAP for _, g in gas.contracts), gas.contracts
    assert compiled.artifact.runtime_size <= CODE_SIZE_LIMIT

    x = np.random.default_rng(1).normal(size=(n_rows, program.n_inputs)).astype(np.float32)
    rows = compiled.quantize(x)
    expected = compiled.simulate_raw(rows)
    assert deployed.predict_raw(rows, packed=True) == expected
    assert deployed.predict_raw(rows[:2], packed=False) == expected[:2]
    assert deployed.predict_batch_raw(rows) == expected
    assert list(deployed.classify(x[:3])) == [int(np.argmax(r)) for r in expected[:3]]
    ours = decode_outputs(program, expected, exact=True)["y"]
    err = float(np.abs(ours - onnxruntime_outputs(model, x)).max())
    assert err <= 1e-6
    summary = gas.summary()
    print(f"\n{label}: {len(gas.contracts)} contracts (stage code {sum(len(c) for c in program.data_contracts):,} bytes, "
          f"entry {compiled.artifact.runtime_size:,} bytes), deployment {gas.deploy:,} gas, largest transaction "
          f"{max(g for _, g in gas.contracts):,}; inference {summary['inference_gas_max']:,} gas "
          f"(exec {summary['inference_exec_gas_max']:,}); batch of {n_rows}: {gas.batch:,}; max abs error {err:.2e}")
    for name, g in gas.contracts:
        print(f"  {name}: {g:,}")


def test_stage_code_matches_the_simulator_on_the_evm(fresh_chain) -> None:
    """A gemm cut into many small stages gives the simulator's outputs, relu fused or not."""
    from ml2sc.backends.prbmath.simulator import PrbMathSimulator

    compiled = ml2sc.compile(mlp_onnx([29, 17, 3], seed=5), name="stages")
    q, sim = compiled.ir, PrbMathSimulator(compiled.ir)
    rng = np.random.default_rng(2)
    for op in (o for o in q.ops if isinstance(o, ops.Gemm)):
        rows, n = gemm_rows(q, op), op.input.type.size
        bias = q.constant(op.bias).values
        relu = op.tag("fuse") == "relu"
        stages = split_gemm(op.result.name, op.input.name, rows, bias, relu, n, limit=1000)
        assert len(stages) > (op.result.type.size > 3) and all(len(s.code) <= 1000 for s in stages)
        assert all(assemble(rows, bias, relu, s.start, s.stop, n) == s.code for s in stages)
        addresses = [fresh_chain.deploy(data_initcode(s.code)).address for s in stages]
        for _ in range(3):
            x = [int(v) * 10**9 for v in rng.integers(-10**10, 10**10, n)]
            want = sim.handler(op)(op, x)
            want = [max(v, 0) for v in want] if relu else want
            calldata = b"".join(v.to_bytes(32, "big", signed=True) for v in x)
            got = []
            for a in addresses:
                out = fresh_chain.call(a, calldata)
                got += [int.from_bytes(out[i : i + 32], "big", signed=True) for i in range(0, len(out), 32)]
            assert got == want


def test_model_just_over_the_limit_splits(fresh_chain) -> None:
    model = mlp_onnx([30, 64, 10])
    compiled = ml2sc.compile(model, name="just_over")
    one = CompiledModel(compiled.float_ir, compiled.ir, PrbMathEmitter(
        compiled.ir, ranges.max_input_bits(compiled.ir), split=False).program(), compiled.backend)
    with pytest.raises(Ml2scError, match="code size limit"):
        one.artifact  # noqa: B018 - one contract is over EIP-170
    # near the limit by the estimate: solc found the one contract over, so the split is on the IR
    assert compiled.ir.attribute("prbmath.split") == "stages"
    assert compiled.backend.emit(compiled.ir).data_contracts == compiled.program.data_contracts  # a record re-emits it
    check_end_to_end(model, compiled, fresh_chain, 6, "30-64-10")


def test_model_just_under_the_limit_stays_one_contract() -> None:
    """30-60-10 is 24,419 bytes in one contract: the estimate (24,918) cannot tell, solc can."""
    compiled = ml2sc.compile(mlp_onnx([30, 60, 10]), name="just_under")
    assert compiled.program.metadata.get("code_size") == "near-limit"
    assert compiled.program.data_contracts == () and compiled.ir.attribute("prbmath.split") is None
    assert compiled.artifact.runtime_size <= CODE_SIZE_LIMIT


def test_small_models_stay_one_contract() -> None:
    compiled = ml2sc.compile(mlp_onnx([6, 4, 3]), name="small")
    assert compiled.program.data_contracts == () and "stage_contracts" not in compiled.program.metadata
    assert "staticcall" not in compiled.solidity and "external pure" in compiled.solidity


def test_constructor_rejects_other_stage_code(fresh_chain) -> None:
    compiled = ml2sc.compile(mlp_onnx([30, 64, 10]), name="just_over")
    n = len(compiled.program.data_contracts)
    fake = fresh_chain.deploy(data_initcode(compiled.program.data_contracts[0] + b"\x00")).address
    with pytest.raises(Reverted):
        fresh_chain.deploy(compiled.artifact.bytecode + encode(["address[]"], [[fake] * n]))
    with pytest.raises(Reverted):
        fresh_chain.deploy(compiled.artifact.bytecode + encode(["address[]"], [[fake] * (n - 1)]))


def test_interrupted_deployment_resumes_without_redeploying_stages(fresh_chain, tmp_path: Path) -> None:
    model = mlp_onnx([30, 250, 10])
    compiled = ml2sc.compile(model, name="resume")
    n = len(compiled.program.data_contracts)
    assert n >= 3
    journal = tmp_path / "deploy.json"
    flaky = FailingAfter(fresh_chain, 2)
    with pytest.raises(ChainError, match="connection lost"):
        compiled.deploy(flaky, journal=journal, progress=False)
    counting = FailingAfter(fresh_chain, 99)
    deployed = compiled.deploy(counting, journal=journal, progress=False)
    assert counting.deployed == n - 1  # the n - 2 missing stages and the entry contract; none twice
    reused = [name for name, g in deployed.gas.contracts if g == 0]
    assert reused == ["Resume.stage0:L1[0:" + reused[0].split("[0:")[1].split("]")[0] + "] (already deployed)",
                      reused[1]] and reused[1].startswith("Resume.stage1:")
    rows = compiled.quantize(np.random.default_rng(3).normal(size=(2, 30)))
    assert deployed.predict_raw(rows) == compiled.simulate_raw(rows)


@pytest.mark.slow  # ~25 s: `pytest -m slow tests/backends/prbmath/test_split.py -s` prints the figures
def test_mlp_64_256_128_10_end_to_end(fresh_chain) -> None:
    """The issue's must-show: 464,353 bytes in one contract before; now stages plus an entry."""
    model = mlp_onnx([64, 256, 128, 10])
    compiled = ml2sc.compile(model, name="mlp_64_256_128_10")
    check_end_to_end(model, compiled, fresh_chain, 8, "64-256-128-10")
