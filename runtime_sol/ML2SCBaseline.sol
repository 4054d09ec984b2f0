// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import { SD59x18, sd } from "@prb/math/src/SD59x18.sol";

/// @title The fixed part of every contract of the ml2sc-baseline backend (ML2SC's contract style).
/// @notice The benchmark's baseline, written the way ML2SC (arXiv 2404.16967) writes contracts:
/// weights in int256 storage uploaded by transactions after deployment (owner only, frozen by
/// finalize()), every multiply and add a PRBMath SD59x18 call, test rows stored on chain and
/// classified by one call. The generated contract `is ML2SCBaseline` and supplies what depends
/// on the model: its weight arrays and modelHash, `_layer`, `_forward`, `_label`, `_nIn` and
/// `_nLayers`. The activations are internal functions: solc drops the ones a model never calls.
/// ML2SC's own code is the model for relu and sigmoid.
abstract contract ML2SCBaseline {
    /// A function only the deployer may call was called by someone else.
    error NotOwner(address caller);
    /// The parameters are frozen: finalize() was called.
    error AlreadyFinalized();
    /// Inference before finalize(): the parameters are not all uploaded yet.
    error NotFinalized();
    /// There is no gemm layer with this index.
    error UnknownLayer(uint256 layer);
    /// An upload would write more values than the layer holds.
    error UploadOverflow(uint256 layer, uint256 capacity);
    /// finalize() found a layer whose weights or biases are incomplete.
    error UploadIncomplete(uint256 layer);
    /// The input row had the wrong number of values (IML2SCModel's error).
    error InputLength(uint256 expected, uint256 got);
    /// classifyStored was asked for rows that are not stored.
    error RowRange(uint256 start, uint256 count, uint256 stored);

    uint256 public constant inputScale = 1e18;
    uint256 public constant outputScale = 1e18;

    address private immutable owner = msg.sender;
    bool public finalized;

    // Parameters as ML2SC stores them; the weights (per gemm layer one int256[] per neuron,
    // weights_layerK) are declared by the generated contract.
    int256[][] public biases; // biases[k]: the biases of layer k
    int256[][] public testData; // stored rows of _nIn() SD59x18 inputs (uploadTestData)

    // ------------------------------------------------------------ what the model supplies

    /// The number of inputs of a row (the model's N_IN).
    function _nIn() internal pure virtual returns (uint256);

    /// The number of gemm layers (the upload API's layers 0 .. _nLayers() - 1).
    function _nLayers() internal pure virtual returns (uint256);

    /// Layer index -> its weight arrays and shape (out x in); reverts UnknownLayer(layer) past the last.
    function _layer(uint256 layer) internal view virtual returns (int256[][] storage rows, uint256 nOut, uint256 nIn);

    /// The forward pass of one row of SD59x18 inputs; returns the flat outputs.
    function _forward(int256[] memory x) internal view virtual returns (int256[] memory y);

    /// The label of a row from its flat outputs.
    function _label(int256[] memory y) internal pure virtual returns (int256 label);

    // ------------------------------------------------------------------------ uploads

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    // Appends values to layer's weights neuron by neuron (row-major, out x in); an upload
    // may end inside a row, the next one continues it.
    function uploadWeights(uint256 layer, int256[] calldata values) external onlyOwner {
        if (finalized) revert AlreadyFinalized();
        (int256[][] storage rows, uint256 nOut, uint256 nIn) = _layer(layer);
        _appendRows(rows, values, nIn, nOut, layer);
    }

    // Appends values to the biases of layer.
    function uploadBiases(uint256 layer, int256[] calldata values) external onlyOwner {
        if (finalized) revert AlreadyFinalized();
        (, uint256 nOut, ) = _layer(layer);
        while (biases.length <= layer) {
            biases.push();
        }
        int256[] storage row = biases[layer];
        if (row.length + values.length > nOut) revert UploadOverflow(layer, nOut);
        for (uint256 i = 0; i < values.length; i++) {
            row.push(values[i]);
        }
    }

    // Freezes the parameters once every layer is complete; inference needs it.
    function finalize() external onlyOwner {
        if (finalized) revert AlreadyFinalized();
        for (uint256 k = 0; k < _nLayers(); k++) {
            (int256[][] storage rows, uint256 nOut, uint256 nIn) = _layer(k);
            bool complete = rows.length == nOut && rows[nOut - 1].length == nIn;
            if (!complete || biases.length <= k || biases[k].length != nOut) {
                revert UploadIncomplete(k);
            }
        }
        finalized = true;
    }

    // Appends test rows (_nIn() SD59x18 values each, back to back) to testData, as ML2SC's
    // set_TrainingData does; an upload may end inside a row.
    function uploadTestData(int256[] calldata values) external onlyOwner {
        _appendRows(testData, values, _nIn(), type(uint256).max, 0);
    }

    // How many complete test rows are stored (ML2SC's view_dataset_size).
    function storedRows() external view returns (uint256 n) {
        n = testData.length;
        if (n > 0 && testData[n - 1].length != _nIn()) n--;
    }

    // -------------------------------------------------------------------- entry points

    // IML2SCModel.predict: one row of _nIn() SD59x18 inputs -> the flat SD59x18 outputs.
    function predict(int256[] calldata x) external view returns (int256[] memory y) {
        _checkRow(x);
        y = _forward(x);
    }

    // IML2SCModel.classify: the label of one row (see _label).
    function classify(int256[] calldata x) external view returns (int256 label) {
        _checkRow(x);
        label = _label(_forward(x));
    }

    // ML2SC's classify(): the labels of stored rows start .. start + count - 1, in one call;
    // each row is copied from storage to memory first, as ML2SC does.
    function classifyStored(uint256 start, uint256 count) external view returns (int256[] memory labels) {
        if (!finalized) revert NotFinalized();
        uint256 stored = testData.length;
        if (count == 0 || start > stored || count > stored - start || testData[start + count - 1].length != _nIn()) {
            revert RowRange(start, count, stored);
        }
        labels = new int256[](count);
        for (uint256 j = 0; j < count; j++) {
            int256[] memory data = testData[start + j];
            labels[j] = _label(_forward(data));
        }
    }

    // ------------------------------------------------------------------------- helpers

    function _checkRow(int256[] calldata x) private view {
        if (!finalized) revert NotFinalized();
        if (x.length != _nIn()) revert InputLength(_nIn(), x.length);
    }

    // Appends values to rows of rowLength values, opening rows as needed, at most maxRows.
    function _appendRows(
        int256[][] storage rows, int256[] calldata values, uint256 rowLength, uint256 maxRows, uint256 layer
    ) private {
        for (uint256 i = 0; i < values.length; i++) {
            uint256 n = rows.length;
            if (n == 0 || rows[n - 1].length == rowLength) {
                if (n == maxRows) revert UploadOverflow(layer, maxRows * rowLength);
                rows.push();
                n++;
            }
            rows[n - 1].push(values[i]);
        }
    }

    // --------------------------------------------------------------------- activations

    // ML2SC's relu: x if x >= 0, else 0
    function relu(SD59x18 x) internal pure returns (SD59x18) {
        SD59x18 zero = sd(0);
        if (x.gte(zero)) {
            return x;
        }
        return zero;
    }

    // ML2SC's sigmoid: 1 / (1 + exp(-x)), every step a PRBMath call
    function sigmoid(SD59x18 x) internal pure returns (SD59x18) {
        SD59x18 one = sd(1e18);
        return one.div(one.add((-x).exp()));
    }

    // tanh(x) = (1 - e) / (1 + e) with e = exp(-2|x|), the sign of x restored
    function tanh(SD59x18 x) internal pure returns (SD59x18) {
        SD59x18 one = sd(1e18);
        SD59x18 a = x.abs();
        SD59x18 e = (-(a.add(a))).exp();
        SD59x18 t = one.sub(e).div(one.add(e));
        return x.lt(sd(0)) ? -t : t;
    }

    // softmax: e_k = exp(v_k - max v), y_k = e_k / sum(e)
    function softmax(SD59x18[] memory v) internal pure returns (SD59x18[] memory y) {
        SD59x18 m = v[0];
        for (uint256 k = 1; k < v.length; k++) {
            if (v[k].gt(m)) {
                m = v[k];
            }
        }
        y = new SD59x18[](v.length);
        SD59x18 total = sd(0);
        for (uint256 k = 0; k < v.length; k++) {
            y[k] = v[k].sub(m).exp();
            total = total.add(y[k]);
        }
        for (uint256 k = 0; k < v.length; k++) {
            y[k] = y[k].div(total);
        }
    }
}
