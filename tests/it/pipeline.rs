//! The real pipeline on every fixture: build -> prove -> verify natively -> verify in an
//! in-process EVM, and every tampering rejected both natively and on the EVM.

use crate::common::{fixture, open};
use zkinfer::artifacts::ProofFile;
use zkinfer::inputs::read_input;
use zkinfer::pipeline::{self, Quiet};
use zkinfer::verifier::encode_verify_call;

/// BN254 scalar field modulus, big-endian.
const R: [u8; 32] = [
    0x30, 0x64, 0x4e, 0x72, 0xe1, 0x31, 0xa0, 0x29, 0xb8, 0x50, 0x45, 0xb6, 0x81, 0x81, 0x58, 0x5d,
    0x28, 0x33, 0xe8, 0x48, 0x79, 0xb9, 0x70, 0x91, 0x43, 0xe1, 0xf5, 0x93, 0xf0, 0x00, 0x00, 0x01,
];

fn add_be(a: [u8; 32], b: [u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let s = a[i] as u16 + b[i] as u16 + carry;
        out[i] = s as u8;
        carry = s >> 8;
    }
    out
}

fn prove(name: &str, dir: &std::path::Path) -> (ProofFile, std::path::PathBuf, Vec<Vec<f64>>) {
    let build = open(name);
    let inputs = read_input(&fixture(name, "input.json")).unwrap();
    let path = dir.join("proof.json");
    let report = pipeline::prove(&build, &inputs, &Default::default(), &path, &Quiet).unwrap();
    (ProofFile::read(&path).unwrap(), path, report.outputs)
}

fn outputs_match(name: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let (_, _, outputs) = prove(name, tmp.path());
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture(name, "expected.json")).unwrap()).unwrap();
    let expected: Vec<Vec<f64>> = serde_json::from_value(expected["outputs"].clone()).unwrap();
    assert_eq!(outputs.len(), expected.len(), "{name}: output count");
    for (q, f) in outputs.iter().flatten().zip(expected.iter().flatten()) {
        assert!(
            (q - f).abs() < 1e-2 * (1.0 + f.abs()),
            "{name}: quantized {q} vs onnxruntime {f}"
        );
    }
    let build = open(name);
    assert!(
        build
            .settings
            .fidelity
            .min_agreement
            .is_none_or(|a| a == 1.0),
        "{name}: {:?}",
        build.settings.fidelity
    );
}

mod outputs_match_the_float_model {
    crate::common::fixture_tests!(super::outputs_match, dot_lanes);
}

fn verifies_and_rejects_tampering(name: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let build = open(name);
    let (pf, path, _) = prove(name, tmp.path());
    assert!(
        pipeline::verify(&build, &pf, &path)
            .unwrap()
            .into_result()
            .is_ok(),
        "{name}: honest proof natively"
    );

    let (words, proof) = pipeline::verify_calldata(&pf);
    assert!(
        build.settings.verifier.verifier_runtime_bytes <= 24_576,
        "{name}: verifier over EIP-170"
    );

    // Tampered calldatas, in order.
    let mut flipped = proof.clone();
    flipped[proof.len() / 2] ^= 1;
    let mut changed = words.clone();
    changed[0][31] ^= 1;
    let mut plus_r = words.clone();
    plus_r[0] = add_be(plus_r[0], R);
    let mut trailing = encode_verify_call(&words, &proof);
    trailing.extend_from_slice(&[0u8; 32]);
    let mut longer_proof = proof.clone();
    longer_proof.extend_from_slice(&[0u8; 32]);
    let calls = vec![
        encode_verify_call(&words, &proof),
        encode_verify_call(&words, &flipped),
        encode_verify_call(&changed, &proof),
        encode_verify_call(&plus_r, &proof),
        trailing,
        encode_verify_call(&words, &longer_proof),
        encode_verify_call(&words[..words.len() - 1], &proof),
    ];
    let run = pipeline::verify_in_evm(&build, &calls).unwrap();
    let accepted: Vec<bool> = run.calls.iter().map(|c| c.accepted).collect();
    assert_eq!(
        accepted,
        vec![true, false, false, false, false, false, false],
        "{name}: EVM verdicts"
    );
    assert!(run.calls[0].gas_used > 100_000 && run.calls[0].gas_used < 1_000_000);

    // The same tampering, natively through the proof file.
    let tamper = |f: &dyn Fn(&mut ProofFile)| {
        let mut bad = pf.clone();
        f(&mut bad);
        pipeline::verify(&build, &bad, &path).unwrap().into_result()
    };
    let hexw = |w: [u8; 32]| alloy::primitives::B256::from(w);
    assert!(
        tamper(&|p| p.proof = flipped.clone().into()).is_err(),
        "{name}: flipped byte"
    );
    assert!(
        tamper(&|p| p.proof = longer_proof.clone().into()).is_err(),
        "{name}: trailing bytes"
    );
    assert!(
        tamper(&|p| p.instances[0].field = hexw(changed[0])).is_err(),
        "{name}: changed field"
    );
    assert!(
        tamper(&|p| p.instances[0].field = hexw(plus_r[0])).is_err(),
        "{name}: output + modulus"
    );
    // Consistent change of field, integer and value: the proof itself must reject it.
    let consistent = |p: &mut ProofFile| {
        let q: i128 = p.instances[0]
            .integer
            .as_ref()
            .unwrap()
            .parse::<i128>()
            .unwrap()
            + 1;
        let f = zkinfer::field::field(q);
        p.instances[0].field = hexw(zkinfer::field::to_word(&f));
        p.instances[0].integer = Some(q.to_string());
        p.instances[0].value = Some(zkinfer::quant::to_float(q, p.instances[0].info.exp));
    };
    assert_eq!(
        tamper(&consistent),
        Err("the proof does not verify".to_string()),
        "{name}: changed output"
    );
}

