//! Every on-disk artifact: its name in a build directory, its format, and atomic writes.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::circuit::CircuitShape;
use crate::proof::SrsInfo;
use crate::quant::QuantConfig;

/// Errors reading or writing artifacts.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file's content is not what zkinfer expects.
    #[error("{path}: {reason}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
}

/// Result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader never sees a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Writes pretty JSON atomically.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    write_atomic(path, &json_bytes(value)?)
}

/// The bytes [`write_json_atomic`] writes: pretty JSON and a newline.
pub fn json_bytes<T: Serialize>(value: &T) -> std::io::Result<Vec<u8>> {
    let mut s = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    s.push(b'\n');
    Ok(s)
}

/// Reads JSON, or `None` when the file does not exist.
pub fn read_json_opt<T: DeserializeOwned>(path: &Path) -> std::result::Result<Option<T>, String> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| e.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Reads and parses a JSON artifact, naming the file in errors.
pub fn read_json<T: DeserializeOwned>(path: &Path, what: &str) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Format {
        path: path.to_path_buf(),
        reason: format!("not a valid {what}: {e}"),
    })
}

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

/// The meaning of one public instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceInfo {
    /// Human name, e.g. `output 0 'logits' [1]`.
    pub name: String,
    /// What it is: `input`, `input_commitment`, `param`, `param_commitment`, `output`,
    /// `output_commitment`, `predicate` (its result; in a batch, the slot's used bit),
    /// `predicate_param`, `slot` (a batch slot's used bit, when there is no predicate) or
    /// `binding`.
    pub kind: String,
    /// Which model input or output.
    pub tensor: usize,
    /// Position inside that output (flattened).
    pub index: usize,
    /// Fixed-point exponent: the float is `value * 2^-exp`.
    pub exp: i32,
    /// The batch slot the instance belongs to (batch builds; absent for what belongs to the
    /// proof once: weights, the binding, and every instance of a one-sample build).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<usize>,
}

impl InstanceInfo {
    /// Whether the instance encodes a signed integer (inputs, parameters, outputs, predicate
    /// results and parameters), not a hash (commitments, the binding).
    pub fn is_numeric(&self) -> bool {
        !self.kind.ends_with("_commitment") && self.kind != "binding"
    }
}

/// The compiled verifier contracts and their sizes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VerifierInfo {
    /// solc version used.
    pub solc: String,
    /// Runtime bytecode bytes of the halo2 verifier.
    pub verifier_runtime_bytes: usize,
    /// Runtime bytecode bytes of the checking wrapper.
    pub wrapper_runtime_bytes: usize,
    /// Exact proof length in bytes.
    pub proof_bytes: usize,
    /// EIP-170 limit.
    pub size_limit: usize,
}

/// Float-vs-quantized comparison over the calibration samples.
pub use crate::fidelity::FidelityReport;

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
    pub vk_digest: String,
    /// Meaning of each public instance, in order.
    pub instances: Vec<InstanceInfo>,
    /// Compiled verifier facts.
    pub verifier: VerifierInfo,
    /// Quantization fidelity on the calibration data.
    pub fidelity: FidelityReport,
    /// What calibration tried and chose.
    pub calibration: crate::pipeline::CalibrationReport,
}

impl Settings {
    /// Format tag.
    pub const FORMAT: &'static str = "zkinfer-build";
    /// Format version: 4 since the digest also covers the quantized model file and the SRS
    /// record (3: the constraint system and the description; older builds must be rebuilt).
    pub const VERSION: u32 = 4;
}

/// One public instance in a proof file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProofInstance {
    /// Its meaning (see [`InstanceInfo`]).
    #[serde(flatten)]
    pub info: InstanceInfo,
    /// The field element, 32 bytes big-endian hex (as the EVM sees it).
    pub field: String,
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
    pub vk_digest: String,
    /// SHA-256 of the ONNX model.
    pub model_sha256: String,
    /// Public instances, in order.
    pub instances: Vec<ProofInstance>,
    /// What the proof is bound to, when the build binds proofs (its last instance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<crate::visibility::binding::Binding>,
    /// Proof bytes, `0x` hex.
    pub proof: String,
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

    /// The proof bytes.
    pub fn proof_bytes(&self, path: &Path) -> Result<Vec<u8>> {
        decode_hex(&self.proof).map_err(|reason| Error::Format {
            path: path.to_path_buf(),
            reason: format!("field 'proof': {reason}"),
        })
    }
}

/// Decodes `0x`-prefixed (or bare) hex.
pub fn decode_hex(s: &str) -> std::result::Result<Vec<u8>, String> {
    hex::decode(s.strip_prefix("0x").unwrap_or(s)).map_err(|e| format!("not hex: {e}"))
}

/// Reads model inputs in EZKL's format: `{"input_data": [[...], ...]}`, one flattened list per
/// model input.
pub fn read_input(path: &Path) -> Result<Vec<Vec<f64>>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_input(&text).map_err(|reason| Error::Format {
        path: path.to_path_buf(),
        reason,
    })
}

