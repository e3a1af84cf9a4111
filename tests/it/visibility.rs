//! Inputs and outputs as public, private or hashed: every combination on two fixture models
//! proves, verifies natively and in the in-process EVM, exposes exactly the instances its
//! visibility says, and the commitments equal `zkinfer hash`'s and bind the committed values.

use crate::common::{fixture, with_swapped_weight};
use zkinfer::artifacts::ProofFile;
use zkinfer::circuit::{commit, Secrets};
use zkinfer::fidelity::Target;
use zkinfer::field::to_word as instance_word;
use zkinfer::field::Fr;
use zkinfer::inputs::read_input;
use zkinfer::pipeline::{self, Build, BuildOptions, Quiet};
use zkinfer::verifier::encode_verify_call;
use zkinfer::visibility::{tag, Vis, Visibility};

fn build(name: &str, vis: Visibility, dir: &std::path::Path) -> Build {
    let out = dir.join(format!(
        "{name}-{}-{}-{}",
        vis.input, vis.params, vis.output
    ));
    let opts = BuildOptions {
        target: Target::Resources,
        visibility: vis,
        allow_unbound_params: vis.params == Vis::Private,
        ..BuildOptions::new(
            fixture(name, "model.onnx"),
            fixture(name, "calibration.jsonl"),
            out.clone(),
        )
    };
    crate::common::build_copy(&opts);
    Build::open(&out).unwrap()
}

fn word(f: &Fr) -> alloy::primitives::B256 {
    instance_word(f).into()
}

/// A pairwise covering array over (input, params, output): every value of each part meets
/// every value of the others at least once (12 rows).
fn pairwise() -> Vec<Visibility> {
    let io = [Vis::Public, Vis::Private, Vis::Hashed];
    let params = [Vis::Fixed, Vis::Hashed, Vis::Public, Vis::Private];
    let mut rows = vec![];
    for (p, &params) in params.iter().enumerate() {
        for (i, &input) in io.iter().enumerate() {
            rows.push(Visibility {
                input,
                params,
                output: io[(i + p) % 3],
                binding: false,
            });
        }
    }
    rows
}

fn expected_kinds(vis: Visibility, n_in: usize, n_params: usize, n_out: usize) -> Vec<String> {
    let mut e = vec![];
    let mut part = |v: Vis, kind: &str, n: usize| match v {
        Vis::Public => e.extend(std::iter::repeat_n(kind.to_string(), n)),
        Vis::Hashed => e.push(format!("{kind}_commitment")),
        _ => {}
    };
    part(vis.input, "input", n_in);
    part(vis.params, "param", n_params);
    part(vis.output, "output", n_out);
    e
}

#[test]
fn the_pairwise_rows_cover_every_pair() {
    let rows = pairwise();
    assert_eq!(rows.len(), 12, "pairwise_tests! lists 12 rows per model");
    for a in [Vis::Public, Vis::Private, Vis::Hashed] {
        for b in [Vis::Fixed, Vis::Hashed, Vis::Public, Vis::Private] {
            assert!(
                rows.iter().any(|r| r.input == a && r.params == b),
                "input x params"
            );
            assert!(
                rows.iter().any(|r| r.output == a && r.params == b),
                "output x params"
            );
        }
        for c in [Vis::Public, Vis::Private, Vis::Hashed] {
            assert!(
                rows.iter().any(|r| r.input == a && r.output == c),
                "input x output"
            );
        }
    }
}

