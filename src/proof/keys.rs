//! Key generation and key files.

use std::path::Path;

use halo2_base::halo2_proofs::halo2curves::ff::PrimeField;
use halo2_base::halo2_proofs::{
    plonk::{keygen_pk, keygen_vk, Circuit, ProvingKey, VerifyingKey},
    poly::kzg::commitment::ParamsKZG,
    SerdeFormat,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{guarded, Error, Result};
use alloy::primitives::B256;

use crate::circuit::InstanceInfo;
use crate::circuit::{CircuitShape, ZkCircuit, ZkParams};
use crate::field::{Bn256, Fr, G1Affine};
use crate::files::write_atomic;
use crate::predicate::Predicate;
use crate::visibility::Visibility;

/// Generates the verifying and proving keys of `circuit`.
pub fn keygen<C: Circuit<Fr>>(
    params: &ParamsKZG<Bn256>,
    circuit: &C,
) -> Result<ProvingKey<G1Affine>> {
    guarded("key generation", || {
        let vk = keygen_vk(params, circuit).map_err(|e| Error::Halo2 {
            stage: "verifying key generation",
            reason: format!("{e:?}"),
        })?;
        keygen_pk(params, vk, circuit).map_err(|e| Error::Halo2 {
            stage: "proving key generation",
            reason: format!("{e:?}"),
        })
    })
}

/// The canonical bytes of a verifying key.
pub fn vk_bytes(vk: &VerifyingKey<G1Affine>) -> Vec<u8> {
    vk.to_bytes(SerdeFormat::RawBytes)
}

/// What a vk digest covers besides the verifying key: the build's description of the circuit
/// that the key does not carry (everything in `settings.circuit` but the prover-only break
/// points) and the meaning of each public instance.
#[derive(Serialize)]
struct Described<'a> {
    params: &'a ZkParams,
    visibility: &'a Visibility,
    predicate: &'a Option<Predicate>,
    instances: &'a [InstanceInfo],
    model_sha256: &'a str,
    srs_sha256: &'a str,
    srs_file_sha256: &'a str,
    srs_insecure: bool,
}

/// What a vk digest covers outside `settings.circuit`: the quantized model file (the weights a
/// hashed or public-weight build commits to, and every scale) and the SRS the keys were made
/// on, with the build's trust decision about it.
#[derive(Clone, Copy, Debug)]
pub struct DigestFiles<'a> {
    /// SHA-256 (hex) of `model.quant.json` as written.
    pub model_sha256: &'a str,
    /// SHA-256 (hex) of the SRS file the build used (`settings.srs.sha256`).
    pub srs_sha256: &'a str,
    /// SHA-256 (hex) of the build's own `srs.bin` (`settings.srs.file_sha256`).
    pub srs_file_sha256: &'a str,
    /// `settings.srs.insecure`.
    pub srs_insecure: bool,
}

impl<'a> DigestFiles<'a> {
    /// The files of a build whose quantized model hashes to `model_sha256` and whose SRS
    /// record is `srs`.
    pub fn new(model_sha256: &'a str, srs: &'a super::SrsInfo) -> Self {
        Self {
            model_sha256,
            srs_sha256: &srs.sha256,
            srs_file_sha256: &srs.file_sha256,
            srs_insecure: srs.insecure,
        }
    }
}

/// Domain separation of [`vk_digest`] (and its version: a new definition takes a new tag).
const VK_DIGEST_TAG: &[u8] = b"zkinfer-vk-digest-v2\0";

/// The build's `vk_digest`: names the circuit a proof belongs to and what its instances mean.
///
/// Definition: `0x` followed by the hex SHA-256 of
///
/// ```text
/// "zkinfer-vk-digest-v2\0" || R || J
/// ```
///
/// where `R` is the verifying key's transcript representation as 32 bytes big-endian (halo2's
/// `VerifyingKey::transcript_repr`: BLAKE2b, personalised "Halo2-Verify-Key", of the pinned
/// key (domain, constraint system with every gate and lookup, fixed and permutation
/// commitments), reduced into BN254's scalar field; the same element every proof's transcript
/// and the Solidity verifier absorb first), and `J` is the compact JSON
/// `{"params":…,"visibility":…,"predicate":…,"instances":[…],"model_sha256":…,"srs_sha256":…,
/// "srs_file_sha256":…,"srs_insecure":…}` of `settings.json`'s `circuit.params`, `circuit.visibility`,
/// `circuit.predicate` and `instances`, as zkinfer serialises them, the hex SHA-256 of
/// `model.quant.json` (the weights behind a hashed or public-weight build, and every scale),
/// and `settings.srs.sha256`, `settings.srs.file_sha256` and `settings.srs.insecure` (the SRS
/// given, the one the build keeps in `srs.bin`, and the build's trust in it). `circuit.break_points` is left out: it only tells the prover where
/// halo2-base splits its columns, and the constraint system already fixes the circuit.
///
/// A key read from `vk.bin` rebuilds its gates from `circuit.params`, so hashing only the key's
/// bytes would let an edited `settings.json` put another circuit (or another meaning of the
/// same instances) behind the same digest; `R` changes with the gates, `J` with the meaning.
pub fn vk_digest(
    vk: &VerifyingKey<G1Affine>,
    shape: &CircuitShape,
    instances: &[InstanceInfo],
    files: DigestFiles,
) -> B256 {
    let mut repr = vk.transcript_repr().to_repr();
    repr.as_mut().reverse();
    let described = Described {
        params: &shape.params,
        visibility: &shape.visibility,
        predicate: &shape.predicate,
        instances,
        model_sha256: files.model_sha256,
        srs_sha256: files.srs_sha256,
        srs_file_sha256: files.srs_file_sha256,
        srs_insecure: files.srs_insecure,
    };
    // Serialising plain structs of integers, strings and enums cannot fail.
    let json = serde_json::to_vec(&described).expect("the circuit description serialises");
    let mut h = Sha256::new();
    h.update(VK_DIGEST_TAG);
    h.update(repr.as_ref());
    h.update(&json);
    B256::from(<[u8; 32]>::from(h.finalize()))
}

/// Writes a key (proving or verifying) atomically.
pub fn write_key(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, bytes).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read_bytes(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a proving key written by [`write_key`].
pub fn read_pk(path: &Path, params: ZkParams) -> Result<ProvingKey<G1Affine>> {
    let bytes = read_bytes(path)?;
    guarded("reading the proving key", || {
        ProvingKey::from_bytes::<ZkCircuit>(&bytes, SerdeFormat::RawBytes, params).map_err(
            |source| Error::Io {
                path: path.to_path_buf(),
                source,
            },
        )
    })
}

/// Reads a verifying key written by [`write_key`].
pub fn read_vk(path: &Path, params: ZkParams) -> Result<VerifyingKey<G1Affine>> {
    let bytes = read_bytes(path)?;
    guarded("reading the verifying key", || {
        VerifyingKey::from_bytes::<ZkCircuit>(&bytes, SerdeFormat::RawBytes, params).map_err(
            |source| Error::Io {
                path: path.to_path_buf(),
                source,
            },
        )
    })
}
