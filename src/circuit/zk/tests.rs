//! MockProver tests of the function lookups and the dot lane: honest rows pass, tampered
//! rows, other tables' rows and pranked cells fail.

use super::*;
use crate::circuit::chips::{AffineChip, AffineInstructions};
use crate::circuit::CircuitBuilderStage;
use crate::field::field;
use halo2_base::gates::RangeInstructions;
use halo2_base::halo2_proofs::dev::MockProver;
use halo2_base::QuantumCell::Constant;

const K: usize = 9;

/// Two dot jobs at width 2: 5 terms and a bias (3 rows), then 2 terms with a zero weight
/// dropped (1 row); the outputs are the public instances. Returns whether MockProver accepts,
/// with `out_delta` added to the first job's output cell and `tamper` applied to the lane.
fn run(tamper: Option<DotTamper>, out_delta: i128) -> bool {
    let mut b = BaseCircuitBuilder::<Fr>::from_stage(CircuitBuilderStage::Mock)
        .use_k(K)
        .use_lookup_bits(K - 1)
        .use_instance_columns(1);
    let dots = DotJobs::default();
    let gate = b.range_chip().gate().clone();
    let chip = AffineChip::with_dots(gate, dots.clone());
    let ctx = b.main(0);
    let xs: Vec<_> = [3i128, -2, 7, 4, -9]
        .iter()
        .map(|&v| ctx.load_witness(field(v)))
        .collect();
    let w = [5i128, 7, -1, 2, 3];
    let t1: Vec<_> = xs
        .iter()
        .zip(w)
        .map(|(x, w)| (*x, Constant(field(w))))
        .collect();
    let y1 = chip.affine_row(ctx, &t1, Constant(field(11)));
    assert_eq!(*y1.value(), field(15 - 14 - 7 + 8 - 27 + 11));
    let t2 = vec![
        (xs[0], Constant(field(-4))),
        (xs[1], Constant(field(0))),
        (xs[4], Constant(field(6))),
    ];
    let y2 = chip.affine_row(ctx, &t2, Constant(field(0)));
    assert_eq!(*y2.value(), field(-12 - 54));
    if out_delta != 0 {
        y1.debug_prank(ctx, *y1.value() + field(out_delta));
    }
    let out = [*y1.value() + field(out_delta), *y2.value()];
    b.assigned_instances = vec![vec![y1, y2]];
    let base = b.calculate_params(Some(20));
    let lens: Vec<usize> = dots
        .lock()
        .unwrap()
        .jobs
        .iter()
        .map(|j| j.terms.len())
        .collect();
    assert_eq!(lens, vec![6, 2]);
    let c = ZkCircuit {
        builder: b,
        lookups: FnLookups::default(),
        dots,
        params: ZkParams {
            base,
            fn_cols: 0,
            tables: vec![],
            dot_width: 2,
            dot_lanes: 1,
            poly_lanes: 0,
            act_lanes: 0,
        },
        tamper,
        poly: Default::default(),
        acts: Default::default(),
        poly_tamper: None,
        act_tamper: None,
    };
    MockProver::run(K as u32, &c, vec![out.to_vec()])
        .expect("mock prover runs")
        .verify()
        .is_ok()
}

#[test]
fn dot_lane_accepts_honest_and_rejects_tampering() {
    assert!(run(None, 0), "honest dot lane rejected");
    // A wrong output with the lane honest: the running sum's gate fails.
    assert!(!run(None, 1), "wrong output accepted");
    // acc off by one on: a job's top row (its copy of the running sum fails), a middle row
    // (the gate on the row above fails), the bottom row (the gate against the start row
    // below fails), and the top of the second job, stacked on the first.
    for (job, row, what) in [
        (0, 0, "top"),
        (0, 1, "middle"),
        (0, 2, "bottom"),
        (1, 0, "stacked"),
    ] {
        let acc = DotTamper::Acc {
            job,
            row,
            delta: Fr::one(),
        };
        assert!(
            !run(Some(acc), 0),
            "wrong {what}-row acc accepted (job {job})"
        );
    }
    // x cells other than the builder's, the sum unchanged (so every gate and the running
    // sum hold): only the copy constraints catch it.
    for (job, a, b) in [(0, 0, 4), (0, 1, 2), (1, 0, 1)] {
        let x = DotTamper::X {
            job,
            a,
            b,
            delta: Fr::one(),
        };
        assert!(
            !run(Some(x), 0),
            "substituted x accepted (job {job}, terms {a}, {b})"
        );
    }
}

