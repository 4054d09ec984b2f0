"""ml2sc-baseline on a real EVM: simulator == chain bit for bit, the storage upload path,
the stored-data classify path, its named errors, and its gas model."""

from __future__ import annotations

import numpy as np
import pytest
from eth_abi import decode, encode

from ml2sc.backends.common.naming import selector as _selector
from ml2sc.backends.ml2sc_baseline import backend as baseline
from ml2sc.backends.ml2sc_baseline import prb, simulator
from ml2sc.backends.ml2sc_baseline.backend import Ml2scBaselineBackend
from ml2sc.chain import EmbeddedChain, Reverted
from ml2sc.compiler.driver import CompiledModel, DeployedModel
from ml2sc.compiler.passes.manager import PassManager
from ml2sc.ir import ops
from ml2sc.ir.errors import Ml2scError
from ml2sc.ir.module import Module, Output, Value
from ml2sc.ir.reference import run_reference
from ml2sc.ir.types import vector
from tests.conftest import f32_constant, mlp_module

pytestmark = pytest.mark.evm


def build(module: Module, pipeline: str | None = None) -> CompiledModel:
    be = Ml2scBaselineBackend()
    q = PassManager.from_pipeline(pipeline or be.pipeline).run(module)
    return CompiledModel(module, q, be.emit(q), be)


def softmax_first() -> Module:
    """x -> softmax -> gemm -> tanh, with both the gemm and the tanh as outputs.

    Covers what the MLPs do not: softmax of the raw input row, an activation that cannot
    join its gemm's loop (the gemm is an output too), and a second output at an offset."""
    rng = np.random.default_rng(3)
    x, s, g, t = Value("x", vector(6)), Value("s", vector(6)), Value("g", vector(3)), Value("t", vector(3))
    return Module(
        "softmax_first", (x,),
        (ops.Softmax(s, x), ops.Gemm(g, s, "w", "b"), ops.Tanh(t, g)),
        (Output("logits", g), Output("scores", t)),
        (f32_constant("w", rng.normal(0, 2, (3, 6))), f32_constant("b", rng.normal(0, 0.1, 3))),
    )


MODELS = {
    "relu-sigmoid": lambda: mlp_module([6, 5, 1], ["relu", "sigmoid"], name="relu_sigmoid"),
    "tanh-softmax": lambda: mlp_module([6, 4, 3], ["tanh", "softmax"], name="tanh_softmax"),
    "sigmoid-linear": lambda: mlp_module([6, 4, 2], ["sigmoid", ""], name="sigmoid_linear"),
    "relu-relu-softmax": lambda: mlp_module([6, 5, 4, 3], ["relu", "relu", "softmax"], name="three_layers"),
    "softmax-first": softmax_first,
}


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    return np.random.default_rng(7).normal(0, 2, (10, 6)).astype(np.float32)


def first_output_labels(c: CompiledModel, flat: list[list[int]]) -> list[int]:
    size = c.program.outputs[0].size
    return [simulator.label(r[:size]) for r in flat]


def store_and_classify(chain, c: CompiledModel, d: DeployedModel, q: list[list[int]]) -> tuple[list[int], int]:  # noqa: ANN001
    """ML2SC's way: upload the rows, then classifyStored over all of them; labels and call count."""
    be: Ml2scBaselineBackend = c.backend  # type: ignore[assignment]
    for call in be.test_data_calls(q):
        chain.transact(d.address, call)
    labels: list[int] = []
    calls = be.classify_stored_calls(c.program, len(q))
    for call in calls:
        labels += be.decode_classify_stored(chain.transact(d.address, call).output)
    return labels, len(calls)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_chain_equals_simulator(chain, rows: np.ndarray, name: str) -> None:
    m = MODELS[name]()
    c = build(m)
    d = c.deploy(chain)
    assert len(d.gas.upload) == len(c.backend.setup_calls(c.ir, c.program))
    q = c.quantize(rows)
    sim = c.simulate_raw(q)
    assert d.predict_raw(q) == sim  # one predict transaction per row
    labels = first_output_labels(c, sim)
    assert list(d.classify(rows[:3])) == labels[:3]
    assert store_and_classify(chain, c, d, q)[0] == labels
    ref, got = run_reference(m, rows), c.simulate(rows)
    for k, r in ref.items():
        np.testing.assert_allclose(got[k].astype(np.float64), r, atol=1e-6)


