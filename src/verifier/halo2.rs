//! The halo2 verifier contract: snark-verifier's generated PLONK + SHPLONK verifier (Yul inside
//! Solidity, verifying key baked in), with its instance handling replaced by two loops so that
//! the contract's size does not depend on the number of public instances.
//!
//! # What snark-verifier unrolls, and what replaces it
//!
//! snark-verifier's EVM loader writes straight-line code: one statement per instance to load it
//! from calldata, one Lagrange basis evaluation `L_i(z)` per instance (with its share of a batch
//! inversion), and one multiply-add per instance for the instance column's evaluation
//! `Σ_i x_i·L_i(z)`. That is 170-200 bytes of runtime code per instance, so verifiers stopped
//! fitting EIP-170 at about 70 instances. Here:
//!
//! 1. **Absorbing the instances.** The verifier's transcript hashes the instances from memory,
//!    right after the verifying key's digest. One `calldatacopy` puts all of them there; the
//!    per-instance loads snark-verifier wrote for the same words are removed.
//! 2. **The instance evaluation.** With `L_i(z) = ω^i (zⁿ - 1) / (n (z - ω^i))`,
//!
//!    `Σ_i x_i·L_i(z) = (zⁿ - 1)/n · num/den`, where `num/den = Σ_i x_i·ω^i / (z - ω^i)`
//!
//!    is accumulated as one fraction in a loop over the instances (five field operations each,
//!    no memory), then inverted once with the modexp precompile. The loop also refuses any
//!    instance that is not canonical (`>= r`), where snark-verifier reduced it. The rest of the
//!    verifier is snark-verifier's, generated for a protocol that states **one** instance `X`
//!    whose evaluation it computes as `X·L_0(z)`; the loop writes `X = num·(z - 1)/den`, so
//!    that `X·L_0(z) = (zⁿ - 1)/n · num/den` is exactly the sum above.
//!
//! 3. **The proof's scalars.** snark-verifier reduces each one modulo `r` as it loads it, so
//!    `s + r` passed for `s`, where the native verifier refuses a non-canonical scalar: each
//!    load now fails the verification instead.
//!
//! The first two replacements are located by the exact text snark-verifier writes for them (its calldata
//! loads, and a load from a placeholder offset no calldata reaches); a generator whose output
//! does not match is an error, never a silently unrolled verifier. The result is checked as the
//! unrolled verifier was: valid proofs accepted, every tampered proof byte or instance rejected
//! (tests/it/pipeline.rs, tests/it/anvil.rs).

use std::rc::Rc;

use halo2_base::halo2_proofs::{
    halo2curves::{bn256::Fq, ff::PrimeField},
    plonk::VerifyingKey,
    poly::{commitment::ParamsProver, kzg::commitment::ParamsKZG},
};
use snark_verifier::{
    loader::evm::EvmLoader,
    pcs::kzg::KzgDecidingKey,
    system::halo2::{compile, transcript::evm::EvmTranscript, Config},
    util::arithmetic::Rotation,
    verifier::SnarkVerifier,
};
use snark_verifier_sdk::{PlonkVerifier, SHPLONK};

use super::{Error, Result};
use crate::field::{Bn256, Fr, G1Affine};

/// Memory address where snark-verifier's EVM loader starts allocating (its transcript buffer:
/// the verifying key's digest, then the instances).
const MEM_PTR_START: usize = 0x80;

/// A calldata offset no call reaches: the loader's load from it marks where the instance
/// evaluation goes, and is replaced by it.
const PLACEHOLDER_OFFSET: usize = 0x00ff_ffff_ffff;

