//! Native verification of a proof file: its instances parsed and checked against their stated
//! meaning, its statement against what the build stands for (weights, binding), then the proof.

use std::path::Path;

use crate::artifacts::{BuildDir, ProofFile};
use crate::circuit::InstanceKind;
use crate::field::{field, field_to_i128, from_word, Fr};
use crate::proof;
use crate::quant;
use crate::verifier::{self, EvmRun};
use crate::visibility::Vis;

use super::{Build, Result};

/// Parses a proof file's instances into field elements, checking each is canonical and agrees
/// with its stated integer and float. `Err(reason)` means the proof file is invalid.
pub fn proof_instances(build: &Build, pf: &ProofFile) -> std::result::Result<Vec<Fr>, String> {
    if pf.instances.len() != build.settings.instances.len() {
        return Err(format!(
            "{} public instances, the model has {}",
            pf.instances.len(),
            build.settings.instances.len()
        ));
    }
    pf.instances
        .iter()
        .zip(&build.settings.instances)
        .enumerate()
        .map(|(i, (inst, info))| {
            if inst.info != *info {
                return Err(format!(
                    "instance {i} is described as '{}', the build says '{}'",
                    inst.info.name, info.name
                ));
            }
            let f = from_word(inst.field.0).ok_or_else(|| {
                format!(
                    "instance {i} ({}) is not below the BN254 scalar field modulus",
                    inst.info.name
                )
            })?;
            if !info.is_numeric() {
                if inst.integer.is_some() || inst.value.is_some() {
                    return Err(format!(
                        "instance {i} is a {}: it has no integer or value",
                        info.kind
                    ));
                }
                return Ok(f);
            }
            let q = field_to_i128(&f);
            if q.map(|q| q.to_string()) != inst.integer {
                return Err(format!(
                    "instance {i}: integer {:?} does not match its field element",
                    inst.integer
                ));
            }
            let v = quant::to_float(q.unwrap_or(0), info.exp);
            if Some(v) != inst.value {
                return Err(format!(
                    "instance {i}: value {:?} does not match its field element ({v})",
                    inst.value
                ));
            }
            Ok(f)
        })
        .collect()
}

/// Checks what a proof states against what this build stands for, beyond the proof itself:
/// public weights must be the build's, a weight commitment the build's commitment, and the
/// binding instance the value of the proof file's binding record. Returns what was checked,
/// one line each, or why the statement is not this build's. `instances` are the proof file's,
/// parsed by [`proof_instances`].
pub fn check_statement(
    build: &Build,
    pf: &ProofFile,
    instances: &[Fr],
) -> std::result::Result<Vec<String>, String> {
    let mut checked = vec![];
    let vis = build.settings.circuit.visibility;
    let params = build.model.params();
    let mut weights_seen = 0;
    for (inst, f) in pf.instances.iter().zip(instances) {
        let info = &inst.info;
        match info.kind {
            InstanceKind::Param => {
                let ours = params.get(info.index).copied().map(field);
                if ours != Some(*f) {
                    return Err(format!(
                        "public weight '{}' is not the build's: the proof was made with other weights than {}'s model",
                        info.name,
                        build.dir.root.display()
                    ));
                }
                weights_seen += 1;
            }
            InstanceKind::ParamCommitment => {
                if *f != build.param_commitment() {
                    return Err(format!(
                        "the weight commitment is not the build's: the proof was made with other weights than {}'s model",
                        build.dir.root.display()
                    ));
                }
                checked.push("weights: the commitment is the build's".into());
            }
            InstanceKind::Binding => match &pf.binding {
                Some(b) => {
                    let v = b.value();
                    if v != *f {
                        return Err("the binding instance is not the value of the proof file's binding record (chain, registry, submitter, model, nonce)".into());
                    }
                    checked.push(format!(
                        "binding: chain {}, registry {}, submitter {}, model {}, nonce {}",
                        b.chain_id, b.registry, b.submitter, b.model_id, b.nonce
                    ));
                }
                None => checked.push(
                    "binding: the proof file has no binding record; the instance is unexplained"
                        .into(),
                ),
            },
            _ => {}
        }
    }
    match vis.params {
        Vis::Public => {
            if weights_seen != params.len() {
                return Err(format!(
                    "{weights_seen} public weights, the build has {}",
                    params.len()
                ));
            }
            checked.push(format!(
                "weights: all {} public weights are the build's",
                params.len()
            ));
        }
        Vis::Fixed => {
            checked.push("weights: fixed in the circuit (the verifying key binds them)".into())
        }
        Vis::Private => checked.push(
            "weights: UNBOUND (private, nothing pins them): the proof holds for some weights of the model's shape, not necessarily the build's".into(),
        ),
        Vis::Hashed => {}
    }
    Ok(checked)
}

/// What native verification found.
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub enum Verdict {
    /// The proof verifies and states what this build stands for.
    Valid {
        /// What was checked beyond the proof, one line each (see [`check_statement`]).
        checked: Vec<String>,
    },
    /// The proof file is invalid.
    Invalid {
        /// Why.
        reason: String,
    },
}

impl Verdict {
    /// Whether the proof is valid.
    pub fn is_valid(&self) -> bool {
        matches!(self, Verdict::Valid { .. })
    }

    /// Why the proof is invalid (`None` when valid).
    pub fn reason(&self) -> Option<&str> {
        match self {
            Verdict::Valid { .. } => None,
            Verdict::Invalid { reason } => Some(reason),
        }
    }

    /// `Ok(checked)` when valid, `Err(reason)` when invalid.
    pub fn into_result(self) -> std::result::Result<Vec<String>, String> {
        match self {
            Verdict::Valid { checked } => Ok(checked),
            Verdict::Invalid { reason } => Err(reason),
        }
    }

    /// What was checked (`None` when invalid).
    pub fn checked(&self) -> Option<&[String]> {
        match self {
            Verdict::Valid { checked } => Some(checked),
            Verdict::Invalid { .. } => None,
        }
    }
}

/// Native verification: a [`Verdict`], or `Err` when the proof could not be checked (another
/// build's proof, unreadable keys).
pub fn verify(build: &Build, pf: &ProofFile, path: &Path) -> Result<Verdict> {
    build.check_proof_file(pf, path)?;
    let instances = match proof_instances(build, pf) {
        Ok(i) => i,
        Err(reason) => return Ok(Verdict::Invalid { reason }),
    };
    let checked = match check_statement(build, pf, &instances) {
        Ok(c) => c,
        Err(reason) => return Ok(Verdict::Invalid { reason }),
    };
    let bytes = pf.proof.to_vec();
    let params = build.params()?;
    let vk = proof::read_vk(
        &build.dir.path(BuildDir::VK),
        build.settings.circuit.params.clone(),
    )?;
    Ok(if proof::verify(&params, &vk, &instances, &bytes) {
        Verdict::Valid { checked }
    } else {
        Verdict::Invalid {
            reason: "the proof does not verify".into(),
        }
    })
}

/// The verify calldata for a proof file: its instances as raw words, exactly as stated in the
/// file, and its proof bytes.
pub fn verify_calldata(pf: &ProofFile) -> (Vec<[u8; 32]>, Vec<u8>) {
    (
        pf.instances.iter().map(|i| i.field.0).collect(),
        pf.proof.to_vec(),
    )
}

/// Verifies calldatas against the build's contracts in an in-process EVM.
pub fn verify_in_evm(build: &Build, calldatas: &[Vec<u8>]) -> Result<EvmRun> {
    Ok(verifier::evm_verify(&build.contracts()?, calldatas)?)
}