/// Two tables over the same inputs (tag 1 sigmoid, tag 2 tanh; x/16 in, y/256 out).
fn two_tables() -> Vec<QFunc> {
    [crate::graph::Func::Sigmoid, crate::graph::Func::Tanh]
        .into_iter()
        .map(|func| QFunc {
            func,
            in_shift: 0,
            table_exp: 4,
            out_exp: 8,
            lo: -64,
            hi: 64,
            sat_lo: true,
            sat_hi: true,
        })
        .collect()
}

/// Loads each `(tag, x, y)` as two witnesses and queues the lookup, as the layout does;
/// `prank` then overwrites the builder's `y` cell of one lookup (the lookup row keeps the
/// queued value). Returns whether MockProver accepts.
fn lookups_accept(rows: &[(u64, i128, i128)], prank: Option<(usize, i128)>) -> bool {
    let mut b = BaseCircuitBuilder::<Fr>::from_stage(CircuitBuilderStage::Mock)
        .use_k(K)
        .use_lookup_bits(K - 1);
    let lookups = FnLookups::default();
    let ctx = b.main(0);
    let mut ys = vec![];
    for &(tag, x, y) in rows {
        let (xc, yc) = (ctx.load_witness(field(x)), ctx.load_witness(field(y)));
        lookups.lock().expect("lookups").push((tag, xc, yc));
        ys.push(yc);
    }
    if let Some((i, v)) = prank {
        ys[i].debug_prank(ctx, field(v));
    }
    let base = b.calculate_params(Some(20));
    let c = ZkCircuit {
        builder: b,
        lookups,
        dots: DotJobs::default(),
        params: ZkParams {
            base,
            fn_cols: 1,
            tables: two_tables(),
            dot_width: 0,
            dot_lanes: 0,
            poly_lanes: 0,
            act_lanes: 0,
        },
        tamper: None,
        poly_tamper: None,
        act_tamper: None,
        poly: Default::default(),
        acts: Default::default(),
    };
    MockProver::run(K as u32, &c, vec![])
        .expect("mock prover runs")
        .verify()
        .is_ok()
}

#[test]
fn function_lookups_reject_pranked_rows_and_other_tables() {
    let t = two_tables();
    let (f, g) = (
        |x: i128| t[0].value(x as i64),
        |x: i128| t[1].value(x as i64),
    );
    // Honest rows of both tables, at the edges and inside.
    let honest: Vec<(u64, i128, i128)> = [-64i128, -3, 0, 17, 64]
        .iter()
        .flat_map(|&x| [(1, x, f(x)), (2, x, g(x))])
        .collect();
    assert!(lookups_accept(&honest, None), "honest lookups rejected");
    assert_ne!(f(17), f(18));
    assert_ne!(f(17), g(17));
    for (row, what) in [
        ((1, 17, f(17) + 1), "a pranked y"),
        ((1, 18, f(17)), "a pranked x"),
        ((2, 17, f(17)), "table 1's row looked up as table 2"),
        ((1, 17, g(17)), "table 2's row looked up as table 1"),
        ((1, 65, f(64)), "an x beyond the table"),
        ((1, 0, 0), "the tag-0 padding row looked up as table 1"),
    ] {
        let mut rows = honest.clone();
        rows.push(row);
        assert!(!lookups_accept(&rows, None), "{what} accepted: {row:?}");
    }
    // The lookup row honest, the builder's cell not: the copy constraint catches it.
    assert!(
        !lookups_accept(&honest, Some((3, g(-3) + 1))),
        "a builder cell off its lookup row accepted"
    );
}

