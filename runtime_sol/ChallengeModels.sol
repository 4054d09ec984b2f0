// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title What the marketplace contracts need from a model contract, checked and called safely.
/// @notice Shared by Challenge (scoring models on a hidden test set) and VerifiedInference
/// (re-running a model to check an operator's claim). Two dangers are handled here:
///  1. A model whose answers can change after it was registered. A contract that reads storage,
///     balances, other contracts or the transaction's context could be fed the test set after its
///     reveal, or be switched between an operator's claim and its challenge. A model is accepted
///     only if no reachable instruction reads mutable state (`requireSelfContained`): ml2sc's
///     prbmath models keep their weights in code and pass; storage-backed models do not. Models
///     that read declared, pure data contracts (int8 weights) pass `scanEntry`.
///  2. A model that reverts, returns garbage or burns all its gas. Calls are low-level
///     staticcalls with a fixed gas cap that copy at most 32 bytes back (no return-data bomb, no
///     ABI-decoding revert in the caller), made only when the caller can give the model its whole
///     cap, so that a caller cannot starve a model into failing (EIP-150 forwards 63/64).
library ChallengeModels {
    /// @notice The address holds no code.
    error NoCode(address target);
    /// @notice The model's code can reach an instruction that reads mutable or caller-controlled
    /// state (or it is an EIP-7702 delegation, whose target can change).
    error ModelNotSelfContained(address model, uint256 pc, uint256 opcode);
    /// @notice Fewer than `needed` gas left: the model would not get its whole gas cap.
    error InsufficientGasForModel(uint256 needed, uint256 available);

    /// @dev Instructions a model may not reach: BALANCE 31, ORIGIN 32, GASPRICE 3a, EXTCODESIZE 3b,
    /// EXTCODECOPY 3c, EXTCODEHASH 3f, BLOCKHASH 40, COINBASE 41, TIMESTAMP 42, NUMBER 43,
    /// PREVRANDAO 44, GASLIMIT 45, SELFBALANCE 47, BASEFEE 48, BLOBHASH 49, BLOBBASEFEE 4a, SLOAD 54,
    /// SSTORE 55, GAS 5a, TLOAD 5c, TSTORE 5d, CREATE f0, CALL f1, CALLCODE f2, DELEGATECALL f4,
    /// CREATE2 f5, STATICCALL fa, SELFDESTRUCT ff.
    uint256 internal constant FORBIDDEN = (1 << 0x31) | (1 << 0x32) | (1 << 0x3a) | (1 << 0x3b)
        | (1 << 0x3c) | (1 << 0x3f) | (1 << 0x40) | (1 << 0x41) | (1 << 0x42) | (1 << 0x43) | (1 << 0x44)
        | (1 << 0x45) | (1 << 0x47) | (1 << 0x48) | (1 << 0x49) | (1 << 0x4a) | (1 << 0x54) | (1 << 0x55)
        | (1 << 0x5a) | (1 << 0x5c) | (1 << 0x5d) | (1 << 0xf0) | (1 << 0xf1) | (1 << 0xf2) | (1 << 0xf4)
        | (1 << 0xf5) | (1 << 0xfa) | (1 << 0xff);

    /// @dev Instructions execution never falls through: STOP 00, JUMP 56, RETURN f3, REVERT fd,
    /// INVALID fe, SELFDESTRUCT ff and every opcode undefined in Prague (0c-0f, 1e-1f, 21-2f,
    /// 4b-4f, a5-ef, f6-f9, fb-fc). Bytes after one are reachable only through a JUMPDEST, which is
    /// how constant tables appended to the code (FixedMath's exp table) are told from code.
    uint256 internal constant HALTS = 0xfbc8ffffffffffffffffffe000000000000000000040f8000000fffec000f001;

    /// @dev What a staticcall costs beyond the callee's gas (cold account access, stack work).
    uint256 internal constant CALL_OVERHEAD = 3_000;

    /// @dev The scan's two opcode tables, 256 bytes each (8 words, in order). In live code
    /// (LIVE0..7) byte `op` is `skip | 0x40 * forbidden | 0x80 * halts`, where skip = 1 + the PUSH
    /// immediate's length, forbidden = op is in FORBIDDEN, halts = op is in HALTS. In dead code
    /// (after a halt) byte `op` is `skip | 0x80 * (op is JUMPDEST)`: words 0, 1 and 4-7 are ONES,
    /// word 2 is DEAD2 and word 3 is LIVE3. One table read per instruction answers every question
    /// the scan asks; a byte of 0x40 or more (rare) sends the instruction to the slow path
    /// (tests/market checks the tables against FORBIDDEN and HALTS).
    uint256 internal constant LIVE0 = 0x8101010101010101010101018181818101010101010101010101010101018181;
    uint256 internal constant LIVE1 = 0x0181818181818181818181818181818101414101010101010101414141010141;
    uint256 internal constant LIVE2 = 0x4141414141410141414141818181818101010101414181010101410141410101;
    uint256 internal constant LIVE3 = 0x02030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021;
    uint256 internal constant LIVE4 = 0x0101010101010101010101010101010101010101010101010101010101010101;
    uint256 internal constant LIVE5 = 0x0101010101818181818181818181818181818181818181818181818181818181;
    uint256 internal constant LIVE6 = 0x8181818181818181818181818181818181818181818181818181818181818181;
    uint256 internal constant LIVE7 = 0x81818181818181818181818181818181414141814141818181814181818181c1;
    uint256 internal constant ONES = 0x0101010101010101010101010101010101010101010101010101010101010101;
    uint256 internal constant DEAD2 = 0x0101010101010101010101010101010101010101010101010101018101010101;

    /// @notice Most data contracts a model may declare (one bit each in the scan's bookkeeping).
    uint256 internal constant MAX_DATA_CONTRACTS = 32;
    /// @dev `at` when the scan found nothing forbidden.
    uint256 internal constant CLEAN = type(uint256).max;

    /// @notice A declared data contract is not pure data: no code (code could be deployed there
    /// later), or code that does not start with STOP (it could run, e.g. SELFDESTRUCT in the
    /// transaction that created it, and be replaced), or an EIP-7702 delegation.
    error DataContractNotPure(address data);
    /// @notice A declared data contract's address is not a PUSH32 constant (an immutable) of the model.
    error DataContractNotReferenced(address model, address data);
    /// @notice More data contracts declared than MAX_DATA_CONTRACTS.
    error TooManyDataContracts(uint256 count, uint256 max);

    /// @notice Reverts unless `model` has code and none of it that execution can reach reads
    /// mutable state. The scan follows the EVM's own jump-destination analysis (PUSH data skipped),
    /// so every instruction the EVM could execute is one the scan saw as live.
    function requireSelfContained(address model) internal view {
        (, uint256 pc, uint256 op) = scanEntry(model, new address[](0));
        if (pc != CLEAN) revert ModelNotSelfContained(model, pc, op);
    }

    /// @notice Scans `model` like requireSelfContained, for a model that reads `data` contracts
    /// (int8 weights, SSTORE2 style) with EXTCODECOPY; returns `pc == CLEAN` or where the first
    /// forbidden instruction is, and the entry's hash:
    ///   keccak256(keccak256(code with each declared address zeroed where it is a PUSH32
    ///   immediate) ++ codehash(data[0]) ++ ... ++ codehash(data[n-1])).
    /// Zeroing the immutables makes the hash the compiler's runtime bytecode's (solc leaves
    /// immutables zero), so a submitter can commit to an entry before deploying it, and a copy
    /// redeployed with the same data at other addresses has the same hash. With data declared,
    /// EXTCODECOPY (only) is allowed; every declared contract must be pure data (its code starts
    /// with STOP: it never runs, so post-Cancun its code can never change) and must be a PUSH32
    /// constant of the model, and every EXTCODECOPY execution can reach must take its address
    /// from a PUSH32 of a declared address right before it. An EXTCODECOPY is not a JUMPDEST, so
    /// the instruction before it is the only way in: no address computed at run time (which
    /// could name code deployed after the test set's reveal) can reach it. ml2sc links its data
    /// contracts' addresses that way (backends/common/link.py).
    function scanEntry(address model, address[] memory data)
        internal
        view
        returns (bytes32 entryHash, uint256 pc, uint256 op)
    {
        if (model.code.length == 0) revert NoCode(model); // .length alone: EXTCODESIZE, no copy
        uint256 n = data.length;
        if (n > MAX_DATA_CONTRACTS) revert TooManyDataContracts(n, MAX_DATA_CONTRACTS);
        for (uint256 k = 0; k < n; ++k) {
            if (!_pureData(data[k])) revert DataContractNotPure(data[k]); // guard: data-pure
        }
        uint256 found;
        bytes32 codeHash;
        (codeHash, pc, op, found) = _scan(model, data);
        if (pc == CLEAN && n != 0 && found != (1 << n) - 1) { // a forbidden opcode is reported first
            uint256 k = 0;
            while (found & (1 << k) != 0) ++k;
            revert DataContractNotReferenced(model, data[k]);
        }
        bytes memory packed = abi.encodePacked(codeHash);
        for (uint256 k = 0; k < n; ++k) packed = bytes.concat(packed, data[k].codehash);
        entryHash = keccak256(packed);
    }

    /// @dev Has code, the first byte of which is STOP (0x00).
    function _pureData(address d) private view returns (bool pure_) {
        assembly ("memory-safe") {
            mstore(0, not(0))
            extcodecopy(d, 0, 0, 1)
            pure_ := and(gt(extcodesize(d), 0), iszero(byte(0, mload(0))))
        }
    }

    /// @dev One pass over the code, one table read per instruction, eight instructions per loop
    /// iteration; `cur` is the table of the current state (live or dead code). An instruction
    /// whose table byte is below 0x40, most of them, costs about 60 gas: read the opcode, read its
    /// table byte, test it, add its skip. The others take the slow path, which reports a forbidden
    /// instruction in live code, switches to the dead table after a halt and back at a JUMPDEST,
    /// and (with data declared) zeroes PUSH32 immediates that are a declared address and checks
    /// that each live EXTCODECOPY comes right after one. 64 zero
    /// bytes after the code are STOPs, so the unrolled steps may run past its end.
    function _scan(address model, address[] memory data)
        private
        view
        returns (bytes32 codeHash, uint256 at, uint256 op, uint256 found)
    {
        at = CLEAN;
        assembly ("memory-safe") {
            let tbl := mload(0x40) // live table, then dead table, then the code
            mstore(tbl, LIVE0)
            mstore(add(tbl, 0x20), LIVE1)
            mstore(add(tbl, 0x40), LIVE2)
            mstore(add(tbl, 0x60), LIVE3)
            mstore(add(tbl, 0x80), LIVE4)
            mstore(add(tbl, 0xa0), LIVE5)
            mstore(add(tbl, 0xc0), LIVE6)
            mstore(add(tbl, 0xe0), LIVE7)
            mstore(add(tbl, 0x100), ONES)
            mstore(add(tbl, 0x120), ONES)
            mstore(add(tbl, 0x140), DEAD2)
            mstore(add(tbl, 0x160), LIVE3)
            mstore(add(tbl, 0x180), ONES)
            mstore(add(tbl, 0x1a0), ONES)
            mstore(add(tbl, 0x1c0), ONES)
            mstore(add(tbl, 0x1e0), ONES)
            if mload(data) {
                mstore8(add(tbl, 0x3c), 0x41) // EXTCODECOPY: after a declared PUSH32 only // guard: copy-operand
                mstore8(add(tbl, 0x7f), 0xa1) // PUSH32: slow path (skip 33), live and dead
                mstore8(add(tbl, 0x17f), 0xa1)
            }
            let end := add(add(tbl, 0x200), extcodesize(model))
            extcodecopy(model, add(tbl, 0x200), 0, sub(end, add(tbl, 0x200)))
            mstore(end, 0)
            mstore(add(end, 0x20), 0)
            mstore(0x40, add(end, 0x40))

            let cur := tbl
            let p := add(tbl, 0x200)
            if eq(shr(248, mload(p)), 0xef) { // an EIP-7702 delegation: its target can change
                at := 0
                p := end
            }
            let t
            for {} lt(p, end) {} {
                t := shr(248, mload(add(cur, shr(248, mload(p)))))
                if iszero(lt(t, 0x40)) {
                    let o := shr(248, mload(p))
                    switch o
                    case 0x7f { found := pin(p, data, found) } // data declared: maybe an address
                    case 0x3c { // EXTCODECOPY (data declared): its address must be the PUSH32 just before
                        if iszero(eq(p, shr(128, found))) { at := sub(p, add(tbl, 0x200)) op := o break }
                    }
                    case 0x5b { cur := tbl } // JUMPDEST in dead code: live again
                    default {
                        if and(t, 0x40) { at := sub(p, add(tbl, 0x200)) op := o break }
                        cur := add(tbl, 0x100) // a halt: dead code
                    }
                    t := and(t, 0x3f)
                }
                p := add(p, t)

                t := shr(248, mload(add(cur, shr(248, mload(p)))))
                if iszero(lt(t, 0x40)) {
                    let o := shr(248, mload(p))
                    switch o
                    case 0x7f { found := pin(p, data, found) } // data declared: maybe an address
                    case 0x3c { // EXTCODECOPY (data declared): its address must be the PUSH32 just before
                        if iszero(eq(p, shr(128, found))) { at := sub(p, add(tbl, 0x200)) op := o break }
                    }
                    case 0x5b { cur := tbl } // JUMPDEST in dead code: live again
                    default {
                        if and(t, 0x40) { at := sub(p, add(tbl, 0x200)) op := o break }
                        cur := add(tbl, 0x100) // a halt: dead code
                    }
                    t := and(t, 0x3f)
                }
                p := add(p, t)

                t := shr(248, mload(add(cur, shr(248, mload(p)))))
                if iszero(lt(t, 0x40)) {
                    let o := shr(248, mload(p))
                    switch o
                    case 0x7f { found := pin(p, data, found) } // data declared: maybe an address
                    case 0x3c { // EXTCODECOPY (data declared): its address must be the PUSH32 just before
                        if iszero(eq(p, shr(128, found))) { at := sub(p, add(tbl, 0x200)) op := o break }
                    }
                    case 0x5b { cur := tbl } // JUMPDEST in dead code: live again
                    default {
                        if and(t, 0x40) { at := sub(p, add(tbl, 0x200)) op := o break }
                        cur := add(tbl, 0x100) // a halt: dead code
                    }
                    t := and(t, 0x3f)
                }
                p := add(p, t)

                t := shr(248, mload(add(cur, shr(248, mload(p)))))
                if iszero(lt(t, 0x40)) {
                    let o := shr(248, mload(p))
                    switch o
                    case 0x7f { found := pin(p, data, found) } // data declared: maybe an address
                    case 0x3c { // EXTCODECOPY (data declared): its address must be the PUSH32 just before
                        if iszero(eq(p, shr(128, found))) { at := sub(p, add(tbl, 0x200)) op := o break }
                    }
                    case 0x5b { cur := tbl } // JUMPDEST in dead code: live again
                    default {
                        if and(t, 0x40) { at := sub(p, add(tbl, 0x200)) op := o break }
                        cur := add(tbl, 0x100) // a halt: dead code
                    }
                    t := and(t, 0x3f)
                }
                p := add(p, t)

                t := shr(248, mload(add(cur, shr(248, mload(p)))))
                if iszero(lt(t, 0x40)) {
                    let o := shr(248, mload(p))
                    switch o
                    case 0x7f { found := pin(p, data, found) } // data declared: maybe an address
                    case 0x3c { // EXTCODECOPY (data declared): its address must be the PUSH32 just before
                        if iszero(eq(p, shr(128, found))) { at := sub(p, add(tbl, 0x200)) op := o break }
                    }
                    case 0x5b { cur := tbl } // JUMPDEST in dead code: live again
                    default {
                        if and(t, 0x40) { at := sub(p, add(tbl, 0x200)) op := o break }
                        cur := add(tbl, 0x100) // a halt: dead code
                    }
                    t := and(t, 0x3f)
                }
                p := add(p, t)

                t := shr(248, mload(add(cur, shr(248, mload(p)))))
                if iszero(lt(t, 0x40)) {
                    let o := shr(248, mload(p))
                    switch o
                    case 0x7f { found := pin(p, data, found) } // data declared: maybe an address
                    case 0x3c { // EXTCODECOPY (data declared): its address must be the PUSH32 just before
                        if iszero(eq(p, shr(128, found))) { at := sub(p, add(tbl, 0x200)) op := o break }
                    }
                    case 0x5b { cur := tbl } // JUMPDEST in dead code: live again
                    default {
                        if and(t, 0x40) { at := sub(p, add(tbl, 0x200)) op := o break }
                        cur := add(tbl, 0x100) // a halt: dead code
                    }
                    t := and(t, 0x3f)
                }
                p := add(p, t)

                t := shr(248, mload(add(cur, shr(248, mload(p)))))
                if iszero(lt(t, 0x40)) {
                    let o := shr(248, mload(p))
                    switch o
                    case 0x7f { found := pin(p, data, found) } // data declared: maybe an address
                    case 0x3c { // EXTCODECOPY (data declared): its address must be the PUSH32 just before
                        if iszero(eq(p, shr(128, found))) { at := sub(p, add(tbl, 0x200)) op := o break }
                    }
                    case 0x5b { cur := tbl } // JUMPDEST in dead code: live again
                    default {
                        if and(t, 0x40) { at := sub(p, add(tbl, 0x200)) op := o break }
                        cur := add(tbl, 0x100) // a halt: dead code
                    }
                    t := and(t, 0x3f)
                }
                p := add(p, t)

                t := shr(248, mload(add(cur, shr(248, mload(p)))))
                if iszero(lt(t, 0x40)) {
                    let o := shr(248, mload(p))
                    switch o
                    case 0x7f { found := pin(p, data, found) } // data declared: maybe an address
                    case 0x3c { // EXTCODECOPY (data declared): its address must be the PUSH32 just before
                        if iszero(eq(p, shr(128, found))) { at := sub(p, add(tbl, 0x200)) op := o break }
                    }
                    case 0x5b { cur := tbl } // JUMPDEST in dead code: live again
                    default {
                        if and(t, 0x40) { at := sub(p, add(tbl, 0x200)) op := o break }
                        cur := add(tbl, 0x100) // a halt: dead code
                    }
                    t := and(t, 0x3f)
                }
                p := add(p, t)
            }
            if eq(at, not(0)) { op := 0 } // CLEAN
            if iszero(at) { op := shr(248, mload(add(tbl, 0x200))) }
            codeHash := keccak256(add(tbl, 0x200), sub(end, add(tbl, 0x200)))

            found := and(found, 0xffffffff)

            /// PUSH32 at p_ (data declared only): if its immediate is declared address k, zero it
            /// and return found_ with bit k set and, in its top 128 bits, where the PUSH32 ends
            /// (the one place an EXTCODECOPY may be); else found_.
            function pin(p_, data_, found_) -> f {
                f := found_
                let v := mload(add(p_, 1))
                for { let k := 0 } lt(k, mload(data_)) { k := add(k, 1) } {
                    if eq(v, mload(add(data_, shl(5, add(k, 1))))) {
                        mstore(add(p_, 1), 0)
                        f := or(and(f, 0xffffffff), or(shl(k, 1), shl(128, add(p_, 33))))
                        break
                    }
                }
            }
        }
    }

    /// @notice Whether this frame can still give a model its whole `gasCap`.
    function canAfford(uint256 gasCap) internal view returns (bool) {
        return gasleft() >= gasCap + gasCap / 63 + CALL_OVERHEAD;
    }

    /// @notice Staticcall `model` with exactly `gasCap` gas; `word` is the first 32 bytes returned
    /// and `size` how many bytes came back. Never reverts because of the model.
    function call32(address model, bytes memory data, uint256 gasCap)
        internal
        view
        returns (bool ok, uint256 size, bytes32 word)
    {
        if (!canAfford(gasCap)) revert InsufficientGasForModel(gasCap + gasCap / 63 + CALL_OVERHEAD, gasleft());
        assembly ("memory-safe") {
            ok := staticcall(gasCap, model, add(data, 32), mload(data), 0, 0) // guard: model-gas-cap
            size := returndatasize()
            if gt(size, 31) {
                returndatacopy(0, 0, 32)
                word := mload(0)
            }
        }
    }

    /// @notice Like call32, but hashes everything the model returned (VerifiedInference compares
    /// a whole output vector). The copy is paid by the caller; its size is bounded by what the
    /// model could pay for within its own gas cap.
    function callHash(address model, bytes memory data, uint256 gasCap) internal view returns (bool ok, bytes32 digest) {
        if (!canAfford(gasCap)) revert InsufficientGasForModel(gasCap + gasCap / 63 + CALL_OVERHEAD, gasleft());
        assembly ("memory-safe") {
            ok := staticcall(gasCap, model, add(data, 32), mload(data), 0, 0)
            let size := returndatasize()
            let buf := mload(0x40)
            returndatacopy(buf, 0, size)
            digest := keccak256(buf, size)
        }
    }
}
