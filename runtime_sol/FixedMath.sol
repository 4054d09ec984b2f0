// SPDX-License-Identifier: MIT
pragma solidity ^0.8.19;

// PRBMath's own SD59x18 constants: this library reproduces PRBMath's exp on their values.
import { uEXP_MIN_THRESHOLD, uLOG2_E, uUNIT } from "@prb/math/src/sd59x18/Constants.sol";

/// @notice `FixedMath.expNeg` was given a positive argument. Callers only ever pass x <= 0
/// (sigmoid, tanh and softmax are written so that they do); a positive x is a bug in the caller.
/// It is raised from assembly (16 bytes instead of ~40), so the compiler does not add it to the
/// ABI of contracts using FixedMath; its selector is 0xa4ef5a5f.
error FixedMath_ExpPositive(int256 x);

/// @title Compact, bit-exact replacements for PRBMath SD59x18 `exp` on non-positive inputs.
///
/// @notice WHY this library exists: a model contract must deploy for <= 700,000 gas including its
/// weights, and merely containing PRBMath's `exp` costs ~2,230 bytes of runtime code (~476,000
/// deploy gas): `Common.exp2` unrolls 64 `if (bit) result = result * C_k >> 64` steps, each with
/// a 9-byte constant. `expNeg` returns EXACTLY the integers PRBMath v4's `exp` returns (the
/// tests compare them bit for bit on the EVM) from ~690 bytes, 288 of them its constant table;
/// sigmoid adds ~60 more. The price is gas: ~3,900 per exponential instead of ~2,900.
///
/// All values are SD59x18 fixed point (1e18 = 1.0) held in plain int256. Every function is
/// `internal pure`, so it is compiled into the calling contract; there is no library deployment.
/// "/" below is integer division, truncating toward zero; every dividend and divisor is >= 0.
library FixedMath {
    /// @dev PRBMath's 64 multipliers C_k (Common.sol `exp2`, C_k ~ 2^64 * 2^(2^(k-64)), multiplied
    /// in when bit k of the 64.64 exponent's fraction is set) are all in (2^64, 2^65), and their
    /// low parts c_k = C_k - 2^64 satisfy c_k < 2^k for k >= 1 (c_0 = 1): bit k of the fraction
    /// needs only ceil(k/8) bytes. So bits 8g..8g+7 (byte g of the fraction) get fields of s = g+1
    /// bytes, 288 bytes in all instead of 512 (or 640 as PUSH9 immediates).
    ///
    /// Layout: 8 rows of 36 bytes. Row j (0..7) holds c_k for bit k = 8g + 7 - j of every byte g,
    /// g = 7 first: an 8-byte field, then 7, 6, ..., 1 (column offsets 0, 8, 15, 21, 26, 30, 33,
    /// 35). Each field is big-endian, so `mload(field) >> (256 - 8s)` is exactly c_k: the bytes
    /// after the field are shifted out. The tests rebuild this table from PRBMath's Common.sol.
    bytes internal constant EXP2_TABLE =
        hex"6a09e667f3bcc90958c86da1c09ea258b91b5bc9ae58b90c0b4958b90bfc58b90c58b959" // bits 63 55 .. 7
        hex"306fe0a31b7152df2c605e2e8cec502c5c89d5ec6d2c5c8601cc2c5c85fe2c5c862c5d2c" // bits 62 54 .. 6
        hex"172b83c7d517adce162f3904051fa1162e43f4f831162e42fff0162e42ff162e43162e16" // bits 61 53 .. 5
        hex"0b5586cf9890f62a0b175effdc76ba0b1721bcfc9a0b17217fbb0b17217f0b17210b170b" // bits 60 52 .. 4
        hex"059b0d31585743ae058ba01fb9f96d058b90cf1e6e058b90bfce058b90c0058b91058c06" // bits 59 51 .. 3
        hex"02c9a3e778060ee702c5cc37da949202c5c863b73f02c5c85fe302c5c86002c5c802c603" // bits 58 50 .. 2
        hex"0163da9fb33356d80162e525ee05470162e430e5a20162e42ff10162e4300162e4016301" // bits 57 49 .. 1
        hex"00b1afa5abcbed6100b17255775c0400b17218355100b17217f800b1721800b17200b101"; // bits 56 48 .. 0

    /// @notice e^x for x <= 0, bit-identical to PRBMath v4 `exp(sd(x)).unwrap()`.
    ///
    /// @dev Exact integer semantics (with PRBMath's constants, see `EXP2_TABLE`):
    ///   x > 0                                  -> revert FixedMath_ExpPositive(x)
    ///   x < -41_446531673892822322             -> 0 (PRBMath's EXP_MIN_THRESHOLD)
    ///   otherwise, with a = -x:
    ///     z = a * 1_442695040888963407 / 1e18  (PRBMath: exp(x) = exp2(x * LOG2_E / 1e18); the
    ///                                           truncation toward zero is the same for -a)
    ///     t = (z << 64) / 1e18                 (exp2's 192.64-bit conversion of -(-z) = z)
    ///     r = 2^191; for k = 63 down to 0, if bit k of t is set: r = r * C_k >> 64
    ///     result = 1e36 / ((r * 1e18) >> (191 - (t >> 64)))      (exp2 of a negative input)
    /// PRBMath's EXP2_MIN_THRESHOLD branch is unreachable: z <= 59_794705707972522260, one below
    /// that threshold. x = 0 gives t = 0 and 1e36 / 1e18 = 1e18, which is also what PRBMath's
    /// non-negative exp2 branch returns.
    ///
    /// How it stays bit-exact while being small: r * C_k >> 64 == r + (r * c_k >> 64) exactly
    /// (r * 2^64 is a multiple of 2^64), and nothing overflows: r < 2^192 throughout (2^191 times a
    /// product of factors < 2) and c_k < 2^64, so r * c_k < 2^256. The multiplications happen in
    /// PRBMath's order (bit 63 first), so every intermediate truncation is the same. The 64 steps
    /// run as a loop over the 8 fraction bytes with the 8 bits of a byte unrolled: about 3,900 gas
    /// per call against PRBMath's ~2,900.
    function expNeg(int256 x) internal pure returns (int256 result) {
        // Copies the 288-byte table from code to memory (one CODECOPY); released again below.
        bytes memory table = EXP2_TABLE;
        assembly ("memory-safe") {
            // Give the table's memory back: nothing is allocated until we return, and giving it
            // back keeps memory from growing by 320 bytes per call in loops (softmax, layers).
            mstore(0x40, table)
            if sgt(x, 0) {
                mstore(0, 0xa4ef5a5f) // FixedMath_ExpPositive(int256).selector; the tests check it
                mstore(0x20, x)
                revert(0x1c, 0x24)
            }
            let a := sub(0, x)
            // a <= -EXP_MIN_THRESHOLD; otherwise result stays 0 (PRBMath returns ZERO).
            if iszero(gt(a, sub(0, uEXP_MIN_THRESHOLD))) { // unsigned: a = 2^255 for x = type(int256).min
                let u := uUNIT
                // nt = not(t): testing the complement lets `if iszero(and(..))` compile without an
                // ISZERO. a * LOG2_E < 2^126 and z << 64 < 2^130: no overflow.
                let nt := not(div(shl(64, div(mul(a, uLOG2_E), u)), u))
                let r := shl(191, 1) // 0.5 in 192.64 format, as in Common.exp2
                let s64 := 64
                let q := add(table, 32) // column of the current byte in row 0
                // b = 24..31 walks the fraction bytes of t from the top (byte(24, t) is bits
                // 63..56, i.e. g = 31 - b); that byte's fields are s = 32 - b bytes wide, so a
                // field is read as shr(8 * b, mload(..)). Bit 7 - j of the byte uses row j.
                for { let b := 24 } iszero(shr(5, b)) { b := add(b, 1) } {
                    let g := byte(b, nt)
                    let sh := shl(3, b)
                    if iszero(and(g, 0x80)) { r := add(r, shr(s64, mul(r, shr(sh, mload(q))))) }
                    if iszero(and(g, 0x40)) { r := add(r, shr(s64, mul(r, shr(sh, mload(add(q, 36)))))) }
                    if iszero(and(g, 0x20)) { r := add(r, shr(s64, mul(r, shr(sh, mload(add(q, 72)))))) }
                    if iszero(and(g, 0x10)) { r := add(r, shr(s64, mul(r, shr(sh, mload(add(q, 108)))))) }
                    if iszero(and(g, 0x08)) { r := add(r, shr(s64, mul(r, shr(sh, mload(add(q, 144)))))) }
                    if iszero(and(g, 0x04)) { r := add(r, shr(s64, mul(r, shr(sh, mload(add(q, 180)))))) }
                    if iszero(and(g, 0x02)) { r := add(r, shr(s64, mul(r, shr(sh, mload(add(q, 216)))))) }
                    if iszero(and(g, 0x01)) { r := add(r, shr(s64, mul(r, shr(sh, mload(add(q, 252)))))) }
                    q := sub(add(q, 32), b) // next column: this one was 32 - b bytes wide
                }
                // Common.exp2's final step (r * 1e18 < 2^252), then exp2's inversion of it
                // (the divisor is >= 1e18 because r >= 2^191).
                result := div(mul(u, u), shr(sub(191, shr(64, not(nt))), mul(r, u)))
            }
        }
    }

    /// @notice The logistic function 1 / (1 + e^-x) in SD59x18.
    ///
    /// @dev Exact integer semantics, with e = expNeg(-|x|) (in [0, 1e18]):
    ///   x >= 0: 1e36 / (1e18 + e)
    ///   x <  0: e * 1e18 / (1e18 + e)
    /// WHY this form: it only ever exponentiates a non-positive number, so there is no overflow
    /// and no clamping for any int256 x (numerators <= 1e36, denominators in [1e18, 2e18]); the
    /// result is within ~2e-18 of the true value (measured). -|x| is computed without overflow
    /// even for type(int256).min (it is that same value, whose exponential is 0).
    function sigmoid(int256 x) internal pure returns (int256 y) {
        int256 n;
        assembly ("memory-safe") {
            let m := sar(255, x) // 0 for x >= 0, -1 for x < 0
            n := sub(m, xor(x, m)) // -|x|
        }
        int256 e = expNeg(n);
        assembly ("memory-safe") {
            let u := uUNIT
            // numerator: u for x >= 0, e for x < 0 (u + (e - u) when m = -1)
            y := div(mul(add(u, and(sar(255, x), sub(e, u))), u), add(u, e))
        }
    }

    /// @notice The hyperbolic tangent in SD59x18.
    ///
    /// @dev Exact integer semantics, for every int256 x, with e = expNeg(-2|x|) (in [0, 1e18]):
    ///   t = (1e18 - e) * 1e18 / (1e18 + e);  result = x < 0 ? -t : t
    /// WHY this form: as for sigmoid, the exponent is never positive, so nothing overflows and no
    /// clamping is needed; tanh is odd by construction. Saturation is exact and automatic: e = 0,
    /// hence t = 1e18, for every |x| > 20.723265836946411161e18 (-2|x| < EXP_MIN_THRESHOLD), so
    /// no cut-off such as |x| > 50e18 is needed. -2|x| is formed without overflow: when it is not
    /// an int256 (|x| > 2^254) doubling -|x| wraps to a value >= 0 > -|x|, and -|x| itself is used
    /// instead (far below EXP_MIN_THRESHOLD too, so e = 0 exactly as for -2|x|).
    function tanh(int256 x) internal pure returns (int256 y) {
        int256 n;
        assembly ("memory-safe") {
            let m := sar(255, x) // 0 for x >= 0, -1 for x < 0
            let h := sub(m, xor(x, m)) // -|x|, exact even for type(int256).min
            n := shl(1, h) // -2|x| unless it wrapped around
            if sgt(n, h) { n := h }
        }
        int256 e = expNeg(n);
        assembly ("memory-safe") {
            let u := uUNIT
            let t := div(mul(sub(u, e), u), add(u, e))
            let m := sar(255, x)
            y := sub(xor(t, m), m) // -t for x < 0
        }
    }

    /// @notice Softmax in place: v[i] = e^(v[i] - max(v)) / sum_j e^(v[j] - max(v)), in SD59x18.
    ///
    /// @dev Exact integer semantics: m = max(v); e_i = expNeg(v[i] - m); s = sum of e_i;
    /// v[i] = e_i * 1e18 / s. WHY subtract the max: every exponent is <= 0, as expNeg requires,
    /// and the largest e_i is exactly 1e18, so s >= 1e18 (no division by zero, no overflow:
    /// e_i * 1e18 <= 1e36 and s <= length * 1e18). v[i] - m is still checked, for free: the true
    /// difference is <= 0, so if it overflows int256 the wrapped value is positive and expNeg
    /// reverts with FixedMath_ExpPositive (only possible if the spread of v exceeds int256, far
    /// outside any SD59x18 activation). An empty array is left as is. The array is walked with
    /// pointers because Solidity's bounds and overflow checks would double the code size.
    function softmax(int256[] memory v) internal pure {
        uint256 first;
        uint256 last;
        int256 m;
        assembly ("memory-safe") {
            first := add(v, 0x20)
            last := add(v, shl(5, mload(v))) // last element; first > last for an empty array
            m := shl(255, 1) // type(int256).min
            for { let p := first } iszero(gt(p, last)) { p := add(p, 0x20) } {
                if sgt(mload(p), m) { m := mload(p) }
            }
        }
        int256 s;
        unchecked {
            for (uint256 p = first; p <= last; p += 0x20) {
                int256 d;
                assembly ("memory-safe") { d := sub(mload(p), m) } // wraps to > 0 only on overflow
                int256 e = expNeg(d);
                assembly ("memory-safe") { mstore(p, e) }
                s += e;
            }
        }
        assembly ("memory-safe") {
            let u := uUNIT
            for { let p := first } iszero(gt(p, last)) { p := add(p, 0x20) } {
                mstore(p, div(mul(mload(p), u), s))
            }
        }
    }
}
