"""FixedMath.sol and its Python twin ``numerics``: bit-exact against PRBMath's exp, and accurate.

The model contract uses FixedMath (small code) instead of PRBMath's exp (2 kB of
code), and the simulator uses ``numerics``. Both are only acceptable if they
return exactly PRBMath's integers, so the EVM tests run PRBMath itself next to
FixedMath on a few thousand inputs chosen to hit thresholds, exp2's integer
boundaries and fraction words with almost every one of the 64 bits set.
"""

from __future__ import annotations

import math
import random
import re
from decimal import Decimal, localcontext
from functools import cache

import pytest
from eth_abi import decode, encode
from eth_utils import keccak

from ml2sc.backends.prbmath import numerics as nm
from ml2sc.compiler.solc import SolcError, compile_solidity, node_modules_dir, runtime_sol_dir

U = nm.UNIT
BATCH = 1000  # inputs per eth_call: ~4,000 gas each stays far below the 16.7M gas cap

HARNESS = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import { FixedMath } from "ml2sc/FixedMath.sol";
import { exp, sd } from "@prb/math/src/SD59x18.sol";

contract FixedMathHarness {
    function prbExp(int256[] calldata xs) external pure returns (int256[] memory ys) {
        ys = new int256[](xs.length);
        for (uint256 i; i < xs.length; ++i) ys[i] = exp(sd(xs[i])).unwrap();
    }

    function ourExpNeg(int256[] calldata xs) external pure returns (int256[] memory ys) {
        ys = new int256[](xs.length);
        for (uint256 i; i < xs.length; ++i) ys[i] = FixedMath.expNeg(xs[i]);
    }

    function ourSigmoid(int256[] calldata xs) external pure returns (int256[] memory ys) {
        ys = new int256[](xs.length);
        for (uint256 i; i < xs.length; ++i) ys[i] = FixedMath.sigmoid(xs[i]);
    }

    function ourTanh(int256[] calldata xs) external pure returns (int256[] memory ys) {
        ys = new int256[](xs.length);
        for (uint256 i; i < xs.length; ++i) ys[i] = FixedMath.tanh(xs[i]);
    }

    /// Softmax of several vectors at once: `flat` is their concatenation.
    function ourSoftmax(int256[] calldata flat, uint256[] calldata lengths)
        external pure returns (int256[] memory out)
    {
        out = new int256[](flat.length);
        uint256 k;
        for (uint256 i; i < lengths.length; ++i) {
            int256[] memory v = new int256[](lengths[i]);
            for (uint256 j; j < v.length; ++j) v[j] = flat[k + j];
            FixedMath.softmax(v);
            for (uint256 j; j < v.length; ++j) out[k + j] = v[j];
            k += v.length;
        }
    }
}
"""

# Runtime size of FixedMath: a contract calling only sigmoid against the same contract returning x.
SIZE_PROBE = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

import { FixedMath } from "ml2sc/FixedMath.sol";
import { exp, sd } from "@prb/math/src/SD59x18.sol";

contract Identity { function f(int256 x) external pure returns (int256) { return x; } }
contract OnlySigmoid { function f(int256 x) external pure returns (int256) { return FixedMath.sigmoid(x); } }
contract OnlyPrbExp { function f(int256 x) external pure returns (int256) { return exp(sd(x)).unwrap(); } }
"""


# --- inputs ---------------------------------------------------------------------------------