/// One row of the pairwise covering array on one model: it proves, verifies natively and in
/// revm, rejects a tampered instance, exposes exactly the instances it should, and its
/// commitments are `zkinfer hash`'s.
fn pairwise_row(name: &str, row: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let secrets = Secrets {
        input_salt: commit::parse_salt("0x5eed0001").unwrap(),
        output_salt: commit::parse_salt("0x5eed0002").unwrap(),
        ..Default::default()
    };
    let inputs = read_input(&fixture(name, "input.json")).unwrap();
    let vis = pairwise()[row];
    let b = build(name, vis, tmp.path());
    let path = tmp.path().join("proof.json");
    let r = pipeline::prove(&b, &inputs, &secrets, &path, &Quiet).unwrap();
    let pf = ProofFile::read(&path).unwrap();
    let kinds: Vec<String> = pf
        .instances
        .iter()
        .map(|i| i.info.kind.to_string())
        .collect();
    let n_in: usize = inputs.iter().map(Vec::len).sum();
    let n_out: usize = r.outputs.iter().map(Vec::len).sum();
    assert_eq!(
        kinds,
        expected_kinds(vis, n_in, b.model.params().len(), n_out),
        "{name} {vis:?}: instances"
    );
    assert!(
        pipeline::verify(&b, &pf, &path)
            .unwrap()
            .into_result()
            .is_ok(),
        "{name} {vis:?}: native"
    );

    let (words, proof) = pipeline::verify_calldata(&pf);
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
    let input = vis.input;
    let output = vis.output;
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
        forged.instances[0].field = pf.instances[0].field;
        assert!(
            pipeline::verify(&b, &forged, &p2)
                .unwrap()
                .into_result()
                .is_err(),
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
    if vis.params == Vis::Hashed {
        let at = kinds.iter().position(|k| k == "param_commitment").unwrap();
        assert_eq!(
            pf.instances[at].field,
            word(&b.param_commitment()),
            "{name}: param commitment"
        );
    }
}

/// One test per row of the covering array and model.
macro_rules! pairwise_tests {
    ($($name:ident: $model:literal, $row:literal;)*) => {
        $(
            #[test]
            fn $name() {
                pairwise_row($model, $row)
            }
        )*
    };
}

mod visibility_choices_pairwise_prove_verify_and_bind {
    use super::pairwise_row;
    pairwise_tests! {
        breast_cancer_tree_row_0: "breast_cancer_tree", 0;
        breast_cancer_tree_row_1: "breast_cancer_tree", 1;
        breast_cancer_tree_row_2: "breast_cancer_tree", 2;
        breast_cancer_tree_row_3: "breast_cancer_tree", 3;
        breast_cancer_tree_row_4: "breast_cancer_tree", 4;
        breast_cancer_tree_row_5: "breast_cancer_tree", 5;
        breast_cancer_tree_row_6: "breast_cancer_tree", 6;
        breast_cancer_tree_row_7: "breast_cancer_tree", 7;
        breast_cancer_tree_row_8: "breast_cancer_tree", 8;
        breast_cancer_tree_row_9: "breast_cancer_tree", 9;
        breast_cancer_tree_row_10: "breast_cancer_tree", 10;
        breast_cancer_tree_row_11: "breast_cancer_tree", 11;
        iris_logreg_row_0: "iris_logreg", 0;
        iris_logreg_row_1: "iris_logreg", 1;
        iris_logreg_row_2: "iris_logreg", 2;
        iris_logreg_row_3: "iris_logreg", 3;
        iris_logreg_row_4: "iris_logreg", 4;
        iris_logreg_row_5: "iris_logreg", 5;
        iris_logreg_row_6: "iris_logreg", 6;
        iris_logreg_row_7: "iris_logreg", 7;
        iris_logreg_row_8: "iris_logreg", 8;
        iris_logreg_row_9: "iris_logreg", 9;
        iris_logreg_row_10: "iris_logreg", 10;
        iris_logreg_row_11: "iris_logreg", 11;
    }
}

#[test]
fn swapped_weights_fail_when_fixed_and_change_the_commitment_when_hashed() {
    let tmp = tempfile::tempdir().unwrap();
    let name = "iris_logreg";
    let inputs = read_input(&fixture(name, "input.json")).unwrap();
    let path = tmp.path().join("proof.json");

    let fixed = build(name, Visibility::default(), tmp.path());
    let cheat = with_swapped_weight(&fixed, &tmp.path().join("cheat-fixed"));
    let err = pipeline::prove(&cheat, &inputs, &Secrets::default(), &path, &Quiet);
    assert!(
        err.is_err(),
        "a proof with swapped fixed weights was produced"
    );

    let vis = Visibility {
        params: Vis::Hashed,
        ..Visibility::default()
    };
    let hashed = build(name, vis, tmp.path());
    let registered = word(&hashed.param_commitment());
    pipeline::prove(&hashed, &inputs, &Secrets::default(), &path, &Quiet).unwrap();
    assert_eq!(
        ProofFile::read(&path).unwrap().instances[0].field,
        registered
    );
    let cheat = with_swapped_weight(&hashed, &tmp.path().join("cheat-hashed"));
    let p2 = tmp.path().join("cheat.json");
    pipeline::prove(&cheat, &inputs, &Secrets::default(), &p2, &Quiet).unwrap();
    let pf = ProofFile::read(&p2).unwrap();
    // The proof is valid for its own weights (the cheat's own build accepts it), but exposes
    // another commitment than the registered one: `verify` against the honest build refuses
    // it (also when the file claims the honest build's digest), as does a contract comparing
    // with the registered commitment.
    assert!(pipeline::verify(&cheat, &pf, &p2)
        .unwrap()
        .into_result()
        .is_ok());
    let pf = crate::common::claiming(&hashed, pf, &p2);
    let reason = pipeline::verify(&hashed, &pf, &p2)
        .unwrap()
        .into_result()
        .unwrap_err();
    assert!(reason.contains("weight commitment"), "{reason}");
    assert_ne!(
        pf.instances[0].field, registered,
        "swapped weights kept the registered commitment"
    );

    // Public weights: a prover who substitutes weights gets a valid proof whose weight
    // instances are not the build's; `verify` against the build names the weight.
    let vis = Visibility {
        params: Vis::Public,
        ..Visibility::default()
    };
    let public = build(name, vis, tmp.path());
    let cheat = with_swapped_weight(&public, &tmp.path().join("cheat-public"));
    let p3 = tmp.path().join("cheat-public.json");
    pipeline::prove(&cheat, &inputs, &Secrets::default(), &p3, &Quiet).unwrap();
    let pf = ProofFile::read(&p3).unwrap();
    assert!(pipeline::verify(&cheat, &pf, &p3)
        .unwrap()
        .into_result()
        .is_ok());
    let pf = crate::common::claiming(&public, pf, &p3);
    let reason = pipeline::verify(&public, &pf, &p3)
        .unwrap()
        .into_result()
        .unwrap_err();
    assert!(reason.contains("public weight 'param [0]'"), "{reason}");
    pipeline::prove(&public, &inputs, &Secrets::default(), &p3, &Quiet).unwrap();
    let honest = ProofFile::read(&p3).unwrap();
    let checked = pipeline::verify(&public, &honest, &p3)
        .unwrap()
        .into_result()
        .unwrap();
    assert!(
        checked
            .iter()
            .any(|c| c.contains("public weights are the build's")),
        "{checked:?}"
    );
}

/// `zkinfer hash` (inputs and weights) equals what the circuit exposes, on every fixture model:
/// its commitments are the instances the circuit computes for the same model, inputs and salt
/// (witness generation only; proving and the gadget's constraints are covered by the pairwise
/// test above and by the commitment gadget's own tests).
fn commitments_match_case(name: &str) {
    use zkinfer::circuit::{self, CircuitBuilderStage};
    let salt = commit::parse_salt("0x0123456789abcdef0123456789abcdef").unwrap();
    let vis = Visibility {
        input: Vis::Hashed,
        params: Vis::Hashed,
        output: Vis::Public,
        binding: false,
    };
    let (model, _) = crate::common::quantized(name, |_| {});
    let inputs = read_input(&fixture(name, "input.json")).unwrap();
    let trace = model.eval(&inputs).unwrap();
    let shape = circuit::choose_params(&model, &trace, vis, None, Default::default()).unwrap();
    let secrets = Secrets {
        input_salt: salt,
        ..Default::default()
    };
    let c = circuit::build(CircuitBuilderStage::Mock, &shape, &model, &trace, &secrets)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let inst = c.instances();
    assert_eq!(
        inst[0],
        commit::input_commitment(&model, &inputs, salt).unwrap(),
        "{name}: input"
    );
    assert_eq!(inst[1], commit::param_commitment(&model), "{name}: weights");
    let other = commit::input_commitment(&model, &inputs, Fr::from(2)).unwrap();
    assert_ne!(inst[0], other, "{name}: the salt changes nothing");
}

mod hash_equals_the_in_circuit_commitments_on_every_fixture {
    crate::common::fixture_tests!(super::commitments_match_case, small);
}
