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
    let b = circuit::build(CircuitBuilderStage::Mock, shape, &build.model, trace).unwrap();
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
    for name in common::FIXTURES {
        check_model(name);
    }
}
