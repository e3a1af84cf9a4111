//! Key generation and key files.

use std::path::Path;

use halo2_base::halo2_proofs::{
    plonk::{keygen_pk, keygen_vk, Circuit, ProvingKey, VerifyingKey},
    poly::kzg::commitment::ParamsKZG,
    SerdeFormat,
};
use sha2::{Digest, Sha256};

use super::{guarded, Error, Result};
use crate::artifacts::write_atomic;
use crate::circuit::{Bn256, Fr, G1Affine, ZkCircuit, ZkParams};

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

/// `0x`-prefixed SHA-256 of the verifying key: names the circuit a proof belongs to.
pub fn vk_digest(vk: &VerifyingKey<G1Affine>) -> String {
    format!("0x{}", hex::encode(Sha256::digest(vk_bytes(vk))))
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