/// Generates the halo2 verifier (Yul inside Solidity, verifying key baked in) for a circuit
/// with one instance column of `num_instances` values. Its calldata is the instances as 32-byte
/// words followed by the proof; it reverts on an invalid proof or a non-canonical instance. Its
/// code size does not depend on `num_instances` (module docs).
pub fn halo2_verifier_source(
    params: &ParamsKZG<Bn256>,
    vk: &VerifyingKey<G1Affine>,
    num_instances: usize,
) -> Result<String> {
    let run = || -> Result<String> {
        let protocol = compile(
            params,
            vk,
            Config::kzg().with_num_instance(vec![num_instances]),
        );
        // The rewrite assumes one instance column, queried only at the current row (halo2-base
        // copies instances in through the permutation argument), evaluated by the verifier.
        let instance_poly = protocol.preprocessed.len();
        let instance_rotations: Vec<Rotation> = protocol
            .quotient
            .numerator
            .used_query()
            .into_iter()
            .filter(|q| q.poly == instance_poly)
            .map(|q| q.rotation)
            .collect();
        let columns = vk.cs().num_instance_columns();
        if columns != 1
            || protocol.instance_committing_key.is_some()
            || !protocol.accumulator_indices.is_empty()
            || instance_rotations.iter().any(|r| r.0 != 0)
        {
            return Err(Error::Generate(format!(
                "the instance loop needs one instance column queried at the current row and no accumulator; this circuit has {columns} instance column(s) queried at rotations {:?}",
                instance_rotations.iter().map(|r| r.0).collect::<Vec<_>>()
            )));
        }
        let omega = protocol.domain.gen;
        let mut single = protocol.clone();
        single.num_instance = vec![1];

        let dk: KzgDecidingKey<Bn256> = (params.get_g()[0], params.g2(), params.s_g2()).into();
        let loader = EvmLoader::new::<Fq, Fr>();
        let protocol = protocol.loaded(&loader);
        let single = single.loaded(&loader);
        let mut transcript = EvmTranscript::<_, Rc<EvmLoader>, _, _>::new(&loader);
        let instances = transcript.load_instances(vec![num_instances]);
        let proof =
            PlonkVerifier::<SHPLONK>::read_proof(&dk, &protocol, &instances, &mut transcript)
                .map_err(|e| Error::Generate(format!("{e:?}")))?;
        // Everything below runs after the transcript has produced z.
        let z_ptr = loader.allocate(0x20);
        loader.copy_scalar(&proof.z, z_ptr);
        let scratch = loader.allocate(0xc0);
        let eval = loader.calldataload_scalar(PLACEHOLDER_OFFSET);
        PlonkVerifier::<SHPLONK>::verify(&dk, &single, &[vec![eval]], &proof)
            .map_err(|e| Error::Generate(format!("{e:?}")))?;
        let code = loader.solidity_code();
        rewrite(&code, num_instances, z_ptr, scratch, &omega)
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run))
        .unwrap_or_else(|_| Err(Error::Generate("snark-verifier panicked".into())))
}