#[derive(Deserialize)]
struct InputJson {
    input_data: Vec<Vec<f64>>,
}

fn parse_input(text: &str) -> std::result::Result<Vec<Vec<f64>>, String> {
    match serde_json::from_str::<InputJson>(text) {
        Ok(i) => Ok(i.input_data),
        Err(e) => {
            if ["NaN", "Infinity", "inf"].iter().any(|t| text.contains(t)) {
                Err("holds NaN or Infinity: every input value must be a finite number".into())
            } else {
                Err(format!(
                    "expected {{\"input_data\": [[numbers, ...], ...]}} (EZKL's input format): {e}"
                ))
            }
        }
    }
}

/// One line of a batch's input file: a sample's inputs, with its own salts and predicate
/// parameters where the build needs them.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchLine {
    /// One flattened list per model input.
    pub input_data: Vec<Vec<f64>>,
    /// Salt of the input commitment (hashed inputs): `0x` + up to 64 hex digits.
    #[serde(default)]
    pub salt: Option<String>,
    /// Salt of the output commitment (hashed outputs).
    #[serde(default)]
    pub output_salt: Option<String>,
    /// The output predicate's parameters by name, e.g. `{"T": 0.5}`.
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, f64>,
}

/// Reads a batch's samples: JSON lines of [`BatchLine`] (a one-sample input object is one
/// line). Errors name the line, never a salt.
pub fn read_batch_input(path: &Path) -> Result<Vec<BatchLine>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let parse = |i: usize, l: &str| {
        serde_json::from_str::<BatchLine>(l).map_err(|e| Error::Format {
            path: path.to_path_buf(),
            reason: format!(
                "line {}: expected {{\"input_data\": [[...]], \"salt\": \"0x..\", \"output_salt\": \"0x..\", \"params\": {{\"NAME\": number}}}} (salts and params where the build needs them): {}",
                i + 1,
                // Never serde's text: it can quote the offending value (a salt, a private input).
                match e.classify() {
                    serde_json::error::Category::Syntax | serde_json::error::Category::Eof =>
                        format!("not valid JSON (column {})", e.column()),
                    _ => format!(
                        "a missing or unknown field, or a value of the wrong type (column {})",
                        e.column()
                    ),
                }
            ),
        })
    };
    // One object, perhaps spread over several lines, or JSON lines.
    if let Ok(one) = serde_json::from_str::<BatchLine>(&text) {
        return Ok(vec![one]);
    }
    lines.into_iter().map(|(i, l)| parse(i, l)).collect()
}

/// One labelled sample of an evaluation set.
#[derive(Clone, Debug, Deserialize)]
pub struct LabeledSample {
    /// The inputs, flattened.
    pub input_data: Vec<Vec<f64>>,
    /// The true class (an integer) or target value.
    pub label: f64,
}

/// Reads JSON lines of `{"input_data": [[...]], "label": y}`.
pub fn read_labeled(path: &Path) -> Result<Vec<LabeledSample>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str::<LabeledSample>(l).map_err(|e| Error::Format {
                path: path.to_path_buf(),
                reason: format!(
                    "line {}: expected {{\"input_data\": [[...]], \"label\": number}}: {e}",
                    i + 1
                ),
            })
        })
        .collect()
}

/// Reads calibration data: one input object (as [`read_input`]) or JSON lines of them.
pub fn read_calibration(path: &Path) -> Result<Vec<Vec<Vec<f64>>>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if let Ok(one) = serde_json::from_str::<InputJson>(&text) {
        return Ok(vec![one.input_data]);
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            parse_input(l).map_err(|reason| Error::Format {
                path: path.to_path_buf(),
                reason: format!("line {}: {reason}", i + 1),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch input line with a wrong value names the line, never the value (it may be a
    /// salt or a private input).
    #[test]
    fn batch_input_errors_do_not_echo_values() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("in.jsonl");
        let good = r#"{"input_data": [[1.5, 2.0]], "salt": "0x5eed", "params": {"T": 0.5}}"#;
        for bad in [
            r#"{"input_data": [[1.5, 2.0]], "salt": 987654321987}"#,
            r#"{"input_data": [["314159.26"]], "salt": "0x5eed"}"#,
            r#"{"input_data": [[1.5]], "salt": "0x5eed", "secret": "271828182"}"#,
            r#"{"input_data": [[1.5, 2.0]], "salt": "0x5eed", "params": {"T": "0x161803398"}}"#,
        ] {
            std::fs::write(&path, format!("{good}\n{bad}\n")).expect("write");
            let e = read_batch_input(&path)
                .expect_err("bad line accepted")
                .to_string();
            assert!(e.contains("line 2"), "{e}");
            for secret in ["987654321987", "314159", "271828182", "161803398", "5eed"] {
                assert!(!e.contains(secret), "{e}");
            }
        }
        std::fs::write(&path, format!("{good}\n{good}\n")).expect("write");
        assert_eq!(read_batch_input(&path).expect("two good lines").len(), 2);
    }
}