def test_uploads_split_rows_and_store_every_parameter(chain, rows: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 7 values end mid-row: the contract must continue the row in the next upload."""
    monkeypatch.setattr(baseline, "UPLOAD_CHUNK", 7)
    c = build(MODELS["relu-relu-softmax"]())
    calls = c.backend.setup_calls(c.ir, c.program)
    assert len(calls) == 5 + 1 + 3 + 1 + 2 + 1 + 1  # 30, 5, 20, 4, 12, 3 values, then finalize()
    d = c.deploy(chain)
    for k, (op, layer) in enumerate(baseline.gemm_layers(c.ir)):
        weights, bias = simulator.gemm_constants(c.ir, op)
        for n in range(layer.n_out):
            assert get(chain, d.address, "biases(uint256,uint256)", k, n) == bias[n]
            for i in range(layer.n_in):
                stored = get(chain, d.address, f"weights_layer{k}(uint256,uint256)", n, i)
                assert stored == weights[n * layer.n_in + i]
    assert get(chain, d.address, "finalized()") == 1
    q = c.quantize(rows)
    labels, n_calls = store_and_classify(chain, c, d, q)  # 60 values: 9 uploads, rows split across them
    assert n_calls == 1
    assert get(chain, d.address, "storedRows()") == len(q)
    assert labels == first_output_labels(c, c.simulate_raw(q))


def get(chain, address: str, signature: str, *args: int) -> int:  # noqa: ANN001
    types = signature[signature.index("(") + 1 : -1].split(",") if args else []
    return decode(["int256"], chain.call(address, _selector(signature) + encode(types, list(args))))[0]


def reverts(chain, address: str, calldata: bytes, error: str) -> tuple:  # noqa: ANN001
    """Send calldata, expect the named custom error; return its decoded arguments."""
    with pytest.raises(Reverted) as e:
        chain.transact(address, calldata)
    assert e.value.data[:4] == _selector(error), e.value.data.hex()
    types = error[error.index("(") + 1 : -1]
    return decode(types.split(","), e.value.data[4:]) if types else ()


def test_named_errors_guard_uploads_and_inference(monkeypatch: pytest.MonkeyPatch) -> None:
    chain = EmbeddedChain()  # its own chain: the test sends from a second account
    c = build(MODELS["relu-sigmoid"]())
    be: Ml2scBaselineBackend = c.backend  # type: ignore[assignment]
    addr = chain.deploy(c.artifact.bytecode).address
    predict = _selector("predict(int256[])") + encode(["int256[]"], [[0] * 6])
    weights = baseline.UPLOAD_WEIGHTS
    assert reverts(chain, addr, predict, "NotFinalized()") == ()
    assert reverts(chain, addr, baseline.FINALIZE, "UploadIncomplete(uint256)") == (0,)
    assert reverts(chain, addr, weights + encode(["uint256", "int256[]"], [2, [1]]), "UnknownLayer(uint256)") == (2,)
    too_many = weights + encode(["uint256", "int256[]"], [1, [1] * 6])
    assert reverts(chain, addr, too_many, "UploadOverflow(uint256,uint256)") == (1, 5)
    stranger = chain._backend.get_accounts()[1]
    monkeypatch.setattr(chain, "_sender_raw", stranger)  # EmbeddedChain sends from this account
    caller = reverts(chain, addr, weights + encode(["uint256", "int256[]"], [0, [1]]), "NotOwner(address)")[0]
    assert bytes.fromhex(caller[2:]) == bytes(stranger)
    monkeypatch.undo()
    for call in be.setup_calls(c.ir, c.program):
        chain.transact(addr, call)
    assert reverts(chain, addr, weights + encode(["uint256", "int256[]"], [0, [1]]), "AlreadyFinalized()") == ()
    assert reverts(chain, addr, baseline.FINALIZE, "AlreadyFinalized()") == ()
    short = _selector("predict(int256[])") + encode(["int256[]"], [[0] * 3])
    assert reverts(chain, addr, short, "InputLength(uint256,uint256)") == (6, 3)
    stored = baseline.CLASSIFY_STORED + encode(["uint256", "uint256"], [0, 1])
    assert reverts(chain, addr, stored, "RowRange(uint256,uint256,uint256)") == (0, 1, 0)
    chain.transact(addr, be.test_data_calls([[1] * 9])[0])  # one row and a half
    assert get(chain, addr, "storedRows()") == 1
    two = baseline.CLASSIFY_STORED + encode(["uint256", "uint256"], [0, 2])
    assert reverts(chain, addr, two, "RowRange(uint256,uint256,uint256)") == (0, 2, 2)
    huge = baseline.CLASSIFY_STORED + encode(["uint256", "uint256"], [1, 2**256 - 1])
    assert reverts(chain, addr, huge, "RowRange(uint256,uint256,uint256)") == (1, 2**256 - 1, 2)


def test_reverts_where_the_simulator_says_with_prbmaths_error(chain, rows: np.ndarray) -> None:
    """Inputs that overflow PRBMath (as in ML2SC's contracts): same revert, same error."""
    c = build(MODELS["relu-sigmoid"]())
    d = c.deploy(chain)
    huge = [[2**250] + [0] * 5]
    big = [[v * 10**22 for v in row] for row in c.quantize(rows)]  # sigmoid's exp(-x) beyond 133
    for row in [*huge, *big]:
        try:
            expected = c.simulate_raw([row])
        except prb.PrbRevert as e:
            with pytest.raises(Reverted) as on_chain:
                d.predict_raw([row])
            assert on_chain.value.data[:4] == _selector(e.signature), e
            continue
        assert d.predict_raw([row]) == expected
    with pytest.raises(prb.PrbRevert, match="Exp_InputTooBig|MulDiv18|Mul_Overflow"):
        c.simulate_raw(big)


@pytest.mark.parametrize("name", ["relu-sigmoid", "tanh-softmax"])
def test_gas_model_of_classify_stored(chain, rows: np.ndarray, name: str) -> None:
    """The estimate that splits classifyStored under the gas cap is within 4% of the chain."""
    c = build(MODELS[name]())
    d = c.deploy(chain)
    q = c.quantize(rows)
    for call in c.backend.test_data_calls(q):
        chain.transact(d.address, call)
    for k in (1, len(q)):
        measured = chain.transact(d.address, baseline.CLASSIFY_STORED + encode(["uint256", "uint256"], [0, k])).gas_used
        assert abs(baseline.call_gas_estimate(c.ir, k) - measured) / measured < 0.04, (k, measured)


def test_models_over_the_gas_cap_unsupported_ops_and_exact_weights_are_refused() -> None:
    with pytest.raises(Ml2scError, match="per-transaction gas cap"):
        build(mlp_module([784, 128, 10], ["relu", "softmax"], name="mnist"))
    with pytest.raises(Ml2scError, match="unsupported op 'leaky_relu'"):
        build(mlp_module([6, 3], ["leaky_relu"]))
    with pytest.raises(Ml2scError, match="exact_weights=false"):
        build(mlp_module([6, 3], ["relu"]), "canonicalize,quantize-fixed")
    assert Ml2scBaselineBackend().pack_row([1, 2, 3]) is None


def test_registered_as_a_backend() -> None:
    from ml2sc.compiler.driver import get_backend

    assert isinstance(get_backend("ml2sc-baseline"), Ml2scBaselineBackend)


def test_embedded_and_anvil_agree_on_upload_and_stored_gas(chain, rows: np.ndarray) -> None:
    """The storage path too (uploads, test data, classifyStored) costs the same on both chains."""
    from ml2sc.chain.rpc import AnvilChain

    c = build(MODELS["relu-sigmoid"]())
    q = c.quantize(rows[:4])

    def run(on) -> tuple:  # noqa: ANN001
        d = c.deploy(on)
        data = [on.transact(d.address, call).gas_used for call in c.backend.test_data_calls(q)]
        stored = [on.transact(d.address, call) for call in c.backend.classify_stored_calls(c.program, len(q))]
        return d.gas.deploy, d.gas.upload, data, [(t.gas_used, t.output) for t in stored], d.predict_raw(q[:1])

    with AnvilChain() as anvil:
        assert run(chain) == run(anvil)
