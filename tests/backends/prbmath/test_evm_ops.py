"""prbmath backend on a real EVM: every op, every entry point, bit for bit against the simulator."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from eth_abi import decode, encode

from ml2sc.backends.common.naming import selector as _selector
from ml2sc.chain import Reverted
from ml2sc.compiler.driver import CompiledModel, get_backend
from ml2sc.compiler.passes.manager import PassManager
from ml2sc.ir import ops
from ml2sc.ir.module import Module, Output, Value
from ml2sc.ir.reference import run_reference
from ml2sc.ir.types import I64, TensorType
from tests.conftest import f32_constant, mlp_module

pytestmark = pytest.mark.evm


def build(module: Module, pipeline: str | None = None) -> CompiledModel:
    backend = get_backend("prbmath")
    q = PassManager.from_pipeline(pipeline or backend.pipeline).run(module)
    return CompiledModel(module, q, backend.emit(q), backend)


def with_head(m: Module, head: str) -> Module:
    """Append argmax (+ label_map) outputs to a classifier module."""
    probs = m.outputs[0].value
    idx = Value("idx", TensorType((), I64))
    extra = [ops.ArgMax(idx, probs)]
    outputs = [Output("probabilities", probs), Output("label", idx)]
    consts = m.constants
    if head == "labels":
        lab = Value("lab", TensorType((), I64))
        extra.append(ops.LabelMap(lab, idx, "classes"))
        outputs[1] = Output("label", lab)
        consts += (replace(f32_constant("classes", np.zeros(3)), type=TensorType((3,), I64), values=(-7, 0, 42)),)
    return replace(m, ops=m.ops + tuple(extra), outputs=tuple(outputs), constants=consts)


MODELS = {
    "relu-softmax": lambda: mlp_module([6, 5, 3], ["relu", "softmax"]),
    "tanh-sigmoid": lambda: mlp_module([6, 4, 2], ["tanh", "sigmoid"]),
    "leaky-hard-sigmoid": lambda: replace(
        mlp_module([6, 4, 3], ["leaky_relu", "hard_sigmoid"]), name="leaky"),
    "linear": lambda: mlp_module([6, 2], [""]),
    "argmax-labels": lambda: with_head(mlp_module([6, 5, 3], ["relu", "softmax"]), "labels"),
    "argmax": lambda: with_head(mlp_module([6, 5, 3], ["tanh", "softmax"]), "index"),
}


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    return np.random.default_rng(7).normal(0, 2, (12, 6)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("exact", [True, False], ids=["exact-weights", "sd59x18-weights"])
def test_chain_equals_simulator(chain, rows: np.ndarray, name: str, exact: bool) -> None:
    m = MODELS[name]()
    pipeline = None if exact else "canonicalize,fold-batchnorm,fuse-affine,quantize-fixed{exact_weights=false}"
    c = build(m, pipeline)
    d = c.deploy(chain)
    q = c.quantize(rows)
    sim = c.simulate_raw(q)
    assert d.predict_raw(q, packed=True) == sim
    assert d.predict_raw(q[:3], packed=False) == sim[:3]
    assert d.predict_batch_raw(q) == sim
    ref = run_reference(m, rows)
    got = c.simulate(rows)
    for k, r in ref.items():
        if np.issubdtype(got[k].dtype, np.integer):
            assert (got[k] == r).all()
        else:
            np.testing.assert_allclose(got[k].astype(np.float64), r, atol=1e-6)


def test_classify_and_model_hash(chain, rows: np.ndarray) -> None:
    c = build(MODELS["argmax-labels"]())
    d = c.deploy(chain)
    labels = d.classify(rows[:4])
    assert list(labels) == list(c.simulate(rows[:4])["label"])
    from eth_utils import keccak

    assert d.model_hash() == keccak(text=c.ir_text)


def test_generated_solidity_compiles_without_warnings() -> None:
    from ml2sc.compiler.solc import compile_solidity

    for make in MODELS.values():
        c = build(make())
        assert compile_solidity(c.program.sources).warnings == ()


def revert_selector(excinfo: pytest.ExceptionInfo) -> bytes:
    return excinfo.value.data[:4]


def test_wrong_length_reverts_with_named_error(chain) -> None:
    c = build(MODELS["linear"]())
    d = c.deploy(chain)
    with pytest.raises(Reverted) as e:
        chain.transact(d.address, _selector("predict(int256[])") + encode(["int256[]"], [[1, 2, 3]]))
    assert revert_selector(e) == _selector("InputLength(uint256,uint256)")
    assert decode(["uint256", "uint256"], e.value.data[4:]) == (6, 3)
    with pytest.raises(Reverted) as e:
        chain.transact(d.address, _selector("predictPacked(uint256[])") + encode(["uint256[]"], [[1] * 3]))
    assert revert_selector(e) == _selector("InputLength(uint256,uint256)")
    with pytest.raises(Reverted) as e:
        chain.transact(d.address, _selector("predictBatch(uint256[])") + encode(["uint256[]"], [[0] * 3]))
    assert revert_selector(e) == _selector("InputLength(uint256,uint256)")


def test_out_of_range_input_reverts_with_named_error(chain) -> None:
    c = build(MODELS["relu-softmax"]())
    bound = 2 ** int(c.program.metadata["input_bits"])  # inputs must lie in [-bound, bound)
    d = c.deploy(chain)
    row = [0, 0, bound, 0, 0, 0]
    with pytest.raises(Reverted) as e:
        chain.transact(d.address, _selector("predict(int256[])") + encode(["int256[]"], [row]))
    assert revert_selector(e) == _selector("InputOutOfRange(uint256,int256)")
    assert decode(["uint256", "int256"], e.value.data[4:]) == (2, bound)
    ok = [0, bound - 1, -bound, 0, 0, 0]
    assert d.predict_raw([ok], packed=False) == c.simulate_raw([ok])


@pytest.mark.parametrize(
    ("sizes", "acts"),
    [([12, 5, 3], ["tanh", "softmax"]), ([25, 7, 2], ["relu", ""]), ([40, 6, 3], ["leaky_relu", "softmax"]),
     ([13, 3], [""]), ([64, 9, 4], ["relu", "softmax"])],
)
def test_kernels_never_run_out_of_stack(sizes: list[int], acts: list[str]) -> None:
    """Tiles keep inputs on the stack; every shape and sign mix must still compile (no 'stack too deep')."""
    from ml2sc.compiler.solc import compile_solidity

    for seed in range(3):
        compile_solidity(build(mlp_module(sizes, acts, seed=seed, name="stack")).program.sources)