mod valid_proofs_verify_natively_and_in_the_evm_and_tampering_is_rejected {
    crate::common::fixture_tests!(super::verifies_and_rejects_tampering, dot_lanes);
}

/// The instance-flat verifier on a build with `k` public instances (one per output of a Gemm
/// 8 -> k): the honest proof verifies natively, through the wrapper, and in the halo2 verifier
/// alone; each instance changed, or raised by the modulus, is rejected by all three; a byte
/// flipped in each 32-byte word of the proof, and each word plus the modulus, are rejected by
/// both contracts (and natively for a sample of them); the same values in a non-standard ABI
/// encoding of the same length are rejected by the wrapper.
fn every_tampering_is_rejected_with_instances(k: usize) {
    let name = format!("wide_gemm_{k}@gas");
    assert_eq!(
        open(&name).settings.instances.len(),
        k,
        "{name}: instance count"
    );
    every_tampering_is_rejected(&name, false);
}

/// The build's verifier, split in two contracts as `build` splits one over EIP-170
/// (`verifier::split`), recompiled.
fn split_contracts(build: &zkinfer::pipeline::Build) -> zkinfer::verifier::Compiled {
    let (split, compile) = crate::common::split_verifier_of(build);
    let c = compile(&split);
    let whole = build.contracts().unwrap();
    let tail = c.verifier_tail.as_ref().expect("a tail contract");
    // Two halves, each smaller than the whole, the wrapper unchanged.
    assert!(c.verifier.runtime_code().len() < whole.verifier.runtime_code().len());
    assert!(tail.runtime_code().len() < whole.verifier.runtime_code().len());
    assert_eq!(c.wrapper, whole.wrapper);
    c
}

