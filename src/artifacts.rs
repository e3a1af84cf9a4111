//! The build directory and the proof file: every artifact's name in a build directory and its
//! format (`settings.json`, `PROOF.json`). File helpers are in [`crate::files`].

use std::path::{Path, PathBuf};

use alloy::primitives::{Bytes, B256};
use serde::{Deserialize, Serialize};

use crate::circuit::{CircuitShape, InstanceInfo};
use crate::fidelity::{CalibrationReport, FidelityReport};
use crate::files::{read_json, write_atomic, Error, Result};
use crate::proof::SrsInfo;
use crate::quant::QuantConfig;

/// The files of a build directory (`zkinfer build --out DIR`).
#[derive(Clone, Debug)]
pub struct BuildDir {
    /// The directory.
    pub root: PathBuf,
}

impl BuildDir {
    /// Build settings and reports.
    pub const SETTINGS: &'static str = "settings.json";
    /// The quantized model.
    pub const MODEL: &'static str = "model.quant.json";
    /// The imported float graph (the f64 reference for `eval`).
    pub const GRAPH: &'static str = "model.graph.json";
    /// The SRS, downsized to the circuit.
    pub const SRS: &'static str = "srs.bin";
    /// Proving key.
    pub const PK: &'static str = "pk.bin";
    /// Verifying key.
    pub const VK: &'static str = "vk.bin";
    /// Generated halo2 verifier source.
    pub const VERIFIER_SOL: &'static str = "Halo2Verifier.sol";
    /// Generated wrapper source.
    pub const WRAPPER_SOL: &'static str = "ZkinferVerifier.sol";
    /// Compiled contracts: ABI, creation and runtime bytecode.
    pub const CONTRACTS: &'static str = "contracts.json";

    /// A build directory at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Path of a file in the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Reads the settings, with a clear error when `root` is not a build directory.
    pub fn settings(&self) -> Result<Settings> {
        let p = self.path(Self::SETTINGS);
        if !p.exists() {
            return Err(Error::Format {
                path: self.root.clone(),
                reason: "not a zkinfer build directory (no settings.json); create one with `zkinfer build MODEL.onnx --out DIR`".into(),
            });
        }
        let s: Settings = read_json(&p, "zkinfer settings file")?;
        if s.format != Settings::FORMAT || s.version != Settings::VERSION {
            return Err(Error::Format {
                path: p,
                reason: format!(
                    "format {} v{} is not {} v{}; rebuild with this zkinfer",
                    s.format,
                    s.version,
                    Settings::FORMAT,
                    Settings::VERSION
                ),
            });
        }
        Ok(s)
    }
}

/// Everything a build directory holds, as the bytes to write.
pub struct BuildFiles {
    /// `settings.json`.
    pub settings: Vec<u8>,
    /// `model.quant.json`.
    pub model: Vec<u8>,
    /// `model.graph.json`.
    pub graph: Vec<u8>,
    /// `srs.bin`.
    pub srs: Vec<u8>,
    /// `pk.bin`.
    pub pk: Vec<u8>,
    /// `vk.bin`.
    pub vk: Vec<u8>,
    /// `Halo2Verifier.sol`.
    pub verifier_sol: Vec<u8>,
    /// `ZkinferVerifier.sol`.
    pub wrapper_sol: Vec<u8>,
    /// `contracts.json`.
    pub contracts: Vec<u8>,
}

impl BuildDir {
    /// Writes a whole build directory at `out`: every file into a temporary sibling directory,
    /// then one rename, so `out` is never half-written. An existing `out` is refused unless
    /// `force`, and then replaced.
    pub fn write_new(out: &Path, force: bool, files: &BuildFiles) -> Result<Self> {
        if out.exists() && !force {
            return Err(Error::Format {
                path: out.to_path_buf(),
                reason: "already exists; pass --force to replace it, or choose another --out"
                    .into(),
            });
        }
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| Error::Io { path, source }
        };
        let parent = match out.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(io(&parent))?;
        let tmp = tempfile::Builder::new()
            .prefix(".zkinfer-build-")
            .tempdir_in(&parent)
            .map_err(io(&parent))?;
        let dir = BuildDir::new(tmp.path());
        for (name, bytes) in [
            (Self::SRS, &files.srs),
            (Self::PK, &files.pk),
            (Self::VK, &files.vk),
            (Self::VERIFIER_SOL, &files.verifier_sol),
            (Self::WRAPPER_SOL, &files.wrapper_sol),
            (Self::CONTRACTS, &files.contracts),
            (Self::MODEL, &files.model),
            (Self::GRAPH, &files.graph),
            // Last: a directory without settings.json is not a build.
            (Self::SETTINGS, &files.settings),
        ] {
            let path = dir.path(name);
            write_atomic(&path, bytes).map_err(io(&path))?;
        }
        let tmp_path = tmp.keep();
        if out.exists() {
            std::fs::remove_dir_all(out).map_err(io(out))?;
        }
        std::fs::rename(&tmp_path, out).map_err(io(out))?;
        Ok(BuildDir::new(out))
    }
}

