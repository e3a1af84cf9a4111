//! Whole-model soundness with MockProver. The circuit recomputes every intermediate witness
//! from the inputs, so what a cheating prover controls is the inputs and the claimed public
//! outputs: wrong outputs, and inputs the integer evaluator would refuse (its checks bypassed
//! by editing the trace directly), must be rejected by the constraints themselves.

mod common;

use common::{fixture, open};
use zkinfer::artifacts::read_input;
use zkinfer::circuit::{self, halo2_proofs::dev::MockProver, CircuitBuilderStage, Fr};
use zkinfer::quant::Trace;

fn mock_ok(name: &str, trace: &Trace, instances: Option<Vec<Fr>>) -> bool {
    let build = open(name);
    let shape = &build.settings.circuit;
    let b = circuit::build(
        CircuitBuilderStage::Mock,
        shape,
        &build.model,
        trace,
        &Default::default(),
    )
    .unwrap();
    let inst = instances.unwrap_or_else(|| {
        trace
            .outputs(&build.model)
            .into_iter()
            .map(circuit::field)
            .collect()
    });
    MockProver::run(shape.k(), &b, vec![inst])
        .unwrap()
        .verify()
        .is_ok()
}

/// Honest traces pass; each public output changed by one is rejected; an input outside the
/// activation range (refused by the evaluator, bypassed here) is rejected.
pub fn check_model(name: &str) {
    let build = open(name);
    let trace = build
        .model
        .eval(&read_input(&fixture(name, "input.json")).unwrap())
        .unwrap();
    assert!(mock_ok(name, &trace, None), "{name}: honest trace rejected");
    let honest: Vec<Fr> = trace
        .outputs(&build.model)
        .into_iter()
        .map(circuit::field)
        .collect();
    for i in [0, honest.len() - 1] {
        let mut inst = honest.clone();
        inst[i] += Fr::one();
        assert!(
            !mock_ok(name, &trace, Some(inst)),
            "{name}: wrong public output {i} accepted"
        );
    }
    let mut t = trace.clone();
    let v = build.model.inputs[0];
    t.values[v][0] = 1i128 << build.model.act_bits;
    assert!(
        !mock_ok(name, &t, None),
        "{name}: out-of-range input accepted"
    );
}

#[test]
fn every_fixture_model_is_sound() {
    for name in common::FIXTURES.iter().chain(common::DOT_LANE_FIXTURES) {
        check_model(name);
    }
}

/// Lookup tables: a value beyond a non-saturating side of a table (here e^x above its
/// calibrated range) is refused by the evaluator with the node and the domain, and with that
/// refusal bypassed the lookup itself rejects the witness; beyond a saturating side (sigmoid,
/// tanh) the value saturates exactly and proves.
#[test]
fn tables_refuse_or_saturate_and_the_circuit_agrees() {
    use zkinfer::artifacts::read_calibration;
    use zkinfer::onnx::LoadOptions;
    use zkinfer::quant::{quantize, QuantConfig};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/ops/sigmoid_tanh_exp");
    let mut graph = zkinfer::onnx::load(&dir.join("model.onnx"), &LoadOptions::default()).unwrap();
    graph.optimize();
    let calib = read_calibration(&dir.join("calibration.jsonl")).unwrap();
    let model = quantize(&graph, &calib, &QuantConfig::default()).unwrap();
    let mock = |t: &Trace| {
        let shape = circuit::choose_params(
            &model,
            &calib_trace(&model, &calib),
            Default::default(),
            None,
            Default::default(),
        )
        .unwrap();
        let c = circuit::build(
            CircuitBuilderStage::Mock,
            &shape,
            &model,
            t,
            &Default::default(),
        )
        .unwrap();
        let inst = t.outputs(&model).into_iter().map(circuit::field).collect();
        MockProver::run(shape.k(), &c, vec![inst])
            .unwrap()
            .verify()
            .is_ok()
    };

    // 20 is far above the calibrated inputs (standard normal) but inside the activation range.
    let mut x = calib[0].clone();
    x[0][0] = 20.0;
    let err = model.eval(&x).unwrap_err().to_string();
    assert!(
        err.contains("node 'e'") && err.contains("outside the table's domain"),
        "{err}"
    );
    let q = model.quantize_inputs(&x).unwrap();
    let mut t = model.eval(&calib[0]).unwrap();
    t.values[model.inputs[0]] = q[0].clone();
    assert!(!mock(&t), "an input outside the exp table was accepted");

    // Sigmoid and tanh saturate: -20 gives exactly 0 and -1 at their output scales.
    let mut x = calib[0].clone();
    x[0][0] = -20.0;
    let t = model.eval(&x).unwrap();
    let outs = model.output_floats(&t);
    assert_eq!((outs[0][0], outs[1][0]), (0.0, -1.0));
    assert!(mock(&t), "a saturated sigmoid/tanh was rejected");
}

fn calib_trace(model: &zkinfer::quant::QuantModel, calib: &[Vec<Vec<f64>>]) -> Trace {
    model.eval(&calib[0]).unwrap()
}