fn every_tampering_is_rejected(name: &str, split: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let build = open(name);
    let k = build.settings.instances.len();
    let (pf, path, _) = prove(name, tmp.path());
    assert!(pipeline::verify(&build, &pf, &path)
        .unwrap()
        .into_result()
        .is_ok());
    let (words, proof) = pipeline::verify_calldata(&pf);
    let raw = |w: &[[u8; 32]], p: &[u8]| {
        let mut v: Vec<u8> = w.iter().flatten().copied().collect();
        v.extend_from_slice(p);
        v
    };
    let mut tampered: Vec<(Vec<[u8; 32]>, Vec<u8>)> = vec![];
    for i in 0..k {
        let mut changed = words.clone();
        changed[i][31] ^= 1;
        let mut plus_r = words.clone();
        plus_r[i] = add_be(plus_r[i], R);
        tampered.push((changed, proof.clone()));
        tampered.push((plus_r, proof.clone()));
    }
    for w in (0..proof.len()).step_by(32) {
        let mut bad = proof.clone();
        bad[w + (w / 32) % 32usize.min(proof.len() - w)] ^= 0x10;
        tampered.push((words.clone(), bad));
        // The same word plus the scalar modulus: a proof scalar `s + r` must not pass for `s`
        // (a point coordinate so changed is another point, or none).
        if w + 32 <= proof.len() {
            let mut plus = proof.clone();
            let word: [u8; 32] = plus[w..w + 32].try_into().unwrap();
            plus[w..w + 32].copy_from_slice(&add_be(word, R));
            tampered.push((words.clone(), plus));
        }
    }
    // Instances in another order: the same values, each in another's slot.
    if k > 1 {
        let mut rotated = words.clone();
        rotated.rotate_left(1);
        if rotated != words {
            tampered.push((rotated, proof.clone()));
        }
    }
    let contracts = if split {
        split_contracts(&build)
    } else {
        build.contracts().unwrap()
    };
    let calls: Vec<Vec<u8>> = std::iter::once((words.clone(), proof.clone()))
        .chain(tampered.iter().cloned())
        .map(|(w, p)| encode_verify_call(&w, &p))
        .collect();
    let raw_calls: Vec<Vec<u8>> = std::iter::once((words.clone(), proof.clone()))
        .chain(tampered.iter().cloned())
        .map(|(w, p)| raw(&w, &p))
        .collect();
    // The proof's bytes before the instances' (offsets swapped to match): the same values and
    // length, a valid ABI encoding, but not the standard one.
    let standard = encode_verify_call(&words, &proof);
    let word = |x: usize| {
        let mut w = [0u8; 32];
        w[24..].copy_from_slice(&(x as u64).to_be_bytes());
        w
    };
    let proof_part = &standard[4 + 0x40 + 32 * (1 + k)..];
    let instances_part = &standard[4 + 0x40..4 + 0x40 + 32 * (1 + k)];
    let mut swapped = standard[..4].to_vec();
    swapped.extend(word(0x40 + proof_part.len()));
    swapped.extend(word(0x40));
    swapped.extend(proof_part);
    swapped.extend(instances_part);
    assert_eq!(swapped.len(), standard.len());
    let mut calls = calls;
    calls.push(swapped);
    let expect: Vec<bool> = (0..calls.len()).map(|i| i == 0).collect();
    let run = zkinfer::verifier::evm_verify(&contracts, &calls).unwrap();
    let got: Vec<bool> = run.calls.iter().map(|c| c.accepted).collect();
    assert_eq!(got, expect, "{name}: wrapper verdicts (honest first)");
    let run = zkinfer::verifier::evm_verify_halo2(&contracts, &raw_calls).unwrap();
    let got: Vec<bool> = run.iter().map(|c| c.accepted).collect();
    assert_eq!(
        got,
        expect[..raw_calls.len()],
        "{name}: halo2 verifier verdicts (honest first)"
    );
    // Natively: every changed instance, and every 8th tampered proof.
    let hexw = |w: [u8; 32]| alloy::primitives::B256::from(w);
    for (n, (w, p)) in tampered.iter().enumerate() {
        let changed_instance = w != &words;
        if !changed_instance && n % 8 != 0 {
            continue;
        }
        let mut bad = pf.clone();
        for (inst, word) in bad.instances.iter_mut().zip(w) {
            inst.field = hexw(*word);
        }
        bad.proof = p.clone().into();
        assert!(
            pipeline::verify(&build, &bad, &path)
                .unwrap()
                .into_result()
                .is_err(),
            "{name}: tampering {n} accepted natively"
        );
    }
}

#[test]
fn one_public_instance_every_tampering_is_rejected() {
    every_tampering_is_rejected_with_instances(1);
}

/// A verifier split in two contracts accepts the honest proof and rejects every tampering
/// above, through the wrapper and alone.
#[test]
fn a_split_verifier_rejects_every_tampering() {
    every_tampering_is_rejected("wide_gemm_70@gas", true);
}