/// Replaces the unrolled instance loads of `code` by one `calldatacopy`, and the placeholder
/// load by the instance-evaluation loop.
fn rewrite(
    code: &str,
    num_instances: usize,
    z_ptr: usize,
    scratch: usize,
    omega: &Fr,
) -> Result<String> {
    let base = MEM_PTR_START + 0x20;
    let loads: String = (0..num_instances)
        .map(|i| {
            format!(
                "mstore({:#x}, mod(calldataload({:#x}), f_q))\n",
                base + 0x20 * i,
                0x20 * i
            )
        })
        .collect();
    let copy = format!(
        "calldatacopy({base:#x}, 0, {:#x}) // the {num_instances} instances, hashed into the transcript from here\n",
        0x20 * num_instances
    );
    let code = replace_once(code, &loads, &copy, "the instance loads")?;

    let marker = format!(", mod(calldataload({PLACEHOLDER_OFFSET:#x}), f_q))\n");
    let at = find_once(&code, &marker, "the instance-evaluation placeholder")?;
    let line_start = code[..at].rfind('\n').map_or(0, |i| i + 1);
    let eval_ptr = code[line_start..at]
        .trim()
        .strip_prefix("mstore(")
        .ok_or_else(|| {
            Error::Generate("the instance-evaluation placeholder is not a store".into())
        })?
        .to_string();
    let omega = format!(
        "0x{}",
        hex::encode(omega.to_repr().iter().rev().copied().collect::<Vec<u8>>())
    );
    let end = base + 0x20 * num_instances;
    let s = |o: usize| format!("{:#x}", scratch + o);
    let eval = format!(
        "{{
            // zkinfer: the instance column at z, Σ x_i·L_i(z), as one loop (src/verifier/halo2.rs).
            // num/den accumulates Σ x_i·ω^i/(z - ω^i); the store below is X = num·(z - 1)/den,
            // which the code after it multiplies by L_0(z).
            let z := mload({z_ptr:#x})
            let num := 0
            let den := 1
            let w := 1
            for {{ let p := {base:#x} }} lt(p, {end:#x}) {{ p := add(p, 0x20) }} {{
                let x := mload(p)
                success := and(success, lt(x, f_q))
                let d := addmod(z, sub(f_q, w), f_q)
                num := addmod(mulmod(num, d, f_q), mulmod(mulmod(x, w, f_q), den, f_q), f_q)
                den := mulmod(den, d, f_q)
                w := mulmod(w, {omega}, f_q)
            }}
            success := and(success, iszero(iszero(den)))
            mstore({s0}, 0x20)
            mstore({s1}, 0x20)
            mstore({s2}, 0x20)
            mstore({s3}, den)
            mstore({s4}, sub(f_q, 2))
            mstore({s5}, f_q)
            success := and(success, staticcall(gas(), 0x05, {s0}, 0xc0, {s0}, 0x20))
            mstore({eval_ptr}, mulmod(mulmod(num, addmod(z, sub(f_q, 1), f_q), f_q), mload({s0}), f_q))
        }}\n",
        s0 = s(0),
        s1 = s(0x20),
        s2 = s(0x40),
        s3 = s(0x60),
        s4 = s(0x80),
        s5 = s(0xa0),
    );
    let line = code[line_start..at + marker.len()].to_string();
    let code = replace_once(&code, &line, &eval, "the instance-evaluation placeholder")?;
    Ok(canonical_scalars(&code))
}

/// snark-verifier loads each scalar of the proof as `mstore(p, mod(calldataload(o), f_q))`: a
/// word `s + k·r` would pass as `s`, where the native verifier refuses a non-canonical scalar.
/// Every such load (only the proof's scalars are left) becomes a check that the word is below
/// the modulus, then the store.
fn canonical_scalars(code: &str) -> String {
    let mut out = String::with_capacity(code.len() + code.len() / 8);
    for line in code.split_inclusive('\n') {
        let t = line.trim();
        let parsed = t
            .strip_prefix("mstore(")
            .and_then(|r| r.strip_suffix(", f_q))"))
            .and_then(|r| r.split_once(", mod(calldataload("))
            .and_then(|(ptr, rest)| Some((ptr, rest.strip_suffix(')')?)));
        match parsed {
            Some((ptr, offset)) if !ptr.contains('(') && !offset.contains('(') => {
                let indent = &line[..line.len() - line.trim_start().len()];
                out.push_str(&format!(
                    "{indent}{{ let s := calldataload({offset}) success := and(success, lt(s, f_q)) mstore({ptr}, s) }}\n"
                ));
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// The byte offset of the only occurrence of `needle` in `code`.
fn find_once(code: &str, needle: &str, what: &str) -> Result<usize> {
    let mut hits = code.match_indices(needle).map(|(i, _)| i);
    match (hits.next(), hits.next()) {
        (Some(i), None) => Ok(i),
        (None, _) => Err(Error::Generate(format!(
            "rewriting the verifier's instance handling: {what} not found as snark-verifier writes it (did its output format change?)"
        ))),
        (Some(_), Some(_)) => Err(Error::Generate(format!(
            "rewriting the verifier's instance handling: {what} found more than once"
        ))),
    }
}

/// `code` with the only occurrence of `from` replaced by `to`.
fn replace_once(code: &str, from: &str, to: &str, what: &str) -> Result<String> {
    if from.is_empty() {
        // No instances: nothing was loaded, and the copy is not needed either.
        return Ok(code.to_string());
    }
    let at = find_once(code, from, what)?;
    Ok(format!("{}{to}{}", &code[..at], &code[at + from.len()..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What snark-verifier writes around the two rewritten places, for two instances.
    fn generated(placeholders: usize) -> String {
        let mut code = String::from("            mstore(0xa0, mod(calldataload(0x0), f_q))\nmstore(0xc0, mod(calldataload(0x20), f_q))\nmstore(0x80, 7)\n");
        for _ in 0..placeholders {
            code.push_str(&format!(
                "mstore(0x1234, mod(calldataload({PLACEHOLDER_OFFSET:#x}), f_q))\n"
            ));
        }
        code.push_str("mstore(0x1260, mulmod(mload(0x1234), mload(0x1000), f_q))\n");
        code.push_str("mstore(0x1280, mod(calldataload(0x840), f_q))\n");
        code
    }

    #[test]
    fn the_loads_become_one_copy_and_the_placeholder_the_loop() {
        let out = rewrite(&generated(1), 2, 0x2000, 0x2020, &Fr::from(5)).unwrap();
        assert!(!out.contains("calldataload(0x0)") && !out.contains("calldataload(0x20)"));
        assert!(out.contains("calldatacopy(0xa0, 0, 0x40)"), "{out}");
        assert!(!out.contains(&format!("{PLACEHOLDER_OFFSET:#x}")), "{out}");
        assert!(out.contains("lt(p, 0xe0)"), "{out}");
        assert!(out.contains("mstore(0x1234, mulmod(mulmod(num,"), "{out}");
        // What came after the placeholder is untouched, but for the proof scalar's load,
        // which now requires a canonical word.
        assert!(out.contains("mstore(0x1260, mulmod(mload(0x1234), mload(0x1000), f_q))\n"));
        assert!(out.ends_with("{ let s := calldataload(0x840) success := and(success, lt(s, f_q)) mstore(0x1280, s) }\n"), "{out}");
        assert!(!out.contains("mod(calldataload"), "{out}");
    }

    /// A generator whose output differs from what the rewrite expects is an error, never an
    /// unrolled (or half-rewritten) verifier.
    #[test]
    fn unexpected_generator_output_is_refused() {
        // Three instances expected, two loaded.
        let e = rewrite(&generated(1), 3, 0x2000, 0x2020, &Fr::from(5)).unwrap_err();
        assert!(e.to_string().contains("instance loads"), "{e}");
        // No placeholder, or two.
        for n in [0, 2] {
            let e = rewrite(&generated(n), 2, 0x2000, 0x2020, &Fr::from(5)).unwrap_err();
            assert!(e.to_string().contains("placeholder"), "{e}");
        }
    }
}
