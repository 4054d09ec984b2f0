// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// Test-only contracts for the InferenceJob security tests.

/// A worker that is a contract: it forwards its calls (join, commit, reveal, claim) to the job,
/// and its receive() re-enters claim() once, recording how that ended.
contract ReentrantWorker {
    address public immutable job;
    uint256 public immutable jobId;
    bool public reentered;
    bytes public reentryError;

    constructor(address job_, uint256 jobId_) {
        (job, jobId) = (job_, jobId_);
    }

    function forward(bytes calldata data) external payable returns (bytes memory ret) {
        bool ok;
        (ok, ret) = job.call{value: msg.value}(data);
        if (!ok) {
            assembly {
                revert(add(ret, 32), mload(ret))
            }
        }
    }

    receive() external payable {
        if (reentered) return;
        reentered = true;
        (bool ok, bytes memory err) = job.call(abi.encodeWithSignature("claim(uint256)", jobId));
        reentryError = ok ? bytes("paid twice") : err;
    }
}