/// A verifier `build` itself splits, because as one contract it is over EIP-170: lenet_ccddd's
/// fastest layout with its outputs committed by a hash (logrows 14: a poly lane, two act lanes,
/// a dot lane of 3, two gate columns for the Poseidon hash). Each half within EIP-170, and
/// every tampering rejected.
#[test]
fn a_verifier_build_splits_rejects_every_tampering() {
    let name = "lenet_ccddd@proving+hashed-output";
    let build = open(name);
    let c = build.contracts().unwrap();
    let tail = c
        .verifier_tail
        .as_ref()
        .expect("lenet_ccddd@proving+hashed-output's verifier is split");
    let limit = zkinfer::verifier::CODE_SIZE_LIMIT;
    assert!(c.verifier.runtime_code().len() <= limit && tail.runtime_code().len() <= limit);
    assert_eq!(
        build.settings.verifier.tail_runtime_bytes,
        Some(tail.runtime_code().len())
    );
    every_tampering_is_rejected(name, false);
}

/// The head accepts only the tail's answer: with no tail where it calls (a call to an address
/// without code succeeds, returning nothing), or a tail that returns another word, the honest
/// proof is rejected.
#[test]
fn a_split_verifier_without_its_tail_rejects_everything() {
    let name = "wide_gemm_70@gas";
    let tmp = tempfile::tempdir().unwrap();
    let build = open(name);
    let (pf, _, _) = prove(name, tmp.path());
    let (words, proof) = pipeline::verify_calldata(&pf);
    let mut raw: Vec<u8> = words.iter().flatten().copied().collect();
    raw.extend_from_slice(&proof);
    let (split, compile) = crate::common::split_verifier_of(&build);
    let ok = zkinfer::verifier::TAIL_OK;
    for (what, edited) in [
        ("no tail", split.replace("new Halo2VerifierTail();", "")),
        (
            "another word",
            split.replace(&format!("mstore(0, {ok})"), "mstore(0, 1)"),
        ),
    ] {
        assert_ne!(edited, split, "{what}: the edit applies");
        let c = compile(&edited);
        let run = zkinfer::verifier::evm_verify_halo2(&c, &[raw.clone()]).unwrap();
        assert!(!run[0].accepted, "{what}: accepted");
    }
    // The unedited split accepts it.
    let c = compile(&split);
    assert!(zkinfer::verifier::evm_verify_halo2(&c, &[raw]).unwrap()[0].accepted);
}

#[test]
fn seventy_public_instances_every_tampering_is_rejected() {
    every_tampering_is_rejected_with_instances(70);
}

#[test]
fn five_hundred_public_instances_every_tampering_is_rejected() {
    every_tampering_is_rejected_with_instances(500);
}

/// The verifier's size does not depend on its number of public instances: 1, 70 and 500 are
/// within 1 KB of each other, and each fits EIP-170 and EIP-3860.
#[test]
fn verifier_size_is_flat_in_the_number_of_instances() {
    let sizes: Vec<(usize, usize)> = [1, 70, 500]
        .iter()
        .map(|k| {
            let b = open(&format!("wide_gemm_{k}@gas"));
            let c = b.contracts().unwrap();
            assert!(c.verifier.creation_code().len() <= zkinfer::verifier::INITCODE_SIZE_LIMIT);
            (
                c.verifier.runtime_code().len(),
                b.settings.verifier.verifier_runtime_bytes,
            )
        })
        .collect();
    for (runtime, recorded) in &sizes {
        assert_eq!(runtime, recorded);
        assert!(*runtime <= zkinfer::verifier::CODE_SIZE_LIMIT, "{sizes:?}");
    }
    let min = sizes.iter().map(|s| s.0).min().unwrap();
    let max = sizes.iter().map(|s| s.0).max().unwrap();
    assert!(
        max - min <= 1024,
        "runtime bytes for 1, 70, 500 instances: {sizes:?}"
    );
}

#[test]
fn a_proof_for_another_model_is_refused_natively_and_rejected_on_the_evm() {
    let tmp = tempfile::tempdir().unwrap();
    let (pf, path, _) = prove("breast_cancer_mlp", tmp.path());
    let other = open("digits_mlp");
    let err = pipeline::verify(&other, &pf, &path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("another model"), "{err}");
    // Bypassing the digest check: the other model's contracts reject it too.
    let (words, proof) = pipeline::verify_calldata(&pf);
    let run = pipeline::verify_in_evm(&other, &[encode_verify_call(&words, &proof)]).unwrap();
    assert!(!run.calls[0].accepted);
}

