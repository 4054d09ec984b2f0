// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IML2SCModel} from "ml2sc/IML2SCModel.sol";
import {ChallengeModels} from "ml2sc/ChallengeModels.sol";

/// @title Optimistic verified inference: claims about a model's outputs, challengeable on chain.
/// @notice Running a model for every request on chain is the expensive path; here a staked
/// operator runs it off chain and posts what it claims the model outputs for a batch of inputs.
/// The claim's digest is stored, the inputs and outputs travel in the event (calldata). During
/// `window` seconds anyone can challenge one row: the contract re-runs the model on that input
/// (`classify` or `predict`, with a fixed gas cap) and, if the claim differs, slashes the claim's
/// stake to the challenger. Unchallenged, the claim becomes final after the window and the stake
/// is released. The model is pinned at deployment and must be self-contained (ChallengeModels):
/// its answers cannot change between a claim and its challenge.
contract VerifiedInference {
    error BadParameters();
    error EmptyBatch();
    error ShapeMismatch(uint256 row);
    error InsufficientStake(uint256 needed, uint256 available);
    error UnknownClaim(uint256 id);
    error NotPending(uint256 id, Status status);
    error WindowClosed(uint256 id, uint256 deadline);
    error WindowOpen(uint256 id, uint256 deadline);
    error DigestMismatch(uint256 id);
    error RowOutOfRange(uint256 row, uint256 rows);
    error ClaimHolds(uint256 id, uint256 row);
    error NothingToWithdraw();
    error PayoutFailed(address to, uint256 amount);
    error Reentrancy();

    event Deposited(address indexed account, uint256 amount);
    event Posted(uint256 indexed id, address indexed operator, int256[][] xs, int256[][] ys, uint256 deadline);
    event Slashed(uint256 indexed id, uint256 row, address indexed challenger, uint256 bounty);
    event Finalized(uint256 indexed id);
    event Withdrawn(address indexed account, uint256 amount);

    enum Mode { Classify, Predict }
    enum Status { None, Pending, Final, Slashed }

    struct Claim {
        address operator;
        uint64 deadline;
        Status status;
        bytes32 digest; // keccak256(abi.encode(xs, ys))
    }

    address public immutable model;
    bytes32 public immutable modelHash;
    Mode public immutable mode;
    uint256 public immutable claimStake;
    uint256 public immutable window;
    uint256 public immutable modelGasCap;

    mapping(address account => uint256) public balanceOf; // free: withdrawable, or stake for new claims
    mapping(address operator => uint256) public locked; // stake behind pending claims
    Claim[] internal _claims;
    bool private transient _locked;

    modifier nonReentrant() {
        if (_locked) revert Reentrancy();
        _locked = true;
        _;
        _locked = false;
    }

    /// @param mode_ Classify: each ys[i] is [label]; Predict: ys[i] is the whole output vector.
    constructor(address model_, Mode mode_, uint256 claimStake_, uint256 window_, uint256 modelGasCap_) {
        if (claimStake_ == 0 || window_ == 0 || modelGasCap_ < 10_000 || modelGasCap_ > 8_000_000) revert BadParameters();
        ChallengeModels.requireSelfContained(model_);
        (bool ok, uint256 size, bytes32 word) =
            ChallengeModels.call32(model_, abi.encodeCall(IML2SCModel.modelHash, ()), 50_000);
        if (!ok || size != 32) revert BadParameters();
        (model, modelHash, mode, claimStake, window, modelGasCap) = (model_, word, mode_, claimStake_, window_, modelGasCap_);
    }

    /// @notice Add ETH to msg.sender's free balance (an operator's stake).
    function deposit() external payable {
        balanceOf[msg.sender] += msg.value;
        emit Deposited(msg.sender, msg.value);
    }

    /// @notice Claim that the model maps each xs[i] to ys[i]; locks claimStake of msg.sender's balance.
    function post(int256[][] calldata xs, int256[][] calldata ys) external returns (uint256 id) {
        if (xs.length == 0) revert EmptyBatch();
        if (xs.length != ys.length) revert ShapeMismatch(xs.length < ys.length ? xs.length : ys.length);
        if (mode == Mode.Classify) {
            for (uint256 i = 0; i < ys.length; ++i) {
                if (ys[i].length != 1) revert ShapeMismatch(i);
            }
        }
        uint256 free = balanceOf[msg.sender];
        if (free < claimStake) revert InsufficientStake(claimStake, free);
        balanceOf[msg.sender] = free - claimStake;
        locked[msg.sender] += claimStake;
        uint256 deadline = block.timestamp + window;
        id = _claims.length;
        _claims.push(Claim(msg.sender, uint64(deadline), Status.Pending, keccak256(abi.encode(xs, ys))));
        emit Posted(id, msg.sender, xs, ys, deadline);
    }

    /// @notice Re-run the model on row `row` of claim `id` (xs, ys as posted); slash the claim's
    /// stake to msg.sender if the model's answer differs. Reverts with ClaimHolds when it agrees.
    function challenge(uint256 id, int256[][] calldata xs, int256[][] calldata ys, uint256 row) external {
        Claim storage c = _pending(id);
        if (block.timestamp > c.deadline) revert WindowClosed(id, c.deadline);
        if (keccak256(abi.encode(xs, ys)) != c.digest) revert DigestMismatch(id);
        if (row >= xs.length) revert RowOutOfRange(row, xs.length);
        if (_agrees(xs[row], ys[row])) revert ClaimHolds(id, row); // guard: claim-holds

        c.status = Status.Slashed;
        locked[c.operator] -= claimStake;
        balanceOf[msg.sender] += claimStake;
        emit Slashed(id, row, msg.sender, claimStake);
    }

    /// @dev Whether the model, run now with its whole gas cap, gives exactly `y` for `x`. A model
    /// that reverts or runs out of gas gives nothing, so any claim about it is false.
    function _agrees(int256[] calldata x, int256[] calldata y) private view returns (bool) {
        if (mode == Mode.Classify) {
            (bool ok, uint256 size, bytes32 word) =
                ChallengeModels.call32(model, abi.encodeCall(IML2SCModel.classify, (x)), modelGasCap);
            return ok && size == 32 && int256(uint256(word)) == y[0]; // guard: rerun
        }
        (bool success, bytes32 digest) =
            ChallengeModels.callHash(model, abi.encodeCall(IML2SCModel.predict, (x)), modelGasCap);
        return success && digest == keccak256(abi.encode(y));
    }

    /// @notice After the window, an unchallenged claim is final and its stake is released.
    function finalize(uint256 id) external {
        Claim storage c = _pending(id);
        if (block.timestamp <= c.deadline) revert WindowOpen(id, c.deadline); // guard: window
        c.status = Status.Final;
        locked[c.operator] -= claimStake;
        balanceOf[c.operator] += claimStake;
        emit Finalized(id);
    }

    /// @notice Pull payment of msg.sender's whole free balance (stake released, bounties won).
    function withdraw() external nonReentrant returns (uint256 amount) {
        amount = balanceOf[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        balanceOf[msg.sender] = 0;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert PayoutFailed(msg.sender, amount);
    }

    function claimCount() external view returns (uint256) {
        return _claims.length;
    }

    function claims(uint256 id) external view returns (Claim memory) {
        if (id >= _claims.length) revert UnknownClaim(id);
        return _claims[id];
    }

    /// @notice A claim consumers may rely on: final and not slashed.
    function isFinal(uint256 id) external view returns (bool) {
        return id < _claims.length && _claims[id].status == Status.Final;
    }

    function _pending(uint256 id) private view returns (Claim storage c) {
        if (id >= _claims.length) revert UnknownClaim(id);
        c = _claims[id];
        if (c.status != Status.Pending) revert NotPending(id, c.status);
    }
}