def _x_with_exponent(z: int) -> int:
    """A non-positive x whose exp exponent |x| * LOG2_E / 1e18 is z or just above it."""
    return -(-(-z * U) // nm.LOG2_E)


def _fraction(x: int) -> int:
    """The 64 fraction bits that Common.exp2 walks for exp(x), x <= 0."""
    z = -x * nm.LOG2_E // U
    return ((z << 64) // U) & (2**64 - 1)


@cache
def exp_inputs() -> tuple[int, ...]:
    """~2,800 x <= 0: special values, thresholds, exp2 boundaries, dense fractions, random."""
    rng = random.Random(1)
    xs = {0, -1, -2, -3, -17, -18, -19, -10**18, -10**18 - 1, -10**18 + 1, -(2**255)}
    xs |= {-(10**k) for k in range(39)} | {-(2**k) for k in range(255)}
    # exp's own threshold, and exp2's (reached at the same x: z = 59.79...e18 there).
    xs |= {nm.EXP_MIN_THRESHOLD + d for d in range(-3, 4)}
    xs |= {_x_with_exponent(-nm.EXP2_MIN_THRESHOLD) + d for d in range(-3, 4)}
    # Every integer part of the exponent, entered from both sides.
    for n in range(60):
        xs |= {_x_with_exponent(n * U) + d for d in range(-3, 4)}
    # Fractions with (nearly) all 64 bits set: just below each integer, and random dense masks.
    for n in range(60):
        xs |= {_x_with_exponent((n + 1) * U - d) for d in range(1, 4)}
    while sum(1 for x in xs if x >= nm.EXP_MIN_THRESHOLD and bin(_fraction(x)).count("1") >= 56) < 600:
        mask = 2**64 - 1
        for _ in range(rng.randrange(8)):
            mask &= ~(1 << rng.randrange(64))
        xs.add(_x_with_exponent(rng.randrange(60) * U + -(-mask * U // 2**64)))
    xs |= {-rng.randrange(50 * U) for _ in range(1000)}  # uniform on [-50, 0]
    xs |= {-round(10 ** rng.uniform(0, 21)) for _ in range(700)}  # |x| from 1e-18 to 1000
    return tuple(sorted(x for x in xs if nm.INT256_MIN <= x <= 0))


def signed_inputs() -> list[int]:
    """~2,000 inputs of both signs for sigmoid and tanh, including int256's ends."""
    rng = random.Random(2)
    half = 20_723265836946411161  # tanh: e^-2|x| reaches 0 just above this |x|
    specials = {0, 1, 10**18, 2**254 - 1, 2**254, 2**254 + 1, nm.INT256_MAX, half, half + 1,
                -nm.EXP_MIN_THRESHOLD - 1, -nm.EXP_MIN_THRESHOLD, -nm.EXP_MIN_THRESHOLD + 1}
    xs = specials | {-x for x in specials} | {nm.INT256_MIN}
    xs |= set(rng.sample(exp_inputs(), 500))
    xs |= {rng.randrange(-60 * U, 60 * U) for _ in range(800)}
    xs |= {rng.choice((-1, 1)) * round(10 ** rng.uniform(0, 21)) for _ in range(600)}
    return sorted(xs)


def softmax_vectors() -> list[list[int]]:
    rng = random.Random(3)
    vectors: list[list[int]] = [
        [], [0], [nm.INT256_MAX], [5 * U] * 4, [0, -50 * U], [-(10**30), 10**30 // 2],
        [nm.INT256_MIN, 0], [-U, 0, U], [3 * U, 3 * U, -U],
    ]
    for _ in range(60):
        n = rng.randrange(1, 13)
        scale = rng.choice((U // 10, U, 10 * U, 30 * U))
        vectors.append([rng.randrange(-scale, scale) for _ in range(n)])
    return vectors


def _batches(xs: list[int] | tuple[int, ...]) -> list[list[int]]:
    return [list(xs[i:i + BATCH]) for i in range(0, len(xs), BATCH)]


# --- pure Python ----------------------------------------------------------------------------


def test_sdiv_truncates_toward_zero_unlike_floor_division():
    assert -7 // 2 == -4 and nm.sdiv(-7, 2) == -3
    assert nm.sdiv(7, -2) == -3 and nm.sdiv(-7, -2) == 3 and nm.sdiv(7, 2) == 3
    assert nm.sdiv(-6, 3) == -2 and nm.sdiv(5, 0) == 0
    assert nm.sdiv(nm.INT256_MIN, -1) == nm.INT256_MIN  # wraps, as the SDIV opcode does


def test_factors_are_prbmath_constants():
    try:
        common = (node_modules_dir() / "@prb" / "math" / "src" / "Common.sol").read_text()
    except SolcError:
        pytest.skip("node_modules with @prb/math not installed")
    body = common[common.index("function exp2(uint256 x)"):common.index("result *= UNIT")]
    pairs = re.findall(r"x & (0x[0-9A-F]+) > 0\) \{\s*result = \(result \* (0x[0-9A-F]+)\) >> 64", body)
    assert [int(mask, 16) for mask, _ in pairs] == [1 << k for k in range(63, -1, -1)]
    assert tuple(int(c, 16) for _, c in pairs) == nm.EXP2_FACTORS


def _fixedmath_table() -> bytes:
    text = (runtime_sol_dir() / "FixedMath.sol").read_text()
    literal = text[text.index("EXP2_TABLE ="):]
    literal = literal[:literal.index(";")]
    return bytes.fromhex("".join(re.findall(r'hex"([0-9a-fA-F]*)"', literal)))


def test_fixedmath_table_holds_the_factors():
    """Row j, byte g of the fraction (g = 7 first): C - 2^64 for bit 8g + 7 - j, in g + 1 bytes."""
    expected = bytearray()
    for j in range(8):
        for g in range(7, -1, -1):
            c = nm.EXP2_FACTORS[63 - (8 * g + 7 - j)] - 2**64
            expected += c.to_bytes(g + 1, "big")  # raises if c needs more bytes
    assert _fixedmath_table() == bytes(expected)


def _assembly_model(x: int, table: bytes) -> int:
    """FixedMath.expNeg's Yul, step for step, with its no-overflow claims asserted."""
    memory = table + bytes(32)  # the last read runs 31 bytes past the table
    a = -x
    if a > -nm.EXP_MIN_THRESHOLD:
        return 0
    t = ((a * nm.LOG2_E // U) << 64) // U
    r, q = 1 << 191, 0
    for b in range(24, 32):
        byte = t >> (8 * (31 - b)) & 0xFF
        for j in range(8):
            if byte >> (7 - j) & 1:
                c = int.from_bytes(memory[q + 36 * j:q + 36 * j + 32], "big") >> (8 * b)
                assert r < 2**192 and c < 2**64  # so r * c < 2^256
                r += r * c >> 64
        q += 32 - b
    return U * U // (r * U >> (191 - (t >> 64)))


def test_assembly_model_matches_prbmath_port():
    table = _fixedmath_table()
    for x in exp_inputs():
        assert _assembly_model(x, table) == nm.exp(x), x


def test_accuracy_against_float64():
    """Within 1e-15 of math.exp-based float64 values (the fixed-point error is ~1e-17)."""
    for i in range(-4500, 4501):  # x = -45.00 .. 45.00
        x, xf = i * 10**16, i / 100
        assert abs(nm.sigmoid(x) / U - 1 / (1 + math.exp(-xf))) < 1e-15, xf
        assert abs(nm.tanh(x) / U - math.tanh(xf)) < 1e-15, xf
        if x <= 0:
            ref = math.exp(xf)
            assert abs(nm.exp_neg(x) / U - ref) < 1e-15, xf
            if xf >= -2:
                assert abs(nm.exp_neg(x) / U - ref) < 1e-15 * ref, xf
    for v in softmax_vectors():
        if v and max(v) - min(v) < 2**200:
            m = max(v)
            ref = [math.exp((a - m) / U) for a in v]
            for got, e in zip(nm.softmax(v), ref, strict=True):
                assert abs(got / U - e / sum(ref)) < 1e-15, v


def test_accuracy_against_exact_values():
    """Against 50-digit references the error is about 1e-18: one or two units in the last place."""
    rng = random.Random(6)
    with localcontext() as ctx:
        ctx.prec = 50
        for _ in range(300):
            x = rng.randrange(-45 * U, 45 * U)
            d = Decimal(x) / U
            if x <= 0:
                assert abs(Decimal(nm.exp_neg(x)) / U - d.exp()) < Decimal("2e-18"), x
            assert abs(Decimal(nm.sigmoid(x)) / U - 1 / (1 + (-d).exp())) < Decimal("3e-18"), x
            e2 = (-2 * d).exp()
            assert abs(Decimal(nm.tanh(x)) / U - (1 - e2) / (1 + e2)) < Decimal("3e-18"), x


def test_python_refusals_mirror_the_reverts():
    with pytest.raises(nm.ExpInputError):
        nm.exp_neg(1)
    with pytest.raises(nm.ExpInputError):
        nm.exp(nm.EXP_MAX_INPUT + 1)
    with pytest.raises(OverflowError):
        nm.softmax([nm.INT256_MIN, 1])
    assert nm.sigmoid(0) == U // 2 and nm.tanh(0) == 0 and nm.exp_neg(0) == U
    assert nm.tanh(nm.INT256_MIN) == -U and nm.sigmoid(nm.INT256_MIN) == 0 and nm.sigmoid(nm.INT256_MAX) == U


# --- EVM ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def harness(chain):  # noqa: ANN201 - (chain, address)
    compiled = compile_solidity({"FixedMathHarness.sol": HARNESS})
    return chain, chain.deploy(compiled["FixedMathHarness"].bytecode).address


def _call(harness, fn: str, *args: list[int]) -> list[int]:
    chain, address = harness
    types = ["int256[]"] + ["uint256[]"] * (len(args) - 1)
    data = keccak(text=f"{fn}({','.join(types)})")[:4] + encode(types, list(args))
    return list(decode(["int256[]"], chain.call(address, data))[0])


@pytest.mark.evm
def test_exp_neg_is_prbmath_exp_bit_for_bit(harness):
    xs = exp_inputs()
    assert len(xs) > 2500
    for batch in _batches(xs):
        ours = _call(harness, "ourExpNeg", batch)
        assert ours == _call(harness, "prbExp", batch)
        assert ours == [nm.exp_neg(x) for x in batch]


@pytest.mark.evm
def test_python_exp_is_prbmath_exp_for_positive_inputs(harness):
    rng = random.Random(4)
    xs = [1, U, nm.EXP_MAX_INPUT - 1, nm.EXP_MAX_INPUT]
    xs += [rng.randrange(nm.EXP_MAX_INPUT) for _ in range(300)]
    assert _call(harness, "prbExp", xs) == [nm.exp(x) for x in xs]


@pytest.mark.evm
def test_sigmoid_and_tanh_match_python(harness):
    xs = signed_inputs()
    for batch in _batches(xs):
        assert _call(harness, "ourSigmoid", batch) == [nm.sigmoid(x) for x in batch]
        assert _call(harness, "ourTanh", batch) == [nm.tanh(x) for x in batch]


@pytest.mark.evm
def test_softmax_matches_python(harness):
    vectors = softmax_vectors()
    flat = [a for v in vectors for a in v]
    got = _call(harness, "ourSoftmax", flat, [len(v) for v in vectors])
    assert got == [p for v in vectors for p in nm.softmax(v)]


@pytest.mark.evm
def test_positive_exponent_reverts_with_custom_error(harness):
    from ml2sc.chain import Reverted

    selector = keccak(text="FixedMath_ExpPositive(int256)")[:4]
    for x in (1, nm.INT256_MAX):
        with pytest.raises(Reverted) as info:
            _call(harness, "ourExpNeg", [0, x])
        assert info.value.data == selector + encode(["int256"], [x])
    with pytest.raises(Reverted) as info:  # softmax's overflowing v_i - max(v) wraps positive
        _call(harness, "ourSoftmax", [nm.INT256_MIN, 1], [2])
    assert info.value.data[:4] == selector


def test_compiles_without_warnings():
    assert compile_solidity({"FixedMathHarness.sol": HARNESS}).warnings == ()
    assert compile_solidity({"SizeProbe.sol": SIZE_PROBE}).warnings == ()


def test_runtime_code_is_small():
    """sigmoid (with expNeg and its table) adds <= 750 bytes; PRBMath's exp alone adds ~2,200."""
    probe = compile_solidity({"SizeProbe.sol": SIZE_PROBE})
    base = probe["Identity"].runtime_size
    assert probe["OnlySigmoid"].runtime_size - base <= 750
    assert probe["OnlyPrbExp"].runtime_size - base > 2000


@pytest.mark.evm
def test_gas_per_exponential(harness):
    """The size saving costs gas: ~4,000 per expNeg in this loop against ~3,000 for PRBMath's exp."""
    chain, address = harness
    rng = random.Random(7)
    xs = [-rng.randrange(-nm.EXP_MIN_THRESHOLD) for _ in range(100)]

    def per_call(fn: str) -> float:
        def run(batch: list[int]) -> int:
            data = keccak(text=f"{fn}(int256[])")[:4] + encode(["int256[]"], [batch])
            return chain.transact(address, data).execution_gas

        return (run(xs) - run([])) / len(xs)

    ours, prb = per_call("ourExpNeg"), per_call("prbExp")
    assert ours < 4_300 and ours < 1.45 * prb