/// The vk digest names the circuit and the meaning of its instances, not vk.bin's bytes: a
/// settings.json edited to describe another circuit (vk.bin still parses, its bytes and so a
/// digest of them unchanged), other instances, or another SRS record, and an edited
/// model.quant.json, are refused when the build is opened; a replaced srs.bin when it is
/// loaded.
#[test]
fn an_edited_circuit_description_is_refused_on_open() {
    use serde_json::Value;
    let name = "iris_logreg";
    let dir = crate::common::built(name);
    let tmp = tempfile::tempdir().unwrap();
    let (pf, path, _) = prove(name, tmp.path());
    type Edit = fn(&mut Value);
    let edits: [(&str, Edit); 8] = [
        // vk.bin parses (it has no length check), and the range lookup is gone from the gates.
        ("no range-lookup column", |s| {
            s["circuit"]["params"]["base"]["num_lookup_advice_per_phase"][0] = 0.into();
        }),
        ("the range table's size", |s| {
            let b = &mut s["circuit"]["params"]["base"]["lookup_bits"];
            *b = (b.as_u64().unwrap() - 1).into();
        }),
        ("a function table's domain", |s| {
            let t = &mut s["circuit"]["params"]["tables"][0]["hi"];
            *t = (t.as_i64().unwrap() - 1).into();
        }),
        ("the outputs' visibility", |s| {
            s["circuit"]["visibility"]["output"] = "hashed".into();
        }),
        ("a predicate", |s| {
            s["circuit"]["predicate"] = serde_json::json!({"Compare": {
                "output": "y", "index": 0, "op": "Le", "param": "T"}});
        }),
        ("an instance's scale", |s| {
            let e = &mut s["instances"][0]["exp"];
            *e = (e.as_i64().unwrap() + 1).into();
        }),
        // The trust decision is the build's record, not a flag anyone may flip.
        ("the SRS marked trusted", |s| {
            s["srs"]["insecure"] = false.into();
        }),
        ("another SRS", |s| {
            s["srs"]["sha256"] = "00".repeat(32).into();
        }),
    ];
    let control = tmp.path().join("control");
    crate::common::copy_build(dir, &control);
    let b = pipeline::Build::open(&control).expect("an unedited copy opens");
    assert!(pipeline::verify(&b, &pf, &path)
        .unwrap()
        .into_result()
        .is_ok());
    let mut accepted = vec![];
    for (i, (what, edit)) in edits.iter().enumerate() {
        let d = tmp.path().join(format!("edit{i}"));
        crate::common::copy_build(dir, &d);
        let file = d.join("settings.json");
        let mut s: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        edit(&mut s);
        std::fs::write(&file, serde_json::to_vec_pretty(&s).unwrap()).unwrap();
        match pipeline::Build::open(&d) {
            Ok(b) => accepted.push(format!(
                "{what}: opened, verify says {:?}",
                pipeline::verify(&b, &pf, &path).map_err(|e| e.to_string())
            )),
            Err(e) => {
                let e = e.to_string();
                assert!(
                    e.contains(&d.display().to_string()) && e.contains("rebuild"),
                    "{what}: {e}"
                );
            }
        }
    }
    assert!(
        accepted.is_empty(),
        "edited builds accepted:\n{}",
        accepted.join("\n")
    );

    // The quantized model (the weights a hashed or public build commits to) is covered too.
    let d = tmp.path().join("edited-model");
    crate::common::copy_build(dir, &d);
    let edited = crate::common::add_to_first_weight(&d.join("model.quant.json"), 1);
    let e = pipeline::Build::open(&d)
        .err()
        .expect("an edited model opened");
    assert!(e.to_string().contains("model.quant.json"), "{e}");

    // Whoever also rewrites the digest gets a directory that opens, but under another digest:
    // it no longer takes the honest build's proofs, nor matches the deployed VK_DIGEST.
    crate::common::redigest(&b, &d, &edited);
    let edited = pipeline::Build::open(&d).expect("a re-digested build opens");
    assert_ne!(edited.settings.vk_digest, b.settings.vk_digest);
    assert!(edited.check_proof_file(&pf, &path).is_err());
    // ...and its contracts.json still states the original digest: nothing from it deploys.
    b.contracts()
        .expect("the honest build's contracts state its digest");
    let e = edited.contracts().expect_err("contracts of another digest");
    assert!(
        e.to_string()
            .contains("does not state this build's vk_digest"),
        "{e}"
    );

    // srs.bin replaced by another SRS (one whose secret someone knows): refused when loaded.
    let d = tmp.path().join("other-srs");
    crate::common::copy_build(dir, &d);
    let k = b.settings.circuit.k();
    zkinfer::proof::write_srs(
        &zkinfer::proof::generate_srs_seeded(k, 666),
        &d.join("srs.bin"),
    )
    .unwrap();
    let other = pipeline::Build::open(&d).expect("srs.bin is checked when loaded");
    let e = pipeline::verify(&other, &pf, &path).expect_err("verified on another SRS");
    assert!(
        e.to_string()
            .contains("is not the SRS the build was made with"),
        "{e}"
    );
}

