//! ABI encoding of `ZkinferVerifier.verify(uint256[],bytes)`.

use halo2_base::halo2_proofs::halo2curves::ff::PrimeField;
use sha3::{Digest, Keccak256};

use crate::circuit::Fr;

/// The 4-byte selector of `verify(uint256[],bytes)`.
pub fn verify_selector() -> [u8; 4] {
    let h = Keccak256::digest(b"verify(uint256[],bytes)");
    [h[0], h[1], h[2], h[3]]
}

/// A field element as the EVM's 32-byte big-endian word.
pub fn instance_word(f: &Fr) -> [u8; 32] {
    let mut w: [u8; 32] = f.to_repr();
    w.reverse();
    w
}

/// Standard ABI encoding of `verify(instances, proof)`; instances are raw 32-byte words so
/// callers can also encode non-canonical values (for tests of the wrapper's checks).
pub fn encode_verify_call(instances: &[[u8; 32]], proof: &[u8]) -> Vec<u8> {
    let word = |x: usize| {
        let mut w = [0u8; 32];
        w[24..].copy_from_slice(&(x as u64).to_be_bytes());
        w
    };
    let mut out = verify_selector().to_vec();
    out.extend_from_slice(&word(0x40));
    out.extend_from_slice(&word(0x40 + 32 + 32 * instances.len()));
    out.extend_from_slice(&word(instances.len()));
    for w in instances {
        out.extend_from_slice(w);
    }
    out.extend_from_slice(&word(proof.len()));
    out.extend_from_slice(proof);
    out.resize(out.len() + (32 - proof.len() % 32) % 32, 0);
    out
}

/// Decodes an ABI `bool` return value; anything else is `false`.
pub fn decode_bool(ret: &[u8]) -> bool {
    ret.len() == 32 && ret[..31].iter().all(|&b| b == 0) && ret[31] == 1
}
