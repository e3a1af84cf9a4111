//! Whole-model soundness with MockProver: a trace that departs from the model, or public
//! outputs that differ from the computed ones, are rejected by the circuit itself (the integer
//! evaluator's checks are bypassed by editing the trace directly).

mod common;

use common::{fixture, open};
use zkinfer::artifacts::read_input;
use zkinfer::circuit::{self, halo2_proofs::dev::MockProver, CircuitBuilderStage, Fr};
use zkinfer::quant::{NodeTrace, Trace};

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

#[test]
fn honest_trace_passes_and_tampered_traces_fail() {
    let name = "breast_cancer_mlp";
    let build = open(name);
    let trace = build
        .model
        .eval(&read_input(&fixture(name, "input.json")).unwrap())
        .unwrap();
    assert!(mock_ok(name, &trace, None));

    // A different public output than the one computed.
    let mut inst: Vec<Fr> = trace
        .outputs(&build.model)
        .into_iter()
        .map(circuit::field)
        .collect();
    inst[1] += Fr::one();
    assert!(!mock_ok(name, &trace, Some(inst)));

    // Each node's output shifted by one (and the rest of the trace left as is).
    for (i, node) in build.model.nodes.iter().enumerate() {
        let mut t = trace.clone();
        t.values[node.output][0] += 1;
        if let NodeTrace::Linear { rem, .. } = &mut t.nodes[i] {
            // Keep the rescale equation balanced: only the range check can catch it.
            rem[0] -= 1
                << match &build.model.nodes[i].op {
                    zkinfer::quant::QOp::Linear { shift, .. } => *shift,
                    _ => 0,
                };
        }
        assert!(
            !mock_ok(name, &t, None),
            "tampered output of node {} ({}) accepted",
            i,
            node.name
        );
    }
}
