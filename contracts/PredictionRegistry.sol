// SPDX-License-Identifier: MIT
pragma solidity 0.8.19;

/// @notice The checking wrapper zkinfer generates in front of every halo2 verifier.
interface IZkinferVerifier {
    function NUM_INSTANCES() external view returns (uint256);
    function PROOF_LENGTH() external view returns (uint256);
    /// How the proofs pin the model's weights (the registry's WEIGHTS_* codes).
    function WEIGHTS() external view returns (uint8);
    /// The output predicate the proofs state (the registry's PREDICATE_* codes), the flattened
    /// output index it reads, and the fixed-point exponent of its threshold.
    function PREDICATE_OP() external view returns (uint8);
    function PREDICATE_OUTPUT() external view returns (uint32);
    function PREDICATE_EXP() external view returns (int16);
    /// keccak256(abi.encode(kinds, exps)) of the proofs' instance layout (KIND_* codes and
    /// fixed-point exponents, in instance order).
    function LAYOUT() external view returns (bytes32);
    function verify(uint256[] calldata instances, bytes calldata proof) external view returns (bool);
}

/// @title PredictionRegistry
/// @notice Where verified model predictions live on-chain. The owner registers models (a zkinfer
///         verifier, its code hash, the layout of its public instances, how the weights are
///         pinned, the output predicate); data providers attest whose data an input commitment
///         stands for; anyone submits a proof of one sample or of a batch of samples, which is
///         checked once and stored as one prediction per real sample; contracts read the latest
///         prediction per model and input commitment.
/// @dev Every proof carries a binding instance: keccak256(abi.encode(chainid, registry,
///      submitter, modelId, nonce)) mod r, with the submitter's next per-model nonce. A proof is
///      thus valid for one submitter, on one chain, in one registry, once; replays are detected
///      by statement (model and instances), not by proof bytes.
///
///      Storage is one record per input commitment (or key, see `PredictionStored`), holding
///      only what a contract reads: the proven values (outputs and predicate parameters), the
///      output commitment where the model has one, and the block time. When the values fit
///      (`VALUE_BITS` bits shared among them, each a signed integer) the whole record is one
///      storage slot; otherwise each value takes its own. Everything else about a prediction
///      (submitter, nonce, statement, slot in its batch) is in the `PredictionStored` and
///      `StatementSubmitted` events.
contract PredictionRegistry {
    /// @notice The BN254 scalar field modulus: every instance must be below it.
    uint256 public constant SCALAR_MODULUS =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice Bits of a record's slot shared by its values when they fit (the other 41 hold
    ///         the block time and whether the values are stored apart).
    uint256 public constant VALUE_BITS = 215;

    /// @notice What a public instance is (the build's settings.json `instances[].kind`).
    uint8 public constant KIND_INPUT = 0;
    uint8 public constant KIND_INPUT_COMMITMENT = 1;
    uint8 public constant KIND_PARAM = 2;
    uint8 public constant KIND_PARAM_COMMITMENT = 3;
    uint8 public constant KIND_OUTPUT = 4;
    uint8 public constant KIND_OUTPUT_COMMITMENT = 5;
    uint8 public constant KIND_PREDICATE = 6;
    uint8 public constant KIND_PREDICATE_PARAM = 7;
    uint8 public constant KIND_BINDING = 8;
    /// A batch slot's used bit, for models without a predicate (with one, the predicate's
    /// result is the used bit): 1 for a real sample, 0 for an unused slot.
    uint8 public constant KIND_SLOT = 9;

    /// @notice How a model's proofs pin its weights (the verifier's `WEIGHTS()`).
    /// Fixed: the weights are circuit constants, bound by the verifying key.
    uint8 public constant WEIGHTS_FIXED = 0;
    /// Hashed: one instance is a Poseidon commitment to the weights, pinned at registration.
    uint8 public constant WEIGHTS_HASHED = 1;
    /// Public: the weights are instances; keccak256 of them is pinned at registration.
    uint8 public constant WEIGHTS_PUBLIC = 2;
    /// Unbound: private weights nothing pins (any weights prove). Never registered.
    uint8 public constant WEIGHTS_UNBOUND = 3;

    /// @notice What a model's proofs state about its outputs (the verifier's `PREDICATE_OP()`):
    ///         nothing (the outputs are instances or committed), `OUT[i] >= T`, `OUT[i] > T`,
    ///         `OUT[i] <= T`, `OUT[i] < T`, or `argmax(OUT) == K`.
    uint8 public constant PREDICATE_NONE = 0;
    uint8 public constant PREDICATE_GE = 1;
    uint8 public constant PREDICATE_GT = 2;
    uint8 public constant PREDICATE_LE = 3;
    uint8 public constant PREDICATE_LT = 4;
    uint8 public constant PREDICATE_ARGMAX = 5;

    /// Marks a position a model's samples do not have.
    uint32 internal constant NONE = type(uint32).max;

    /// @notice A registered model.
    struct Model {
        /// The zkinfer verifier (the checking wrapper).
        address verifier;
        /// How its proofs pin the weights (WEIGHTS_*).
        uint8 weights;
        /// The predicate its proofs state (PREDICATE_*).
        uint8 predicateOp;
        /// The flattened output index the predicate reads (for argmax: the output's first).
        uint32 predicateOutput;
        /// Fixed-point exponent of the predicate's threshold (a value v means v * 2^-exp).
        int16 predicateExp;
        /// Its code hash at registration; submissions are refused if it ever differs.
        bytes32 codeHash;
        /// The Poseidon commitment to the weights (WEIGHTS_HASHED), or 0.
        uint256 weightCommitment;
        /// keccak256 of the public weight instances, packed (WEIGHTS_PUBLIC), or 0.
        bytes32 weightsHash;
        /// Exact proof length in bytes.
        uint256 proofLength;
        /// Position of the binding instance (always the last).
        uint256 bindingIndex;
        /// Samples per proof: 1, or the batch size the verifier was built for.
        uint256 batch;
        /// Kind of each public instance (KIND_*), in order.
        uint8[] kinds;
        /// Fixed-point exponent of each instance: a value v means v * 2^-exp.
        int16[] exps;
        /// Where the model, its build and its predicate are described.
        string uri;
    }

    /// @notice Where each instance of a model's proofs is, decoded from its layout at
    ///         registration so that a submission reads two storage slots instead of the layout.
    ///         Positions inside a sample are relative to the sample's first instance; NONE
    ///         where a sample has no such instance. Ranges are [start, end).
    struct Plan {
        uint32 instances;
        uint32 batch;
        /// The first sample's first instance, and instances per sample.
        uint32 base;
        uint32 width;
        /// The weight instances (public weights, or the one commitment), absolute.
        uint32 paramStart;
        uint32 paramEnd;
        /// The used bit: the slot instance, or the predicate's result; NONE for one-sample
        /// models without a predicate (their sample is always real).
        uint32 used;
        uint32 inputCommitment;
        uint32 inputStart;
        uint32 inputEnd;
        uint32 outputCommitment;
        uint32 outputStart;
        uint32 outputEnd;
        uint32 paramsStart;
        uint32 paramsEnd;
        uint32 proofLength;
    }

    /// @notice A stored prediction, as `latestFor` returns it.
    struct Stored {
        /// Outputs and predicate parameters as signed fixed-point integers, in instance order;
        /// `valueExps` of the model gives their scales.
        int256[] values;
        /// The output commitment (hashed outputs), or 0.
        uint256 outputCommitment;
        /// Block time of the submission that stored it.
        uint64 timestamp;
    }

    /// @notice One accepted proof (statement): who submitted it, in which block, and how many
    ///         predictions it stored. Zero for a statement never accepted.
    struct Submission {
        address submitter;
        uint64 blockNumber;
        uint32 stored;
    }

    /// A prediction's storage: `head` is the block time (bits 0-39), whether the values are
    /// stored apart in `wide` (bit 40), and otherwise the values packed from bit 41, each in
    /// VALUE_BITS / count bits, two's complement.
    struct Record {
        uint256 head;
        uint256 outputCommitment;
        mapping(uint256 => int256) wide;
    }

    /// @notice Who a data provider says an input commitment belongs to. It counts only while
    ///         its provider holds the role it held when attesting (see `attestedTo`).
    struct Attestation {
        address account;
        address provider;
        uint64 timestamp;
        /// The provider's revocation count when it attested.
        uint64 epoch;
    }

    address public owner;
    mapping(address => bool) public isProvider;
    /// @notice How many times a provider's role was revoked: attestations made before a
    ///         revocation never count again, even if the role is granted back.
    mapping(address => uint64) public providerEpoch;
    /// @notice Next nonce of a submitter for a model.
    mapping(bytes32 => mapping(address => uint64)) public nonces;
    /// Attestation of an input commitment, valid or not (see `attestation`, `attestedTo`).
    mapping(bytes32 => Attestation) internal attestations;
    /// @notice The accepted proof of a statement, keccak256(abi.encode(modelId, instances)):
    ///         an oracle restarting after a crash asks it whether its proof landed.
    mapping(bytes32 => Submission) public submissions;
    /// @notice Number of `requestPrediction` calls so far.
    uint256 public requestCount;

    mapping(bytes32 => Model) internal models;
    mapping(bytes32 => Plan) internal plans;
    mapping(bytes32 => mapping(bytes32 => Record)) internal records;
    /// The input key of each model's newest stored prediction.
    mapping(bytes32 => bytes32) internal newestKey;

    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event ProviderSet(address indexed provider, bool allowed);
    /// @notice A model was registered; `model(modelId)` has the rest of its record.
    event ModelRegistered(
        bytes32 indexed modelId, address verifier, bytes32 codeHash, uint8 weights, uint8 predicateOp, string uri
    );
    event InputAttested(bytes32 indexed commitment, address indexed account, address indexed provider);
    event AttestationRevoked(bytes32 indexed commitment, address indexed account);
    event PredictionRequested(uint256 indexed requestId, bytes32 indexed modelId, address indexed requester, string inputRef);
    /// @notice A proof was accepted: `stored` predictions, each in a `PredictionStored` event
    ///         of the same transaction with the same statement.
    event StatementSubmitted(
        bytes32 indexed modelId, bytes32 indexed statement, address indexed submitter, uint64 nonce, uint256 stored
    );
    /// @notice A prediction was stored: the full record. `inputKey` is the input commitment,
    ///         keccak256 of the sample's public inputs (packed), or 0 (private inputs); `slot`
    ///         is the sample's place in its proof.
    event PredictionStored(
        bytes32 indexed modelId,
        bytes32 indexed inputKey,
        bytes32 indexed statement,
        uint256 slot,
        uint256 outputCommitment,
        int256[] values
    );

    error NotOwner(address caller);
    error NotProvider(address caller);
    error ZeroAddress();
    error ModelExists(bytes32 modelId);
    error UnknownModel(bytes32 modelId);
    error NoVerifierCode(address verifier);
    error LayoutMismatch(uint256 verifierInstances, uint256 kinds, uint256 exps);
    error NotTheVerifiersLayout(bytes32 verifierLayout, bytes32 given);
    error BadKind(uint256 index, uint8 kind);
    error NeedsOneBinding(uint256 found);
    /// The instances are not in an order zkinfer builds (binding last, weights together and
    /// first in a batch, equal samples, each group contiguous): `index` is the first misplaced.
    error BadLayout(uint256 index);
    error WeightCommitmentMismatch(bool hashedWeights, uint256 weightCommitment);
    error UnboundWeights(bytes32 modelId);
    error BadWeights(uint8 weights);
    error WeightsLayoutMismatch(uint8 weights, uint256 paramCommitments, uint256 params);
    error WeightsHashMismatch(bool publicWeights, bytes32 weightsHash);
    error BadPredicate(uint8 op);
    error PredicateLayoutMismatch(uint8 op, uint256 predicates);
    error AlreadyAttested(bytes32 commitment, address account);
    error NotAttested(bytes32 commitment);
    error ZeroCommitment();
    error VerifierCodeChanged(bytes32 modelId, bytes32 expected, bytes32 actual);
    error WrongInstanceCount(uint256 expected, uint256 given);
    error WrongProofLength(uint256 expected, uint256 given);
    error WrongCalldataLength(uint256 expected, uint256 given);
    error NonStandardEncoding();
    error NonCanonicalInstance(uint256 index);
    error WrongWeightCommitment(uint256 expected, uint256 given);
    error WrongWeights(bytes32 expected, bytes32 given);
    /// The statement was accepted before, in `blockNumber`.
    error Replay(bytes32 statement, uint256 blockNumber);
    error BindingMismatch(uint256 expected, uint256 given);
    /// A used bit (or one-sample predicate result) that is neither 0 nor 1.
    error BadUsedBit(uint256 slot, uint256 value);
    /// Two real samples of one proof with the same input key (or, without one, the same
    /// instances).
    error RepeatedSample(uint256 slot, bytes32 inputKey);
    /// The proof's samples are all unused: nothing to store.
    error NothingToStore();
    error InvalidProof();
    error NoPrediction(bytes32 modelId);
    error NoPredictionForInput(bytes32 modelId, bytes32 inputKey);

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    constructor() {
        owner = msg.sender;
        emit OwnershipTransferred(address(0), msg.sender);
    }

    // ---------------------------------------------------------------- owner

    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert ZeroAddress();
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    /// @notice Grants or revokes the data-provider role. Revoking also voids every attestation
    ///         the provider made so far, for good.
    function setProvider(address provider, bool allowed) external onlyOwner {
        if (provider == address(0)) revert ZeroAddress();
        if (!allowed && isProvider[provider]) ++providerEpoch[provider];
        isProvider[provider] = allowed;
        emit ProviderSet(provider, allowed);
    }

    /// @notice Registers a model. `kinds` and `exps` describe each public instance in order
    ///         (the build's settings.json) and must hash to the verifier's `LAYOUT()`; exactly
    ///         one is the binding, the last. A batch verifier's layout is the weights once, then
    ///         its samples, each the same run of kinds with one used bit, then the binding. How
    ///         the weights are pinned and the output predicate are read from the verifier
    ///         (`WEIGHTS()`, `PREDICATE_*()`) and must agree with the layout. `weightCommitment`
    ///         is required iff the weights are hashed, `weightsHash` (keccak256 of the weight
    ///         instances, packed) iff they are public; a verifier whose weights nothing pins is
    ///         refused.
    function registerModel(
        bytes32 modelId,
        address verifier,
        uint256 weightCommitment,
        bytes32 weightsHash,
        uint8[] calldata kinds,
        int16[] calldata exps,
        string calldata uri
    ) external onlyOwner {
        if (models[modelId].verifier != address(0)) revert ModelExists(modelId);
        if (verifier.code.length == 0) revert NoVerifierCode(verifier);
        IZkinferVerifier v = IZkinferVerifier(verifier);
        _checkLayout(v, kinds, exps);
        Model storage m = models[modelId];
        // Read once: what is checked is what is stored (a refusal reverts these writes).
        m.weights = v.WEIGHTS();
        m.predicateOp = v.PREDICATE_OP();
        _checkWeights(modelId, m.weights, kinds, weightCommitment, weightsHash);
        Plan memory p = _savePlan(modelId, v, m.predicateOp, kinds, exps);
        m.verifier = verifier;
        m.predicateOutput = v.PREDICATE_OUTPUT();
        m.predicateExp = v.PREDICATE_EXP();
        m.codeHash = verifier.codehash;
        m.weightCommitment = weightCommitment;
        m.weightsHash = weightsHash;
        m.proofLength = p.proofLength;
        m.bindingIndex = kinds.length - 1;
        m.batch = p.batch;
        m.kinds = kinds;
        m.exps = exps;
        m.uri = uri;
        emit ModelRegistered(modelId, verifier, m.codeHash, m.weights, m.predicateOp, uri);
    }

    /// Decodes and keeps the layout's `Plan`; checks the predicate and the proof length.
    function _savePlan(
        bytes32 modelId,
        IZkinferVerifier v,
        uint8 op,
        uint8[] calldata kinds,
        int16[] calldata exps
    ) internal returns (Plan memory p) {
        if (op > PREDICATE_ARGMAX) revert BadPredicate(op);
        p = _plan(kinds, exps, op);
        uint256 proofLength = v.PROOF_LENGTH();
        if (proofLength >= NONE) revert WrongProofLength(NONE, proofLength);
        p.proofLength = uint32(proofLength);
        plans[modelId] = p;
    }

    /// The layout decides which instances are weights, outputs and thresholds, and their
    /// scales: it must be the one the verifier was built with, not the registrant's reading.
    function _checkLayout(IZkinferVerifier v, uint8[] calldata kinds, int16[] calldata exps) internal view {
        uint256 n = v.NUM_INSTANCES();
        if (n != kinds.length || n != exps.length) revert LayoutMismatch(n, kinds.length, exps.length);
        bytes32 layout = keccak256(abi.encode(kinds, exps));
        if (layout != v.LAYOUT()) revert NotTheVerifiersLayout(v.LAYOUT(), layout);
    }

    /// The layout's kinds against the verifier's weights: one binding, and the weight
    /// instances the verifier's `WEIGHTS()` implies.
    function _checkWeights(
        bytes32 modelId,
        uint8 w,
        uint8[] calldata kinds,
        uint256 weightCommitment,
        bytes32 weightsHash
    ) internal pure {
        uint256 bindings;
        uint256 paramCommitments;
        uint256 params;
        for (uint256 i = 0; i < kinds.length; ++i) {
            uint8 k = kinds[i];
            if (k > KIND_SLOT) revert BadKind(i, k);
            if (k == KIND_BINDING) ++bindings;
            else if (k == KIND_PARAM_COMMITMENT) ++paramCommitments;
            else if (k == KIND_PARAM) ++params;
        }
        if (bindings != 1) revert NeedsOneBinding(bindings);
        if (w == WEIGHTS_UNBOUND) revert UnboundWeights(modelId);
        if (w > WEIGHTS_UNBOUND) revert BadWeights(w);
        bool hashed = w == WEIGHTS_HASHED;
        bool pub = w == WEIGHTS_PUBLIC;
        if (paramCommitments != (hashed ? 1 : 0) || (params != 0) != pub) {
            revert WeightsLayoutMismatch(w, paramCommitments, params);
        }
        if (hashed != (weightCommitment != 0) || weightCommitment >= SCALAR_MODULUS) {
            revert WeightCommitmentMismatch(hashed, weightCommitment);
        }
        if (pub != (weightsHash != bytes32(0))) revert WeightsHashMismatch(pub, weightsHash);
    }

    /// Decodes a layout into a `Plan`, refusing any order zkinfer does not build.
    function _plan(uint8[] calldata kinds, int16[] calldata exps, uint8 op) internal pure returns (Plan memory p) {
        uint256 n = kinds.length;
        if (kinds[n - 1] != KIND_BINDING) revert BadLayout(n - 1);
        uint256 slots;
        uint256 predicates;
        bool weights;
        for (uint256 i = 0; i < n; ++i) {
            uint8 k = kinds[i];
            if (k == KIND_SLOT) ++slots;
            else if (k == KIND_PREDICATE) ++predicates;
            else if (k == KIND_PARAM || k == KIND_PARAM_COMMITMENT) {
                if (!weights) p.paramStart = uint32(i);
                else if (i != p.paramEnd) revert BadLayout(i);
                weights = true;
                p.paramEnd = uint32(i + 1);
            }
        }
        if (slots != 0 && predicates != 0) revert PredicateLayoutMismatch(op, predicates);
        uint256 batch = slots != 0 ? slots : (predicates != 0 ? predicates : 1);
        uint256 base;
        uint256 width = n - 1;
        if (batch > 1) {
            // The weights once, first; then equal samples.
            if (p.paramStart != 0) revert BadLayout(p.paramStart);
            base = p.paramEnd;
            width = (n - 1 - base) / batch;
            if (width * batch != n - 1 - base) revert BadLayout(n - 1);
            for (uint256 i = base + width; i < n - 1; ++i) {
                if (kinds[i] != kinds[i - width] || exps[i] != exps[i - width]) revert BadLayout(i);
            }
        }
        p.instances = uint32(n);
        p.batch = uint32(batch);
        p.base = uint32(base);
        p.width = uint32(width);
        p.used = NONE;
        p.inputCommitment = NONE;
        p.outputCommitment = NONE;
        uint256 samplePredicates;
        for (uint32 j = 0; j < width; ++j) {
            uint8 k = kinds[base + j];
            if (k == KIND_SLOT || k == KIND_PREDICATE) {
                if (p.used != NONE) revert BadLayout(base + j);
                p.used = j;
                if (k == KIND_PREDICATE) ++samplePredicates;
            } else if (k == KIND_INPUT_COMMITMENT) {
                if (p.inputCommitment != NONE) revert BadLayout(base + j);
                p.inputCommitment = j;
            } else if (k == KIND_OUTPUT_COMMITMENT) {
                if (p.outputCommitment != NONE) revert BadLayout(base + j);
                p.outputCommitment = j;
            } else if (k == KIND_INPUT) {
                (p.inputStart, p.inputEnd) = _grow(p.inputStart, p.inputEnd, j, base);
            } else if (k == KIND_OUTPUT) {
                (p.outputStart, p.outputEnd) = _grow(p.outputStart, p.outputEnd, j, base);
            } else if (k == KIND_PREDICATE_PARAM) {
                (p.paramsStart, p.paramsEnd) = _grow(p.paramsStart, p.paramsEnd, j, base);
            } else if (k == KIND_BINDING) {
                revert BadLayout(base + j);
            }
        }
        if (samplePredicates != (op == PREDICATE_NONE ? 0 : 1)) revert PredicateLayoutMismatch(op, samplePredicates);
    }

    /// Adds position `j` to the contiguous range [start, end) (empty when start == end).
    function _grow(uint32 start, uint32 end, uint32 j, uint256 base) internal pure returns (uint32, uint32) {
        if (start == end) return (j, j + 1);
        if (j != end) revert BadLayout(base + j);
        return (start, j + 1);
    }

    // ---------------------------------------------------------------- data providers

    /// @notice A data provider states that `commitment` commits to `account`'s data. An
    ///         attestation that no longer counts (its provider was revoked) may be replaced.
    function attest(bytes32 commitment, address account) external {
        if (!isProvider[msg.sender]) revert NotProvider(msg.sender);
        if (account == address(0)) revert ZeroAddress();
        // 0 is the key under which models with private inputs store: it commits to nothing.
        if (commitment == 0) revert ZeroCommitment();
        address current = attestedTo(commitment);
        if (current != address(0)) revert AlreadyAttested(commitment, current);
        attestations[commitment] =
            Attestation(account, msg.sender, uint64(block.timestamp), providerEpoch[msg.sender]);
        emit InputAttested(commitment, account, msg.sender);
    }

    /// @notice The account `commitment` was attested to, or the zero address when there is no
    ///         attestation or it no longer counts: its provider's role was revoked since (even if
    ///         granted again later).
    function attestedTo(bytes32 commitment) public view returns (address) {
        Attestation storage a = attestations[commitment];
        address p = a.provider;
        if (a.account == address(0) || !isProvider[p] || a.epoch != providerEpoch[p]) return address(0);
        return a.account;
    }

    /// @notice The attestation of `commitment` as recorded, and whether it still counts.
    function attestation(bytes32 commitment) external view returns (Attestation memory a, bool valid) {
        a = attestations[commitment];
        valid = a.account != address(0) && attestedTo(commitment) == a.account;
    }

    /// @notice Withdraws an attestation (its provider or the owner).
    function revokeAttestation(bytes32 commitment) external {
        Attestation memory a = attestations[commitment];
        if (a.account == address(0)) revert NotAttested(commitment);
        if (msg.sender != a.provider && msg.sender != owner) revert NotProvider(msg.sender);
        delete attestations[commitment];
        emit AttestationRevoked(commitment, a.account);
    }

    // ---------------------------------------------------------------- requests and submissions

    /// @notice Asks bots for a prediction of `modelId` on the input `inputRef` points at.
    function requestPrediction(bytes32 modelId, string calldata inputRef) external returns (uint256 requestId) {
        if (models[modelId].verifier == address(0)) revert UnknownModel(modelId);
        requestId = requestCount++;
        emit PredictionRequested(requestId, modelId, msg.sender, inputRef);
    }

    /// @notice The binding instance a proof for `submitter`'s `nonce` must carry.
    function bindingFor(bytes32 modelId, address submitter, uint64 nonce) public view returns (uint256) {
        return uint256(keccak256(abi.encode(block.chainid, address(this), submitter, modelId, nonce))) % SCALAR_MODULUS;
    }

    /// @notice The binding instance and nonce of `submitter`'s next proof.
    function nextBinding(bytes32 modelId, address submitter) external view returns (uint256 binding, uint64 nonce) {
        nonce = nonces[modelId][submitter];
        binding = bindingFor(modelId, submitter, nonce);
    }

    /// @notice Verifies a proof of one sample or of a batch and stores a prediction for each
    ///         real sample (used bit 1; a one-sample proof without a predicate always has one).
    ///         Reverts with a custom error on any mismatch and stores nothing then; returns how
    ///         many predictions it stored.
    function submitBatch(bytes32 modelId, uint256[] calldata instances, bytes calldata proof)
        external
        returns (uint256 stored)
    {
        return _submit(modelId, instances, proof);
    }

    /// @notice The same as `submitBatch`, under the name one-sample clients know.
    function submit(bytes32 modelId, uint256[] calldata instances, bytes calldata proof)
        external
        returns (uint256 stored)
    {
        return _submit(modelId, instances, proof);
    }

    function _submit(bytes32 modelId, uint256[] calldata instances, bytes calldata proof)
        internal
        returns (uint256 stored)
    {
        Model storage m = models[modelId];
        Plan memory p = plans[modelId];
        (bytes32 statement, uint64 nonce) = _check(modelId, m, p, instances, proof);
        if (!IZkinferVerifier(m.verifier).verify(instances, proof)) revert InvalidProof();
        stored = _store(modelId, p, statement, instances);
        if (stored == 0) revert NothingToStore();
        nonces[modelId][msg.sender] = nonce + 1;
        submissions[statement] = Submission(msg.sender, uint64(block.number), uint32(stored));
        emit StatementSubmitted(modelId, statement, msg.sender, nonce, stored);
    }

    /// Every check before the proof itself: registration, lengths, encoding, canonical
    /// instances, replay, binding, verifier code, weights.
    function _check(
        bytes32 modelId,
        Model storage m,
        Plan memory p,
        uint256[] calldata instances,
        bytes calldata proof
    ) internal view returns (bytes32 statement, uint64 nonce) {
        address verifier = m.verifier;
        if (verifier == address(0)) revert UnknownModel(modelId);
        uint256 n = p.instances;
        if (instances.length != n) revert WrongInstanceCount(n, instances.length);
        if (proof.length != p.proofLength) revert WrongProofLength(p.proofLength, proof.length);
        uint256 expectedLength = 4 + 5 * 32 + 32 * n + ((proof.length + 31) / 32) * 32;
        if (msg.data.length != expectedLength) revert WrongCalldataLength(expectedLength, msg.data.length);
        if (uint256(bytes32(msg.data[36:68])) != 0x60 || uint256(bytes32(msg.data[68:100])) != 0x80 + 32 * n) {
            revert NonStandardEncoding();
        }
        unchecked {
            for (uint256 i = 0; i < n; ++i) {
                if (_word(instances, i) >= SCALAR_MODULUS) revert NonCanonicalInstance(i);
            }
        }
        statement = keccak256(abi.encode(modelId, instances));
        uint256 seen = submissions[statement].blockNumber;
        if (seen != 0) revert Replay(statement, seen);
        nonce = nonces[modelId][msg.sender];
        uint256 expected = bindingFor(modelId, msg.sender, nonce);
        uint256 given = instances[n - 1];
        if (given != expected) revert BindingMismatch(expected, given);
        if (verifier.codehash != m.codeHash) revert VerifierCodeChanged(modelId, m.codeHash, verifier.codehash);
        _checkWeightInstances(m, p, instances);
    }

    /// The weight commitment, or the public weights, must be the registered ones.
    function _checkWeightInstances(Model storage m, Plan memory p, uint256[] calldata instances) internal view {
        uint8 w = m.weights;
        if (w == WEIGHTS_HASHED) {
            uint256 c = instances[p.paramStart];
            if (c != m.weightCommitment) revert WrongWeightCommitment(m.weightCommitment, c);
        } else if (w == WEIGHTS_PUBLIC) {
            bytes32 h = keccak256(abi.encodePacked(instances[p.paramStart:p.paramEnd]));
            if (h != m.weightsHash) revert WrongWeights(m.weightsHash, h);
        }
    }

    /// Stores each real sample of a verified proof: its record under its input key, and the
    /// full record in a `PredictionStored` event. Returns how many it stored.
    /// @dev Offsets come from the plan, checked against the layout at registration, and the
    ///      instance count was checked against the plan: every index below is inside
    ///      `instances`, so the loop reads them unchecked (this loop is what a batch pays per
    ///      prediction beyond its storage slot and event).
    function _store(bytes32 modelId, Plan memory p, bytes32 statement, uint256[] calldata instances)
        internal
        returns (uint256 stored)
    {
        // Input keys of this proof's real samples so far: an open-addressing set in memory.
        bytes32[] memory seen = new bytes32[](_setSize(p.batch));
        // One buffer for every sample's values, inside the event's data (see `_emitStored`).
        int256[] memory values = _eventBuffer((p.outputEnd - p.outputStart) + (p.paramsEnd - p.paramsStart));
        mapping(bytes32 => Record) storage recs = records[modelId];
        bytes32 key;
        unchecked {
            for (uint256 s = 0; s < p.batch; ++s) {
                uint256 at = p.base + s * p.width;
                if (p.used != NONE) {
                    uint256 bit = _word(instances, at + p.used);
                    if (bit != 1) {
                        if (bit != 0) revert BadUsedBit(s, bit);
                        continue;
                    }
                }
                key = _inputKey(p, instances, at);
                // Samples without an input key (private inputs) share the model's one record:
                // no identity to repeat, and equal instances are legitimate (two applicants,
                // one threshold).
                if (key != 0) _claim(seen, key, s);
                uint256 oc = p.outputCommitment != NONE ? _word(instances, at + p.outputCommitment) : 0;
                _write(recs[key], _fill(values, p, instances, at), p.outputCommitment != NONE, oc);
                _emitStored(modelId, key, statement, s, oc, values);
                ++stored;
            }
        }
        if (stored != 0) newestKey[modelId] = key;
    }

    /// A values array of `n` words that sits at the end of a `PredictionStored` event's data:
    ///         [slot][outputCommitment][0x60 (the array's offset)][n][values...]
    /// so that `_emitStored` logs it in place instead of ABI-encoding a copy per prediction.
    function _eventBuffer(uint256 n) private pure returns (int256[] memory values) {
        assembly {
            let buf := mload(0x40)
            mstore(add(buf, 0x40), 0x60)
            values := add(buf, 0x60)
            mstore(values, n)
            mstore(0x40, add(values, shl(5, add(n, 1))))
        }
    }

    /// `emit PredictionStored(modelId, key, statement, slot, oc, values)` for a `values` from
    /// `_eventBuffer`: the same log, ABI encoding included.
    function _emitStored(bytes32 modelId, bytes32 key, bytes32 statement, uint256 slot, uint256 oc, int256[] memory values)
        private
    {
        bytes32 topic = PredictionStored.selector;
        assembly {
            let buf := sub(values, 0x60)
            mstore(buf, slot)
            mstore(add(buf, 0x20), oc)
            log4(buf, add(0x80, shl(5, mload(values))), topic, modelId, key, statement)
        }
    }

    /// Slots of the set of a batch's input keys: a power of two, at least twice the batch.
    function _setSize(uint256 batch) private pure returns (uint256 size) {
        size = 2;
        while (size < 2 * batch) size <<= 1;
    }

    /// `instances[i]`, for an `i` known to be in range.
    function _word(uint256[] calldata instances, uint256 i) private pure returns (uint256 w) {
        assembly {
            w := calldataload(add(instances.offset, shl(5, i)))
        }
    }

    /// Fills `values` with the sample's outputs and predicate parameters, signed.
    function _fill(int256[] memory values, Plan memory p, uint256[] calldata instances, uint256 at)
        private
        pure
        returns (int256[] memory)
    {
        unchecked {
            uint256 v = 1;
            for (uint256 i = at + p.outputStart; i < at + p.outputEnd; ++i) {
                int256 x = _signed(_word(instances, i));
                assembly {
                    mstore(add(values, shl(5, v)), x)
                }
                ++v;
            }
            for (uint256 i = at + p.paramsStart; i < at + p.paramsEnd; ++i) {
                int256 x = _signed(_word(instances, i));
                assembly {
                    mstore(add(values, shl(5, v)), x)
                }
                ++v;
            }
        }
        return values;
    }

    /// A sample's input key: its input commitment, keccak256 of its public inputs (packed), or
    /// 0 when its inputs are private.
    function _inputKey(Plan memory p, uint256[] calldata instances, uint256 at) internal pure returns (bytes32) {
        if (p.inputCommitment != NONE) return bytes32(_word(instances, at + p.inputCommitment));
        if (p.inputEnd != p.inputStart) {
            return keccak256(abi.encodePacked(instances[at + p.inputStart:at + p.inputEnd]));
        }
        return 0;
    }

    /// Adds a sample's input key to the proof's set; refuses one already there.
    function _claim(bytes32[] memory seen, bytes32 key, uint256 slot) internal pure {
        unchecked {
            uint256 mask = seen.length - 1;
            uint256 h = uint256(key) & mask;
            while (true) {
                bytes32 at;
                assembly {
                    at := mload(add(seen, shl(5, add(h, 1))))
                }
                if (at == 0) break;
                if (at == key) revert RepeatedSample(slot, key);
                h = (h + 1) & mask;
            }
            assembly {
                mstore(add(seen, shl(5, add(h, 1))), key)
            }
        }
    }

    /// Writes a record: packed in its head when every value fits its share of VALUE_BITS,
    /// else each value apart. The output commitment only when the model has one.
    function _write(Record storage r, int256[] memory values, bool hasOc, uint256 oc) internal {
        // Block times fit the head's 40 bits until the year 36812.
        uint256 head = block.timestamp;
        uint256 n = values.length;
        bool fits = n == 0;
        if (n != 0 && n <= VALUE_BITS) {
            fits = true;
            unchecked {
                uint256 bits = VALUE_BITS / n;
                int256 lim = int256(1 << (bits - 1));
                uint256 mask = (1 << bits) - 1;
                uint256 shift = 41;
                for (uint256 i = 0; i < n; ++i) {
                    int256 v;
                    assembly {
                        v := mload(add(values, shl(5, add(i, 1))))
                    }
                    if (v < -lim || v >= lim) {
                        fits = false;
                        break;
                    }
                    head |= (uint256(v) & mask) << shift;
                    shift += bits;
                }
            }
        }
        if (fits) {
            r.head = head;
        } else {
            r.head = block.timestamp | (1 << 40);
            for (uint256 i = 0; i < n; ++i) r.wide[i] = values[i];
        }
        if (hasOc) r.outputCommitment = oc;
    }

    function _signed(uint256 v) internal pure returns (int256) {
        // v < SCALAR_MODULUS (checked before), so both results are in range.
        unchecked {
            return v > SCALAR_MODULUS / 2 ? -int256(SCALAR_MODULUS - v) : int256(v);
        }
    }

    // ---------------------------------------------------------------- reads

    /// @notice A model's registration.
    function model(bytes32 modelId) external view returns (Model memory) {
        Model memory m = models[modelId];
        if (m.verifier == address(0)) revert UnknownModel(modelId);
        return m;
    }

    /// @notice Where each instance of a model's proofs is (see `Plan`).
    function plan(bytes32 modelId) external view returns (Plan memory) {
        if (models[modelId].verifier == address(0)) revert UnknownModel(modelId);
        return plans[modelId];
    }

    /// @notice Scales of `Stored.values`: the exponents of one sample's outputs and predicate
    ///         parameters, in order (a value v means v * 2^-exp).
    function valueExps(bytes32 modelId) external view returns (int16[] memory exps) {
        Model storage m = models[modelId];
        if (m.verifier == address(0)) revert UnknownModel(modelId);
        Plan memory p = plans[modelId];
        exps = new int16[]((p.outputEnd - p.outputStart) + (p.paramsEnd - p.paramsStart));
        uint256 v;
        for (uint256 i = p.outputStart; i < p.outputEnd; ++i) exps[v++] = m.exps[p.base + i];
        for (uint256 i = p.paramsStart; i < p.paramsEnd; ++i) exps[v++] = m.exps[p.base + i];
    }

    /// @notice Whether a prediction is stored for `inputKey`.
    function hasPredictionFor(bytes32 modelId, bytes32 inputKey) external view returns (bool) {
        return records[modelId][inputKey].head != 0;
    }

    /// @notice The newest prediction of a model for one input key and its age in seconds.
    function latestFor(bytes32 modelId, bytes32 inputKey) public view returns (Stored memory p, uint256 age) {
        Record storage r = records[modelId][inputKey];
        uint256 head = r.head;
        if (head == 0) revert NoPredictionForInput(modelId, inputKey);
        Plan memory pl = plans[modelId];
        uint256 count = (pl.outputEnd - pl.outputStart) + (pl.paramsEnd - pl.paramsStart);
        p.values = new int256[](count);
        if ((head >> 40) & 1 == 1) {
            for (uint256 i = 0; i < count; ++i) p.values[i] = r.wide[i];
        } else if (count != 0) {
            uint256 bits = VALUE_BITS / count;
            uint256 mask = (1 << bits) - 1;
            for (uint256 i = 0; i < count; ++i) {
                uint256 x = (head >> (41 + i * bits)) & mask;
                p.values[i] = int256(x << (256 - bits)) >> (256 - bits);
            }
        }
        p.outputCommitment = r.outputCommitment;
        p.timestamp = uint64(head & 0xFFFFFFFFFF);
        age = block.timestamp - p.timestamp;
    }

    /// @notice The newest prediction of a model (of whichever input), its input key and age.
    function latest(bytes32 modelId) external view returns (bytes32 inputKey, Stored memory p, uint256 age) {
        inputKey = newestKey[modelId];
        if (records[modelId][inputKey].head == 0) revert NoPrediction(modelId);
        (p, age) = latestFor(modelId, inputKey);
    }
}
