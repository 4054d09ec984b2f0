// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IML2SCModel} from "ml2sc/IML2SCModel.sol";
import {ChallengeModels} from "ml2sc/ChallengeModels.sol";

/// @title Inference jobs: staked workers run a pinned model off chain, the chain judges.
/// @notice One deployed contract hosts every job (a job is an id): creating a job is a call, not
/// a deployment of this contract's code, and the rows travel in its calldata (no initcode limit).
/// A poster escrows a reward and publishes rows to classify; their Merkle root is computed here
/// from the calldata, so the rows are available to everyone. Some rows are the poster's hidden
/// verification rows: their positions and answers are committed with a salt, so a worker cannot
/// tell which rows are checked. Staked workers commit keccak256(worker, salt, merkleRoot(outputs))
/// before anyone reveals, then reveal the outputs (calldata; the root is recomputed here). The
/// poster opens the verification set; each worker's outputs on those rows are checked with Merkle
/// proofs against the poster's answers and, where they differ, against the model itself, run on
/// chain: a cheating worker loses its stake, and so does a poster whose answer the model
/// contradicts. Any row on which a revealed output differs from the model can be disputed until
/// the dispute deadline, with the same on-chain run as the judge. Afterwards the job is final:
/// the honest workers split the reward and the forfeited stakes (pull payments), and consumers
/// check a result with a Merkle proof (`isFinalResult`). Models must be self-contained
/// (ChallengeModels), so their answers cannot change mid-job.
contract InferenceJobs {
    error BadParameters();
    error ModelMismatch(bytes32 expected, bytes32 actual);
    error RaggedRows(uint256 row);
    error UnknownJob(uint256 id);
    error WrongPhase(Phase expected, Phase actual);
    error CommitClosed(uint256 deadline, uint256 timestamp);
    error RevealClosed(uint256 deadline, uint256 timestamp);
    error WrongStake(uint256 expected, uint256 got);
    error PosterCannotWork();
    error AlreadyJoined(address worker);
    error JobFull(uint256 maxWorkers);
    error NotJoined(address worker);
    error NotCommitted(address worker);
    error NotRevealed(address worker);
    error OutputCount(uint256 expected, uint256 got);
    error CommitmentMismatch(address worker);
    error NotPoster();
    error VerificationMismatch();
    error BadPositions(uint256 index);
    error CheckCount(uint256 expected, uint256 got);
    error BadOutputProof(address worker, uint256 row);
    error BadRowProof(uint256 row);
    error RowOutOfRange(uint256 row, uint256 rows);
    error ResultHolds(uint256 row);
    error NoSides();
    error NotOver(Phase phase);
    error NotFinal();
    error AlreadyClaimed(address account);
    error NothingToClaim(address account);
    error EscrowShort(uint256 amount, uint256 escrow);
    error PayoutFailed(address to, uint256 amount);
    error Reentrancy();

    event Created(uint256 indexed id, address indexed poster, address model, uint256 rows, bytes32 rowsRoot);
    event Joined(uint256 indexed id, address indexed worker);
    event Committed(uint256 indexed id, address indexed worker, bytes32 commitment);
    event Revealed(uint256 indexed id, address indexed worker, bytes32 root);
    event Opened(uint256 indexed id, uint256[] positions, int256[] answers);
    event Checked(uint256 indexed id, address indexed worker, bool honest);
    event PosterLied(uint256 indexed id, uint256 row, int256 answer, int256 model);
    event Slashed(uint256 indexed id, address indexed worker, uint256 row, int256 output, int256 model);
    event Settled(uint256 indexed id, Phase phase, uint256 honestWorkers, uint256 share, bytes32 resultRoot);
    event Claimed(uint256 indexed id, address indexed account, uint256 amount);

    /// Commit: join and commit. Reveal: workers reveal. Open: the poster opens the verification
    /// set (disputes allowed). Check: checks and disputes. Final: settled by the rules. Cancelled:
    /// fewer than minWorkers committed (everyone refunded). Defaulted: the poster never opened.
    enum Phase { Commit, Reveal, Open, Check, Final, Cancelled, Defaulted }
    enum Status { None, Joined, Committed, Revealed, Verified, Slashed }

    /// What the poster chooses; deadlines are timestamps, in this order.
    struct Terms {
        address model;
        bytes32 modelCodeHash; // the model's EXTCODEHASH: the code the poster's answers came from
        bytes32 verification; // keccak256(abi.encode(salt, positions, answers))
        uint256 workerStake;
        uint256 posterStake;
        uint64 commitDeadline;
        uint64 revealDeadline;
        uint64 openDeadline;
        uint64 disputeDeadline;
        uint32 minWorkers;
        uint32 maxWorkers;
        uint32 modelGasCap;
        uint16 nInputs; // values per row
        uint8 laneBytes; // bytes per value in the packed rows: 8, 16 or 32
    }

    /// A job in eleven slots, eight written at creation (the fields read together share a slot).
    struct Job {
        address poster;
        uint64 commitDeadline;
        uint32 minWorkers;
        address model;
        uint64 revealDeadline;
        uint32 maxWorkers;
        uint64 openDeadline;
        uint64 disputeDeadline;
        uint32 nRows;
        uint32 committedCount;
        uint32 honestCount;
        uint8 depth; // of both Merkle trees: nRows leaves zero-padded to 2**depth
        bool posterLied;
        bool settled;
        Phase settledPhase;
        uint96 workerStake;
        uint96 posterStake;
        uint32 modelGasCap;
        uint16 nInputs;
        uint8 laneBytes;
        uint96 reward;
        uint96 share; // of the pot, per honest worker (on top of its stake back)
        uint96 escrow; // what this job still holds: payouts can never reach other jobs' money
        bytes32 rowsRoot;
        bytes32 verification;
        bytes32 openedDigest; // keccak256(abi.encode(positions, answers)) once opened; 0 before
        bytes32 resultRoot; // the output root most honest workers revealed (Final only)
        address[] workerList;
    }

    /// `digest` is the commitment until the reveal, then the Merkle root of the revealed outputs:
    /// the commitment is never read again, and overwriting a slot costs 2,900 gas, a new one 22,100.
    struct Worker {
        Status status;
        bytes32 digest;
    }

    /// One revealed output and its Merkle proof in that worker's output tree.
    struct Side {
        address worker;
        int256 output;
        bytes32[] proof;
    }

    /// A worker's output on one verification row; `x` and `rowProof` (the packed row and its
    /// proof in the rows tree) are needed only where the model must run: where the output differs
    /// from the poster's answer, or on every row once the poster has been shown to lie.
    struct Check {
        int256 output;
        bytes32[] proof;
        bytes x;
        bytes32[] rowProof;
    }

    /// What a row's output is when the model fails on it (reverts, runs out of gas, returns
    /// anything but one word): honest workers report this value.
    int256 public constant NO_OUTPUT = type(int256).min;
    uint256 public constant MAX_WORKERS = 64;
    uint256 public constant MAX_ROWS = 1 << 20;

    uint256 public jobCount;
    mapping(uint256 id => Job) internal _jobs;
    mapping(uint256 id => mapping(address => Worker)) public workers;
    mapping(uint256 id => mapping(address => bool)) public claimed;
    mapping(bytes32 codeHash => bool) public selfContained; // models scanned once, by code hash
    bool private transient _locked;

    modifier nonReentrant() {
        if (_locked) revert Reentrancy(); // guard: reentrancy
        _locked = true;
        _;
        _locked = false;
    }

    // ------------------------------------------------------------------ poster: create

    /// @notice Create a job; msg.value is the reward plus the poster's stake.
    /// @param rows The rows to classify, job and verification rows shuffled together, in the
    /// model's fixed-point input format, packed: `t.nInputs` values per row, each `t.laneBytes`
    /// bytes of big-endian two's complement (int64 lanes, like the models' packed input, unless a
    /// value needs more). A quarter of the calldata of int256 words, which EIP-7623 prices at up
    /// to 40 gas a byte. They stay in this calldata; only their Merkle root (leaves rowLeaf(i,
    /// row i's bytes)) is stored.
    /// @param data The pure data contracts the model reads (int8 weights), as for a challenge
    /// entry (ChallengeModels.scanEntry: each one pure, each of the model's EXTCODECOPYs proven to
    /// read one of them); empty for a self-contained model. Neither the model's code (its hash is
    /// pinned) nor a pure data contract can change, so a code hash scanned once stays accepted.
    function create(Terms calldata t, address[] calldata data, bytes calldata rows) external payable returns (uint256 id) {
        uint256 rowBytes = uint256(t.nInputs) * t.laneBytes;
        if (rowBytes == 0 || (t.laneBytes != 8 && t.laneBytes != 16 && t.laneBytes != 32)) revert BadParameters();
        if (rows.length % rowBytes != 0) revert RaggedRows(rows.length / rowBytes);
        uint256 n = rows.length / rowBytes;
        if (n == 0 || n > MAX_ROWS || t.workerStake == 0 || msg.value <= t.posterStake) revert BadParameters();
        if (t.minWorkers == 0 || t.minWorkers > t.maxWorkers || t.maxWorkers > MAX_WORKERS) revert BadParameters();
        if (t.modelGasCap < 10_000 || t.modelGasCap > 8_000_000) revert BadParameters();
        if (msg.value >= 1 << 95 || t.workerStake >= 1 << 88) revert BadParameters(); // escrow fits uint96
        if (!(block.timestamp < t.commitDeadline && t.commitDeadline < t.revealDeadline
                && t.revealDeadline < t.openDeadline && t.openDeadline < t.disputeDeadline)) revert BadParameters();
        if (t.model.codehash != t.modelCodeHash) revert ModelMismatch(t.modelCodeHash, t.model.codehash);
        if (!selfContained[t.modelCodeHash]) {
            (, uint256 pc, uint256 op) = ChallengeModels.scanEntry(t.model, data);
            if (pc != ChallengeModels.CLEAN) revert ChallengeModels.ModelNotSelfContained(t.model, pc, op);
            selfContained[t.modelCodeHash] = true;
        }
        uint256 d = 0;
        while ((1 << d) < n) ++d;
        bytes32[] memory level = new bytes32[](1 << d);
        for (uint256 i = 0; i < n; ++i) {
            level[i] = rowLeaf(i, rows[i * rowBytes:(i + 1) * rowBytes]);
        }
        id = jobCount++;
        Job storage j = _jobs[id];
        (j.poster, j.commitDeadline, j.minWorkers) = (msg.sender, t.commitDeadline, t.minWorkers);
        (j.model, j.revealDeadline, j.maxWorkers) = (t.model, t.revealDeadline, t.maxWorkers);
        (j.openDeadline, j.disputeDeadline, j.nRows, j.depth) = (t.openDeadline, t.disputeDeadline, uint32(n), uint8(d));
        (j.workerStake, j.posterStake, j.modelGasCap) = (uint96(t.workerStake), uint96(t.posterStake), t.modelGasCap);
        (j.nInputs, j.laneBytes) = (t.nInputs, t.laneBytes);
        (j.reward, j.escrow) = (uint96(msg.value - t.posterStake), uint96(msg.value));
        (j.rowsRoot, j.verification) = (_root(level), t.verification);
        emit Created(id, msg.sender, t.model, n, j.rowsRoot);
    }

    // ------------------------------------------------------------------ workers: join, commit, reveal

    /// @notice Stake `workerStake` to work on job `id` (before its commit deadline).
    function join(uint256 id) external payable {
        Job storage j = _job(id);
        _join(id, j, workers[id][msg.sender]);
    }

    /// @notice Commit to the outputs: `commitment = commitmentOf(msg.sender, salt, root)`. Nobody
    /// reveals before the commit deadline, so nobody can copy outputs; the worker's address in the
    /// commitment stops a copy of someone else's commitment from opening. A worker that has not
    /// joined joins here, paying its stake with this call (one transaction instead of two).
    function commit(uint256 id, bytes32 commitment) external payable {
        Job storage j = _job(id);
        if (block.timestamp > j.commitDeadline) revert CommitClosed(j.commitDeadline, block.timestamp); // guard: commit-deadline
        Worker storage w = workers[id][msg.sender];
        if (w.status == Status.None) _join(id, j, w);
        else if (msg.value != 0) revert WrongStake(0, msg.value);
        if (w.status != Status.Joined) revert NotJoined(msg.sender);
        w.status = Status.Committed;
        w.digest = commitment;
        ++j.committedCount;
        emit Committed(id, msg.sender, commitment);
    }

    function _join(uint256 id, Job storage j, Worker storage w) private {
        if (block.timestamp > j.commitDeadline) revert CommitClosed(j.commitDeadline, block.timestamp);
        if (msg.value != j.workerStake) revert WrongStake(j.workerStake, msg.value);
        if (msg.sender == j.poster) revert PosterCannotWork();
        if (w.status != Status.None) revert AlreadyJoined(msg.sender);
        if (j.workerList.length >= j.maxWorkers) revert JobFull(j.maxWorkers);
        w.status = Status.Joined;
        j.workerList.push(msg.sender);
        j.escrow += uint96(msg.value);
        emit Joined(id, msg.sender);
    }

    /// @notice Reveal every row's output (in row order); the Merkle root is computed here and
    /// must open the commitment. The outputs stay in this calldata for everyone to check.
    function reveal(uint256 id, bytes32 salt, int256[] calldata outputs) external {
        Job storage j = _job(id);
        if (block.timestamp <= j.commitDeadline) revert WrongPhase(Phase.Reveal, Phase.Commit);
        if (j.committedCount < j.minWorkers) revert WrongPhase(Phase.Reveal, Phase.Cancelled);
        if (block.timestamp > j.revealDeadline) revert RevealClosed(j.revealDeadline, block.timestamp); // guard: reveal-deadline
        Worker storage w = workers[id][msg.sender];
        if (w.status != Status.Committed) revert NotCommitted(msg.sender);
        if (outputs.length != j.nRows) revert OutputCount(j.nRows, outputs.length);
        bytes32 root = outputsRoot(outputs, j.depth);
        if (commitmentOf(msg.sender, salt, root) != w.digest) revert CommitmentMismatch(msg.sender); // guard: reveal-commitment
        w.status = Status.Revealed;
        w.digest = root;
        emit Revealed(id, msg.sender, root);
    }

    // ------------------------------------------------------------------ poster: open the verification set

    /// @notice The poster opens the verification set: strictly increasing row positions and the
    /// model's answer for each, as committed at creation.
    function open(uint256 id, bytes32 salt, uint256[] calldata positions, int256[] calldata answers) external {
        Job storage j = _job(id);
        if (msg.sender != j.poster) revert NotPoster();
        _expect(j, Phase.Open);
        if (keccak256(abi.encode(salt, positions, answers)) != j.verification) revert VerificationMismatch(); // guard: verification-commitment
        if (positions.length == 0 || positions.length != answers.length) revert BadPositions(0);
        for (uint256 k = 0; k < positions.length; ++k) {
            if (positions[k] >= j.nRows || (k > 0 && positions[k] <= positions[k - 1])) revert BadPositions(k);
        }
        j.openedDigest = keccak256(abi.encode(positions, answers));
        emit Opened(id, positions, answers);
    }

    /// @notice Check `worker`'s outputs on the verification rows (anyone may call; a worker that
    /// is never checked is not paid). The opened set is passed again (its digest is stored, not
    /// the set). Where an output differs from the poster's answer the model decides: the worker
    /// is slashed if the model disagrees with it, the poster marked a liar if the model disagrees
    /// with the poster. Once a check has shown that the poster lied its answers prove nothing, and
    /// the model judges every verification row of the later checks (a worker that shared the lie
    /// would otherwise pass).
    function check(
        uint256 id,
        address worker,
        uint256[] calldata positions,
        int256[] calldata answers,
        Check[] calldata checks
    ) external {
        Job storage j = _job(id);
        _expect(j, Phase.Check);
        if (keccak256(abi.encode(positions, answers)) != j.openedDigest) revert VerificationMismatch();
        Worker storage w = workers[id][worker];
        if (w.status != Status.Revealed) revert NotRevealed(worker);
        if (checks.length != positions.length) revert CheckCount(positions.length, checks.length);
        bool lied = j.posterLied; // as known before this check: the caller sent rows accordingly
        bool honest = true;
        for (uint256 k = 0; k < checks.length; ++k) {
            (bool right, int256 truth) = _checkRow(id, worker, positions[k], answers[k], checks[k], lied);
            if (!right && honest) {
                honest = false;
                emit Slashed(id, worker, positions[k], checks[k].output, truth);
            }
        }
        w.status = honest ? Status.Verified : Status.Slashed;
        emit Checked(id, worker, honest);
    }

    /// @dev One verification row of a check: whether the worker's (proven) output is right, and
    /// what the model says where it was run.
    function _checkRow(uint256 id, address worker, uint256 row, int256 answer, Check calldata c, bool lied)
        private
        returns (bool right, int256 truth)
    {
        Job storage j = _jobs[id];
        _requireOutput(j, workers[id][worker].digest, worker, row, c.output, c.proof);
        if (c.output == answer && !lied) return (true, answer); // guard: after-lie (then the model judges every row)
        truth = _truth(j, row, c.x, c.rowProof);
        if (truth != answer && !j.posterLied) { // guard: poster-answer
            j.posterLied = true;
            emit PosterLied(id, row, answer, truth);
        }
        right = !(truth != c.output); // guard: check-output
    }

    /// @notice Dispute row `row`: the model runs on it (the row proven against `rowsRoot`) and
    /// every side whose revealed output (proven against its root) differs is slashed. Two workers
    /// that disagree make one side wrong; a dispute that finds nobody wrong reverts (ResultHolds).
    function dispute(uint256 id, uint256 row, bytes calldata x, bytes32[] calldata rowProof, Side[] calldata sides)
        external
    {
        Job storage j = _job(id);
        Phase p = _phase(j);
        if (p != Phase.Open && p != Phase.Check) revert WrongPhase(Phase.Check, p);
        if (sides.length == 0) revert NoSides();
        int256 truth = _truth(j, row, x, rowProof);
        bool anyWrong = false;
        for (uint256 i = 0; i < sides.length; ++i) {
            if (_judge(id, j, row, truth, sides[i])) anyWrong = true;
        }
        if (!anyWrong) revert ResultHolds(row);
    }

    /// @dev Slash side `s` of a dispute of `row` if its proven output is not the model's `truth`.
    function _judge(uint256 id, Job storage j, uint256 row, int256 truth, Side calldata s) private returns (bool wrong) {
        Worker storage w = workers[id][s.worker];
        if (w.status != Status.Revealed && w.status != Status.Verified) revert NotRevealed(s.worker);
        _requireOutput(j, w.digest, s.worker, row, s.output, s.proof);
        if (s.output != truth) { // guard: dispute-judgment
            w.status = Status.Slashed;
            wrong = true;
            emit Slashed(id, s.worker, row, s.output, truth);
        }
    }

    // ------------------------------------------------------------------ settlement and pull payments

    /// @notice Once job `id` is over (Final, Cancelled or Defaulted), fix who is owed what. Anyone
    /// may call it; `claim` calls it too.
    function settle(uint256 id) public {
        Job storage j = _job(id);
        if (j.settled) return;
        Phase p = _phase(j);
        if (p != Phase.Final && p != Phase.Cancelled && p != Phase.Defaulted) revert NotOver(p);
        uint256 n = j.workerList.length;
        uint256 honest = 0;
        for (uint256 i = 0; i < n; ++i) {
            if (_honest(workers[id][j.workerList[i]].status, p)) ++honest;
        }
        (j.settled, j.settledPhase, j.honestCount) = (true, p, uint32(honest));
        if (honest > 0 && p != Phase.Cancelled) {
            j.share = uint96(_pot(j, p, n - honest) / honest);
            if (p == Phase.Final) j.resultRoot = _majorityRoot(id, j);
        }
        emit Settled(id, p, honest, j.share, j.resultRoot);
    }

    /// @notice What the rules give `account` in job `id` once settled (claimed or not): an honest
    /// worker its stake and a share of the pot; the poster its stake unless it lied or defaulted,
    /// and what no honest worker takes (everything if there is none, the division's dust if not).
    function claimable(uint256 id, address account) public view returns (uint256) {
        Job storage j = _job(id);
        if (!j.settled) return 0;
        Phase p = j.settledPhase;
        uint256 n = j.workerList.length;
        if (account == j.poster) {
            if (p == Phase.Cancelled) return j.reward + j.posterStake;
            uint256 own = p == Phase.Defaulted || j.posterLied ? 0 : j.posterStake;
            if (j.honestCount == 0) return _pot(j, p, n) + own;
            return _pot(j, p, n - j.honestCount) - uint256(j.share) * j.honestCount + own;
        }
        Status s = workers[id][account].status;
        if (s == Status.None) return 0;
        if (p == Phase.Cancelled) return j.workerStake;
        if (!_honest(s, p)) return 0; // guard: forfeit
        return uint256(j.workerStake) + j.share;
    }

    /// @notice Pull msg.sender's payout from job `id` (settling it first if nobody has).
    function claim(uint256 id) external nonReentrant returns (uint256 amount) {
        settle(id);
        if (claimed[id][msg.sender]) revert AlreadyClaimed(msg.sender); // guard: double-claim
        amount = claimable(id, msg.sender);
        if (amount == 0) revert NothingToClaim(msg.sender);
        Job storage j = _jobs[id];
        if (amount > j.escrow) revert EscrowShort(amount, j.escrow);
        claimed[id][msg.sender] = true;
        j.escrow -= uint96(amount);
        emit Claimed(id, msg.sender, amount);
        (bool ok,) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert PayoutFailed(msg.sender, amount);
    }

    // ------------------------------------------------------------------ reading a job

    /// @notice Where job `id` stands now (Final, Cancelled and Defaulted are decided by the clock).
    function phase(uint256 id) external view returns (Phase) {
        return _phase(_job(id));
    }

    function job(uint256 id)
        external
        view
        returns (Terms memory terms, uint256 nRows, uint256 reward, bytes32 rowsRoot, uint256 committedCount)
    {
        Job storage j = _job(id);
        terms = Terms(j.model, j.model.codehash, j.verification, j.workerStake, j.posterStake, j.commitDeadline,
            j.revealDeadline, j.openDeadline, j.disputeDeadline, j.minWorkers, j.maxWorkers, j.modelGasCap, j.nInputs,
            j.laneBytes);
        (nRows, reward, rowsRoot, committedCount) = (j.nRows, j.reward, j.rowsRoot, j.committedCount);
    }

    function outcome(uint256 id)
        external
        view
        returns (address poster, bool opened, bool posterLied, bool settled, uint256 honestCount, uint256 share,
            bytes32 resultRoot, uint256 escrow)
    {
        Job storage j = _job(id);
        return (j.poster, j.openedDigest != bytes32(0), j.posterLied, j.settled, j.honestCount, j.share,
            j.resultRoot, j.escrow);
    }

    function workerList(uint256 id) external view returns (address[] memory) {
        return _job(id).workerList;
    }

    /// @notice For consumers: whether `output` is job `id`'s final result for `row` (a Merkle
    /// proof in the output tree most honest workers revealed). Reverts unless settled as Final.
    function isFinalResult(uint256 id, uint256 row, int256 output, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        Job storage j = _job(id);
        if (!j.settled || j.settledPhase != Phase.Final || j.resultRoot == bytes32(0)) revert NotFinal();
        if (row >= j.nRows) revert RowOutOfRange(row, j.nRows);
        return _verify(j.resultRoot, j.depth, row, outputLeaf(row, output), proof);
    }

    /// @notice The commitment a worker makes: binding its address stops a copied commitment.
    function commitmentOf(address worker, bytes32 salt, bytes32 root) public pure returns (bytes32) {
        return keccak256(abi.encode(worker, salt, root)); // guard: bind-worker
    }

    /// @notice Leaf of an output tree: the row index and the output, so a proof opens one row only.
    function outputLeaf(uint256 row, int256 output) public pure returns (bytes32 leaf) {
        assembly ("memory-safe") {
            mstore(0, row)
            mstore(32, output)
            leaf := keccak256(0, 64)
        }
    }

    /// @notice Leaf of the rows tree: keccak256(abi.encodePacked(row index, the row's packed
    /// bytes)). Hashed in scratch memory past the free memory pointer, which is not moved: with
    /// abi.encodePacked every row hashed in `create` would stay allocated, and memory cost grows
    /// quadratically with the rows.
    function rowLeaf(uint256 row, bytes calldata x) public pure returns (bytes32 leaf) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, row)
            calldatacopy(add(ptr, 32), x.offset, x.length)
            leaf := keccak256(ptr, add(x.length, 32))
        }
    }

    /// @notice The Merkle root of `outputs` in a tree of depth `depth` (leaves outputLeaf(i,
    /// outputs[i]), zero-padded to 2**depth, parents keccak256(left ++ right)).
    function outputsRoot(int256[] calldata outputs, uint256 depth) public pure returns (bytes32) {
        if (outputs.length > 1 << depth) revert BadParameters();
        bytes32[] memory level = new bytes32[](1 << depth);
        for (uint256 i = 0; i < outputs.length; ++i) {
            level[i] = outputLeaf(i, outputs[i]);
        }
        return _root(level);
    }

    // ------------------------------------------------------------------ internals

    function _job(uint256 id) private view returns (Job storage j) {
        if (id >= jobCount) revert UnknownJob(id);
        j = _jobs[id];
    }

    function _phase(Job storage j) private view returns (Phase) {
        if (block.timestamp <= j.commitDeadline) return Phase.Commit;
        if (j.committedCount < j.minWorkers) return Phase.Cancelled;
        if (block.timestamp <= j.revealDeadline) return Phase.Reveal;
        if (j.openedDigest == bytes32(0)) return block.timestamp <= j.openDeadline ? Phase.Open : Phase.Defaulted;
        return block.timestamp <= j.disputeDeadline ? Phase.Check : Phase.Final;
    }

    function _expect(Job storage j, Phase expected) private view {
        Phase p = _phase(j);
        if (p != expected) revert WrongPhase(expected, p);
    }

    /// @dev Worker status that earns a share: Verified once the verification set is opened; if the
    /// poster defaulted, any worker that revealed and was not slashed in a dispute.
    function _honest(Status s, Phase p) private pure returns (bool) {
        return s == Status.Verified || (p == Phase.Defaulted && s == Status.Revealed);
    }

    /// @dev What the honest workers split: the reward, the stakes of `dishonest` workers, and the
    /// poster's stake if it lied or never opened the verification set.
    function _pot(Job storage j, Phase p, uint256 dishonest) private view returns (uint256) {
        return uint256(j.reward) + dishonest * j.workerStake + (j.posterLied || p == Phase.Defaulted ? j.posterStake : 0);
    }

    /// @dev The root revealed by the most honest workers (the earliest on a tie): when workers
    /// disagree on a row and nobody disputed it, the majority's answer is final.
    function _majorityRoot(uint256 id, Job storage j) private view returns (bytes32 best) {
        address[] storage list = j.workerList;
        uint256 n = list.length;
        bytes32[] memory roots = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            Worker storage w = workers[id][list[i]];
            if (w.status == Status.Verified) roots[i] = w.digest;
        }
        uint256 bestVotes = 0;
        for (uint256 i = 0; i < n; ++i) {
            if (roots[i] == bytes32(0)) continue;
            uint256 votes = 0;
            for (uint256 k = 0; k < n; ++k) {
                if (roots[k] == roots[i]) ++votes;
            }
            if (votes > bestVotes) (best, bestVotes) = (roots[i], votes);
        }
    }

    function _requireOutput(Job storage j, bytes32 root, address worker, uint256 row, int256 output, bytes32[] calldata proof)
        private
        view
    {
        if (row >= j.nRows) revert RowOutOfRange(row, j.nRows);
        if (!_verify(root, j.depth, row, outputLeaf(row, output), proof)) revert BadOutputProof(worker, row); // guard: output-proof
    }

    /// @dev The model's output on row `row`, whose packed inputs `x` are proven against rowsRoot
    /// (widened here to the int256[] `classify` takes); a model failure is NO_OUTPUT.
    function _truth(Job storage j, uint256 row, bytes calldata x, bytes32[] calldata rowProof)
        private
        view
        returns (int256)
    {
        if (row >= j.nRows) revert RowOutOfRange(row, j.nRows);
        if (!_verify(j.rowsRoot, j.depth, row, rowLeaf(row, x), rowProof)) revert BadRowProof(row); // guard: row-proof
        (bool ok, uint256 size, bytes32 word) =
            ChallengeModels.call32(j.model, abi.encodeCall(IML2SCModel.classify, (_widen(x, j.laneBytes))), j.modelGasCap);
        return ok && size == 32 ? int256(uint256(word)) : NO_OUTPUT;
    }

    /// @dev Packed big-endian two's-complement lanes of `lane` bytes to int256 values. A proven
    /// row has exactly nInputs * lane bytes, so every lane is whole.
    function _widen(bytes calldata x, uint256 lane) private pure returns (int256[] memory v) {
        uint256 n = x.length / lane;
        v = new int256[](n);
        uint256 shift = 256 - 8 * lane;
        for (uint256 k = 0; k < n; ++k) {
            int256 value;
            assembly ("memory-safe") {
                value := sar(shift, calldataload(add(x.offset, mul(k, lane))))
            }
            v[k] = value;
        }
    }

    /// @dev A proof of exactly `depth` siblings; the row index picks left or right at each level,
    /// so a proof for one row cannot open another, nor an inner node pass for a leaf.
    function _verify(bytes32 root, uint256 depth, uint256 index, bytes32 leaf, bytes32[] calldata proof)
        private
        pure
        returns (bool)
    {
        if (proof.length != depth) return false;
        bytes32 h = leaf;
        for (uint256 i = 0; i < depth; ++i) {
            h = (index >> i) & 1 == 0 ? _hashPair(h, proof[i]) : _hashPair(proof[i], h);
        }
        return h == root;
    }

    function _root(bytes32[] memory level) private pure returns (bytes32) {
        for (uint256 n = level.length; n > 1; n >>= 1) {
            for (uint256 i = 0; i < n >> 1; ++i) {
                level[i] = _hashPair(level[2 * i], level[2 * i + 1]);
            }
        }
        return level[0];
    }

    function _hashPair(bytes32 a, bytes32 b) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            mstore(0, a)
            mstore(32, b)
            h := keccak256(0, 64)
        }
    }
}
