// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title What the marketplace contracts need from a model contract, checked and called safely.
/// @notice Shared by Challenge (scoring models on a hidden test set) and VerifiedInference
/// (re-running a model to check an operator's claim). Two dangers are handled here:
///  1. A model whose answers can change after it was registered. A contract that reads storage,
///     balances, other contracts or the transaction's context could be fed the test set after its
///     reveal, or be switched between an operator's claim and its challenge. A model is accepted
///     only if no reachable instruction reads mutable state (`requireSelfContained`): ml2sc's
///     prbmath models keep their weights in code and pass; storage- or data-contract-backed
///     models do not.
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

    /// @notice Reverts unless `model` has code and none of it that execution can reach reads
    /// mutable state. The scan follows the EVM's own jump-destination analysis (PUSH data skipped),
    /// so every instruction the EVM could execute is one the scan saw as live.
    function requireSelfContained(address model) internal view {
        bytes memory code = model.code;
        if (code.length == 0) revert NoCode(model);
        if (uint8(code[0]) == 0xef) revert ModelNotSelfContained(model, 0, 0xef); // EIP-7702 delegation
        (bool bad, uint256 pc, uint256 op) = _scan(code);
        if (bad) revert ModelNotSelfContained(model, pc, op);
    }

    function _scan(bytes memory code) private pure returns (bool bad, uint256 at, uint256 op) {
        assembly ("memory-safe") {
            let start := add(code, 32)
            let end := add(start, mload(code))
            let live := 1
            for { let p := start } lt(p, end) { p := add(p, 1) } {
                op := byte(0, mload(p))
                if eq(op, 0x5b) { live := 1 }
                if and(live, and(shr(op, FORBIDDEN), 1)) {
                    bad := 1
                    at := sub(p, start)
                    break
                }
                if and(shr(op, HALTS), 1) { live := 0 }
                // PUSH1..PUSH32: skip the immediate
                if and(gt(op, 0x5f), lt(op, 0x80)) { p := add(p, sub(op, 0x5f)) }
            }
            if iszero(bad) { op := 0 }
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
