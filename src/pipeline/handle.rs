//! [`Build`]: a build directory opened and checked against the digest it records, and what
//! later commands ask of it (keys, SRS, contracts, commitments, predicate parameters).

use std::path::Path;

use alloy::primitives::keccak256;
use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use sha2::{Digest, Sha256};

use crate::artifacts::{BuildDir, ProofFile, Settings};
use crate::circuit;
use crate::field::{field, to_word, Bn256, Fr};
use crate::files::read_json;
use crate::graph::Graph;
use crate::quant::{self, QuantModel};
use crate::verifier::{self, Compiled};
use crate::{files, inputs, proof};

use super::{Error, Result};

/// A loaded build directory.
pub struct Build {
    /// The directory.
    pub dir: BuildDir,
    /// Its settings.
    pub settings: Settings,
    /// The quantized model.
    pub model: QuantModel,
}

impl Build {
    /// Opens a build directory, refusing one whose verifying key, circuit description,
    /// quantized model and SRS record no longer give the `vk_digest` it records (see [`proof::vk_digest`]): the digest is what
    /// proofs, deployments and the Solidity wrapper name the circuit by, so what the directory
    /// verifies against must be what the digest names.
    pub fn open(dir: &Path) -> Result<Self> {
        let dir = BuildDir::new(dir);
        let settings = dir.settings()?;
        let mismatch = |reason: String| Error::DigestMismatch {
            dir: dir.root.clone(),
            reason,
        };
        let vk = proof::read_vk(&dir.path(BuildDir::VK), settings.circuit.params.clone()).map_err(
            |e| {
                mismatch(format!(
                    "its verifying key cannot be read as the circuit settings.json describes ({e})"
                ))
            },
        )?;
        let model_path = dir.path(BuildDir::MODEL);
        let model_bytes = std::fs::read(&model_path).map_err(|source| files::Error::Io {
            path: model_path.clone(),
            source,
        })?;
        let digest = proof::vk_digest(
            &vk,
            &settings.circuit,
            &settings.instances,
            proof::DigestFiles::new(&hex::encode(Sha256::digest(&model_bytes)), &settings.srs),
        );
        if digest != settings.vk_digest {
            return Err(mismatch(format!(
                "settings.json records vk_digest {}, its verifying key, circuit description, quantized model and SRS record give {digest}",
                settings.vk_digest
            )));
        }
        let model = serde_json::from_slice(&model_bytes).map_err(|e| files::Error::Format {
            path: model_path.clone(),
            reason: format!("not a valid quantized model: {e}"),
        })?;
        Ok(Self {
            dir,
            settings,
            model,
        })
    }

    pub(super) fn params(&self) -> Result<ParamsKZG<Bn256>> {
        let path = self.dir.path(BuildDir::SRS);
        let (params, info) = proof::load_srs(&path, self.settings.circuit.k())?;
        // Native proofs and verification must use the SRS the keys and the Solidity verifier
        // were made with (the digest covers its hash): a replaced srs.bin with a secret someone
        // knows would let forged openings verify natively.
        if info.sha256 != self.settings.srs.file_sha256 {
            return Err(Error::DigestMismatch {
                dir: self.dir.root.clone(),
                reason: format!(
                    "{} is not the SRS the build was made with (SHA-256 {}, the build records {})",
                    path.display(),
                    info.sha256,
                    self.settings.srs.file_sha256
                ),
            });
        }
        Ok(params)
    }

    /// The Poseidon commitment to `inputs` under `salt`, exactly as a proof with hashed inputs
    /// exposes it (see [`circuit::commit`] for the encoding).
    pub fn input_commitment(&self, inputs: &[Vec<f64>], salt: Fr) -> Result<Fr> {
        Ok(circuit::commit::input_commitment(
            &self.model,
            inputs,
            salt,
        )?)
    }

