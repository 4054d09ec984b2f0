"""ML2SC's MLP_2L_4n, trained with its recipe, measured the way ML2SC measured it (slow),
and the bench harness's stored-data path on a small model.

Deploy, weight upload, test-data upload and classify-50 from storage on the embedded
chain: every row equals the simulator, the on-chain accuracy equals the float model's,
and each figure is within a factor 1.5 of ML2SC's published one (the contracts are the
same design; ours are compiled with the optimizer, ML2SC's Hardhat build was not).
"""

from __future__ import annotations

import pytest

from ml2sc.backends.ml2sc_baseline import simulator
from ml2sc.tools.bench import ML2SC_PUBLISHED


@pytest.mark.slow
@pytest.mark.evm
def test_mlp_2l_4n_measured_like_ml2sc(chain) -> None:
    import torch

    import ml2sc
    from ml2sc.tools import ml2sc_suite as suite

    _, _, x_test, y_test = suite.breast_cancer()
    model = suite.train(suite.ARCHITECTURES["MLP_2L_4n"])
    with torch.no_grad():
        local = suite.accuracy(model(torch.from_numpy(x_test)).numpy(), y_test)
    c = ml2sc.compile(suite.to_onnx(model), backend="ml2sc-baseline", name="MLP_2L_4n")
    d = c.deploy(chain)
    rows = c.quantize(x_test)
    sim = c.simulate_raw(rows)
    assert d.predict_raw(rows) == sim

    data_upload = sum(chain.transact(d.address, call).gas_used for call in c.backend.test_data_calls(rows))
    calls = c.backend.classify_stored_calls(c.program, len(rows))
    assert len(calls) == 1  # all 50 rows in one transaction, as ML2SC
    tx = chain.transact(d.address, calls[0])
    labels = c.backend.decode_classify_stored(tx.output)
    assert labels == [simulator.label(r) for r in sim]
    assert sum(int(p == y) for p, y in zip(labels, y_test, strict=True)) / len(labels) == local

    deploy, data, weights, classify, _ = ML2SC_PUBLISHED["MLP_2L_4n"]
    measured = {"deploy": (d.gas.deploy, deploy), "weights": (sum(d.gas.upload), weights),
                "data": (data_upload, data), "classify-50": (tx.gas_used, classify)}
    print({k: f"{ours:,} vs ML2SC {theirs:,}" for k, (ours, theirs) in measured.items()})
    for what, (ours, theirs) in measured.items():
        assert theirs / 1.5 < ours < theirs * 1.5, what


@pytest.mark.evm
def test_bench_measures_the_stored_path(chain) -> None:
    """``bench.measure`` on the baseline: weights and test rows uploaded, classifyStored labels."""
    import torch

    from ml2sc.tools import bench
    from ml2sc.tools import ml2sc_suite as suite

    _, _, x_test, y_test = suite.breast_cancer()
    torch.manual_seed(0)
    model = suite.build(suite.ARCHITECTURES["MLP_2L_1n"]).eval()
    with torch.no_grad():
        local = suite.accuracy(model(torch.from_numpy(x_test[:8])).numpy(), y_test[:8])
    case = bench.Case(name="MLP_2L_1n", onnx_model=suite.to_onnx(model), x_test=x_test[:8], y_test=y_test[:8],
                      local_accuracy=local, parameters=33, macs=31)
    r = bench.measure(case, "ml2sc-baseline", chain, sample_rows=2)
    assert r.error is None
    assert r.upload > 30 * 22_100 and r.data_upload > 8 * 30 * 20_000  # every value a fresh storage word
    assert r.classify_all > 0 and r.rows == 8
    assert r.chain_accuracy == local