/// Dot jobs whose model rows start with zero weights: the zero terms drop out, so the row's
/// first lane weight (its selector) is the first non-zero one; the gate, and so every
/// tampering, still applies to them. Returns whether MockProver accepts, with `out_delta`
/// added to job `out_job`'s output: pranked into its cell, or if `lie`, computed so by the
/// chip (the builder's running sum then agrees with it) — and `tamper` applied to the lane.
fn run_zero_first(tamper: Option<DotTamper>, out_job: usize, out_delta: i128, lie: bool) -> bool {
    let mut b = BaseCircuitBuilder::<Fr>::from_stage(CircuitBuilderStage::Mock)
        .use_k(K)
        .use_lookup_bits(K - 1)
        .use_instance_columns(1);
    let dots = DotJobs::default();
    if lie {
        dots.lock().expect("dot jobs").lie = Some((out_job, field(out_delta)));
    }
    let gate = b.range_chip().gate().clone();
    let chip = AffineChip::with_dots(gate, dots.clone());
    let ctx = b.main(0);
    let xs: Vec<_> = [3i128, -2, 7, 4, -9]
        .iter()
        .map(|&v| ctx.load_witness(field(v)))
        .collect();
    let rows: [(&[i128], i128); 3] = [
        // zero first weight, three more terms: 2 rows at width 2
        (&[0, 5, -1, 2], 0),
        // zero first two weights and a bias: 1 row
        (&[0, 0, 3], 4),
        // only a bias: the constant-one cell alone
        (&[0, 0], 9),
    ];
    let mut outs = vec![];
    for (w, bias) in rows {
        let t: Vec<_> = xs
            .iter()
            .zip(w)
            .map(|(x, &w)| (*x, Constant(field(w))))
            .collect();
        outs.push(chip.affine_row(ctx, &t, Constant(field(bias))));
    }
    let expect = [-10 - 7 + 8, 21 + 4, 9];
    for (j, (o, e)) in outs.iter().zip(expect).enumerate() {
        let d = if lie && j == out_job { out_delta } else { 0 };
        assert_eq!(*o.value(), field(e + d));
    }
    if out_delta != 0 && !lie {
        let o = outs[out_job];
        o.debug_prank(ctx, *o.value() + field(out_delta));
    }
    let inst: Vec<Fr> = expect
        .iter()
        .enumerate()
        .map(|(j, &e)| field(e + if j == out_job { out_delta } else { 0 }))
        .collect();
    b.assigned_instances = vec![outs];
    let base = b.calculate_params(Some(20));
    let first: Vec<Fr> = dots
        .lock()
        .expect("dot jobs")
        .jobs
        .iter()
        .map(|j| j.terms[0].1)
        .collect();
    assert_eq!(
        first,
        vec![field(5), field(3), field(9)],
        "first lane weights"
    );
    let c = ZkCircuit {
        builder: b,
        lookups: FnLookups::default(),
        dots,
        params: ZkParams {
            base,
            fn_cols: 0,
            tables: vec![],
            dot_width: 2,
            dot_lanes: 1,
            poly_lanes: 0,
            act_lanes: 0,
        },
        tamper,
        poly: Default::default(),
        acts: Default::default(),
        poly_tamper: None,
        act_tamper: None,
    };
    MockProver::run(K as u32, &c, vec![inst])
        .expect("mock prover runs")
        .verify()
        .is_ok()
}

#[test]
fn dot_lane_rows_with_a_zero_first_weight_are_constrained() {
    assert!(run_zero_first(None, 0, 0, false), "honest jobs rejected");
    for job in 0..3 {
        assert!(
            !run_zero_first(None, job, 1, false),
            "wrong output of job {job} accepted"
        );
        let acc = DotTamper::Acc {
            job,
            row: 0,
            delta: Fr::one(),
        };
        assert!(
            !run_zero_first(Some(acc), 0, 0, false),
            "wrong acc of job {job} accepted"
        );
    }
    let acc = DotTamper::Acc {
        job: 0,
        row: 1,
        delta: Fr::one(),
    };
    assert!(
        !run_zero_first(Some(acc), 0, 0, false),
        "wrong lower acc accepted"
    );
    // The first job's lane terms are x1, x2, x3 (x0's zero weight dropped): substitute
    // two of them with the sum kept.
    let x = DotTamper::X {
        job: 0,
        a: 0,
        b: 2,
        delta: Fr::one(),
    };
    assert!(
        !run_zero_first(Some(x), 0, 0, false),
        "substituted x accepted"
    );
    // A consistent lie about the last job, whose model row is a bias after two zero weights:
    // the chip computes its output one too high, the running sum after it follows, and the
    // lane's acc on the job's top row too. Every copy and the builder's sum hold; only the lane
    // gate on that row, selected by its first weight, can catch it (had the zero weights been
    // kept, that row would be unselected and the lie would pass).
    let acc = DotTamper::Acc {
        job: 2,
        row: 0,
        delta: Fr::one(),
    };
    assert!(
        !run_zero_first(Some(acc), 2, 1, true),
        "a consistent lie about a job with zero first weights accepted"
    );
}
