// SPDX-License-Identifier: MIT
pragma solidity 0.8.19;

import "./PredictionRegistry.sol";

/// @title LendingGate
/// @notice An example consumer: an account may borrow only if the registry holds a verified
///         "score >= threshold" proof (a predicate proof of `modelId`) for an input commitment
///         a data provider attested to that account, proven with a threshold at least
///         `minThreshold`, and no older than `maxAge` seconds. The score itself is never
///         revealed: the proof states only that it clears the threshold.
/// @dev The model must prove `OUT[I] >= T` (or `>`) with `T` a public predicate parameter;
///      whoever deploys the gate checks the model's registration (its URI describes the
///      predicate) before pointing the gate at it.
contract LendingGate {
    PredictionRegistry public immutable registry;
    bytes32 public immutable modelId;
    /// @notice Index into `Prediction.values` of the proven threshold.
    uint256 public immutable thresholdValue;
    /// @notice Least threshold a proof must have cleared, at the model's output scale.
    int256 public immutable minThreshold;
    /// @notice Oldest acceptable proof, in seconds.
    uint256 public immutable maxAge;

    /// @notice Amount each account has borrowed (an example ledger, no tokens move).
    mapping(address => uint256) public borrowed;

    event Borrowed(address indexed account, bytes32 indexed commitment, uint256 amount, int256 provenThreshold, uint256 age);

    error NotAThresholdModel(bytes32 modelId);
    error NotAttestedTo(bytes32 commitment, address attestedTo, address caller);
    error NoVerifiedScore(bytes32 commitment);
    error ScoreTooOld(uint256 age, uint256 maxAge);
    error ThresholdTooLow(int256 proven, int256 required);

    constructor(PredictionRegistry registry_, bytes32 modelId_, int256 minThreshold_, uint256 maxAge_) {
        registry = registry_;
        modelId = modelId_;
        minThreshold = minThreshold_;
        maxAge = maxAge_;
        // The first predicate parameter is the threshold: find its place among the values.
        PredictionRegistry.Model memory m = registry_.model(modelId_);
        uint256 values;
        bool found;
        bool predicate;
        bool inputCommitment;
        uint256 at;
        for (uint256 i = 0; i < m.kinds.length; ++i) {
            uint8 k = m.kinds[i];
            if (k == registry_.KIND_PREDICATE()) predicate = true;
            if (k == registry_.KIND_INPUT_COMMITMENT()) inputCommitment = true;
            if (k == registry_.KIND_PREDICATE_PARAM() && !found) {
                found = true;
                at = values;
            }
            if (k == registry_.KIND_OUTPUT() || k == registry_.KIND_PREDICATE_PARAM()) ++values;
        }
        if (!predicate || !found || !inputCommitment) revert NotAThresholdModel(modelId_);
        thresholdValue = at;
    }

    /// @notice Reverts with the reason `account` may not borrow against `commitment`; returns
    ///         the proven threshold and the proof's age otherwise.
    function check(address account, bytes32 commitment) public view returns (int256 provenThreshold, uint256 age) {
        (address attestedTo,,) = registry.attestations(commitment);
        if (attestedTo != account) revert NotAttestedTo(commitment, attestedTo, account);
        if (!registry.hasPredictionFor(modelId, commitment)) revert NoVerifiedScore(commitment);
        PredictionRegistry.Prediction memory p;
        (p, age) = registry.latestFor(modelId, commitment);
        if (age > maxAge) revert ScoreTooOld(age, maxAge);
        provenThreshold = p.values[thresholdValue];
        if (provenThreshold < minThreshold) revert ThresholdTooLow(provenThreshold, minThreshold);
    }

    /// @notice Borrows `amount` against the caller's attested, verified score.
    function borrow(bytes32 commitment, uint256 amount) external {
        (int256 proven, uint256 age) = check(msg.sender, commitment);
        borrowed[msg.sender] += amount;
        emit Borrowed(msg.sender, commitment, amount, proven, age);
    }
}
