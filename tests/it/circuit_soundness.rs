//! Whole-model soundness with MockProver. The circuit recomputes every intermediate witness
//! from the inputs, so what a cheating prover controls is the inputs and the claimed public
//! outputs: wrong outputs, and inputs the integer evaluator would refuse (its checks bypassed
//! by editing the trace directly), must be rejected by the constraints themselves. And what the
//! layout assigns must be constrained: every witness cell of a real model, changed in turn
//! under the honest instances, must be rejected (see `prank`).

use crate::common::{fixture, open};
use zkinfer::circuit::{self, CircuitBuilderStage};
use zkinfer::field::halo2_proofs::dev::MockProver;
use zkinfer::field::Fr;
use zkinfer::inputs::read_input;
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
            .map(zkinfer::field::field)
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
        .map(zkinfer::field::field)
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

mod every_fixture_model_is_sound {
    crate::common::fixture_tests!(super::check_model, dot_lanes);
}

/// Lookup tables: a value beyond a non-saturating side of a table (here e^x above its
/// calibrated range) is refused by the evaluator with the node and the domain, and with that
/// refusal bypassed the lookup itself rejects the witness; beyond a saturating side (sigmoid,
/// tanh) the value saturates exactly and proves.
#[test]
fn tables_refuse_or_saturate_and_the_circuit_agrees() {
    use zkinfer::inputs::read_calibration;
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
        let inst = t
            .outputs(&model)
            .into_iter()
            .map(zkinfer::field::field)
            .collect();
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

/// Function tables never hold a value outside the activation range: an Exp table over inputs up
/// to 6 once reached e^12 * 2^16 (about 2^33); now its domain stops where e^x leaves the range,
/// an input above that is refused by the evaluator, and with that bypassed, by the circuit.
#[test]
fn exp_tables_stay_in_the_activation_range() {
    let (model, calib) = crate::common::quantized("sigmoid_tanh_exp", |calib| {
        let mut big = calib[0].clone();
        big[0][0] = 6.0;
        calib.push(big);
    });
    let tables = circuit::model_tables(&model);
    assert!(tables.iter().any(|t| t.func == zkinfer::graph::Func::Exp));
    for t in &tables {
        assert_eq!(
            t.row_out_of_range(model.act_bits),
            None,
            "{:?} table leaves the {}-bit range",
            t.func,
            model.act_bits
        );
    }
    let exp = tables
        .iter()
        .find(|t| t.func == zkinfer::graph::Func::Exp)
        .unwrap();
    // Just above the table's (capped) domain, still inside the activation range as an input.
    let mut x = calib[0].clone();
    x[0][0] = exp.domain().1 + 0.5;
    let err = model.eval(&x).unwrap_err().to_string();
    assert!(
        err.contains("node 'e'") && err.contains("outside the table's domain"),
        "{err}"
    );
    let mut t = model.eval(&calib[0]).unwrap();
    t.values[model.inputs[0]] = model.quantize_inputs(&x).unwrap()[0].clone();
    let shape = circuit::choose_params(
        &model,
        &model.eval(&calib[0]).unwrap(),
        Default::default(),
        None,
        Default::default(),
    )
    .unwrap();
    assert!(
        !mock_shape(&model, &shape, &t),
        "an input above the exp table accepted"
    );
}

/// A model whose table holds a value outside the activation range (one quantized by an older
/// zkinfer, say) is a build error naming the node, never a silently wrong table.
#[test]
fn an_out_of_range_table_is_a_build_error() {
    let (mut model, calib) = crate::common::quantized("sigmoid_tanh_exp", |_| {});
    let trace = model.eval(&calib[0]).unwrap();
    let shape =
        circuit::choose_params(&model, &trace, Default::default(), None, Default::default())
            .unwrap();
    for n in &mut model.nodes {
        if let zkinfer::quant::QOp::Func(f) = &mut n.op {
            if f.func == zkinfer::graph::Func::Exp {
                f.hi += 16 << f.table_exp; // e^16 at the output scale: far above 2^31
            }
        }
    }
    let err = circuit::choose_params(&model, &trace, Default::default(), None, Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("node 'e'") && err.contains("activation range"),
        "{err}"
    );
    let mut edited = shape.clone();
    edited.params.tables = circuit::model_tables(&model);
    let err = circuit::build(
        CircuitBuilderStage::Mock,
        &edited,
        &model,
        &trace,
        &Default::default(),
    )
    .err()
    .map(|e| e.to_string())
    .unwrap_or_default();
    assert!(err.contains("activation range"), "built: {err}");
}

/// MockProver on `trace` with the instances the circuit computes.
fn mock_shape(
    model: &zkinfer::quant::QuantModel,
    shape: &circuit::CircuitShape,
    trace: &Trace,
) -> bool {
    let c = circuit::build(
        CircuitBuilderStage::Mock,
        shape,
        model,
        trace,
        &Default::default(),
    )
    .unwrap();
    let inst = trace
        .outputs(model)
        .into_iter()
        .map(zkinfer::field::field)
        .collect();
    MockProver::run(shape.k(), &c, vec![inst])
        .unwrap()
        .verify()
        .is_ok()
}

fn calib_trace(model: &zkinfer::quant::QuantModel, calib: &[Vec<Vec<f64>>]) -> Trace {
    model.eval(&calib[0]).unwrap()
}

/// One circuit to prank: a quantized fixture model with a visibility, predicate and secrets.
struct Subject {
    what: &'static str,
    model: zkinfer::quant::QuantModel,
    shape: circuit::CircuitShape,
    trace: Trace,
    secrets: circuit::Secrets,
}

impl Subject {
    fn new(
        what: &'static str,
        name: &str,
        vis: zkinfer::visibility::Visibility,
        predicate: Option<&str>,
        optimize: circuit::Optimize,
    ) -> Self {
        let (model, calib) = crate::common::quantized(name, |_| {});
        let trace = model.eval(&calib[0]).unwrap();
        let predicate: Option<zkinfer::predicate::Predicate> =
            predicate.map(|p| p.parse().unwrap());
        let shape =
            circuit::choose_params(&model, &trace, vis, predicate.as_ref(), optimize).unwrap();
        // A threshold right at the output's value (the predicate's boundary), salts, a binding.
        let predicate_params = predicate.as_ref().map_or(vec![], |p| {
            let (_, v, _) = p.locate(&model).unwrap();
            vec![trace.values[v][0]]
        });
        let secrets = circuit::Secrets {
            input_salt: Fr::from(0x5a17),
            output_salt: Fr::from(0x5a18),
            predicate_params,
            binding: vis.binding.then(|| zkinfer::visibility::binding::Binding {
                chain_id: 31337,
                registry: alloy::primitives::Address::repeat_byte(0x11),
                submitter: alloy::primitives::Address::repeat_byte(0x22),
                model_id: alloy::primitives::B256::repeat_byte(0x33),
                nonce: 7,
            }),
        };
        Self {
            what,
            model,
            shape,
            trace,
            secrets,
        }
    }

    fn circuit(&self) -> circuit::ZkCircuit {
        circuit::build(
            CircuitBuilderStage::Mock,
            &self.shape,
            &self.model,
            &self.trace,
            &self.secrets,
        )
        .unwrap()
    }

    /// Advice cells of the main context (every witness the layout assigns).
    fn cells(&self) -> usize {
        self.circuit().builder.main(0).advice.len()
    }

    /// The cells among `cells` whose value + 1, under the honest instances, MockProver still
    /// accepts; on two threads.
    fn accepted_pranks(&self, cells: &[usize]) -> Vec<usize> {
        use zkinfer::field::halo2_proofs::plonk::Assigned;
        let honest = self.circuit();
        let inst = honest.instances();
        let k = self.shape.k();
        assert!(
            MockProver::run(k, &honest, vec![inst.clone()])
                .unwrap()
                .verify()
                .is_ok(),
            "{}: honest witness rejected",
            self.what
        );
        let run = |part: usize| -> Vec<usize> {
            let mut accepted = vec![];
            for &i in cells.iter().skip(part).step_by(2) {
                let mut c = self.circuit();
                let ctx = c.builder.main(0);
                let v = ctx.advice[i].evaluate();
                ctx.advice[i] = Assigned::Trivial(v + Fr::one());
                let ok = MockProver::run(k, &c, vec![inst.clone()])
                    .unwrap()
                    .verify()
                    .is_ok();
                if ok {
                    accepted.push(i);
                }
            }
            accepted
        };
        let mut all: Vec<usize> = std::thread::scope(|s| {
            let a = s.spawn(|| run(0));
            let b = run(1);
            let mut a = a.join().unwrap();
            a.extend(b);
            a
        });
        all.sort();
        all
    }
}

/// Which cells of a subject to prank.
enum Pick {
    /// Every cell.
    All,
    /// A seeded sample of this many cells, plus every one of the last `tail` cells (where the
    /// predicate and the binding sit).
    Sample { n: usize, tail: usize },
}

impl Pick {
    fn cells(&self, total: usize) -> Vec<usize> {
        match *self {
            Pick::All => (0..total).collect(),
            Pick::Sample { n, tail } => {
                let mut pick: std::collections::BTreeSet<usize> =
                    (total.saturating_sub(tail)..total).collect();
                // splitmix64 from a fixed seed.
                let mut seed = 0x5eed_u64;
                let want = (pick.len() + n).min(total);
                while pick.len() < want {
                    seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
                    let mut z = seed;
                    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                    pick.insert(((z ^ (z >> 31)) % total as u64) as usize);
                }
                pick.into_iter().collect()
            }
        }
    }
}

/// Every witness cell the layout assigns is constrained: each advice cell of the main context
/// (every witness the layout and the instance gadgets assign; halo2-base's padding and the
/// lookup and dot-lane columns are copies of these, not cells of their own), set in turn to its
/// value + 1 under the honest public instances, is rejected by MockProver.
///
/// Every cell of the smallest real fixture model (breast_cancer_logreg: affine rows, a softmax
/// through the exp table, argmax) and of the op fixtures for PReLU and clip (min and max); a
/// seeded sample of the same model with every commitment and a binding (mostly Poseidon), and
/// with a predicate (its last cells, the predicate and the binding, all pranked); and a seeded
/// sample of digits_mlp, plain and with its dot lane. No cell is exempt: an accepted prank is
/// an under-constrained witness.
#[test]
fn every_pranked_witness_cell_is_rejected() {
    use zkinfer::circuit::Optimize;
    use zkinfer::visibility::{Vis, Visibility};
    let plain = Visibility::default();
    let hashed = Visibility {
        input: Vis::Hashed,
        params: Vis::Hashed,
        output: Vis::Hashed,
        binding: true,
    };
    let predicate = Visibility {
        input: Vis::Hashed,
        params: Vis::Fixed,
        output: Vis::Private,
        binding: true,
    };
    let (d, p) = (Optimize::default(), Optimize::Proving);
    let logreg = "breast_cancer_logreg";
    let subjects = [
        (Subject::new("logreg", logreg, plain, None, d), Pick::All),
        (
            Subject::new("prelu", "relu_leaky_prelu", plain, None, d),
            Pick::All,
        ),
        (
            Subject::new("clip", "clip_opset9_relu6", plain, None, d),
            Pick::All,
        ),
        (
            Subject::new("logreg hashed", logreg, hashed, None, d),
            Pick::Sample { n: 120, tail: 0 },
        ),
        (
            Subject::new(
                "logreg predicate",
                logreg,
                predicate,
                Some("probabilities[0] >= T"),
                d,
            ),
            Pick::Sample { n: 100, tail: 40 },
        ),
        (
            Subject::new("digits_mlp", "digits_mlp", plain, None, d),
            Pick::Sample { n: 200, tail: 0 },
        ),
        (
            Subject::new("digits_mlp dot lane", "digits_mlp", plain, None, p),
            Pick::Sample { n: 200, tail: 0 },
        ),
    ];
    let mut failures = vec![];
    for (s, pick) in &subjects {
        let n = s.cells();
        let cells = pick.cells(n);
        let t = std::time::Instant::now();
        let accepted = s.accepted_pranks(&cells);
        eprintln!(
            "{}: {} of {n} cells pranked in {:.1}s, {} accepted",
            s.what,
            cells.len(),
            t.elapsed().as_secs_f64(),
            accepted.len()
        );
        if !accepted.is_empty() {
            failures.push(format!("{}: cells {accepted:?} accept value + 1", s.what));
        }
    }
    assert!(
        failures.is_empty(),
        "under-constrained witness cells:\n{}",
        failures.join("\n")
    );
}

/// Batch circuits: each slot is its own statement, and an unused slot claims nothing. Three
/// slots of breast_cancer_mlp (real, unused, real), in two layouts: the credit shape (hashed
/// input, private output, `y[0] >= T`, binding; the predicate's result is the used bit) and one
/// without a predicate (public input, hashed weights shared by every slot, public output; a
/// used-bit instance leads each slot).
#[test]
fn batch_slots_are_separate_statements_and_an_unused_slot_claims_nothing() {
    use zkinfer::visibility::{Vis, Visibility};
    let (model, calib) = crate::common::quantized("breast_cancer_mlp", |_| {});
    let traces: Vec<Trace> = calib[..3].iter().map(|x| model.eval(x).unwrap()).collect();
    let binding = zkinfer::visibility::binding::Binding {
        chain_id: 31337,
        registry: alloy::primitives::Address::repeat_byte(0x11),
        submitter: alloy::primitives::Address::repeat_byte(0x22),
        model_id: alloy::primitives::B256::repeat_byte(0x33),
        nonce: 7,
    };
    let credit = Visibility {
        input: Vis::Hashed,
        params: Vis::Fixed,
        output: Vis::Private,
        binding: true,
    };
    let open_outputs = Visibility {
        input: Vis::Public,
        params: Vis::Hashed,
        output: Vis::Public,
        binding: false,
    };
    // (visibility, predicate, instances before the slots, instances per slot, the used bit's
    // position in a slot)
    let cases = [
        (credit, Some("y[0] >= T"), 0usize, 3usize, 1usize),
        (open_outputs, None, 1, 1 + 30 + 2, 0),
    ];
    for (vis, pred, head, per, bit_at) in cases {
        let predicate: Option<zkinfer::predicate::Predicate> = pred.map(|p| p.parse().unwrap());
        let shape = circuit::choose_batch_params(
            &model,
            &traces[0],
            vis,
            predicate.as_ref(),
            Default::default(),
            3,
        )
        .unwrap();
        assert_eq!(shape.batch, 3);
        let y0 = |t: &Trace| {
            let (_, v, _) = predicate.as_ref().unwrap().locate(&model).unwrap();
            t.values[v][0]
        };
        // Each real slot's threshold right at its own output (the predicate's boundary).
        let secrets: Vec<circuit::Secrets> = (0..3)
            .map(|i| circuit::Secrets {
                input_salt: Fr::from(0x5a17 + i as u64),
                predicate_params: predicate.as_ref().map_or(vec![], |_| vec![y0(&traces[i])]),
                ..Default::default()
            })
            .collect();
        let run = |slots: &[circuit::Slot], inst: Option<Vec<Fr>>| -> (bool, Vec<Fr>) {
            let c = circuit::build_batch(
                CircuitBuilderStage::Mock,
                &shape,
                &model,
                slots,
                vis.binding.then_some(&binding),
            )
            .unwrap();
            let inst = inst.unwrap_or_else(|| c.instances());
            let ok = MockProver::run(shape.k(), &c, vec![inst.clone()])
                .unwrap()
                .verify()
                .is_ok();
            (ok, inst)
        };
        let slot = |i: usize, used: bool| circuit::Slot {
            trace: &traces[i],
            secrets: &secrets[i],
            used,
        };
        let what = pred.unwrap_or("no predicate");
        let (ok, honest) = run(&[slot(0, true), slot(1, false), slot(2, true)], None);
        assert!(ok, "{what}: honest batch rejected");
        assert_eq!(
            honest.len(),
            head + 3 * per + usize::from(vis.binding),
            "{what}: layout"
        );
        let at = |s: usize, j: usize| head + s * per + j;
        // The unused slot exposes only zeros; the real ones their used bit 1.
        assert!((0..per).all(|j| honest[at(1, j)] == Fr::zero()), "{what}");
        assert_eq!(honest[at(0, bit_at)], Fr::one(), "{what}");
        assert_eq!(honest[at(2, bit_at)], Fr::one(), "{what}");
        // Every instance of a slot is its own: the real slots differ, and a changed value (first,
        // middle, last and the used bit of each slot, so also a used bit raised on the unused
        // slot), and the two real slots swapped are rejected.
        assert_ne!(
            honest[at(0, 0)..at(1, 0)],
            honest[at(2, 0)..at(3, 0)],
            "{what}"
        );
        let mut tampered = vec![];
        let mut positions = vec![0, bit_at, per / 2, per - 1];
        positions.dedup();
        for s in 0..3 {
            for &j in &positions {
                let mut inst = honest.clone();
                inst[at(s, j)] += Fr::one();
                tampered.push(inst);
            }
        }
        let mut swapped = honest.clone();
        for j in 0..per {
            swapped.swap(at(0, j), at(2, j));
        }
        tampered.push(swapped);
        for (n, inst) in tampered.into_iter().enumerate() {
            let (ok, _) = run(&[slot(0, true), slot(1, false), slot(2, true)], Some(inst));
            assert!(!ok, "{what}: tampering {n} accepted");
        }
        // The unused slot's witness is another sample's data: marking it used makes it a real
        // statement only if that is true of it.
        if predicate.is_some() {
            // Slot 1 with slot 0's threshold: true only if y(1) >= y(0).
            let mut false_secrets = secrets[1].clone();
            false_secrets.predicate_params = vec![y0(&traces[1]) + 1];
            let lying = circuit::Slot {
                trace: &traces[1],
                secrets: &false_secrets,
                used: true,
            };
            let (ok, _) = run(&[slot(0, true), lying, slot(2, true)], None);
            assert!(!ok, "{what}: a false predicate in a used slot accepted");
            let idle = circuit::Slot {
                used: false,
                ..lying
            };
            let (ok, inst) = run(&[slot(0, true), idle, slot(2, true)], None);
            assert!(
                ok,
                "{what}: a false predicate in an unused slot must not matter"
            );
            assert!((0..per).all(|j| inst[at(1, j)] == Fr::zero()), "{what}");
        }
    }
}

/// The largest batch `build` names when `--batch` needs more rows than there are: at a small
/// `logrows` cap, the named batch fits in it (shortest layout) and one more slot does not.
#[test]
fn the_largest_batch_named_fits_and_one_more_does_not() {
    use zkinfer::circuit::Optimize;
    let (model, calib) = crate::common::quantized("breast_cancer_mlp", |_| {});
    let trace = model.eval(&calib[0]).unwrap();
    let k_of = |batch: usize| {
        circuit::choose_batch_params(
            &model,
            &trace,
            Default::default(),
            None,
            Optimize::Proving,
            batch,
        )
        .unwrap()
        .k()
    };
    let cap = k_of(1) + 2;
    let largest =
        circuit::largest_batch_within(cap, &model, &trace, Default::default(), None, 64).unwrap();
    assert!(
        largest >= 2,
        "a few samples fit in four times the rows of one: {largest}"
    );
    assert!(largest < 64);
    assert!(
        k_of(largest) <= cap,
        "batch {largest} needs logrows {}",
        k_of(largest)
    );
    assert!(
        k_of(largest + 1) > cap,
        "batch {} also fits in {cap}",
        largest + 1
    );
}

/// The LeNet fixtures run on poly and act lanes, two act lanes sharing their fixed columns
/// among them, so every whole-model test above (honest and wrong outputs, out-of-range inputs,
/// real proofs in `pipeline`) exercises both.
#[test]
fn the_lenets_prove_on_poly_and_act_lanes() {
    let mut most_acts = 0;
    for name in ["lenet_ccd", "lenet_ccddd"] {
        let p = &open(name).settings.circuit.params;
        assert!(
            p.poly_lanes > 0 && p.act_lanes > 0,
            "{name}: {} poly, {} act lanes",
            p.poly_lanes,
            p.act_lanes
        );
        most_acts = most_acts.max(p.act_lanes);
    }
    assert!(most_acts >= 2, "no LeNet has two act lanes");
}
