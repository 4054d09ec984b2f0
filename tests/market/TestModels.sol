// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// Test-only model contracts for the marketplace security tests. Each follows one rule, the label
// of a row is 1 when x[0] >= 0, and misbehaves on the rows where x[1] < 0 ("bad rows").

abstract contract RuleModel {
    uint256 public constant inputScale = 1e18;
    uint256 public constant outputScale = 1e18;

    function modelHash() external pure virtual returns (bytes32);

    function rule(int256[] calldata x) internal pure returns (int256) {
        return x[0] >= 0 ? int256(1) : int256(0);
    }

    function bad(int256[] calldata x) internal pure returns (bool) {
        return x[1] < 0;
    }
}

/// Always right.
contract HonestRule is RuleModel {
    function modelHash() external pure override returns (bytes32) { return keccak256("honest"); }

    function classify(int256[] calldata x) external pure returns (int256) { return rule(x); }

    function predict(int256[] calldata x) external pure returns (int256[] memory y) {
        y = new int256[](1);
        y[0] = rule(x) * 1e18;
    }
}

/// Reverts on bad rows, with the right label as revert data: a reverted call never scores.
contract Reverter is RuleModel {
    function modelHash() external pure override returns (bytes32) { return keccak256("reverter"); }

    function classify(int256[] calldata x) external pure returns (int256) {
        if (bad(x)) {
            bytes memory data = abi.encode(rule(x));
            assembly { revert(add(data, 32), mload(data)) }
        }
        return rule(x);
    }
}

/// Burns every unit of gas it is given on bad rows.
contract GasBurner is RuleModel {
    function modelHash() external pure override returns (bytes32) { return keccak256("burner"); }

    function classify(int256[] calldata x) external pure returns (int256 label) {
        label = rule(x);
        if (bad(x)) {
            assembly { for {} 1 {} { label := add(label, 1) } }
        }
    }
}

/// Answers out of range on bad rows: the right label plus the number of classes.
contract OutOfRange is RuleModel {
    function modelHash() external pure override returns (bytes32) { return keccak256("out-of-range"); }

    function classify(int256[] calldata x) external pure returns (int256) {
        return bad(x) ? rule(x) + 2 : rule(x);
    }
}

/// Returns no data on bad rows (garbage for a function that promises an int256).
contract Silent is RuleModel {
    function modelHash() external pure override returns (bytes32) { return keccak256("silent"); }

    function classify(int256[] calldata x) external pure returns (int256) {
        if (bad(x)) {
            assembly { return(0, 0) }
        }
        return rule(x);
    }
}

/// The cheat the self-containment check exists for: answers read from storage that its owner
/// writes after the test set is revealed.
contract StorageCheater is RuleModel {
    mapping(int256 x0 => int256) public answers;

    function modelHash() external pure override returns (bytes32) { return keccak256("cheater"); }

    function learn(int256 x0, int256 label) external { answers[x0] = label; }

    function classify(int256[] calldata x) external view returns (int256) { return answers[x[0]]; }
}

/// Reads part of its answer with EXTCODECOPY from a data contract linked into its code, like
/// ml2sc's int8 models with weights=data (backends/common/link.py): right when byte 1 of that
/// contract's code is 1. Entered with a pure data contract it is honest; with an empty address as
/// its "data contract" it is the cheat the data-contract checks exist for (code deployed there
/// after the test set's reveal).
contract DataRule is RuleModel {
    /// link.placeholder(0): the deployer replaces it with the data contract's address.
    uint256 internal constant D0 = 0x4cf56d5386ad06380c6862893105f3eb229d4c42d92dcd0c795634fce72544df;

    function modelHash() external pure override returns (bytes32) { return keccak256("data-rule"); }

    function classify(int256[] calldata x) external view returns (int256) {
        uint256 flag;
        assembly {
            mstore(0, 0)
            extcodecopy(D0, 31, 1, 1)
            flag := mload(0)
        }
        return flag == 1 ? rule(x) : 1 - rule(x);
    }
}

/// Names a pure data contract (an immutable, a PUSH32 of its code) and reads it, but passes the
/// address to EXTCODECOPY through the stack, where it is one XOR away from an address nothing is
/// deployed to yet: with `shift` 1 its answers come from code its owner deploys there after the
/// test set's reveal (wrong answers until then). The scan must refuse every EXTCODECOPY whose
/// address is not the PUSH32 right before it.
contract ComputedDataRule is RuleModel {
    address public immutable data;
    uint256 public immutable shift;

    constructor(address data_, uint256 shift_) { data = data_; shift = shift_; }

    function modelHash() external pure override returns (bytes32) { return keccak256("computed-data-rule"); }

    function classify(int256[] calldata x) external view returns (int256) {
        address d = data;
        uint256 s = shift;
        uint256 flag;
        assembly {
            mstore(0, 0)
            extcodecopy(xor(d, s), 31, 1, 1)
            flag := mload(0)
        }
        return flag == 1 ? rule(x) : 1 - rule(x);
    }
}

interface IChallenge {
    function commit(bytes32 commitment) external payable;
    function revealEntry(address model, address[] calldata data, bytes32 salt) external returns (uint256);
    function claim() external returns (uint256);
}

/// A submitter contract whose receive() re-enters claim() once and records how that ended.
contract ReentrantClaimer {
    IChallenge public immutable challenge;
    bool public reentered;
    bytes public reentryError;

    constructor(IChallenge challenge_) { challenge = challenge_; }

    function commit(bytes32 commitment) external payable { challenge.commit{value: msg.value}(commitment); }

    function revealEntry(address model, bytes32 salt) external { challenge.revealEntry(model, new address[](0), salt); }

    function claim() external { challenge.claim(); }

    receive() external payable {
        if (reentered) return;
        reentered = true;
        try challenge.claim() {
            reentryError = "paid twice";
        } catch (bytes memory err) {
            reentryError = err;
        }
    }
}
