//! The structured reference string: local generation (insecure), loading with checks, and the
//! trust decision, which fails closed: an SRS counts as trusted only when its SHA-256 is on
//! [`TRUSTED_SRS`] (files converted from public ceremonies) or the user vouches for the file
//! (`build --trusted-srs FILE`). Nothing beside the file (no sidecar, no name) can make it
//! trusted.

use std::io::{BufReader, Read};
use std::path::Path;

use halo2_base::halo2_proofs::{
    halo2curves::pairing::Engine,
    poly::commitment::{Params, ParamsProver},
    poly::kzg::commitment::ParamsKZG,
    SerdeFormat,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Error, Result};
use crate::field::Bn256;
use crate::files::write_atomic;

/// Where an SRS came from, recorded in the build settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SrsInfo {
    /// `logrows` of the file as loaded.
    pub logrows: u32,
    /// SHA-256 of the file.
    pub sha256: String,
    /// True unless the SRS is trusted (listed in [`TRUSTED_SRS`], or vouched for by the user):
    /// fine for tests and local chains, never for a public chain.
    pub insecure: bool,
    /// Where it came from.
    pub source: String,
    /// SHA-256 of the SRS as the build keeps it (`srs.bin`, downsized to `logrows`): what
    /// native proving and verification load, checked on every load.
    #[serde(default)]
    pub file_sha256: String,
}

/// An SRS file zkinfer trusts without being told.
#[derive(Clone, Copy, Debug)]
pub struct TrustedSrs {
    /// SHA-256 of the file in halo2's raw format, lowercase hex.
    pub sha256: &'static str,
    /// Where it came from and how it was converted.
    pub source: &'static str,
}

/// SRS files in halo2's raw format that zkinfer trusts: each converted by zkinfer's
/// maintainers from a public powers-of-tau ceremony, its SHA-256 computed from the converted
/// file. Empty in this release: no ceremony file could be obtained where it was made (no
/// downloads). The README ("Trusted setup") says how to convert one and add its hash here, or
/// how to vouch for a file with `build --trusted-srs FILE`.
pub const TRUSTED_SRS: &[TrustedSrs] = &[];

/// The listed SRS a file's SHA-256 matches, if any.
pub fn trusted_srs(sha256: &str) -> Option<&'static TrustedSrs> {
    TRUSTED_SRS
        .iter()
        .find(|t| t.sha256.eq_ignore_ascii_case(sha256))
}

/// Size in bytes of an SRS file in halo2's raw format for `k`.
fn raw_size(k: u32) -> u64 {
    4 + 2 * (1u64 << k) * 64 + 2 * 128
}

/// Generates an SRS locally. INSECURE: this process knows the secret (toxic waste).
pub fn generate_srs(k: u32) -> ParamsKZG<Bn256> {
    setup(k, rand::rngs::OsRng)
}

/// An SRS whose secret is derived from `seed`: reproducible (fixtures whose verifier must be
/// rebuilt byte for byte), and insecure by construction, since anyone knowing the seed knows
/// the secret.
pub fn generate_srs_seeded(k: u32, seed: u64) -> ParamsKZG<Bn256> {
    use rand::SeedableRng;
    setup(k, rand::rngs::StdRng::seed_from_u64(seed))
}

/// `ParamsKZG::setup`, point for point (same secret drawn from `rng`, same bases), about ten
/// times faster: every base is a multiple of the G1 generator, so each is a sum of 32 entries
/// of one fixed-base table instead of a full scalar multiplication (halo2's setup spends about
/// a minute on logrows 18 here).
fn setup(k: u32, rng: impl rand::RngCore) -> ParamsKZG<Bn256> {
    use halo2_base::halo2_proofs::arithmetic::parallelize;
    use halo2_base::halo2_proofs::halo2curves::bn256::{Fr, G1Affine, G2Affine, G1};
    use halo2_base::halo2_proofs::halo2curves::ff::{BatchInvert, Field, PrimeField};
    use halo2_base::halo2_proofs::halo2curves::group::{prime::PrimeCurveAffine, Curve, Group};

    assert!(k <= Fr::S, "logrows {k} is beyond the field's FFT domain");
    let n = 1usize << k;
    let s = Fr::random(rng);

    // Powers s^i, and the Lagrange scalars (s^n - 1) / n * w^i / (s - w^i) over the n-th roots
    // of unity w^i, as halo2 computes them.
    let mut powers = Vec::with_capacity(n);
    let mut acc = Fr::ONE;
    for _ in 0..n {
        powers.push(acc);
        acc *= s;
    }
    let mut root = Fr::ROOT_OF_UNITY_INV.invert().unwrap();
    for _ in k..Fr::S {
        root = root.square();
    }
    let mut roots = Vec::with_capacity(n);
    let mut w = Fr::ONE;
    for _ in 0..n {
        roots.push(w);
        w *= root;
    }
    let mut denominators: Vec<Fr> = roots.iter().map(|w| s - w).collect();
    denominators.batch_invert();
    let multiplier = (acc - Fr::ONE) * Fr::from(n as u64).invert().unwrap();
    let lagrange: Vec<Fr> = roots
        .iter()
        .zip(&denominators)
        .map(|(w, inv)| multiplier * w * inv)
        .collect();
    drop((roots, denominators));

    // table[i][j] = j * 2^(8i) * G1, affine.
    let mut table = vec![G1Affine::identity(); 32 * 256];
    {
        let mut projective = vec![G1::identity(); 32 * 256];
        let mut base = G1::generator();
        for row in projective.chunks_mut(256) {
            for j in 1..256 {
                row[j] = row[j - 1] + base;
            }
            base = row[255] + base;
        }
        G1::batch_normalize(&projective, &mut table);
    }
    let times_g = |scalars: &[Fr]| -> Vec<G1Affine> {
        let mut projective = vec![G1::identity(); scalars.len()];
        parallelize(&mut projective, |out, start| {
            for (o, x) in out.iter_mut().zip(&scalars[start..]) {
                let repr = x.to_repr();
                let mut acc = G1::identity();
                for (i, &byte) in repr.as_ref().iter().enumerate() {
                    if byte != 0 {
                        acc += table[i * 256 + byte as usize];
                    }
                }
                *o = acc;
            }
        });
        let mut affine = vec![G1Affine::identity(); scalars.len()];
        parallelize(&mut affine, |out, start| {
            G1::batch_normalize(&projective[start..start + out.len()], out);
        });
        affine
    };
    let g = times_g(&powers);
    let g_lagrange = times_g(&lagrange);
    let g2 = G2Affine::generator();
    let s_g2 = (g2 * s).to_affine();
    // `from_parts` is a method; a logrows-0 SRS is the cheapest receiver.
    ParamsKZG::<Bn256>::setup(0, rand::rngs::OsRng).from_parts(k, g, Some(g_lagrange), g2, s_g2)
}

