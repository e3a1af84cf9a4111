//! Compiling the verifier sources with solc through foundry-compilers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alloy::primitives::Bytes;
use foundry_compilers::artifacts::{Settings, SolcInput, SolcLanguage, Source};
use foundry_compilers::solc::Solc;
use serde::{Deserialize, Serialize};

use super::{Error, Result};

/// One compiled contract.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompiledContract {
    /// ABI JSON.
    pub abi: serde_json::Value,
    /// Creation bytecode (`0x` hex in JSON; a file with anything else is refused when read).
    pub bytecode: Bytes,
    /// Runtime bytecode.
    pub deployed_bytecode: Bytes,
    /// Byte offsets of 32-byte immutables in the runtime bytecode (filled at deployment).
    #[serde(default)]
    pub immutable_offsets: Vec<usize>,
}

impl CompiledContract {
    /// Creation bytecode bytes.
    pub fn creation_code(&self) -> Vec<u8> {
        self.bytecode.to_vec()
    }

    /// Runtime bytecode bytes.
    pub fn runtime_code(&self) -> Vec<u8> {
        self.deployed_bytecode.to_vec()
    }

    /// Runtime bytecode as deployed with every immutable set to `word` (e.g. an address).
    pub fn runtime_code_with_immutables(&self, word: [u8; 32]) -> Vec<u8> {
        let mut code = self.runtime_code();
        for &o in &self.immutable_offsets {
            if o + 32 <= code.len() {
                code[o..o + 32].copy_from_slice(&word);
            }
        }
        code
    }
}

/// The two contracts of a zkinfer verifier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Compiled {
    /// solc version.
    pub solc: String,
    /// `Halo2Verifier`.
    pub verifier: CompiledContract,
    /// `ZkinferVerifier`, whose constructor takes the verifier's address.
    pub wrapper: CompiledContract,
    /// `Halo2VerifierTail`, when the verifier is split in two contracts (`verifier::split`):
    /// `Halo2Verifier`'s constructor deploys it, as its first creation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verifier_tail: Option<CompiledContract>,
}

impl Compiled {
    /// Refuses a verifier over the EVM's code size limits (EIP-170 runtime, EIP-3860 creation).
    pub fn check_size(&self, instances: usize) -> Result<()> {
        // The head's creation code holds the tail's; each runtime is its own contract.
        let (initcode, runtime) = (
            self.verifier.bytecode.len(),
            self.verifier.deployed_bytecode.len().max(
                self.verifier_tail
                    .as_ref()
                    .map_or(0, |t| t.deployed_bytecode.len()),
            ),
        );
        if initcode > super::INITCODE_SIZE_LIMIT || runtime > super::CODE_SIZE_LIMIT {
            return Err(Error::TooLarge {
                runtime,
                initcode,
                instances,
            });
        }
        Ok(())
    }
}

/// Compiles the halo2 verifier and the wrapper (optimizer off, as the generated Yul needs; no
/// metadata hash, so the bytecode depends only on the sources).
pub fn compile(verifier_src: &str, wrapper_src: &str, solc_path: &Path) -> Result<Compiled> {
    let mut out = compile_sources(
        &[
            ("Halo2Verifier.sol", verifier_src),
            ("ZkinferVerifier.sol", wrapper_src),
        ],
        None,
        solc_path,
    )?;
    let mut take = |file: &str, name: &str| {
        out.contracts
            .remove(&(file.to_string(), name.to_string()))
            .ok_or_else(|| Error::Compile {
                solc: solc_path.display().to_string(),
                reason: format!("no contract {name} in {file}"),
            })
    };
    Ok(Compiled {
        verifier: take("Halo2Verifier.sol", "Halo2Verifier")?,
        wrapper: take("ZkinferVerifier.sol", "ZkinferVerifier")?,
        verifier_tail: out.contracts.remove(&(
            "Halo2Verifier.sol".to_string(),
            super::TAIL_CONTRACT.to_string(),
        )),
        solc: out.solc,
    })
}

/// Every contract of a set of sources, by `(file, contract name)`.
#[derive(Clone, Debug)]
pub struct CompiledSet {
    /// solc version.
    pub solc: String,
    /// The contracts.
    pub contracts: BTreeMap<(String, String), CompiledContract>,
}

/// Compiles Solidity sources given as `(file name, text)` (imports resolve between them), with
/// the optimizer at `optimizer_runs` or off, and no metadata hash, so the bytecode depends only
/// on the sources and settings.
pub fn compile_sources(
    files: &[(&str, &str)],
    optimizer_runs: Option<usize>,
    solc_path: &Path,
) -> Result<CompiledSet> {
    let solc_name = solc_path.display().to_string();
    let err = |reason: String| Error::Compile {
        solc: solc_name.clone(),
        reason,
    };
    let solc = Solc::new(solc_path).map_err(|e| err(format!("cannot run it: {e}")))?;
    let mut sources = BTreeMap::new();
    for (name, text) in files {
        sources.insert(PathBuf::from(name), Source::new(*text));
    }
    let mut settings = Settings::default();
    settings.optimizer.enabled = Some(optimizer_runs.is_some());
    if optimizer_runs.is_some() {
        settings.optimizer.runs = optimizer_runs;
    }
    settings.metadata = Some(foundry_compilers::artifacts::SettingsMetadata::new(
        foundry_compilers::artifacts::BytecodeHash::None,
        false,
    ));
    let input =
        SolcInput::new(SolcLanguage::Solidity, sources.into(), settings).sanitized(&solc.version);
    let raw = solc
        .compile_output(&input)
        .map_err(|e| err(e.to_string()))?;
    let out: serde_json::Value =
        serde_json::from_slice(&raw).map_err(|e| err(format!("unreadable output: {e}")))?;
    let errors: Vec<String> = out["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e["severity"] == "error")
                .map(|e| e["formattedMessage"].as_str().unwrap_or("?").to_string())
                .collect()
        })
        .unwrap_or_default();
    if !errors.is_empty() {
        return Err(err(errors.join("\n")));
    }
    let hexs = |v: &serde_json::Value| -> Result<Option<Bytes>> {
        match v.as_str().filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => crate::files::decode_hex(s)
                .map(|b| Some(b.into()))
                .map_err(|e| err(format!("solc's bytecode: {e}"))),
        }
    };
    let mut contracts = BTreeMap::new();
    for (file, by_name) in out["contracts"].as_object().into_iter().flatten() {
        for (name, c) in by_name.as_object().into_iter().flatten() {
            // Interfaces and abstract contracts have no bytecode: skip them.
            let (Some(bytecode), Some(deployed_bytecode)) = (
                hexs(&c["evm"]["bytecode"]["object"])?,
                hexs(&c["evm"]["deployedBytecode"]["object"])?,
            ) else {
                continue;
            };
            contracts.insert(
                (file.clone(), name.clone()),
                CompiledContract {
                    abi: c["abi"].clone(),
                    bytecode,
                    deployed_bytecode,
                    immutable_offsets: c["evm"]["deployedBytecode"]["immutableReferences"]
                        .as_object()
                        .map(|refs| {
                            refs.values()
                                .flat_map(|v| v.as_array().cloned().unwrap_or_default())
                                .filter_map(|r| r["start"].as_u64().map(|s| s as usize))
                                .collect()
                        })
                        .unwrap_or_default(),
                },
            );
        }
    }
    Ok(CompiledSet {
        solc: solc.version.to_string(),
        contracts,
    })
}
