//! The proving backend and its scalar field, re-exported once for every stage: halo2 (halo2-axiom
//! through halo2-base), BN254's `Fr`, and the two encodings of a field element zkinfer uses (a
//! small signed integer, and the EVM's 32-byte big-endian word). A leaf: it imports nothing from
//! the crate.

pub use halo2_base::halo2_proofs;
pub use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};
pub use halo2_proofs::halo2curves::ff::{Field, FromUniformBytes, PrimeField};

/// The field element of a signed integer (`-x` for negative `x`).
pub fn field(x: i128) -> Fr {
    let m = Fr::from_u128(x.unsigned_abs());
    if x < 0 {
        -m
    } else {
        m
    }
}

/// The signed integer a field element encodes, if it is small (below 2^127 in magnitude).
pub fn field_to_i128(f: &Fr) -> Option<i128> {
    let le = f.to_repr();
    let small = |b: &[u8]| b[16..].iter().all(|&x| x == 0);
    if small(le.as_ref()) {
        let v = u128::from_le_bytes(le.as_ref()[..16].try_into().ok()?);
        return i128::try_from(v).ok();
    }
    let neg = (-*f).to_repr();
    if small(neg.as_ref()) {
        let v = u128::from_le_bytes(neg.as_ref()[..16].try_into().ok()?);
        return i128::try_from(v).ok().map(|v| -v);
    }
    None
}

/// A field element as the EVM's 32-byte big-endian word.
pub fn to_word(f: &Fr) -> [u8; 32] {
    let mut w: [u8; 32] = f.to_repr();
    w.reverse();
    w
}

/// The field element of a 32-byte big-endian word, or `None` when the word is not below the
/// BN254 scalar modulus (not canonical).
pub fn from_word(word: [u8; 32]) -> Option<Fr> {
    let mut le = word;
    le.reverse();
    Option::from(Fr::from_repr(le))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_and_words_round_trip() {
        for x in [0i128, 1, -1, 12345, -(1 << 100), (1 << 126)] {
            assert_eq!(field_to_i128(&field(x)), Some(x));
            assert_eq!(from_word(to_word(&field(x))), Some(field(x)));
        }
        assert_eq!(from_word([0xff; 32]), None);
    }
}
