// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title The interface every ml2sc model contract implements.
/// @notice Numbers are fixed point: an integer v stands for v / inputScale() on the way in
/// and v / outputScale() on the way out. The flat result of predict concatenates the
/// model's outputs in the order the compiler's artifact lists them.
interface IML2SCModel {
    /// @notice The input had the wrong number of values (or bytes, for packed input).
    error InputLength(uint256 expected, uint256 got);
    /// @notice An input lies outside [-2^k, 2^k), the range in which the compiler proved the kernels cannot overflow.
    error InputOutOfRange(uint256 index, int256 value);

    /// @notice One row in, all outputs of the model out.
    function predict(int256[] calldata x) external view returns (int256[] memory y);

    /// @notice Like predict, but the row is packed four inputs to a word: each an int64 lane
    /// (big-endian two's complement, first input in the most significant lane; the last word
    /// is zero-padded). A quarter of predict's calldata; inputs beyond int64 need predict.
    function predictPacked(uint256[] calldata row) external view returns (int256[] memory y);

    /// @notice Many rows at once: rows packed as for predictPacked, back to back; ys holds the
    /// outputs of each row back to back.
    function predictBatch(uint256[] calldata rows) external view returns (int256[] memory ys);

    /// @notice The predicted class: the model's label output if it has one, else the argmax of its
    /// first output (or output >= 0.5 for a single score).
    function classify(int256[] calldata x) external view returns (int256 label);

    function inputScale() external view returns (uint256);

    function outputScale() external view returns (uint256);

    /// @notice keccak256 of the compiler's textual quantized IR: ties this contract to its model.
    function modelHash() external view returns (bytes32);
}
