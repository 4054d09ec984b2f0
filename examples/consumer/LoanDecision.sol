// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

// A consumer of an ml2sc model: a lending rule that asks the model whether an applicant's
// features put them in class 1 ("repays"), and only then approves. `IModel.sol` is the file
// `ml2sc compile` writes next to the model (I<Name>.sol, here for a contract named `Model`):
// the interface `IModel`, the library `ModelModel` and the row width `MODEL_N_IN`.
import { IModel, ModelModel, MODEL_N_IN } from "./IModel.sol";

contract LoanDecision {
    IModel public immutable model;
    uint256 public approvals;

    event Decided(address indexed applicant, bool approved);

    constructor(IModel model_) {
        ModelModel.check(model_); // refuses any other model, e.g. one with different weights
        model = model_;
    }

    /// @notice The decision alone, without state: what the model says for these features.
    function wouldApprove(int256[MODEL_N_IN] calldata features) public view returns (bool) {
        return ModelModel.classify(model, features) == 1;
    }

    /// @notice Decide for the sender and record it.
    function apply_(int256[MODEL_N_IN] calldata features) external returns (bool approved) {
        approved = wouldApprove(features);
        if (approved) approvals += 1;
        emit Decided(msg.sender, approved);
    }
}
