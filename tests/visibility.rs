//! Inputs and outputs as public, private or hashed: every combination on two fixture models
//! proves, verifies natively and in the in-process EVM, exposes exactly the instances its
//! visibility says, and the commitments equal `zkinfer hash`'s and bind the committed values.

mod common;

use common::fixture;
use zkinfer::artifacts::{read_input, ProofFile};
use zkinfer::circuit::{commit, Fr, Secrets};
use zkinfer::pipeline::{self, Build, BuildOptions, Quiet, Target};
use zkinfer::quant::QuantConfig;
use zkinfer::verifier::{encode_verify_call, instance_word};
use zkinfer::visibility::{tag, Vis, Visibility};

fn build(name: &str, vis: Visibility, dir: &std::path::Path) -> Build {
    let out = dir.join(format!("{name}-{}-{}", vis.input, vis.output));
    let opts = BuildOptions {
        model: fixture(name, "model.onnx"),
        calibration: fixture(name, "calibration.jsonl"),
        out: out.clone(),
        srs: None,
        force: false,
        quant: QuantConfig::default(),
        load: Default::default(),
        max_error: None,
        min_agreement: None,
        target: Target::Resources,
        visibility: vis,
    };
    pipeline::build(&opts, &Quiet).unwrap_or_else(|e| panic!("{name} {vis:?}: {e}"));
    Build::open(&out).unwrap()
}

fn word(f: &Fr) -> String {
    format!("0x{}", hex::encode(instance_word(f)))
}

#[test]
fn every_input_and_output_visibility_proves_and_binds() {
    let tmp = tempfile::tempdir().unwrap();
    let secrets = Secrets {
        input_salt: commit::parse_salt("0x5eed0001").unwrap(),
        output_salt: commit::parse_salt("0x5eed0002").unwrap(),
    };
    for name in ["breast_cancer_mlp", "breast_cancer_tree"] {
        let inputs = read_input(&fixture(name, "input.json")).unwrap();
        for input in [Vis::Public, Vis::Private, Vis::Hashed] {
            for output in [Vis::Public, Vis::Private, Vis::Hashed] {
                let vis = Visibility {
                    input,
                    params: Vis::Fixed,
                    output,
                };
                let b = build(name, vis, tmp.path());
                let path = tmp.path().join("proof.json");
                let r = pipeline::prove(&b, &inputs, &secrets, &path, &Quiet).unwrap();
                let pf = ProofFile::read(&path).unwrap();
                let kinds: Vec<&str> = pf.instances.iter().map(|i| i.info.kind.as_str()).collect();
                let n_in: usize = inputs.iter().map(Vec::len).sum();
                let n_out: usize = r.outputs.iter().map(Vec::len).sum();
                let mut expect: Vec<&str> = vec![];
                match input {
                    Vis::Public => expect.extend(std::iter::repeat_n("input", n_in)),
                    Vis::Hashed => expect.push("input_commitment"),
                    _ => {}
                }
                match output {
                    Vis::Public => expect.extend(std::iter::repeat_n("output", n_out)),
                    Vis::Hashed => expect.push("output_commitment"),
                    _ => {}
                }
                assert_eq!(kinds, expect, "{name} {vis:?}: instances");
                assert_eq!(
                    pipeline::verify(&b, &pf, &path).unwrap(),
                    Ok(()),
                    "{name} {vis:?}: native"
                );

                let (words, proof) = pipeline::verify_calldata(&pf, &path).unwrap();
                let mut calls = vec![encode_verify_call(&words, &proof)];
                if !words.is_empty() {
                    let mut bad = words.clone();
                    bad[0][31] ^= 1;
                    calls.push(encode_verify_call(&bad, &proof));
                }
                let run = pipeline::verify_in_evm(&b, &calls).unwrap();
                let verdicts: Vec<bool> = run.calls.iter().map(|c| c.accepted).collect();
                let mut want = vec![true];
                if !words.is_empty() {
                    want.push(false);
                }
                assert_eq!(verdicts, want, "{name} {vis:?}: EVM");

                if input == Vis::Hashed {
                    // `zkinfer hash` computes the same commitment the proof exposes.
                    let c = b.input_commitment(&inputs, secrets.input_salt).unwrap();
                    assert_eq!(pf.instances[0].field, word(&c), "{name}: input commitment");
                    // Another input, or another salt, gives another commitment: a proof about
                    // other data cannot match a registered one.
                    let mut other = inputs.clone();
                    other[0][0] += 0.5;
                    assert_ne!(b.input_commitment(&other, secrets.input_salt).unwrap(), c);
                    assert_ne!(b.input_commitment(&inputs, Fr::from(7)).unwrap(), c);
                    let p2 = tmp.path().join("other.json");
                    pipeline::prove(&b, &other, &secrets, &p2, &Quiet).unwrap();
                    let pf2 = ProofFile::read(&p2).unwrap();
                    assert_ne!(
                        pf2.instances[0].field, pf.instances[0].field,
                        "{name}: other input, same commitment"
                    );
                    // A proof claiming the registered commitment with the other input's proof fails.
                    let mut forged = pf2.clone();
                    forged.instances[0].field = pf.instances[0].field.clone();
                    assert!(
                        pipeline::verify(&b, &forged, &p2).unwrap().is_err(),
                        "{name}: forged commitment accepted"
                    );
                }
                if output == Vis::Hashed {
                    let trace = b.model.eval(&inputs).unwrap();
                    let c = commit::commitment(
                        tag::OUTPUT,
                        &trace.outputs(&b.model),
                        b.model.act_bits,
                        secrets.output_salt,
                    );
                    assert_eq!(
                        pf.instances.last().unwrap().field,
                        word(&c),
                        "{name}: output commitment"
                    );
                }
            }
        }
    }
}