/// The compiled verifier contracts and their sizes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerifierInfo {
    /// solc version used.
    pub solc: String,
    /// Runtime bytecode bytes of the halo2 verifier.
    pub verifier_runtime_bytes: usize,
    /// Runtime bytecode bytes of the second contract of a verifier split in two
    /// (`Halo2VerifierTail`, deployed by the halo2 verifier's constructor); absent when the
    /// verifier is one contract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail_runtime_bytes: Option<usize>,
    /// Runtime bytecode bytes of the checking wrapper.
    pub wrapper_runtime_bytes: usize,
    /// Exact proof length in bytes.
    pub proof_bytes: usize,
    /// EIP-170 limit.
    pub size_limit: usize,
}

impl VerifierInfo {
    /// The largest contract of the verifier (EIP-170 applies to each).
    pub fn largest_runtime_bytes(&self) -> usize {
        self.verifier_runtime_bytes
            .max(self.tail_runtime_bytes.unwrap_or(0))
    }
}

/// `settings.json`: everything a later command needs to know about a build.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Settings {
    /// Always [`Settings::FORMAT`].
    pub format: String,
    /// Format version.
    pub version: u32,
    /// zkinfer version that built it.
    pub zkinfer: String,
    /// Source model path as given.
    pub model_path: String,
    /// SHA-256 of the ONNX file.
    pub model_sha256: String,
    /// Multiply-accumulates per inference.
    pub macs: usize,
    /// Quantization knobs used.
    pub quant: QuantConfig,
    /// Circuit shape (params and break points).
    pub circuit: CircuitShape,
    /// The SRS used.
    pub srs: SrsInfo,
    /// The circuit's digest: SHA-256 over the verifying key's transcript representation and the
    /// circuit description and instance layout above (definition: [`crate::proof::vk_digest`]).
    /// `Build::open` recomputes it and refuses a directory that no longer gives it.
    pub vk_digest: B256,
    /// Meaning of each public instance, in order.
    pub instances: Vec<InstanceInfo>,
    /// Compiled verifier facts.
    pub verifier: VerifierInfo,
    /// Quantization fidelity on the calibration data.
    pub fidelity: FidelityReport,
    /// What calibration tried and chose.
    pub calibration: CalibrationReport,
}

impl Settings {
    /// Format tag.
    pub const FORMAT: &'static str = "zkinfer-build";
    /// Format version: 5 since activations have calibrated widths and an affine op's ReLU is
    /// fused into its rescale (the same quantized model lays out another circuit); 4: the
    /// digest also covers the quantized model file and the SRS record (3: the constraint system
    /// and the description). Older builds must be rebuilt.
    pub const VERSION: u32 = 5;
}

/// One public instance in a proof file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProofInstance {
    /// Its meaning (see [`InstanceInfo`]).
    #[serde(flatten)]
    pub info: InstanceInfo,
    /// The field element as the EVM sees it: 32 bytes big-endian, `0x` hex in the file.
    pub field: B256,
    /// The signed integer it encodes (inputs and outputs; absent for commitments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integer: Option<String>,
    /// Its float meaning, `integer * 2^-exp` (absent for commitments).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

/// `PROOF.json`: a proof and what it proves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProofFile {
    /// Always [`ProofFile::FORMAT`].
    pub format: String,
    /// Format version.
    pub version: u32,
    /// The digest of the build it was made for (see [`crate::proof::vk_digest`]).
    pub vk_digest: B256,
    /// SHA-256 of the ONNX model.
    pub model_sha256: String,
    /// Public instances, in order.
    pub instances: Vec<ProofInstance>,
    /// What the proof is bound to, when the build binds proofs (its last instance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<crate::visibility::binding::Binding>,
    /// Proof bytes, `0x` hex in the file.
    pub proof: Bytes,
}

impl ProofFile {
    /// Format tag.
    pub const FORMAT: &'static str = "zkinfer-proof";
    /// Format version.
    pub const VERSION: u32 = 2;

    /// Reads a proof file, checking its format tag and version.
    pub fn read(path: &Path) -> Result<Self> {
        let p: ProofFile = read_json(path, "zkinfer proof file")?;
        if p.format != Self::FORMAT || p.version != Self::VERSION {
            return Err(Error::Format {
                path: path.to_path_buf(),
                reason: format!(
                    "format {} v{} is not {} v{}",
                    p.format,
                    p.version,
                    Self::FORMAT,
                    Self::VERSION
                ),
            });
        }
        Ok(p)
    }
}