    /// Quantizes the predicate's parameters given as `NAME=VALUE` floats, in the predicate's
    /// order (thresholds at the first output's scale, classes as integers).
    pub fn predicate_params(&self, given: &[(String, f64)]) -> Result<Vec<i128>> {
        let Some(p) = &self.settings.circuit.predicate else {
            if let Some((n, _)) = given.first() {
                return Err(Error::Predicate(format!(
                    "--param {n}: this build has no output predicate"
                )));
            }
            return Ok(vec![]);
        };
        let exp = p.param_exp(
            p.locate(&self.model)
                .map_or(0, |(_, v, _)| self.model.values[v].exp),
        );
        if let Some((n, _)) = given.iter().find(|(n, _)| !p.params().contains(n)) {
            return Err(Error::Predicate(format!(
                "--param {n}: '{p}' has no parameter named {n}"
            )));
        }
        p.params()
            .iter()
            .map(|name| {
                let v = given
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| *v)
                    .ok_or_else(|| {
                        Error::Predicate(format!(
                            "'{p}' needs {name}: give it with --param {name}=VALUE"
                        ))
                    })?;
                let q = quant::to_fixed(v, exp);
                let lim = 1i128 << (self.model.act_bits - 1);
                if !v.is_finite() || !(-lim..lim).contains(&q) {
                    return Err(Error::Predicate(format!(
                        "--param {name}={v} is outside the output's range"
                    )));
                }
                Ok(q)
            })
            .collect()
    }

    /// keccak256 of the public weight instances, packed as 32-byte words in instance order:
    /// what the registry pins for a build with public weights.
    pub fn public_weights_hash(&self) -> [u8; 32] {
        let words: Vec<u8> = self
            .model
            .params()
            .into_iter()
            .flat_map(|v| to_word(&field(v)))
            .collect();
        keccak256(words).0
    }

    /// What the build's wrapper states about its proofs (weights, predicate).
    pub fn wrapper_facts(&self) -> Result<verifier::WrapperFacts> {
        Ok(verifier::wrapper_facts(
            &self.model,
            self.settings.circuit.visibility,
            self.settings.circuit.predicate.as_ref(),
            &self.settings.instances,
        )?)
    }

    /// The Poseidon commitment to the model's parameters (salt 0), as a proof with hashed
    /// parameters exposes it.
    pub fn param_commitment(&self) -> Fr {
        circuit::commit::param_commitment(&self.model)
    }

    /// Accuracy of the float graph and of the quantized model (the bit-exact integer evaluator,
    /// which is what proofs prove) on labelled data.
    pub fn evaluate(&self, data: &Path) -> Result<crate::fidelity::EvalReport> {
        let graph: Graph = read_json(&self.dir.path(BuildDir::GRAPH), "float graph")?;
        let samples = inputs::read_labeled(data)?;
        Ok(crate::fidelity::evaluate(&graph, &self.model, &samples)?)
    }

    /// The compiled contracts, refused unless their wrapper states this build's `vk_digest`
    /// and instance layout (`VK_DIGEST`, `LAYOUT`): what gets deployed must be what the
    /// directory's digest names.
    pub fn contracts(&self) -> Result<Compiled> {
        let path = self.dir.path(BuildDir::CONTRACTS);
        let c: Compiled = read_json(&path, "compiled contracts file")?;
        let digest = self.settings.vk_digest;
        let layout = self.wrapper_facts()?.layout;
        let code = c.wrapper.runtime_code();
        for (what, word) in [
            ("vk_digest", digest.as_slice()),
            ("instance layout", &layout),
        ] {
            // solc pushes a constant without its leading zero bytes.
            let lead = word.iter().take_while(|&&b| b == 0).count();
            let word = &word[lead..];
            if word.is_empty() || !code.windows(word.len()).any(|w| w == word) {
                return Err(Error::DigestMismatch {
                    dir: self.dir.root.clone(),
                    reason: format!(
                        "the verifier wrapper in {} does not state this build's {what}",
                        path.display()
                    ),
                });
            }
        }
        Ok(c)
    }

    /// Checks that a proof file belongs to this build.
    pub fn check_proof_file(&self, pf: &ProofFile, path: &Path) -> Result<()> {
        if pf.vk_digest != self.settings.vk_digest {
            return Err(Error::OtherModel {
                proof: path.to_path_buf(),
                dir: self.dir.root.clone(),
                theirs: pf.vk_digest,
                ours: self.settings.vk_digest,
            });
        }
        Ok(())
    }
}
