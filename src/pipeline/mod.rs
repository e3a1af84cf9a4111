//! The pipeline as library calls, one stage per file: [`build()`] (import, calibrate, size, keys,
//! self-test, verifier, write), [`Build`] (a build directory opened and checked against its
//! digest), [`prove()`] and [`prove_batch`], [`verify()`] and the EVM checks. The CLI is a thin
//! layer over these.

mod build;
mod calibrate;
mod handle;
mod prove;
mod salts;
mod verify;

use std::path::PathBuf;
use std::time::Instant;

use crate::{circuit, files, graph, onnx, proof, quant, tools, verifier};

pub use build::{build, BuildOptions, BuildReport, MAX_BATCH};
pub use handle::Build;
pub use prove::{check_sample, prove, prove_batch, ProveReport, Sample};
pub use salts::{check_salts, weak_salt_warning, SALT_ADVICE, SALT_MIN_BITS};
pub use verify::{
    check_statement, proof_instances, verify, verify_calldata, verify_in_evm, Verdict,
};

/// Errors of the pipeline: each stage's error, plus checks between stages.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// ONNX import.
    #[error(transparent)]
    Onnx(#[from] onnx::Error),
    /// Model inputs.
    #[error(transparent)]
    Graph(#[from] graph::Error),
    /// Quantization or evaluation.
    #[error(transparent)]
    Quant(#[from] quant::Error),
    /// Circuit layout.
    #[error(transparent)]
    Circuit(#[from] circuit::Error),
    /// SRS, keys, proving.
    #[error(transparent)]
    Proof(#[from] proof::Error),
    /// Solidity verifier.
    #[error(transparent)]
    Verifier(#[from] verifier::Error),
    /// Files on disk.
    #[error(transparent)]
    Files(#[from] files::Error),
    /// A tool is missing.
    #[error(transparent)]
    Tool(#[from] tools::Error),
    /// The output directory already exists.
    #[error("{0} already exists; pass --force to replace it, or choose another --out")]
    OutExists(PathBuf),
    /// The proof belongs to another circuit.
    #[error("{proof} was made for another model or build (verifying key {theirs}); {dir} has verifying key {ours}. Verify it against the build it came from")]
    OtherModel {
        /// The proof file.
        proof: PathBuf,
        /// The build directory.
        dir: PathBuf,
        /// Digest in the proof.
        theirs: alloy::primitives::B256,
        /// Digest of the build.
        ours: alloy::primitives::B256,
    },
    /// A build directory's verifying key, description, model or SRS do not give its digest.
    #[error("{dir} is not the build its vk_digest names: {reason}. settings.json, vk.bin, model.quant.json, srs.bin or contracts.json was edited or damaged, or an older zkinfer made the build; rebuild the directory with `zkinfer build`")]
    DigestMismatch {
        /// The build directory.
        dir: PathBuf,
        /// What differs.
        reason: String,
    },
    /// The output predicate cannot be proven.
    #[error("output predicate: {0}")]
    Predicate(String),
    /// A commitment would be unsalted.
    #[error("{0}")]
    Salt(String),
    /// The binding is missing, unexpected or malformed.
    #[error("binding: {0}")]
    Binding(String),
    /// A batch size or a batch's samples are wrong.
    #[error("batch: {0}")]
    Batch(String),
    /// The visibility combination is not allowed.
    #[error("visibility: {0}")]
    Visibility(String),
    /// The circuit exposed another number of public instances than the build describes.
    #[error("the circuit exposed {circuit} public instances, the build describes {described}: the build directory does not match this zkinfer's circuit; rebuild it")]
    InstanceCount {
        /// Instances the circuit exposed.
        circuit: usize,
        /// Instances `settings.json` describes.
        described: usize,
    },
    /// Quantization is worse than the user allows.
    #[error("quantization fidelity check failed: {0}")]
    Fidelity(String),
    /// Filesystem error outside the artifact helpers.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Reports long steps (to a progress bar, a log, or nowhere).
pub trait Progress {
    /// A step starts.
    fn start(&self, _step: &str) {}
    /// The step ends.
    fn finish(&self, _step: &str, _secs: f64) {}
}

/// No progress output.
pub struct Quiet;
impl Progress for Quiet {}

fn step<T>(p: &dyn Progress, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    p.start(name);
    let t = Instant::now();
    let r = f();
    p.finish(name, t.elapsed().as_secs_f64());
    r
}
