//! Output predicates: the proof reveals no output, a contract can set its own threshold, and a
//! false predicate cannot be proven (refused by zkinfer; with that bypassed, rejected by the
//! circuit). Includes the credit example: input and model hashed, "score >= threshold" public.

use crate::common::fixture;
use zkinfer::artifacts::ProofFile;
use zkinfer::circuit::{self, CircuitBuilderStage, Secrets};
use zkinfer::fidelity::Target;
use zkinfer::field::halo2_proofs::dev::MockProver;
use zkinfer::inputs::read_input;
use zkinfer::pipeline::{self, Build, BuildOptions, Quiet};
use zkinfer::predicate::Predicate;
use zkinfer::verifier::encode_verify_call;
use zkinfer::visibility::{Vis, Visibility};

fn build(name: &str, vis: Visibility, predicate: &str, dir: &std::path::Path) -> Build {
    let out = dir.join(format!(
        "{name}-{}",
        predicate.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    ));
    let opts = BuildOptions {
        force: true,
        target: Target::Resources,
        visibility: vis,
        predicate: Some(predicate.parse::<Predicate>().unwrap()),
        ..BuildOptions::new(
            fixture(name, "model.onnx"),
            fixture(name, "calibration.jsonl"),
            out.clone(),
        )
    };
    crate::common::build_copy(&opts);
    Build::open(&out).unwrap()
}

fn mock_accepts(b: &Build, inputs: &[Vec<f64>], secrets: &Secrets) -> bool {
    let trace = b.model.eval(inputs).unwrap();
    let c = circuit::build(
        CircuitBuilderStage::Mock,
        &b.settings.circuit,
        &b.model,
        &trace,
        secrets,
    )
    .unwrap();
    let inst = c.instances();
    MockProver::run(b.settings.circuit.k(), &c, vec![inst])
        .unwrap()
        .verify()
        .is_ok()
}

#[test]
fn credit_threshold_with_hashed_input_and_model() {
    let tmp = tempfile::tempdir().unwrap();
    let name = "breast_cancer_logreg";
    let vis = Visibility {
        input: Vis::Hashed,
        params: Vis::Hashed,
        output: Vis::Private,
        binding: false,
    };
    let b = build(name, vis, "probabilities[0] >= threshold", tmp.path());
    let inputs = read_input(&fixture(name, "input.json")).unwrap();
    // The sample's class-0 probability is about 1.0.
    let salt = circuit::commit::parse_salt("0x77").unwrap();
    let secrets = |t: f64| Secrets {
        input_salt: salt,
        predicate_params: b.predicate_params(&[("threshold".into(), t)]).unwrap(),
        ..Default::default()
    };
    let path = tmp.path().join("proof.json");
    pipeline::prove(&b, &inputs, &secrets(0.7), &path, &Quiet).unwrap();
    let pf = ProofFile::read(&path).unwrap();
    let kinds: Vec<&str> = pf.instances.iter().map(|i| i.info.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "input_commitment",
            "param_commitment",
            "predicate",
            "predicate_param"
        ],
        "no output value is public"
    );
    assert_eq!(pf.instances[2].integer.as_deref(), Some("1"));
    assert_eq!(
        pf.instances[3].value,
        Some(0.7f64.mul_add(1.0, 0.0)).map(|v| zkinfer::quant::to_float(
            zkinfer::quant::to_fixed(v, pf.instances[3].info.exp),
            pf.instances[3].info.exp
        ))
    );
    assert!(pipeline::verify(&b, &pf, &path)
        .unwrap()
        .into_result()
        .is_ok());
    assert_eq!(
        pf.instances[0].field,
        zkinfer::field::to_word(&b.input_commitment(&inputs, salt).unwrap())
    );

    // On the EVM: valid as proven; a contract demanding a higher threshold with this proof fails.
    let (words, proof) = pipeline::verify_calldata(&pf);
    let mut higher = words.clone();
    higher[3][31] = higher[3][31].wrapping_add(1);
    let run = pipeline::verify_in_evm(
        &b,
        &[
            encode_verify_call(&words, &proof),
            encode_verify_call(&higher, &proof),
        ],
    )
    .unwrap();
    assert_eq!(
        run.calls.iter().map(|c| c.accepted).collect::<Vec<_>>(),
        [true, false]
    );

    // A false predicate: refused by zkinfer, and with the refusal bypassed, rejected by the circuit.
    let err = pipeline::prove(&b, &inputs, &secrets(1.5), &path, &Quiet)
        .unwrap_err()
        .to_string();
    assert!(err.contains("is false for this input"), "{err}");
    assert!(mock_accepts(&b, &inputs, &secrets(0.7)));
    assert!(
        !mock_accepts(&b, &inputs, &secrets(1.5)),
        "a false threshold predicate was accepted"
    );
}

