"""The baseline simulator's PRBMath port (``prb``) against PRBMath itself on the EVM.

The baseline's contracts call PRBMath for every operation, so the simulator is only
bit-exact if ``prb`` returns PRBMath's integers and reverts where PRBMath reverts,
with the same error. A harness contract runs PRBMath's mul, div, add, sub, exp and
exp2 on inputs chosen around the thresholds and on random ones, in a few calls.
"""

from __future__ import annotations

import random
import re
from functools import cache

import pytest
from eth_abi import decode, encode
from eth_utils import keccak

from ml2sc.backends.ml2sc_baseline import prb
from ml2sc.chain import Reverted
from ml2sc.compiler.solc import compile_solidity, node_modules_dir

U = prb.UNIT

HARNESS = """// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import { SD59x18, sd } from "@prb/math/src/SD59x18.sol";

contract PrbHarness {
    // op: 0 mul, 1 div, 2 add, 3 sub, 4 exp (y unused), 5 exp2 (y unused), 6 abs, 7 unary minus
    function one(uint256 op, int256 x, int256 y) public pure returns (int256) {
        SD59x18 a = sd(x);
        SD59x18 b = sd(y);
        if (op == 0) return a.mul(b).unwrap();
        if (op == 1) return a.div(b).unwrap();
        if (op == 2) return a.add(b).unwrap();
        if (op == 3) return a.sub(b).unwrap();
        if (op == 4) return a.exp().unwrap();
        if (op == 5) return a.exp2().unwrap();
        if (op == 6) return a.abs().unwrap();
        return (-a).unwrap();
    }

    function many(uint256 op, int256[] calldata xs, int256[] calldata ys) external pure returns (int256[] memory r) {
        r = new int256[](xs.length);
        for (uint256 i = 0; i < xs.length; i++) r[i] = one(op, xs[i], ys[i]);
    }
}
"""
PORT = [prb.mul, prb.div, prb.add, prb.sub, lambda x, _: prb.exp(x), lambda x, _: prb.exp2(x),
        lambda x, _: prb.abs_(x), lambda x, _: prb.neg(x)]


@cache
def harness_bytecode() -> bytes:
    return compile_solidity({"PrbHarness.sol": HARNESS})["PrbHarness"].bytecode


@pytest.fixture(scope="module")
def harness(chain) -> str:
    return chain.deploy(harness_bytecode()).address


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def test_exp2_factors_are_prbmaths() -> None:
    """The 64 multipliers, in source order, are exactly those of Common.sol's exp2."""
    source = (node_modules_dir() / "@prb" / "math" / "src" / "Common.sol").read_text()
    body = source[source.index("function exp2(uint256 x)"):]
    body = body[: body.index("\n}")]
    assert tuple(int(h, 16) for h in re.findall(r"result \* (0x[0-9A-F]+)\) >> 64", body)) == prb.EXP2_FACTORS


def _values(rng: random.Random, n: int) -> list[int]:
    """SD59x18 values of every magnitude a model meets, and some it should not."""
    out = []
    for _ in range(n):
        scale = rng.choice([1, 10**6, 10**12, U, 10 * U, 10**3 * U, 10**20 * U])
        out.append(rng.randint(-5 * scale, 5 * scale))
    return out


@pytest.mark.evm
@pytest.mark.parametrize("op", range(4), ids=["mul", "div", "add", "sub"])
def test_arithmetic_matches_prbmath(chain, harness: str, op: int) -> None:
    rng = random.Random(op)
    xs, ys = _values(rng, 300), _values(rng, 300)
    ys = [y or 1 for y in ys]
    got = decode(["int256[]"], chain.call(harness, selector("many(uint256,int256[],int256[])")
                                          + encode(["uint256", "int256[]", "int256[]"], [op, xs, ys])))[0]
    assert list(got) == [PORT[op](x, y) for x, y in zip(xs, ys, strict=True)]


@pytest.mark.evm
@pytest.mark.parametrize("op", [4, 5], ids=["exp", "exp2"])
def test_exp_matches_prbmath(chain, harness: str, op: int) -> None:
    """Around the zero thresholds, the input limits, integer boundaries, and random fractions."""
    rng = random.Random(op)
    lo, hi = (prb.EXP_MIN_THRESHOLD, prb.EXP_MAX_INPUT) if op == 4 else (prb.EXP2_MIN_THRESHOLD, prb.EXP2_MAX_INPUT)
    xs = [lo - 1, lo, lo + 1, hi - 1, hi, 0, 1, -1, U, -U, 2 * U - 1]
    xs += [k * U + d for k in range(-45, 134, 7) for d in (-1, 0, 1)]
    xs += [rng.randint(lo, hi) for _ in range(300)] + [rng.randint(-20 * U, 5 * U) for _ in range(200)]
    got = decode(["int256[]"], chain.call(harness, selector("many(uint256,int256[],int256[])")
                                          + encode(["uint256", "int256[]", "int256[]"], [op, xs, [0] * len(xs)])))[0]
    assert list(got) == [PORT[op](x, 0) for x in xs]


REVERTS = [  # (op, x, y): each reverts, and the port must name the same error
    (0, prb.INT256_MIN, 1), (0, 2**200, 2**60 * U), (0, 2**255 - 1, 2**255 - 1), (0, -(2**160), 2**160),
    (1, 1, 0), (1, 2**250, 0), (1, prb.INT256_MIN, 1), (1, 2**254, 1), (1, 2**250, 3),
    (2, 2**255 - 1, 1), (3, prb.INT256_MIN, 1), (4, prb.EXP_MAX_INPUT + 1, 0), (5, prb.EXP2_MAX_INPUT + 1, 0),
    (6, prb.INT256_MIN, 0), (7, prb.INT256_MIN, 0),
]


@pytest.mark.evm
@pytest.mark.parametrize(("op", "x", "y"), REVERTS)
def test_reverts_match_prbmath(chain, harness: str, op: int, x: int, y: int) -> None:
    with pytest.raises(prb.PrbRevert) as simulated:
        PORT[op](x, y)
    with pytest.raises(Reverted) as on_chain:
        chain.call(harness, selector("one(uint256,int256,int256)") + encode(["uint256", "int256", "int256"], [op, x, y]))
    assert on_chain.value.data[:4] == selector(simulated.value.signature), simulated.value