/// Writes an SRS in halo2's raw format, atomically. Whether it is trusted is decided from its
/// SHA-256 when it is loaded (see [`load_srs`]), never from anything written beside it.
pub fn write_srs(params: &ParamsKZG<Bn256>, path: &Path) -> Result<SrsInfo> {
    let buf = srs_bytes(params);
    write_atomic(path, &buf).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let sha256 = hex::encode(Sha256::digest(&buf));
    Ok(SrsInfo {
        logrows: params.k(),
        insecure: trusted_srs(&sha256).is_none(),
        file_sha256: sha256.clone(),
        sha256,
        source: path.display().to_string(),
    })
}

/// An SRS in halo2's raw format, as [`write_srs`] writes it.
pub fn srs_bytes(params: &ParamsKZG<Bn256>) -> Vec<u8> {
    let mut buf = Vec::with_capacity(raw_size(params.k()) as usize);
    // Writing points into a Vec cannot fail.
    params
        .write_custom(&mut buf, SerdeFormat::RawBytes)
        .expect("writing an SRS into memory");
    buf
}

/// Loads an SRS in halo2's raw format, checks its size, points and pairing consistency, and
/// downsizes it to `k`. It is insecure unless its SHA-256 is on [`TRUSTED_SRS`] (a caller the
/// user told to trust the file may clear the flag).
pub fn load_srs(path: &Path, k: u32) -> Result<(ParamsKZG<Bn256>, SrsInfo)> {
    let err = |reason: String| Error::Srs {
        path: path.to_path_buf(),
        reason,
    };
    let mut f = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let len = f
        .metadata()
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?
        .len();
    let mut head = [0u8; 4];
    f.read_exact(&mut head)
        .map_err(|_| err("file is too short to be an SRS".into()))?;
    let file_k = u32::from_le_bytes(head);
    if file_k > 28 || raw_size(file_k) != len {
        return Err(err(format!(
            "not an SRS in halo2's raw format: header says logrows {file_k}, but the file has {len} bytes (expected {})",
            if file_k <= 28 { raw_size(file_k).to_string() } else { "a logrows <= 28".into() }
        )));
    }
    if file_k < k {
        return Err(err(format!(
            "has logrows {file_k}, the circuit needs {k}; give an SRS with logrows >= {k} (zkinfer srs --logrows {k} --out FILE)"
        )));
    }
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let mut params = ParamsKZG::<Bn256>::read_custom(
        &mut BufReader::new(bytes.as_slice()),
        SerdeFormat::RawBytes,
    )
    .map_err(|e| err(format!("invalid curve points: {e}")))?;
    drop(bytes);
    // [s]G1 paired with G2 must equal G1 paired with [s]G2.
    let g = params.get_g();
    if g.len() < 2 || Bn256::pairing(&g[1], &params.g2()) != Bn256::pairing(&g[0], &params.s_g2()) {
        return Err(err(
            "its G1 and G2 powers do not match (pairing check failed): the file is corrupt".into(),
        ));
    }
    if file_k > k {
        params.downsize(k);
    }
    let listed = trusted_srs(&sha256);
    let source = match listed {
        Some(t) => format!("{} ({})", path.display(), t.source),
        None => path.display().to_string(),
    };
    Ok((
        params,
        SrsInfo {
            logrows: k,
            // The build that keeps a (downsized) copy records that copy's hash.
            file_sha256: String::new(),
            sha256,
            insecure: listed.is_none(),
            source,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(p: &ParamsKZG<Bn256>) -> Vec<u8> {
        let mut buf = vec![];
        p.write_custom(&mut buf, SerdeFormat::RawBytes).unwrap();
        buf
    }

    /// The fast setup is halo2's, byte for byte, for the same secret.
    #[test]
    fn fast_setup_equals_halo2s() {
        use rand::SeedableRng;
        for k in [1, 6, 9] {
            let ours = generate_srs_seeded(k, 7);
            let theirs = ParamsKZG::<Bn256>::setup(k, rand::rngs::StdRng::seed_from_u64(7));
            assert_eq!(raw(&ours), raw(&theirs), "logrows {k}");
        }
    }
}