#[test]
fn argmax_predicates_literal_and_parameter() {
    let tmp = tempfile::tempdir().unwrap();
    let name = "digits_mlp";
    let inputs = read_input(&fixture(name, "input.json")).unwrap();
    let vis = Visibility {
        output: Vis::Private,
        ..Visibility::default()
    };
    // The class of the fixture's sample, from the plain model.
    let plain = Build::open(crate::common::built(name)).unwrap();
    let y = plain.model.eval(&inputs).unwrap();
    let cls = zkinfer::quant::argmax_pos(
        &(0..10).collect::<Vec<u32>>(),
        &y.values[plain.model.outputs[0]],
    );

    let b = build(name, vis, &format!("argmax(y) == {cls}"), tmp.path());
    let path = tmp.path().join("proof.json");
    pipeline::prove(&b, &inputs, &Secrets::default(), &path, &Quiet).unwrap();
    let pf = ProofFile::read(&path).unwrap();
    assert_eq!(
        pf.instances
            .iter()
            .map(|i| i.info.kind.as_str())
            .collect::<Vec<_>>(),
        ["predicate"]
    );
    assert!(pipeline::verify(&b, &pf, &path)
        .unwrap()
        .into_result()
        .is_ok());
    let wrong = build(
        name,
        vis,
        &format!("argmax(y) == {}", (cls + 1) % 10),
        tmp.path(),
    );
    assert!(pipeline::prove(&wrong, &inputs, &Secrets::default(), &path, &Quiet).is_err());
    assert!(
        !mock_accepts(&wrong, &inputs, &Secrets::default()),
        "a false argmax predicate was accepted"
    );

    let b = build(name, vis, "argmax(y) == k", tmp.path());
    let ok = Secrets {
        predicate_params: b.predicate_params(&[("k".into(), cls as f64)]).unwrap(),
        ..Default::default()
    };
    pipeline::prove(&b, &inputs, &ok, &path, &Quiet).unwrap();
    let pf = ProofFile::read(&path).unwrap();
    assert_eq!(
        pf.instances[1].integer.as_deref(),
        Some(cls.to_string().as_str())
    );
    assert!(pipeline::verify(&b, &pf, &path)
        .unwrap()
        .into_result()
        .is_ok());
    let bad = Secrets {
        predicate_params: vec![((cls + 3) % 10) as i128],
        ..Default::default()
    };
    assert!(
        !mock_accepts(&b, &inputs, &bad),
        "a wrong class parameter was accepted"
    );
    assert!(b.predicate_params(&[("nope".into(), 1.0)]).is_err());
}

/// Every comparison operator at its boundary: with the output `y`, thresholds `y - 1`, `y` and
/// `y + 1` prove exactly when the comparison holds. A threshold outside the activation range,
/// for which the comparison holds whatever the output, has no witness (the threshold itself is
/// range-checked). MockProver on the quantized model, no build needed.
#[test]
fn comparisons_at_their_boundaries_and_thresholds_out_of_range() {
    let (model, calib) = crate::common::quantized("breast_cancer_logreg", |_| {});
    let trace = model.eval(&calib[0]).unwrap();
    let vis = Visibility {
        output: Vis::Private,
        ..Visibility::default()
    };
    let half = 1i128 << (model.act_bits - 1);
    for op in [">=", ">", "<=", "<"] {
        let p: Predicate = format!("probabilities[0] {op} T").parse().unwrap();
        let (_, v, _) = p.locate(&model).unwrap();
        let ys = &trace.values[v];
        let y = ys[0];
        let shape =
            circuit::choose_params(&model, &trace, vis, Some(&p), Default::default()).unwrap();
        let mock = |t: i128| {
            let secrets = Secrets {
                predicate_params: vec![t],
                ..Default::default()
            };
            let c = circuit::build(CircuitBuilderStage::Mock, &shape, &model, &trace, &secrets)
                .unwrap();
            let inst = c.instances();
            assert_eq!(
                inst,
                vec![zkinfer::field::Fr::one(), zkinfer::field::field(t)]
            );
            MockProver::run(shape.k(), &c, vec![inst])
                .unwrap()
                .verify()
                .is_ok()
        };
        for t in [y - 1, y, y + 1] {
            let holds = p.holds(ys, &[t]).unwrap();
            assert_eq!(mock(t), holds, "y {op} T with T = y {:+}", t - y);
        }
        let beyond = if op.starts_with('>') {
            [-half - 1, -half - (1 << 40)]
        } else {
            [half, half + (1 << 40)]
        };
        for t in beyond {
            assert!(p.holds(ys, &[t]).unwrap());
            assert!(
                !mock(t),
                "y {op} T with T = {t}, outside the activation range"
            );
        }
        // The range's own edges are thresholds like any other.
        let edge = if op.starts_with('>') { -half } else { half - 1 };
        assert_eq!(mock(edge), p.holds(ys, &[edge]).unwrap(), "y {op} {edge}");
    }
}
