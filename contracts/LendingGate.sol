// SPDX-License-Identifier: MIT
pragma solidity 0.8.19;

import "./PredictionRegistry.sol";

/// @title LendingGate
/// @notice An example consumer: an account may borrow only if the registry holds a verified
///         threshold proof (a predicate proof of `modelId`) for an input commitment that a data
///         provider, still in its role, attested to that account; the proven threshold is at
///         least `bound` (direction AT_LEAST: the model proves `OUT[output] >= T` or `> T`) or
///         at most `bound` (AT_MOST: `OUT[output] <= T` or `< T`); and the proof is no older
///         than `maxAge` seconds. The score itself is never revealed: the proof states only
///         which side of the threshold it is on.
/// @dev The deployer states which output, which direction and which scale it relies on; the constructor
///      checks them against the predicate the registry recorded from the model's verifier, so
///      a model proving another output, the other direction, or an argmax is refused.
contract LendingGate {
    /// @notice The score must be at least the bound (`OUT[i] >= T` or `> T`, T >= bound).
    uint8 public constant AT_LEAST = 1;
    /// @notice The score must be at most the bound (`OUT[i] <= T` or `< T`, T <= bound).
    uint8 public constant AT_MOST = 2;

    PredictionRegistry public immutable registry;
    bytes32 public immutable modelId;
    /// @notice The flattened model output the predicate must read.
    uint32 public immutable output;
    /// @notice AT_LEAST or AT_MOST.
    uint8 public immutable direction;
    /// @notice Index into `Prediction.values` of the proven threshold.
    uint256 public immutable thresholdValue;
    /// @notice The bound the proven threshold must respect, at the model's threshold scale.
    int256 public immutable bound;
    /// @notice The bound's fixed-point exponent (a value v means v * 2^-exp): the model's.
    int16 public immutable exp;
    /// @notice Oldest acceptable proof, in seconds.
    uint256 public immutable maxAge;

    /// @notice Amount each account has borrowed (an example ledger, no tokens move).
    mapping(address => uint256) public borrowed;

    event Borrowed(address indexed account, bytes32 indexed commitment, uint256 amount, int256 provenThreshold, uint256 age);

    error BadDirection(uint8 direction);
    error NotAThresholdModel(bytes32 modelId);
    error WrongPredicate(uint8 op, uint32 output, uint8 direction, uint32 expectedOutput);
    error WrongScale(int16 modelExp, int16 boundExp);
    error NotAttestedTo(bytes32 commitment, address attestedTo, address caller);
    error NoVerifiedScore(bytes32 commitment);
    error ScoreTooOld(uint256 age, uint256 maxAge);
    error ThresholdTooLow(int256 proven, int256 required);
    error ThresholdTooHigh(int256 proven, int256 allowed);

    constructor(
        PredictionRegistry registry_,
        bytes32 modelId_,
        uint32 output_,
        uint8 direction_,
        int256 bound_,
        int16 exp_,
        uint256 maxAge_
    ) {
        if (direction_ != AT_LEAST && direction_ != AT_MOST) revert BadDirection(direction_);
        registry = registry_;
        modelId = modelId_;
        output = output_;
        direction = direction_;
        bound = bound_;
        exp = exp_;
        maxAge = maxAge_;
        PredictionRegistry.Model memory m = registry_.model(modelId_);
        _checkPredicate(registry_, m, output_, direction_, exp_);
        thresholdValue = _thresholdValue(registry_, modelId_);
    }

    /// The model must prove `OUT[output] >= T` (or `>`) for AT_LEAST, `<=` (or `<`) for
    /// AT_MOST, with its threshold at the bound's scale.
    function _checkPredicate(
        PredictionRegistry r,
        PredictionRegistry.Model memory m,
        uint32 output_,
        uint8 direction_,
        int16 exp_
    ) internal view {
        uint8 op = m.predicateOp;
        bool atLeast = op == r.PREDICATE_GE() || op == r.PREDICATE_GT();
        bool atMost = op == r.PREDICATE_LE() || op == r.PREDICATE_LT();
        if (!(direction_ == AT_LEAST ? atLeast : atMost) || m.predicateOutput != output_) {
            revert WrongPredicate(op, m.predicateOutput, direction_, output_);
        }
        // A bound written at another scale than the model's threshold would compare apples
        // with oranges: 0.4 at exponent 8 is 102, at exponent 16 it is 26,214.
        if (m.predicateExp != exp_) revert WrongScale(m.predicateExp, exp_);
    }

    /// The threshold is the first predicate parameter: its place among the stored values
    /// (one sample's outputs, then its parameters), from the registry's decoded plan, which
    /// costs the same whatever the batch size.
    function _thresholdValue(PredictionRegistry r, bytes32 modelId_) internal view returns (uint256) {
        PredictionRegistry.Plan memory p = r.plan(modelId_);
        uint32 none = type(uint32).max;
        if (p.paramsEnd == p.paramsStart || p.inputCommitment == none) revert NotAThresholdModel(modelId_);
        return p.outputEnd - p.outputStart;
    }

    /// @notice Reverts with the reason `account` may not borrow against `commitment`; returns
    ///         the proven threshold and the proof's age otherwise.
    function check(address account, bytes32 commitment) public view returns (int256 provenThreshold, uint256 age) {
        address attestedTo = registry.attestedTo(commitment);
        if (attestedTo != account) revert NotAttestedTo(commitment, attestedTo, account);
        if (!registry.hasPredictionFor(modelId, commitment)) revert NoVerifiedScore(commitment);
        PredictionRegistry.Stored memory p;
        (p, age) = registry.latestFor(modelId, commitment);
        if (age > maxAge) revert ScoreTooOld(age, maxAge);
        provenThreshold = p.values[thresholdValue];
        if (direction == AT_LEAST) {
            if (provenThreshold < bound) revert ThresholdTooLow(provenThreshold, bound);
        } else if (provenThreshold > bound) {
            revert ThresholdTooHigh(provenThreshold, bound);
        }
    }

    /// @notice Borrows `amount` against the caller's attested, verified score.
    function borrow(bytes32 commitment, uint256 amount) external {
        (int256 proven, uint256 age) = check(msg.sender, commitment);
        borrowed[msg.sender] += amount;
        emit Borrowed(msg.sender, commitment, amount, proven, age);
    }
}
