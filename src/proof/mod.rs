//! SRS, keys, proving and native verification. The transcript choices live here, in one place:
//! SHPLONK multi-open over KZG on BN254, with the Keccak-based EVM transcript so the same proof
//! verifies natively and in the Solidity verifier.

mod keys;
mod srs;

pub use keys::{keygen, read_pk, read_vk, vk_bytes, vk_digest, write_key, DigestFiles};
pub use srs::{
    generate_srs, generate_srs_seeded, load_srs, srs_bytes, trusted_srs, write_srs, SrsInfo,
    TrustedSrs, TRUSTED_SRS,
};

use halo2_base::halo2_proofs::{
    plonk::{create_proof, verify_proof, Circuit, ProvingKey, VerifyingKey},
    poly::commitment::ParamsProver,
    poly::kzg::{
        commitment::{KZGCommitmentScheme, ParamsKZG},
        multiopen::{ProverSHPLONK, VerifierSHPLONK},
        strategy::SingleStrategy,
    },
    transcript::{TranscriptReadBuffer, TranscriptWriterBuffer},
};
use rand::rngs::OsRng;
use snark_verifier::system::halo2::transcript::evm::EvmTranscript;

use crate::field::{Bn256, Fr, G1Affine};

/// Errors of the proof stage.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// An SRS file is unusable.
    #[error("SRS {path}: {reason}")]
    Srs {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// halo2 failed during key generation or proving.
    #[error("{stage} failed: {reason}")]
    Halo2 {
        /// Which step.
        stage: &'static str,
        /// halo2's message.
        reason: String,
    },
    /// The fresh proof did not verify: the witness does not satisfy the circuit.
    #[error("the proof does not verify against its own verifying key: the witness does not satisfy the circuit (this is a zkinfer bug; please report it with the model and input)")]
    SelfCheck,
}

/// Result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Runs `f`, turning a panic inside a dependency into an error.
fn guarded<T>(stage: &'static str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|p| {
        let reason = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into());
        Err(Error::Halo2 { stage, reason })
    })
}

/// Proves with SHPLONK and the EVM transcript, then checks the proof natively before returning it.
pub fn prove<C: Circuit<Fr>>(
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey<G1Affine>,
    circuit: C,
    instances: &[Fr],
) -> Result<Vec<u8>> {
    let proof = guarded("proving", || {
        let mut transcript = TranscriptWriterBuffer::<_, G1Affine, _>::init(Vec::new());
        create_proof::<
            KZGCommitmentScheme<Bn256>,
            ProverSHPLONK<'_, Bn256>,
            _,
            _,
            EvmTranscript<_, _, _, _>,
            _,
        >(
            params,
            pk,
            &[circuit],
            &[&[instances]],
            OsRng,
            &mut transcript,
        )
        .map_err(|e| Error::Halo2 {
            stage: "proving",
            reason: format!("{e:?}"),
        })?;
        Ok(transcript.finalize())
    })?;
    if !verify(params, pk.get_vk(), instances, &proof) {
        return Err(Error::SelfCheck);
    }
    Ok(proof)
}

/// Verifies a proof natively. Any malformed proof is simply invalid.
pub fn verify(
    params: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    instances: &[Fr],
    proof: &[u8],
) -> bool {
    let run = || {
        let mut cursor = std::io::Cursor::new(proof);
        let mut transcript = TranscriptReadBuffer::<_, G1Affine, _>::init(&mut cursor);
        let strategy = SingleStrategy::new(params.verifier_params());
        let ok = verify_proof::<
            KZGCommitmentScheme<Bn256>,
            VerifierSHPLONK<'_, Bn256>,
            _,
            EvmTranscript<_, _, _, _>,
            _,
        >(
            params.verifier_params(),
            vk,
            strategy,
            &[&[instances]],
            &mut transcript,
        )
        .is_ok();
        drop(transcript);
        // The whole proof must be consumed: trailing bytes make it invalid.
        ok && cursor.position() == proof.len() as u64
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or(false)
}
