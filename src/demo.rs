//! The demo scenario (`zkinfer demo`): the whole flow on a bundled model and a managed anvil,
//! as a library call that returns what it measured. Build, prove and verify natively; deploy
//! and verify on-chain (and a tampered output rejected); then the registry: register the model
//! as a credit check ("score >= T" about a committed input), a provider attests the input to a
//! borrower, a bound proof is submitted, a replay refused, the prediction read back and a
//! lending gate lets the borrower borrow; finally a batch of credit checks in one proof and one
//! `submitBatch`.

use std::path::Path;

use alloy::primitives::{Address, TxHash, B256};
use serde::Serialize;

use crate::artifacts::ProofFile;
use crate::chain::gate::{GateDirection, GateSpec};
use crate::chain::registry::{parse_model_id, CallError};
use crate::chain::{self, spawn_anvil, Chain};
use crate::circuit::{InstanceKind, Secrets};
use crate::field::{to_word, Fr};
use crate::pipeline::{self, Build, BuildOptions, Progress, Sample};
use crate::visibility::{Vis, Visibility};

/// The bundled model: the breast-cancer MLP fixture (30 -> 16 -> 8 -> 2, ReLU).
pub const MODEL: &[u8] = include_bytes!("../tests/fixtures/models/breast_cancer_mlp/model.onnx");
/// Its input.
pub const INPUT: &[u8] = include_bytes!("../tests/fixtures/models/breast_cancer_mlp/input.json");
/// Its calibration set.
pub const CALIBRATION: &[u8] =
    include_bytes!("../tests/fixtures/models/breast_cancer_mlp/calibration.jsonl");

/// Samples per proof of the demo's batch.
pub const BATCH: usize = 8;

