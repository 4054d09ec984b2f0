// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title The int8 model interface: IML2SCModel's predict/classify/modelHash, with packed int8 inputs.
/// @notice Outputs are quantized integers: real = outputScale() / 1e18 * (q - outputZeroPoint()).
interface IML2SCInt8Model {
    /// @notice The input had the wrong number of values (or bytes, for packed input).
    error InputLength(uint256 expected, uint256 got);
    /// @notice The constructor got the wrong number of data contract addresses.
    error DataContracts(uint256 expected, uint256 got);
    /// @notice A data contract's code is not the weights this model was compiled with.
    error DataContractHash(uint256 index);
    /// @notice One row of SD59x18 inputs, quantized on chain; all outputs as integers.
    function predict(int256[] calldata x) external view returns (int256[] memory y);
    /// @notice One row quantized off chain: one int8 (two's complement byte) per input.
    function predictPacked(bytes calldata q) external view returns (int256[] memory y);
    /// @notice Rows packed as in predictPacked, back to back; outputs of each row back to back.
    function predictBatch(bytes calldata rows) external view returns (int256[] memory ys);
    /// @notice The predicted class (label output, or argmax, or score >= 0.5).
    function classify(int256[] calldata x) external view returns (int256 label);
    function inputScale() external view returns (uint256);
    /// @notice The first output's scale times 1e18 (real = scale * (q - zeroPoint)).
    function outputScale() external view returns (uint256);
    function outputZeroPoint() external view returns (int256);
    function modelHash() external view returns (bytes32);
}
