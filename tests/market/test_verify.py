"""VerifiedInference on the embedded chain: false and correct claims, classify and predict."""

from __future__ import annotations

import numpy as np
import pytest

from tests.market import scenarios as s

pytestmark = pytest.mark.evm


def test_false_claim_is_slashed_to_the_challenger(env: s.Env) -> None:
    s.false_claim(env)


def test_correct_claim_survives_and_finalizes(env: s.Env) -> None:
    s.correct_claim(env)


def test_predict_mode_on_a_compiled_model(env: s.Env) -> None:
    """A real prbmath model: the whole output vector is the claim; one unit off is slashed."""
    from ml2sc.compiler.driver import CompiledModel, get_backend
    from ml2sc.compiler.passes.manager import PassManager
    from ml2sc.market.verify import VerifiedInference
    from tests.conftest import mlp_module

    backend = get_backend("prbmath")
    ir = PassManager.from_pipeline(backend.pipeline).run(mlp_module([4, 3, 2], ["relu", "softmax"], seed=3))
    model = CompiledModel(ir, ir, backend.emit(ir), backend).deploy(env.chain)
    xs = model.compiled.quantize(np.random.default_rng(1).normal(0, 1, (2, 4)).astype(np.float32))
    vi = VerifiedInference.deploy(env.chain, model.address, "predict", claim_stake=s.ONE, window=600)
    operator, challenger = env.party(6), env.party(7)
    vi.deposit(2 * s.ONE, operator)
    ys = vi.model_outputs(xs)
    assert ys == model.compiled.simulate_raw(xs)  # the operator's off-chain run is the simulator's
    honest = vi.post(xs, ys, operator)
    s.expect_revert("ClaimHolds", vi.challenge, honest, xs, ys, 1, challenger)
    lie = [ys[0], [ys[1][0] + 1, ys[1][1]]]
    cid = vi.post(xs, lie, operator)
    vi.challenge(cid, xs, lie, 1, challenger)
    assert vi.balance_of(challenger.sender) == s.ONE


def test_mutable_model_cannot_back_a_verifier(env: s.Env) -> None:
    from ml2sc.market.verify import VerifiedInference

    s.expect_revert("ModelNotSelfContained", VerifiedInference.deploy, env.chain, env.models["StorageCheater"])