/// Errors of the demo: a stage's error, or a step that did not go as the demo expects.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Build, prove or verify.
    #[error(transparent)]
    Pipeline(#[from] pipeline::Error),
    /// The chain.
    #[error(transparent)]
    Chain(#[from] chain::Error),
    /// A contract call.
    #[error(transparent)]
    Call(#[from] CallError),
    /// A file.
    #[error(transparent)]
    Files(#[from] crate::files::Error),
    /// A step's outcome.
    #[error("demo: {0}")]
    Step(String),
}

/// Result type of the demo.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The batch part: `slots` credit checks in one proof and one `submitBatch`.
#[derive(Clone, Debug, Serialize)]
pub struct BatchReport {
    /// Samples per proof of the build.
    pub slots: usize,
    /// Real samples proven.
    pub samples: usize,
    /// Predictions the registry stored.
    pub predictions: u64,
    /// Prove time.
    pub prove_secs: f64,
    /// Gas of the `submitBatch`.
    pub submit_gas: u64,
    /// Gas per stored prediction.
    pub gas_per_prediction: u64,
}

/// The registry part.
#[derive(Clone, Debug, Serialize)]
pub struct RegistryReport {
    /// The batch.
    pub batch: BatchReport,
    /// The registry's address.
    pub registry: Address,
    /// Gas of registering the credit model.
    pub register_gas: u64,
    /// Gas of the bound submission.
    pub submit_gas: u64,
    /// The stored threshold, as floats.
    pub stored_threshold: Vec<f64>,
    /// The input's commitment.
    pub input_commitment: B256,
    /// The custom error a replay of the submission reverted with (`Replay`).
    pub replay_rejected_with: Option<String>,
    /// The lending gate's address.
    pub gate: Address,
    /// The threshold the gate saw proven for the borrower.
    pub borrower_allowed_with_threshold: f64,
}

/// What the demo measured.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// Proven outputs.
    pub outputs: Vec<Vec<f64>>,
    /// The float model's outputs.
    pub float_outputs: Vec<Vec<f64>>,
    /// The circuit's logrows.
    pub logrows: usize,
    /// Build time.
    pub build_secs: f64,
    /// Prove time.
    pub prove_secs: f64,
    /// Proof size.
    pub proof_bytes: usize,
    /// The verifier's runtime size.
    pub verifier_runtime_bytes: usize,
    /// EIP-170's limit.
    pub size_limit: usize,
    /// The anvil's chain id.
    pub chain_id: u64,
    /// The deployed verifier (wrapper).
    pub address: Address,
    /// The verifier's verdict on the honest proof.
    pub valid_on_chain: bool,
    /// Gas of the verify transaction.
    pub verify_gas: u64,
    /// Its hash.
    pub verify_tx: TxHash,
    /// Whether a changed output was rejected.
    pub tampered_output_rejected: bool,
    /// The registry part.
    pub registry: RegistryReport,
}

impl Report {
    /// Whether every check came out as it should: valid on-chain, the tampered output and
    /// the replay rejected, every batch sample stored.
    pub fn all_as_expected(&self) -> bool {
        let b = &self.registry.batch;
        self.valid_on_chain
            && self.tampered_output_rejected
            && self.registry.replay_rejected_with.as_deref() == Some("Replay")
            && b.predictions == b.samples as u64
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<std::path::PathBuf> {
    let p = dir.join(name);
    std::fs::write(&p, bytes).map_err(|source| crate::files::Error::Io {
        path: p.clone(),
        source,
    })?;
    Ok(p)
}

/// Runs the demo with its files in `work` (solc and anvil must be installed: see
/// [`crate::tools`]).
pub fn run(work: &Path, p: &dyn Progress) -> Result<Report> {
    let model = write(work, "model.onnx", MODEL)?;
    let input = write(work, "input.json", INPUT)?;
    let calibration = write(work, "calibration.jsonl", CALIBRATION)?;
    let out = work.join("build");
    let opts = BuildOptions {
        force: true,
        ..BuildOptions::new(model.clone(), calibration.clone(), out.clone())
    };
    let built = pipeline::build(&opts, p)?;
    let build = Build::open(&out)?;
    let proof_path = work.join("proof.json");
    let inputs = crate::inputs::read_input(&input)?;
    let proved = pipeline::prove(&build, &inputs, &Default::default(), &proof_path, p)?;
    let pf = ProofFile::read(&proof_path)?;
    let native = pipeline::verify(&build, &pf, &proof_path)?;
    if let Some(reason) = native.reason() {
        return Err(Error::Step(format!("native verification failed: {reason}")));
    }

    // The same model as a credit check that reveals nothing but "score >= T" about a
    // committed input, its proofs bound to the registry; and BATCH such checks per proof.
    let credit_opts = BuildOptions {
        force: true,
        visibility: Visibility {
            input: Vis::Hashed,
            params: Vis::Fixed,
            output: Vis::Private,
            binding: true,
        },
        predicate: Some("y[0] >= T".parse().map_err(Error::Step)?),
        ..BuildOptions::new(model, calibration.clone(), work.join("credit"))
    };
    pipeline::build(&credit_opts, p)?;
    let credit = Build::open(&credit_opts.out)?;
    let batch_opts = BuildOptions {
        batch: BATCH,
        out: work.join("credit-batch"),
        ..credit_opts.clone()
    };
    pipeline::build(&batch_opts, p)?;
    let batch_build = Build::open(&batch_opts.out)?;
    let batch_samples = passing_samples(&batch_build, &calibration)?;
    let salt = Fr::from(0x5eed_u64);
    let commitment = to_word(&credit.input_commitment(&inputs, salt)?);

    p.start("starting anvil");
    let anvil = spawn_anvil()?;
    p.finish("starting anvil", 0.0);
    let key = hex::encode(anvil.first_key().to_bytes());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Step(format!("starting the async runtime: {e}")))?;
    runtime.block_on(async {
        let chain = Chain::connect(&anvil.endpoint(), Some(&key)).await?;
        let contracts = build.contracts()?;
        let (words, proof) = pipeline::verify_calldata(&pf);
        let pair = chain::deploy_pair(&chain, &contracts).await?;
        if let chain::CodeCheck::Differs { reason } =
            chain::check_deployed(&chain, &contracts, pair.wrapper.address).await?
        {
            return Err(Error::Step(reason));
        }
        let valid = chain
            .call_verify(pair.wrapper.address, &words, &proof)
            .await?;
        let tx = chain
            .send_verify(pair.wrapper.address, &words, &proof)
            .await?;
        let mut bad = words.clone();
        bad[0][31] ^= 1;
        let tampered_rejected = !chain
            .call_verify(pair.wrapper.address, &bad, &proof)
            .await?;

        let registry = chain.deploy_registry().await?;
        let reg = chain.registry(registry.address);
        let credit_pair = chain::deploy_pair(&chain, &credit.contracts()?).await?;
        let model_id = parse_model_id("credit").map_err(Error::Step)?;
        let registered = reg
            .register_model(
                model_id,
                credit_pair.wrapper.address,
                [0; 32],
                [0; 32],
                &credit.settings.instances,
                "zkinfer demo: breast-cancer MLP, y[0] >= T",
            )
            .await?;
        let (provider, borrower) = (anvil.addresses()[1], anvil.addresses()[2]);
        reg.set_provider(provider, true).await?;
        let as_provider = Chain::connect(
            &anvil.endpoint(),
            Some(&hex::encode(anvil.keys()[1].to_bytes())),
        )
        .await?;
        as_provider
            .registry(registry.address)
            .attest(commitment, borrower)
            .await?;
        let binding = reg
            .next_binding(model_id, chain.from.unwrap_or_default())
            .await?;
        let secrets = Secrets {
            input_salt: salt,
            predicate_params: credit.predicate_params(&[("T".into(), 0.5)])?,
            binding: Some(binding),
            ..Default::default()
        };
        let bound_path = work.join("credit-proof.json");
        tokio::task::block_in_place(|| {
            pipeline::prove(&credit, &inputs, &secrets, &bound_path, p)
        })?;
        let (bw, bp) = pipeline::verify_calldata(&ProofFile::read(&bound_path)?);
        let submitted = reg.submit(model_id, &bw, &bp).await?;
        let replay = reg
            .submit(model_id, &bw, &bp)
            .await
            .err()
            .and_then(|e| e.revert_name().map(String::from));
        let stored = reg.read_latest(model_id, Some(commitment), 0).await?;
        let gate_exp = credit
            .settings
            .instances
            .iter()
            .find(|i| i.kind == InstanceKind::PredicateParam)
            .map_or(0, |i| i.exp);
        let gate = reg
            .deploy_gate(
                model_id,
                GateSpec {
                    output: 0,
                    direction: GateDirection::AtLeast,
                    bound: crate::quant::to_fixed(0.4, gate_exp),
                    exp: gate_exp as i16,
                    max_age: 86_400,
                },
            )
            .await?;
        let (proven, _) = chain.gate(gate.address).check(borrower, commitment).await?;

        // A batch: BATCH credit checks in one proof, one `submitBatch`.
        let batch_pair = chain::deploy_pair(&chain, &batch_build.contracts()?).await?;
        let batch_id = parse_model_id("credit-batch").map_err(Error::Step)?;
        reg.register_model(
            batch_id,
            batch_pair.wrapper.address,
            [0; 32],
            [0; 32],
            &batch_build.settings.instances,
            "zkinfer demo: breast-cancer MLP, y[0] >= T, batches",
        )
        .await?;
        let binding = reg
            .next_binding(batch_id, chain.from.unwrap_or_default())
            .await?;
        let batch_path = work.join("credit-batch-proof.json");
        let batch_proved = tokio::task::block_in_place(|| {
            pipeline::prove_batch(&batch_build, &batch_samples, Some(&binding), &batch_path, p)
        })?;
        let (bw, bp) = pipeline::verify_calldata(&ProofFile::read(&batch_path)?);
        let batch_mined = reg.submit(batch_id, &bw, &bp).await?;
        let s = &built.settings;
        Ok(Report {
            outputs: proved.outputs.clone(),
            float_outputs: built.float_outputs.clone(),
            logrows: s.circuit.params.base.k,
            build_secs: built.total_secs,
            prove_secs: proved.prove_secs,
            proof_bytes: proved.proof_bytes,
            verifier_runtime_bytes: s.verifier.verifier_runtime_bytes,
            size_limit: s.verifier.size_limit,
            chain_id: chain.chain_id,
            address: pair.wrapper.address,
            valid_on_chain: valid,
            verify_gas: tx.gas_used,
            verify_tx: tx.tx_hash,
            tampered_output_rejected: tampered_rejected,
            registry: RegistryReport {
                batch: BatchReport {
                    slots: BATCH,
                    samples: batch_samples.len(),
                    predictions: batch_mined.predictions,
                    prove_secs: batch_proved.prove_secs,
                    submit_gas: batch_mined.gas_used,
                    gas_per_prediction: batch_mined.gas_used / batch_mined.predictions.max(1),
                },
                registry: registry.address,
                register_gas: registered.gas_used,
                submit_gas: submitted.gas_used,
                stored_threshold: stored.floats,
                input_commitment: commitment.into(),
                replay_rejected_with: replay,
                gate: gate.address,
                borrower_allowed_with_threshold: proven as f64 / 65536.0,
            },
        })
    })
}

/// Up to [`BATCH`] calibration samples whose score passes the demo's threshold (a false
/// predicate cannot be proven), each with its own salt.
fn passing_samples(build: &Build, calibration: &Path) -> Result<Vec<Sample>> {
    let threshold = build.predicate_params(&[("T".into(), 0.5)])?;
    let samples: Vec<Sample> = crate::inputs::read_calibration(calibration)?
        .into_iter()
        .enumerate()
        .map(|(i, inputs)| Sample {
            inputs,
            secrets: Secrets {
                input_salt: Fr::from(0xba7c_0000 + i as u64),
                predicate_params: threshold.clone(),
                ..Default::default()
            },
        })
        .filter(|s| pipeline::check_sample(build, s).is_ok())
        .take(BATCH)
        .collect();
    if samples.is_empty() {
        return Err(Error::Step(
            "no calibration sample passes the demo's threshold".into(),
        ));
    }
    Ok(samples)
}