/// Batch builds (`--batch`): one proof for several samples. On the credit shape (hashed input,
/// private output, `y[0] >= T`) with 4 slots and 3 samples: the proof verifies natively and on
/// the EVM, names each instance with its sample, exposes zeros for the unused slot; each
/// sample's instances changed, and two samples swapped, are rejected natively and on the EVM; a
/// fifth sample and a false predicate are refused by `prove`, naming the sample. On iris_logreg
/// with public outputs (no predicate: a used-bit instance leads each slot) a full batch verifies.
#[test]
fn a_batch_proof_states_each_sample_and_nothing_for_unused_slots() {
    use zkinfer::inputs::read_calibration;
    use zkinfer::pipeline::{BuildOptions, Sample};
    use zkinfer::visibility::{Vis, Visibility};
    let tmp = tempfile::tempdir().unwrap();
    let name = "breast_cancer_mlp";
    let mut opts = BuildOptions::new(
        fixture(name, "model.onnx"),
        fixture(name, "calibration.jsonl"),
        tmp.path().join("credit4"),
    );
    opts.visibility = Visibility {
        input: Vis::Hashed,
        params: Vis::Fixed,
        output: Vis::Private,
        binding: false,
    };
    opts.predicate = Some("y[0] >= T".parse().unwrap());
    opts.batch = 4;
    crate::common::build_copy(&opts);
    let build = zkinfer::pipeline::Build::open(&opts.out).unwrap();
    assert_eq!(build.settings.circuit.batch, 4);
    assert_eq!(build.settings.instances.len(), 12);
    let calib = read_calibration(&fixture(name, "calibration.jsonl")).unwrap();
    let threshold = build.predicate_params(&[("T".into(), -20.0)]).unwrap();
    let sample = |i: usize| Sample {
        inputs: calib[i].clone(),
        secrets: zkinfer::circuit::Secrets {
            input_salt: zkinfer::field::Fr::from(0x5eed_0000 + i as u64),
            predicate_params: threshold.clone(),
            ..Default::default()
        },
    };
    let path = tmp.path().join("batch.json");
    let samples: Vec<Sample> = (0..3).map(sample).collect();
    pipeline::prove_batch(&build, &samples, None, &path, &Quiet).unwrap();
    let pf = ProofFile::read(&path).unwrap();
    assert!(pipeline::verify(&build, &pf, &path)
        .unwrap()
        .into_result()
        .is_ok());
    for (i, inst) in pf.instances.iter().enumerate() {
        assert_eq!(inst.info.sample, Some(i / 3), "instance {i}");
        assert!(inst.info.name.starts_with(&format!("sample {}: ", i / 3)));
    }
    // Each real slot: its own commitment (the input and salt's, as `zkinfer hash` computes
    // it), the used bit 1, its threshold; the unused slot: zeros.
    #[allow(clippy::needless_range_loop)] // s is the slot, calib[s] its sample
    for s in 0..3 {
        let expected = zkinfer::circuit::commit::input_commitment(
            &build.model,
            &calib[s],
            zkinfer::field::Fr::from(0x5eed_0000 + s as u64),
        )
        .unwrap();
        assert_eq!(
            pf.instances[3 * s].field,
            zkinfer::field::to_word(&expected)
        );
        assert_eq!(pf.instances[3 * s + 1].integer.as_deref(), Some("1"));
    }
    assert!(pf.instances[9..].iter().all(|i| i.field.is_zero()));

    let (words, proof) = pipeline::verify_calldata(&pf);
    let hexw = |w: [u8; 32]| alloy::primitives::B256::from(w);
    let mut tampered = vec![];
    for i in 0..words.len() {
        let mut w = words.clone();
        w[i][31] ^= 1;
        tampered.push(w);
    }
    let mut swapped = words.clone();
    for j in 0..3 {
        swapped.swap(j, 3 + j);
    }
    tampered.push(swapped);
    let calls: Vec<Vec<u8>> = std::iter::once(&words)
        .chain(&tampered)
        .map(|w| encode_verify_call(w, &proof))
        .collect();
    let run = pipeline::verify_in_evm(&build, &calls).unwrap();
    let got: Vec<bool> = run.calls.iter().map(|c| c.accepted).collect();
    let expect: Vec<bool> = (0..calls.len()).map(|i| i == 0).collect();
    assert_eq!(got, expect, "EVM verdicts (honest first)");
    for (n, w) in tampered.iter().enumerate() {
        let mut bad = pf.clone();
        for (inst, word) in bad.instances.iter_mut().zip(w) {
            inst.field = hexw(*word);
            let f = zkinfer::field::field_to_i128(&{
                let mut le = *word;
                le.reverse();
                Option::<zkinfer::field::Fr>::from(
                    <zkinfer::field::Fr as zkinfer::field::halo2_proofs::halo2curves::ff::PrimeField>::from_repr(le),
                )
                .unwrap()
            });
            if inst.info.is_numeric() {
                inst.integer = f.map(|q| q.to_string());
                inst.value = f.map(|q| zkinfer::quant::to_float(q, inst.info.exp));
            }
        }
        assert_eq!(
            pipeline::verify(&build, &bad, &path).unwrap().into_result(),
            Err("the proof does not verify".to_string()),
            "tampering {n}"
        );
    }

    // More samples than slots, and a false predicate, are refused by name.
    let five: Vec<Sample> = (0..5).map(sample).collect();
    let e = pipeline::prove_batch(&build, &five, None, &path, &Quiet)
        .unwrap_err()
        .to_string();
    assert!(e.contains("5 samples") && e.contains("1 to 4"), "{e}");
    let mut lying = vec![sample(0), sample(1)];
    lying[1].secrets.predicate_params = build.predicate_params(&[("T".into(), 50.0)]).unwrap();
    let e = pipeline::prove_batch(&build, &lying, None, &path, &Quiet)
        .unwrap_err()
        .to_string();
    assert!(e.contains("sample 1") && e.contains("false"), "{e}");

    // Public outputs, no predicate: a used bit leads each slot; a full batch.
    let name = "iris_logreg";
    let mut opts = BuildOptions::new(
        fixture(name, "model.onnx"),
        fixture(name, "calibration.jsonl"),
        tmp.path().join("iris3"),
    );
    opts.batch = 3;
    crate::common::build_copy(&opts);
    let build = zkinfer::pipeline::Build::open(&opts.out).unwrap();
    let calib = read_calibration(&fixture(name, "calibration.jsonl")).unwrap();
    let per = build.settings.instances.len() / 3;
    assert_eq!(
        build.settings.instances[0].kind,
        zkinfer::circuit::InstanceKind::Slot
    );
    let samples: Vec<Sample> = (0..3)
        .map(|i| Sample {
            inputs: calib[i].clone(),
            ..Default::default()
        })
        .collect();
    let r = pipeline::prove_batch(&build, &samples, None, &path, &Quiet).unwrap();
    let pf = ProofFile::read(&path).unwrap();
    assert!(pipeline::verify(&build, &pf, &path)
        .unwrap()
        .into_result()
        .is_ok());
    for s in 0..3 {
        assert_eq!(pf.instances[s * per].integer.as_deref(), Some("1"));
        // The outputs exposed are each sample's own.
        let exposed: Vec<f64> = pf
            .instances
            .iter()
            .filter(|i| {
                i.info.sample == Some(s) && i.info.kind == zkinfer::circuit::InstanceKind::Output
            })
            .map(|i| i.value.unwrap())
            .collect();
        assert_eq!(exposed, r.sample_outputs[s].concat(), "sample {s}");
    }
    let (words, proof) = pipeline::verify_calldata(&pf);
    let run = pipeline::verify_in_evm(&build, &[encode_verify_call(&words, &proof)]).unwrap();
    assert!(run.calls[0].accepted);
}
