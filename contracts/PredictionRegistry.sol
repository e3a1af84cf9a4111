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
///         stands for; anyone submits a proof, which is checked and stored; contracts read the
///         latest prediction per model or per input commitment.
/// @dev Every proof carries a binding instance: keccak256(abi.encode(chainid, registry,
///      submitter, modelId, nonce)) mod r, with the submitter's next per-model nonce. A proof is
///      thus valid for one submitter, on one chain, in one registry, once; replays are detected
///      by statement (model and instances), not by proof bytes.
contract PredictionRegistry {
    /// @notice The BN254 scalar field modulus: every instance must be below it.
    uint256 public constant SCALAR_MODULUS =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice Most predictions one `history` call returns.
    uint256 public constant MAX_PAGE = 32;

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
        /// Position of the binding instance.
        uint256 bindingIndex;
        /// Kind of each public instance (KIND_*), in order.
        uint8[] kinds;
        /// Fixed-point exponent of each instance: a value v means v * 2^-exp.
        int16[] exps;
        /// Where the model, its build and its predicate are described.
        string uri;
    }

    /// @notice A verified prediction.
    struct Prediction {
        /// The input commitment, keccak256 of the public inputs, or 0 (private inputs).
        bytes32 inputKey;
        /// The output commitment (hashed outputs), or 0.
        uint256 outputCommitment;
        /// Who submitted it.
        address submitter;
        /// Block time of the submission.
        uint64 timestamp;
        /// Block number of the submission.
        uint64 blockNumber;
        /// The submitter's nonce the proof was bound to.
        uint64 nonce;
        /// keccak256(abi.encode(modelId, instances)).
        bytes32 statement;
        /// Outputs and predicate parameters as signed fixed-point integers, in instance order;
        /// `valueExps` of the model give their scales.
        int256[] values;
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
    /// @notice Index + 1 of the prediction a statement produced (0: never submitted).
    mapping(bytes32 => uint256) public statementIndex;
    /// @notice Number of `requestPrediction` calls so far.
    uint256 public requestCount;

    mapping(bytes32 => Model) internal models;
    mapping(bytes32 => Prediction[]) internal predictions;
    mapping(bytes32 => mapping(bytes32 => uint256)) internal latestByInput;

    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event ProviderSet(address indexed provider, bool allowed);
    /// @notice A model was registered; `model(modelId)` has the rest of its record.
    event ModelRegistered(
        bytes32 indexed modelId, address verifier, bytes32 codeHash, uint8 weights, uint8 predicateOp, string uri
    );
    event InputAttested(bytes32 indexed commitment, address indexed account, address indexed provider);
    event AttestationRevoked(bytes32 indexed commitment, address indexed account);
    event PredictionRequested(uint256 indexed requestId, bytes32 indexed modelId, address indexed requester, string inputRef);
    event PredictionSubmitted(
        bytes32 indexed modelId, uint256 indexed index, bytes32 indexed inputKey, address submitter, uint64 nonce, bytes32 statement, int256[] values
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
    error WeightCommitmentMismatch(bool hashedWeights, uint256 weightCommitment);
    error UnboundWeights(bytes32 modelId);
    error BadWeights(uint8 weights);
    error WeightsLayoutMismatch(uint8 weights, uint256 paramCommitments, uint256 params);
    error WeightsHashMismatch(bool publicWeights, bytes32 weightsHash);
    error BadPredicate(uint8 op);
    error PredicateLayoutMismatch(uint8 op, uint256 predicates);
    error AlreadyAttested(bytes32 commitment, address account);
    error NotAttested(bytes32 commitment);
    error VerifierCodeChanged(bytes32 modelId, bytes32 expected, bytes32 actual);
    error WrongInstanceCount(uint256 expected, uint256 given);
    error WrongProofLength(uint256 expected, uint256 given);
    error WrongCalldataLength(uint256 expected, uint256 given);
    error NonStandardEncoding();
    error NonCanonicalInstance(uint256 index);
    error WrongWeightCommitment(uint256 expected, uint256 given);
    error WrongWeights(bytes32 expected, bytes32 given);
    error Replay(bytes32 statement, uint256 index);
    error BindingMismatch(uint256 expected, uint256 given);
    error InvalidProof();
    error NoPrediction(bytes32 modelId);
    error NoPredictionForInput(bytes32 modelId, bytes32 inputKey);
    error IndexOutOfRange(uint256 index, uint256 count);
    error PageTooLarge(uint256 requested, uint256 max);

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
    ///         one is the binding. How the weights are
    ///         pinned and the output predicate are read from the verifier (`WEIGHTS()`,
    ///         `PREDICATE_*()`) and must agree with the layout. `weightCommitment` is required
    ///         iff the weights are hashed, `weightsHash` (keccak256 of the weight instances,
    ///         packed) iff they are public; a verifier whose weights nothing pins is refused.
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
        uint256 bindingIndex = _checkKinds(modelId, v, kinds, weightCommitment, weightsHash);
        Model storage m = models[modelId];
        m.verifier = verifier;
        m.weights = v.WEIGHTS();
        m.predicateOp = v.PREDICATE_OP();
        m.predicateOutput = v.PREDICATE_OUTPUT();
        m.predicateExp = v.PREDICATE_EXP();
        m.codeHash = verifier.codehash;
        m.weightCommitment = weightCommitment;
        m.weightsHash = weightsHash;
        m.proofLength = v.PROOF_LENGTH();
        m.bindingIndex = bindingIndex;
        m.kinds = kinds;
        m.exps = exps;
        m.uri = uri;
        emit ModelRegistered(modelId, verifier, m.codeHash, m.weights, m.predicateOp, uri);
    }

    /// The layout decides which instances are weights, outputs and thresholds, and their
    /// scales: it must be the one the verifier was built with, not the registrant's reading.
    function _checkLayout(IZkinferVerifier v, uint8[] calldata kinds, int16[] calldata exps) internal view {
        uint256 n = v.NUM_INSTANCES();
        if (n != kinds.length || n != exps.length) revert LayoutMismatch(n, kinds.length, exps.length);
        bytes32 layout = keccak256(abi.encode(kinds, exps));
        if (layout != v.LAYOUT()) revert NotTheVerifiersLayout(v.LAYOUT(), layout);
    }

    /// The layout's kinds against the verifier's weights and predicate; returns the binding's
    /// position.
    function _checkKinds(
        bytes32 modelId,
        IZkinferVerifier v,
        uint8[] calldata kinds,
        uint256 weightCommitment,
        bytes32 weightsHash
    ) internal view returns (uint256 bindingIndex) {
        uint256 bindings;
        uint256 paramCommitments;
        uint256 params;
        uint256 predicates;
        for (uint256 i = 0; i < kinds.length; ++i) {
            uint8 k = kinds[i];
            if (k > KIND_BINDING) revert BadKind(i, k);
            if (k == KIND_BINDING) {
                ++bindings;
                bindingIndex = i;
            } else if (k == KIND_PARAM_COMMITMENT) {
                ++paramCommitments;
            } else if (k == KIND_PARAM) {
                ++params;
            } else if (k == KIND_PREDICATE) {
                ++predicates;
            }
        }
        if (bindings != 1) revert NeedsOneBinding(bindings);
        uint8 w = v.WEIGHTS();
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
        uint8 op = v.PREDICATE_OP();
        if (op > PREDICATE_ARGMAX) revert BadPredicate(op);
        if (predicates != (op == PREDICATE_NONE ? 0 : 1)) revert PredicateLayoutMismatch(op, predicates);
    }

    // ---------------------------------------------------------------- data providers

    /// @notice A data provider states that `commitment` commits to `account`'s data. An
    ///         attestation that no longer counts (its provider was revoked) may be replaced.
    function attest(bytes32 commitment, address account) external {
        if (!isProvider[msg.sender]) revert NotProvider(msg.sender);
        if (account == address(0)) revert ZeroAddress();
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

    /// @notice Verifies a proof and stores its prediction. Reverts with a custom error on any
    ///         mismatch; stores nothing then.
    function submit(bytes32 modelId, uint256[] calldata instances, bytes calldata proof)
        external
        returns (uint256 index)
    {
        Model storage m = models[modelId];
        (bytes32 statement, uint64 nonce) = _check(modelId, m, instances, proof);
        Prediction storage p = predictions[modelId].push();
        index = predictions[modelId].length - 1;
        _fill(m, p, instances);
        if (!IZkinferVerifier(m.verifier).verify(instances, proof)) revert InvalidProof();
        p.submitter = msg.sender;
        p.timestamp = uint64(block.timestamp);
        p.blockNumber = uint64(block.number);
        p.nonce = nonce;
        p.statement = statement;
        nonces[modelId][msg.sender] = nonce + 1;
        statementIndex[statement] = index + 1;
        if (p.inputKey != bytes32(0)) latestByInput[modelId][p.inputKey] = index + 1;
        emit PredictionSubmitted(modelId, index, p.inputKey, msg.sender, nonce, statement, p.values);
    }

    /// Every check before the proof itself: registration, lengths, encoding, canonical
    /// instances, replay, binding, verifier code.
    function _check(bytes32 modelId, Model storage m, uint256[] calldata instances, bytes calldata proof)
        internal
        view
        returns (bytes32 statement, uint64 nonce)
    {
        address verifier = m.verifier;
        if (verifier == address(0)) revert UnknownModel(modelId);
        uint256 n = m.kinds.length;
        if (instances.length != n) revert WrongInstanceCount(n, instances.length);
        if (proof.length != m.proofLength) revert WrongProofLength(m.proofLength, proof.length);
        uint256 expectedLength = 4 + 5 * 32 + 32 * n + ((proof.length + 31) / 32) * 32;
        if (msg.data.length != expectedLength) revert WrongCalldataLength(expectedLength, msg.data.length);
        if (uint256(bytes32(msg.data[36:68])) != 0x60 || uint256(bytes32(msg.data[68:100])) != 0x80 + 32 * n) {
            revert NonStandardEncoding();
        }
        for (uint256 i = 0; i < n; ++i) {
            if (instances[i] >= SCALAR_MODULUS) revert NonCanonicalInstance(i);
        }
        statement = keccak256(abi.encode(modelId, instances));
        uint256 seen = statementIndex[statement];
        if (seen != 0) revert Replay(statement, seen - 1);
        nonce = nonces[modelId][msg.sender];
        uint256 expected = bindingFor(modelId, msg.sender, nonce);
        uint256 given = instances[m.bindingIndex];
        if (given != expected) revert BindingMismatch(expected, given);
        if (verifier.codehash != m.codeHash) revert VerifierCodeChanged(modelId, m.codeHash, verifier.codehash);
    }

    /// Decodes the instances into `p` per the layout; checks the weight commitment and the
    /// public weights.
    function _fill(Model storage m, Prediction storage p, uint256[] calldata instances) internal {
        uint256 n = instances.length;
        bytes memory publicInputs;
        bytes memory publicWeights;
        bool hasInputCommitment;
        for (uint256 i = 0; i < n; ++i) {
            uint8 k = m.kinds[i];
            uint256 v = instances[i];
            if (k == KIND_OUTPUT || k == KIND_PREDICATE_PARAM) {
                p.values.push(_signed(v));
            } else if (k == KIND_INPUT_COMMITMENT) {
                p.inputKey = bytes32(v);
                hasInputCommitment = true;
            } else if (k == KIND_INPUT) {
                publicInputs = abi.encodePacked(publicInputs, v);
            } else if (k == KIND_OUTPUT_COMMITMENT) {
                p.outputCommitment = v;
            } else if (k == KIND_PARAM_COMMITMENT) {
                if (v != m.weightCommitment) revert WrongWeightCommitment(m.weightCommitment, v);
            } else if (k == KIND_PARAM) {
                publicWeights = abi.encodePacked(publicWeights, v);
            }
        }
        if (m.weights == WEIGHTS_PUBLIC) {
            bytes32 given = keccak256(publicWeights);
            if (given != m.weightsHash) revert WrongWeights(m.weightsHash, given);
        }
        if (!hasInputCommitment && publicInputs.length != 0) p.inputKey = keccak256(publicInputs);
    }

    function _signed(uint256 v) internal pure returns (int256) {
        return v > SCALAR_MODULUS / 2 ? -int256(SCALAR_MODULUS - v) : int256(v);
    }

    // ---------------------------------------------------------------- reads

    /// @notice A model's registration.
    function model(bytes32 modelId) external view returns (Model memory) {
        Model memory m = models[modelId];
        if (m.verifier == address(0)) revert UnknownModel(modelId);
        return m;
    }

    /// @notice Scales of `Prediction.values`: the exponents of the outputs and predicate
    ///         parameters, in order (a value v means v * 2^-exp).
    function valueExps(bytes32 modelId) external view returns (int16[] memory exps) {
        Model storage m = models[modelId];
        if (m.verifier == address(0)) revert UnknownModel(modelId);
        uint256 count;
        for (uint256 i = 0; i < m.kinds.length; ++i) {
            if (m.kinds[i] == KIND_OUTPUT || m.kinds[i] == KIND_PREDICATE_PARAM) ++count;
        }
        exps = new int16[](count);
        count = 0;
        for (uint256 i = 0; i < m.kinds.length; ++i) {
            if (m.kinds[i] == KIND_OUTPUT || m.kinds[i] == KIND_PREDICATE_PARAM) exps[count++] = m.exps[i];
        }
    }

    /// @notice Number of predictions stored for a model.
    function predictionCount(bytes32 modelId) external view returns (uint256) {
        return predictions[modelId].length;
    }

    /// @notice The prediction at `index` (0 = first ever).
    function predictionAt(bytes32 modelId, uint256 index) external view returns (Prediction memory) {
        uint256 count = predictions[modelId].length;
        if (index >= count) revert IndexOutOfRange(index, count);
        return predictions[modelId][index];
    }

    /// @notice The newest prediction of a model and its age in seconds.
    function latest(bytes32 modelId) external view returns (Prediction memory p, uint256 age) {
        uint256 count = predictions[modelId].length;
        if (count == 0) revert NoPrediction(modelId);
        p = predictions[modelId][count - 1];
        age = block.timestamp - p.timestamp;
    }

    /// @notice Whether a prediction exists for `inputKey`.
    function hasPredictionFor(bytes32 modelId, bytes32 inputKey) external view returns (bool) {
        return latestByInput[modelId][inputKey] != 0;
    }

    /// @notice The newest prediction of a model for one input commitment and its age.
    function latestFor(bytes32 modelId, bytes32 inputKey) external view returns (Prediction memory p, uint256 age) {
        uint256 i = latestByInput[modelId][inputKey];
        if (i == 0) revert NoPredictionForInput(modelId, inputKey);
        p = predictions[modelId][i - 1];
        age = block.timestamp - p.timestamp;
    }

    /// @notice Up to `count` (at most MAX_PAGE) predictions, newest first, skipping the `skip`
    ///         newest.
    function history(bytes32 modelId, uint256 skip, uint256 count) external view returns (Prediction[] memory page) {
        if (count > MAX_PAGE) revert PageTooLarge(count, MAX_PAGE);
        uint256 total = predictions[modelId].length;
        uint256 available = skip >= total ? 0 : total - skip;
        if (count > available) count = available;
        page = new Prediction[](count);
        for (uint256 i = 0; i < count; ++i) {
            page[i] = predictions[modelId][total - skip - 1 - i];
        }
    }
}
