// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IML2SCModel} from "ml2sc/IML2SCModel.sol";
import {ChallengeModels} from "ml2sc/ChallengeModels.sol";

/// @title A machine-learning challenge: a reward for the best model on a hidden test set.
/// @notice The organiser deploys this contract with the reward and a stake (ETH escrowed here)
/// and a salted commitment to the test set. Until the submission deadline anyone commits to an
/// entry (one per address) with a bond: keccak256(abi.encode(submitter, entryHash, salt)), so
/// entries stay secret while others can still enter (no copy of a public model with one constant
/// changed). In the entry-reveal window each submitter reveals the model contract (and the data
/// contracts it reads); a valid reveal gets the bond back. The organiser then reveals the test
/// set, which must match its commitment; anyone runs the evaluation, a gas-bounded batch at a
/// time; the best model (earliest on ties) that reaches the accuracy threshold wins; everyone
/// pulls their money.
///
/// Rules (docs/marketplace.md):
///  - revealed: the winner gets the reward and the organiser the stake back; without a winner
///    the reward goes back to the organiser too;
///  - never revealed by the reveal deadline: reward and stake are split between the revealed
///    entries (all back to the organiser if there is none);
///  - evaluation not finished by its deadline: only fully evaluated models compete;
///  - bonds of entries never (validly) revealed are forfeited to the winner (to the revealed
///    entries if the test set is never revealed), never to the organiser, who could otherwise
///    fill every entry slot with free junk; with nobody to take them they stay here (burnt).
///
/// Test-set rows are `laneBytes`-byte big-endian two's-complement lanes: the label, then the
/// `nInputs` inputs in the models' fixed-point format (value x inputScale). Rows are kept in code
/// (SSTORE2 data contracts, 200 gas a byte) and expanded to `int256[]` for `classify`.
contract Challenge {
    // ------------------------------------------------------------------ errors
    error NoReward(uint256 value, uint256 stake);
    error BadDeadlines(uint256 submission, uint256 entryReveal, uint256 reveal, uint256 evaluation);
    error BadTestSetShape(uint256 rows, uint256 inputs, uint256 laneBytes);
    error BadClasses(uint256 nClasses);
    error BadThreshold(uint256 thresholdBps);
    error BadGasCap(uint256 modelGasCap);
    error BadMaxSubmissions(uint256 maxSubmissions);
    error SubmissionClosed(uint256 deadline, uint256 timestamp);
    error OrganiserCannotSubmit();
    error AlreadySubmitted(address submitter);
    error TooManySubmissions(uint256 max);
    error DuplicateModel(address model, uint256 index);
    error WrongBond(uint256 bond, uint256 value);
    error ZeroCommitment();
    error EntryRevealNotOpen(uint256 opensAfter, uint256 timestamp);
    error EntryRevealClosed(uint256 deadline, uint256 timestamp);
    error NotCommitted(address submitter);
    error EntryMismatch(bytes32 commitment, bytes32 computed);
    error WrongInputScale(uint256 expected, uint256 got);
    error ModelHashUnavailable(address model);
    error NotOrganiser(address caller);
    error RevealNotOpen(uint256 opensAfter, uint256 timestamp);
    error RevealClosed(uint256 deadline, uint256 timestamp);
    error AlreadyRevealed();
    error BadRowData(uint256 length, uint256 rowBytes);
    error TooManyRows(uint256 total, uint256 nRows);
    error RowsMissing(uint256 total, uint256 nRows);
    error PartNotAligned(uint256 rows, uint256 rowsPerChunk);
    error LabelOutOfRange(uint256 row, int256 label);
    error RevealMismatch(bytes32 commitment, bytes32 computed);
    error ChunkDeployFailed();
    error NotRevealed();
    error EvaluationClosed(uint256 deadline, uint256 timestamp);
    error EvaluationComplete();
    error ZeroRows();
    error NotFinal();
    error AlreadyClaimed(address account);
    error NothingToClaim(address account);
    error PayoutFailed(address to, uint256 amount);
    error Reentrancy();

    // ------------------------------------------------------------------ events
    event Committed(address indexed submitter, bytes32 commitment);
    event Submitted(uint256 indexed index, address indexed submitter, address model, bytes32 modelHash, bytes32 entryHash);
    event RowsRevealed(uint256 rows, uint256 total);
    event Revealed(bytes32 salt, bytes32 rowHash);
    event Evaluated(uint256 pairs, uint256 submission, uint256 row);
    event Scored(uint256 indexed index, uint256 correct, uint256 invalid);
    event Claimed(address indexed account, address to, uint256 amount);

    // ------------------------------------------------------------------ types
    enum Phase { Submission, EntryReveal, Reveal, Evaluation, Final }

    /// @notice Constructor parameters (a struct: too many for the stack as arguments).
    struct Config {
        bytes32 commitment; // keccak256(abi.encode(salt, rowHash)), see reveal
        uint256 submissionDeadline; // unix seconds, inclusive: last second to commit to an entry
        uint256 entryRevealDeadline; // last second to reveal an entry
        uint256 revealDeadline;
        uint256 evaluationDeadline;
        uint256 nRows;
        uint256 nInputs;
        uint256 nClasses; // labels and valid answers lie in [0, nClasses)
        uint256 laneBytes; // bytes per stored value (8 = int64, like predictPacked)
        uint256 thresholdBps; // minimum accuracy in basis points; 0 = best model wins
        uint256 stake; // part of msg.value that is the organiser's stake, the rest is the reward
        uint256 inputScale; // models must report this inputScale() (1e18 for SD59x18)
        uint256 modelGasCap; // gas given to each classify call
        uint256 maxSubmissions; // entries (commitments) accepted
        uint256 entryBond; // wei each commitment locks; refunded on a valid reveal
    }

    struct Submission {
        address submitter;
        uint32 correct;
        uint32 invalid; // rows where the model reverted, ran out of gas or answered out of range
        bool evaluated;
        address model;
        bytes32 modelHash;
        bytes32 entryHash; // ChallengeModels.scanEntry: the model's code and its data contracts'
    }

    /// @dev Evaluation cursor (one slot): submission and row next to run, the counters of the
    /// submission in progress and the best fully evaluated submission so far (index + 1).
    struct Progress {
        uint32 sub;
        uint32 row;
        uint32 correct;
        uint32 invalid;
        uint32 best;
        uint32 bestCorrect;
    }

    // ------------------------------------------------------------------ configuration
    uint256 internal constant MAX_CHUNK = 24_575; // EIP-170 limit minus the leading STOP byte
    uint256 internal constant VIEW_GAS = 50_000; // for inputScale() and modelHash() at submission
    uint256 internal constant FINISH_RESERVE = 80_000; // what evaluate needs after its last model call

    address public immutable organiser;
    bytes32 public immutable commitment;
    uint256 public immutable reward;
    uint256 public immutable stake;
    uint256 public immutable submissionDeadline;
    uint256 public immutable entryRevealDeadline;
    uint256 public immutable revealDeadline;
    uint256 public immutable evaluationDeadline;
    uint256 public immutable nRows;
    uint256 public immutable nInputs;
    uint256 public immutable nClasses;
    uint256 public immutable laneBytes;
    uint256 public immutable rowBytes;
    uint256 public immutable rowsPerChunk;
    uint256 public immutable thresholdBps;
    uint256 public immutable minCorrect;
    uint256 public immutable inputScale;
    uint256 public immutable modelGasCap;
    uint256 public immutable maxSubmissions;
    uint256 public immutable entryBond;

    // ------------------------------------------------------------------ state
    mapping(address submitter => bytes32) public commitmentOf;
    uint256 public commitCount;
    Submission[] internal _submissions; // the revealed entries, in reveal order
    mapping(address submitter => uint256) public submissionOf; // index + 1
    mapping(bytes32 entryHash => uint256) internal _entrySeen; // index + 1
    mapping(uint256 index => address[]) internal _dataOf; // each entry's data contracts
    address[] public chunks; // SSTORE2 data contracts holding the revealed rows
    bytes32 public rowHash; // rolling hash of the rows revealed so far
    uint256 public rowsRevealed;
    bool public revealed;
    Progress public progress;
    mapping(address account => bool) public claimed;
    bool private transient _locked;

    modifier nonReentrant() {
        if (_locked) revert Reentrancy(); // guard: reentrancy
        _locked = true;
        _;
        _locked = false;
    }

    constructor(Config memory c) payable {
        if (msg.value <= c.stake) revert NoReward(msg.value, c.stake);
        if (!(block.timestamp < c.submissionDeadline && c.submissionDeadline < c.entryRevealDeadline
                && c.entryRevealDeadline < c.revealDeadline && c.revealDeadline < c.evaluationDeadline)) {
            revert BadDeadlines(c.submissionDeadline, c.entryRevealDeadline, c.revealDeadline, c.evaluationDeadline);
        }
        if (c.nRows == 0 || c.nRows > type(uint32).max || c.nInputs == 0 || c.laneBytes == 0
                || c.laneBytes > 32 || c.laneBytes * (c.nInputs + 1) > MAX_CHUNK) {
            revert BadTestSetShape(c.nRows, c.nInputs, c.laneBytes);
        }
        if (c.nClasses < 2) revert BadClasses(c.nClasses);
        if (c.thresholdBps > 10_000) revert BadThreshold(c.thresholdBps);
        if (c.modelGasCap < 10_000 || c.modelGasCap > 8_000_000) revert BadGasCap(c.modelGasCap);
        if (c.maxSubmissions == 0 || c.maxSubmissions > type(uint32).max) revert BadMaxSubmissions(c.maxSubmissions);
        organiser = msg.sender;
        commitment = c.commitment;
        reward = msg.value - c.stake;
        stake = c.stake;
        submissionDeadline = c.submissionDeadline;
        entryRevealDeadline = c.entryRevealDeadline;
        revealDeadline = c.revealDeadline;
        evaluationDeadline = c.evaluationDeadline;
        nRows = c.nRows;
        nInputs = c.nInputs;
        nClasses = c.nClasses;
        laneBytes = c.laneBytes;
        rowBytes = c.laneBytes * (c.nInputs + 1);
        rowsPerChunk = MAX_CHUNK / (c.laneBytes * (c.nInputs + 1));
        thresholdBps = c.thresholdBps;
        minCorrect = (c.thresholdBps * c.nRows + 9_999) / 10_000;
        inputScale = c.inputScale;
        modelGasCap = c.modelGasCap;
        maxSubmissions = c.maxSubmissions;
        entryBond = c.entryBond;
    }

    // ------------------------------------------------------------------ submission

    /// @notice Commit to an entry for msg.sender, who is paid if it wins:
    /// `commitment = keccak256(abi.encode(msg.sender, entryHash, salt))` (entryHash: see
    /// checkEntry), with exactly `entryBond` wei. The entry stays secret until the submission
    /// deadline; msg.sender in the hash means nobody else can reveal it.
    function commit(bytes32 commitment_) external payable {
        if (block.timestamp > submissionDeadline) revert SubmissionClosed(submissionDeadline, block.timestamp); // guard: submission-deadline
        if (msg.sender == organiser) revert OrganiserCannotSubmit();
        if (commitmentOf[msg.sender] != 0) revert AlreadySubmitted(msg.sender);
        if (commitment_ == 0) revert ZeroCommitment();
        if (msg.value != entryBond) revert WrongBond(entryBond, msg.value); // guard: entry-bond
        if (commitCount >= maxSubmissions) revert TooManySubmissions(maxSubmissions);
        commitmentOf[msg.sender] = commitment_;
        ++commitCount;
        emit Committed(msg.sender, commitment_);
    }

    /// @notice Reveal msg.sender's entry: `model` (an IML2SCModel contract) and the pure data
    /// contracts it reads, in the order of the committed entryHash. The model must be
    /// self-contained (ChallengeModels.scanEntry) and not a copy of an earlier entry.
    function revealEntry(address model, address[] calldata data, bytes32 salt) external returns (uint256 index) {
        if (block.timestamp <= submissionDeadline) revert EntryRevealNotOpen(submissionDeadline, block.timestamp);
        if (block.timestamp > entryRevealDeadline) revert EntryRevealClosed(entryRevealDeadline, block.timestamp);
        bytes32 committed = commitmentOf[msg.sender];
        if (committed == 0) revert NotCommitted(msg.sender);
        if (submissionOf[msg.sender] != 0) revert AlreadySubmitted(msg.sender);
        (bytes32 entryHash, uint256 pc, uint256 op) = ChallengeModels.scanEntry(model, data);
        if (pc != ChallengeModels.CLEAN) revert ChallengeModels.ModelNotSelfContained(model, pc, op); // guard: self-contained
        bytes32 computed = keccak256(abi.encode(msg.sender, entryHash, salt));
        if (computed != committed) revert EntryMismatch(committed, computed); // guard: entry-commitment
        if (_entrySeen[entryHash] != 0) revert DuplicateModel(model, _entrySeen[entryHash] - 1);
        (bool ok, uint256 size, bytes32 word) =
            ChallengeModels.call32(model, abi.encodeCall(IML2SCModel.inputScale, ()), VIEW_GAS);
        if (!ok || size != 32 || uint256(word) != inputScale) revert WrongInputScale(inputScale, uint256(word));
        (ok, size, word) = ChallengeModels.call32(model, abi.encodeCall(IML2SCModel.modelHash, ()), VIEW_GAS);
        if (!ok || size != 32) revert ModelHashUnavailable(model);

        index = _submissions.length;
        _submissions.push(Submission(msg.sender, 0, 0, false, model, word, entryHash));
        if (data.length != 0) _dataOf[index] = data;
        submissionOf[msg.sender] = index + 1;
        _entrySeen[entryHash] = index + 1;
        emit Submitted(index, msg.sender, model, word, entryHash);
    }

    /// @notice What revealEntry computes and checks of an entry, without a transaction: its
    /// entryHash (what a commitment hides), or the named error that would refuse it.
    function checkEntry(address model, address[] calldata data) external view returns (bytes32 entryHash) {
        uint256 pc;
        uint256 op;
        (entryHash, pc, op) = ChallengeModels.scanEntry(model, data);
        if (pc != ChallengeModels.CLEAN) revert ChallengeModels.ModelNotSelfContained(model, pc, op);
    }

    // ------------------------------------------------------------------ reveal

    /// @notice Reveal the whole test set (or its last part) and the salt; checked against the
    /// commitment: keccak256(abi.encode(salt, h)) where h_0 = 0 and h_i = keccak256(h_{i-1} ++ row_i).
    function reveal(bytes32 salt, bytes calldata rows) external {
        _revealRows(rows, true);
        bytes32 computed = keccak256(abi.encode(salt, rowHash));
        if (computed != commitment) revert RevealMismatch(commitment, computed); // guard: reveal-mismatch
        revealed = true;
        emit Revealed(salt, rowHash);
    }

    /// @notice Reveal a leading part of a test set too large for one transaction: a multiple of
    /// rowsPerChunk rows. Only `reveal` (with the last rows) checks the commitment.
    function revealRows(bytes calldata rows) external {
        _revealRows(rows, false);
    }

    function _revealRows(bytes calldata rows, bool last) private {
        if (msg.sender != organiser) revert NotOrganiser(msg.sender);
        if (block.timestamp <= entryRevealDeadline) revert RevealNotOpen(entryRevealDeadline, block.timestamp);
        if (block.timestamp > revealDeadline) revert RevealClosed(revealDeadline, block.timestamp);
        if (revealed) revert AlreadyRevealed();
        uint256 k = rows.length / rowBytes;
        if (k == 0 || k * rowBytes != rows.length) revert BadRowData(rows.length, rowBytes);
        uint256 total = rowsRevealed + k;
        if (total > nRows) revert TooManyRows(total, nRows);
        if (last && total != nRows) revert RowsMissing(total, nRows);
        if (!last && k % rowsPerChunk != 0) revert PartNotAligned(k, rowsPerChunk);

        rowHash = _hashRows(rows, k, rowHash, rowsRevealed);
        rowsRevealed = total;
        for (uint256 i = 0; i < k; i += rowsPerChunk) {
            uint256 end = i + rowsPerChunk < k ? i + rowsPerChunk : k;
            chunks.push(_storeChunk(rows[i * rowBytes:end * rowBytes]));
        }
        emit RowsRevealed(k, total);
    }

    /// @dev Extends the rolling hash over `k` rows and checks every label lies in [0, nClasses):
    /// an impossible label would let the organiser fail every model and keep the reward.
    function _hashRows(bytes calldata rows, uint256 k, bytes32 h, uint256 first) private view returns (bytes32) {
        uint256 rb = rowBytes;
        uint256 shift = 256 - 8 * laneBytes;
        uint256 signByte = laneBytes - 1;
        uint256 classes = nClasses;
        uint256 badRow = type(uint256).max;
        int256 badLabel;
        assembly ("memory-safe") {
            let buf := mload(0x40)
            for { let i := 0 } lt(i, k) { i := add(i, 1) } {
                let src := add(rows.offset, mul(i, rb))
                mstore(buf, h)
                calldatacopy(add(buf, 32), src, rb)
                h := keccak256(buf, add(32, rb))
                let label := signextend(signByte, shr(shift, calldataload(src)))
                if iszero(lt(label, classes)) { // guard: label-range (unsigned: negative labels are huge)
                    badRow := add(first, i)
                    badLabel := label
                    break
                }
            }
        }
        if (badRow != type(uint256).max) revert LabelOutOfRange(badRow, badLabel);
        return h;
    }

    /// @dev SSTORE2: a contract whose code is a STOP byte followed by `data`.
    function _storeChunk(bytes calldata data) private returns (address pointer) {
        // PUSH2 len, DUP1, PUSH1 0x0a, RETURNDATASIZE, CODECOPY, RETURNDATASIZE, RETURN | STOP, data
        bytes memory init = abi.encodePacked(hex"61", uint16(data.length + 1), hex"80600a3d393df300", data);
        assembly ("memory-safe") {
            pointer := create(0, add(init, 32), mload(init))
        }
        if (pointer == address(0)) revert ChunkDeployFailed();
    }

    // ------------------------------------------------------------------ evaluation

    /// @notice Score up to `maxRows` (model, row) pairs, models one after the other, resuming where
    /// the last call stopped; stops early when the gas left cannot give a model its whole cap.
    /// Anyone may call it. Returns the number of pairs scored.
    function evaluate(uint256 maxRows) external returns (uint256 done) {
        if (!revealed) revert NotRevealed(); // guard: evaluate-before-reveal
        if (block.timestamp > evaluationDeadline) revert EvaluationClosed(evaluationDeadline, block.timestamp);
        if (maxRows == 0) revert ZeroRows();
        Progress memory p = progress;
        uint256 n = _submissions.length;
        if (p.sub >= n) revert EvaluationComplete();

        bytes memory row = new bytes(rowBytes + 32); // + room for reading the last lane as a word
        bytes memory cdata = abi.encodeCall(IML2SCModel.classify, (new int256[](nInputs)));
        uint256 cap = modelGasCap;
        address model = _submissions[p.sub].model;
        while (done < maxRows && p.sub < n) {
            if (!ChallengeModels.canAfford(cap + FINISH_RESERVE)) break;
            int256 label = _loadRow(p.row, row, cdata);
            (bool ok, uint256 size, bytes32 word) = ChallengeModels.call32(model, cdata, cap);
            if (ok && size == 32 && _isClass(word)) { // guard: call-result
                if (int256(uint256(word)) == label) ++p.correct;
            } else {
                ++p.invalid;
            }
            ++done;
            if (++p.row == nRows) {
                _finishSubmission(p);
                if (p.sub < n) model = _submissions[p.sub].model;
            }
        }
        if (done == 0) revert ChallengeModels.InsufficientGasForModel(cap + cap / 63 + FINISH_RESERVE, gasleft());
        progress = p;
        emit Evaluated(done, p.sub, p.row);
    }

    function _isClass(bytes32 word) private view returns (bool) {
        return uint256(word) < nClasses; // guard: output-range
    }

    /// @dev Records the finished submission's score and whether it is the new best.
    function _finishSubmission(Progress memory p) private {
        Submission storage s = _submissions[p.sub];
        (s.correct, s.invalid, s.evaluated) = (p.correct, p.invalid, true);
        emit Scored(p.sub, p.correct, p.invalid);
        if (p.correct >= minCorrect && (p.best == 0 || p.correct > p.bestCorrect)) {
            (p.best, p.bestCorrect) = (p.sub + 1, p.correct);
        }
        (p.sub, p.row, p.correct, p.invalid) = (p.sub + 1, 0, 0, 0);
    }

    /// @dev Copies row `r` from its data contract and writes its inputs, sign-extended to int256,
    /// into the classify calldata; returns the row's label.
    function _loadRow(uint256 r, bytes memory row, bytes memory cdata) private view returns (int256 label) {
        address chunk = chunks[r / rowsPerChunk];
        uint256 offset = 1 + (r % rowsPerChunk) * rowBytes;
        uint256 lane = laneBytes;
        uint256 n = nInputs;
        uint256 rb = rowBytes;
        assembly ("memory-safe") {
            let src := add(row, 32)
            extcodecopy(chunk, src, offset, rb)
            let shift := sub(256, shl(3, lane))
            let signByte := sub(lane, 1)
            label := signextend(signByte, shr(shift, mload(src)))
            let dst := add(cdata, 100) // length word, selector, head offset, array length
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                src := add(src, lane)
                mstore(add(dst, shl(5, i)), signextend(signByte, shr(shift, mload(src))))
            }
        }
    }

    // ------------------------------------------------------------------ outcome and payouts

    function isFinal() public view returns (bool) {
        if (!revealed) return block.timestamp > revealDeadline;
        return progress.sub >= _submissions.length || block.timestamp > evaluationDeadline;
    }

    function phase() external view returns (Phase) {
        if (isFinal()) return Phase.Final;
        if (revealed) return Phase.Evaluation;
        if (block.timestamp > entryRevealDeadline) return Phase.Reveal;
        return block.timestamp > submissionDeadline ? Phase.EntryReveal : Phase.Submission;
    }

    /// @notice The winning submission's index + 1 (0: none, or not decided yet).
    function winner() public view returns (uint256) {
        return revealed ? progress.best : 0;
    }

    function submissionCount() external view returns (uint256) {
        return _submissions.length;
    }

    function submission(uint256 index) external view returns (Submission memory) {
        return _submissions[index];
    }

    /// @notice The data contracts entry `index` reads (pinned at its reveal: pure data never changes).
    function dataContracts(uint256 index) external view returns (address[] memory) {
        return _dataOf[index];
    }

    /// @notice Bonds of commitments never validly revealed (known once the entry reveal closed).
    function forfeitedBonds() public view returns (uint256) {
        if (block.timestamp <= entryRevealDeadline) return 0;
        return (commitCount - _submissions.length) * entryBond;
    }

    /// @notice What `account` may still claim (0 before the challenge is final).
    function claimable(address account) external view returns (uint256) {
        return claimed[account] ? 0 : owed(account);
    }

    /// @notice Everything the rules give `account` once the challenge is final, claimed or not.
    function owed(address account) public view returns (uint256) {
        if (!isFinal()) return 0;
        uint256 amount = submissionOf[account] != 0 ? entryBond : 0; // guard: bond-refund
        if (!revealed) return amount + _forfeitShare(account); // guard: forfeit
        uint256 w = progress.best;
        if (account == organiser) amount += w == 0 ? stake + reward : stake;
        if (w != 0 && _submissions[w - 1].submitter == account) amount += reward + forfeitedBonds();
        return amount;
    }

    /// @dev Never revealed: reward, stake and forfeited bonds go to the revealed entries in equal
    /// shares (the first also gets the indivisible remainder); reward and stake back to the
    /// organiser if there is none (the forfeited bonds then stay here).
    function _forfeitShare(address account) private view returns (uint256) {
        uint256 n = _submissions.length;
        uint256 pot = reward + stake;
        if (n == 0) return account == organiser ? pot : 0;
        pot += forfeitedBonds();
        uint256 index = submissionOf[account];
        if (index == 0) return 0;
        return pot / n + (index == 1 ? pot % n : 0);
    }

    /// @notice Pull payment of everything msg.sender is owed, to msg.sender.
    function claim() external returns (uint256) {
        return _claim(payable(msg.sender));
    }

    /// @notice Pull payment of everything msg.sender is owed, to `to` (for accounts that cannot receive ETH).
    function claimTo(address payable to) external returns (uint256) {
        return _claim(to);
    }

    function _claim(address payable to) private nonReentrant returns (uint256 amount) {
        if (!isFinal()) revert NotFinal();
        if (claimed[msg.sender]) revert AlreadyClaimed(msg.sender); // guard: double-claim
        amount = owed(msg.sender);
        if (amount == 0) revert NothingToClaim(msg.sender);
        claimed[msg.sender] = true; // effects before the interaction
        emit Claimed(msg.sender, to, amount);
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert PayoutFailed(to, amount);
    }
}
