"""Inline weights over EIP-170: SWAR words as PUSH32 immediates in tile contracts (issue 13,
"push the SWAR kernel toward 2 gas/MAC"). The planner's invariants on random streams, then
real solc and a real EVM, every output equal to the simulator's."""

from __future__ import annotations

import numpy as np
import pytest

from ml2sc.backends.common.evm import CODE_SIZE_LIMIT
from ml2sc.backends.int8.tiles import InlineGroup, LaneRequant, inline_tile_code, plan_inline_tiles
from ml2sc.ir.errors import Ml2scError
from tests.backends.int8.helpers import MODELS, build, quantize
from tests.conftest import mlp_module


def _groups(rng: np.random.Generator, n_groups: int, n_in: int, lanes: int) -> list[InlineGroup]:
    req = LaneRequant(0, None, 12345, 678, 20, -128, 127)
    out = []
    for g in range(n_groups):
        words = tuple(0 if rng.random() < 0.1 else (int(rng.integers(1, 2**62)) << 190) for _ in range(n_in))
        out.append(InlineGroup(words, int.from_bytes(rng.bytes(25), "big"), tuple((g * lanes + k, req) for k in range(lanes)), g * lanes))
    return out


@pytest.mark.parametrize("seed,n_groups,n_in,limit", [(0, 7, 50, 600), (1, 3, 200, 2_000), (2, 12, 20, 3_000),
                                                       (3, 5, 120, 24_576), (4, 1, 700, 5_000)])
def test_plan_covers_the_stream_once_in_order_within_the_limit(seed: int, n_groups: int, n_in: int, limit: int) -> None:
    groups = _groups(np.random.default_rng(seed), n_groups, n_in, 4)
    tiles = plan_inline_tiles(groups, n_in, limit)
    stream = [(s.g, i) for t in tiles for s in t.segments for i in range(s.lo, s.hi)]
    assert stream == [(g, i) for g in range(n_groups) for i in range(n_in)]  # every word once, in order
    for k, t in enumerate(tiles):
        assert len(inline_tile_code(t, groups, n_in)) <= limit
        assert t.carries == (t.segments[-1].hi < n_in)  # a cut group hands its accumulator on...
        assert (t.segments[0].lo > 0) == (k > 0 and tiles[k - 1].carries)  # ...to the next tile
        assert all(s.lo == 0 and s.hi == n_in for s in t.segments[1:-1])
        done = [s.g for s in t.segments if s.hi == n_in]
        assert (t.start, t.stop) == ((groups[t.segments[0].g].start, groups[done[-1]].start + 4) if done
                                     else (groups[t.segments[0].g].start,) * 2)
    if limit < 24_576:
        assert any(t.carries for t in tiles)


def test_a_requantization_that_cannot_fit_is_a_one_line_error() -> None:
    groups = _groups(np.random.default_rng(0), 2, 10, 4)
    with pytest.raises(Ml2scError, match="does not fit a tile contract"):
        plan_inline_tiles(groups, 10, 60)


@pytest.mark.evm
def test_inline_tiles_evm_equals_simulator_with_groups_cut_between_tiles(fresh_chain) -> None:
    """700 inputs: a group's words (~27 KB as immediates) never fit one tile, so every group is cut
    and its accumulator crosses tiles; outputs equal the simulator's, gas pinned."""
    m = mlp_module([700, 24, 10], ["relu", "softmax"], seed=6, name="inline_tiles")
    x = np.random.default_rng(7).uniform(0, 1, (24, 700)).astype(np.float32)
    c = build(m, x, place="weights=inline")
    meta = c.program.metadata
    assert (meta["weights"], meta["split"]) == ("inline", "tiles") and not any(n.startswith("data") for n in
                                                                             c.program.data_contract_names)
    assert all(len(code) <= CODE_SIZE_LIMIT for code in c.program.data_contracts)
    d = c.deploy(fresh_chain, progress=False)
    rows = c.quantize(x[:4])
    assert d.predict_raw(rows) == c.simulate_raw(rows)
    assert d.predict_raw(rows[:1], packed=False) == c.simulate_raw(rows[:1])
    assert d.predict_batch_raw(rows[:3]) == c.simulate_raw(rows[:3])
    source = c.program.sources[f"{c.program.contract_name}.sol"]
    assert "_tileInline(" in source and "to input" in source and "extcodecopy" not in source
    assert (len(d.gas.contracts), d.gas.deploy, d.gas.inference[:4]) == GOLDEN


GOLDEN = (5, 16882118, [108244, 108252, 108200, 108264])  # contracts, deploy gas (all), the first four inferences


def test_inline_tiles_refuse_steps_with_a_one_line_error() -> None:
    m = mlp_module([700, 24, 10], ["relu", "softmax"], seed=6, name="inline_tiles")
    x = np.random.default_rng(7).uniform(0, 1, (8, 700)).astype(np.float32)
    with pytest.raises(Ml2scError, match="inline tiles do not run in steps: use weights=data"):
        build(m, x, place="weights=inline,tx_gas_cap=100000")


def test_layout_auto_weighs_inline_tiles_against_calls() -> None:
    m = mlp_module([784, 128, 10], ["relu", "softmax"], seed=11, name="auto")
    x = np.random.default_rng(12).uniform(0, 1, (16, 784)).astype(np.float32)
    many = quantize(m, x, place="layout=auto,calls=100000")
    assert (many.attribute("int8.layout"), many.attribute("int8.weights"), many.attribute("int8.split")) == \
        ("swar", "inline", "tiles")
    assert "worth it over 100,000 calls" in many.attribute("int8.weights.why")
    few = quantize(m, x, place="layout=auto,calls=10")
    assert (few.attribute("int8.layout"), few.attribute("int8.weights")) == ("dense", "data")
    assert quantize(m, x).attribute("int8.weights") == "data"  # the default stays the data layout


@pytest.mark.evm
@pytest.mark.parametrize("name", sorted(MODELS))
def test_inline_tiles_on_every_model_shape(chain, name: str) -> None:
    """Tables (sigmoid, tanh, softmax), argmax heads, unfused activations, a signed input (no
    q + 128 bias) and deep stacks, all forced into inline tiles: EVM == simulator."""
    m = MODELS[name]()
    x = np.random.default_rng(1).uniform(-1, 1, (24, m.inputs[0].type.size)).astype(np.float32)
    c = build(m, x, place="weights=inline,split=tiles")
    assert (c.program.metadata["weights"], c.program.metadata["split"]) == ("inline", "tiles")
    d = c.deploy(chain, progress=False)
    rows = c.quantize(x[:4])
    assert d.predict_raw(rows) == c.simulate_raw(rows)
    assert d.predict_raw(rows[:2], packed=False) == c.simulate_raw(rows[:2])
    assert d.predict_batch_raw(rows[:3]) == c.simulate_raw(rows[:3])
