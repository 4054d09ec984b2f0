"""The fixed parts of an ml2sc-baseline contract, as Solidity text.

Everything here is the same for every model (it refers to the contract's
constants N_IN, N_LAYERS and to the helpers ``_layer``/``_forward``/``_label``
that the emitter writes per model); the activations are written only when a
model uses them. ML2SC's own code is the model for relu and sigmoid.
"""

from __future__ import annotations

ERRORS = """\
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
"""

UPLOADS = """\
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
    for (uint256 k = 0; k < N_LAYERS; k++) {
        (int256[][] storage rows, uint256 nOut, uint256 nIn) = _layer(k);
        bool complete = rows.length == nOut && rows[nOut - 1].length == nIn;
        if (!complete || biases.length <= k || biases[k].length != nOut) {
            revert UploadIncomplete(k);
        }
    }
    finalized = true;
}

// Appends test rows (N_IN SD59x18 values each, back to back) to testData, as ML2SC's
// set_TrainingData does; an upload may end inside a row.
function uploadTestData(int256[] calldata values) external onlyOwner {
    _appendRows(testData, values, N_IN, type(uint256).max, 0);
}

// How many complete test rows are stored (ML2SC's view_dataset_size).
function storedRows() external view returns (uint256 n) {
    n = testData.length;
    if (n > 0 && testData[n - 1].length != N_IN) n--;
}
"""

ENTRY_POINTS = """\
// IML2SCModel.predict: one row of N_IN SD59x18 inputs -> N_OUT SD59x18 outputs.
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
    if (count == 0 || start > stored || count > stored - start || testData[start + count - 1].length != N_IN) {
        revert RowRange(start, count, stored);
    }
    labels = new int256[](count);
    for (uint256 j = 0; j < count; j++) {
        int256[] memory data = testData[start + j];
        labels[j] = _label(_forward(data));
    }
}
"""

HELPERS = """\
function _checkRow(int256[] calldata x) private view {
    if (!finalized) revert NotFinalized();
    if (x.length != N_IN) revert InputLength(N_IN, x.length);
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
"""

RELU = """\
// ML2SC's relu: x if x >= 0, else 0
function relu(SD59x18 x) private pure returns (SD59x18) {
    SD59x18 zero = sd(0);
    if (x.gte(zero)) {
        return x;
    }
    return zero;
}
"""

SIGMOID = """\
// ML2SC's sigmoid: 1 / (1 + exp(-x)), every step a PRBMath call
function sigmoid(SD59x18 x) private pure returns (SD59x18) {
    SD59x18 one = sd(1e18);
    return one.div(one.add((-x).exp()));
}
"""

TANH = """\
// tanh(x) = (1 - e) / (1 + e) with e = exp(-2|x|), the sign of x restored
function tanh(SD59x18 x) private pure returns (SD59x18) {
    SD59x18 one = sd(1e18);
    SD59x18 a = x.abs();
    SD59x18 e = (-(a.add(a))).exp();
    SD59x18 t = one.sub(e).div(one.add(e));
    return x.lt(sd(0)) ? -t : t;
}
"""

SOFTMAX = """\
// softmax: e_k = exp(v_k - max v), y_k = e_k / sum(e)
function softmax(SD59x18[] memory v) private pure returns (SD59x18[] memory y) {
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
"""
