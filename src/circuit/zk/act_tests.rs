//! MockProver tests of the act lane: honest rescales (with and without the ReLU, by one and by
//! two limbs) and range checks pass; every constrained cell tampered, the other sign, the
//! neighbouring Euclidean decompositions and values outside the activation range fail. Each
//! case runs with one, two and three lanes sharing their fixed columns (jobs of mixed kinds, so
//! some blocks have lanes filled with zeros), and must pass or fail the same way in all three.

use super::act_lane::{plan_acts, ACT_ROWS};
use super::*;
use crate::circuit::CircuitBuilderStage;
use crate::field::field;
use crate::quant::rescale;
use halo2_base::gates::{GateChip, GateInstructions};
use halo2_base::halo2_proofs::dev::MockProver;
use halo2_base::QuantumCell::Constant;

const K: usize = 9;
/// Limb bits: the activation width is `2 LB + 1`.
const LB: u32 = 5;

/// The jobs: `(acc, shift, relu)`, the accumulator before its rounding term.
fn cases() -> Vec<(i128, u32, bool)> {
    let top = (1i128 << (2 * LB)) - 1; // the largest magnitude
    let d2 = 1i128 << (2 * LB);
    vec![
        (1234, LB, true),
        (-1234, LB, true),
        (5000, 2 * LB, true),
        (-5000, 2 * LB, true),
        (17, LB, false),
        (-900, LB, false),
        (-3 * d2 - 7, 2 * LB, false),
        (top * d2, 2 * LB, false),
        (-top * d2, 2 * LB, true),
        (0, LB, false),
        (-16, LB, false), // rounds to 0 with the sign of the accumulator
        // Signed range checks (shift 0).
        (top, 0, false),
        (-top, 0, false),
        (0, 0, false),
        (77, 0, false),
    ]
}

/// Builds the lane over [`cases`] and runs MockProver. `edit` may change a job before it is
/// queued (a dishonest witness); the outputs the layout would read are the public instances.
fn run(tamper: Option<ActTamper>, edit: impl FnMut(usize, &mut ActJob)) -> bool {
    run_on(cases(), true, tamper, edit)
}

/// [`run`] with job `job`'s output cell (and its public instance) holding `out` instead of
/// the honest value: a prover whose lane output agrees with it (`tamper`) defeats every copy.
fn run_claiming(job: usize, out: Fr, tamper: ActTamper) -> bool {
    run_full(
        cases(),
        true,
        Some(tamper),
        |_, _| {},
        Some((job, out)),
        false,
    )
}

/// [`run`] over the jobs `cases`, the limbs looked up in halo2-base's range table when
/// `shared` (else in the lane's own).
fn run_on(
    cases: Vec<(i128, u32, bool)>,
    shared: bool,
    tamper: Option<ActTamper>,
    edit: impl FnMut(usize, &mut ActJob),
) -> bool {
    run_full(cases, shared, tamper, edit, None, false)
}

/// Lane counts every case runs with.
const LANES: [usize; 3] = [1, 2, 3];

/// [`run_on`], with one job's output cell claiming a value: whether every lane count of
/// [`LANES`] accepts (panics when some accept and others reject). With `external`, each
/// rescale's output is made as the layout makes it (an external cell the lane binds) and read
/// in turn directly as an instance, through a gate copy, or by nobody; else it is a gate cell
/// copied to the lane, exposed directly.
fn run_full(
    cases: Vec<(i128, u32, bool)>,
    shared: bool,
    tamper: Option<ActTamper>,
    mut edit: impl FnMut(usize, &mut ActJob),
    claim: Option<(usize, Fr)>,
    external: bool,
) -> bool {
    let verdicts: Vec<bool> = LANES
        .iter()
        .map(|&lanes| {
            let case = (cases.clone(), shared, external);
            run_lanes(lanes, case, tamper, &mut edit, claim)
        })
        .collect();
    assert!(
        verdicts.iter().all(|&v| v == verdicts[0]),
        "lane counts {LANES:?} disagree: {verdicts:?}"
    );
    verdicts[0]
}

/// One MockProver run of [`run_full`] with `lanes` act lanes.
fn run_lanes(
    lanes: usize,
    (cases, shared, external): (Vec<(i128, u32, bool)>, bool, bool),
    tamper: Option<ActTamper>,
    edit: &mut impl FnMut(usize, &mut ActJob),
    claim: Option<(usize, Fr)>,
) -> bool {
    let mut b = BaseCircuitBuilder::<Fr>::from_stage(CircuitBuilderStage::Mock)
        .use_k(K)
        .use_lookup_bits(LB as usize)
        .use_instance_columns(1);
    let ctx = b.main(0);
    let acts = ActJobs::default();
    let mut outs = vec![];
    for (i, &(acc, shift, relu)) in cases.iter().enumerate() {
        let (y, r) = rescale(acc, shift);
        let round = if shift > 0 { 1i128 << (shift - 1) } else { 0 };
        let p = ctx.load_witness(field(acc + round));
        let out = if relu { y.max(0) } else { y };
        let value = match claim {
            Some((j, v)) if j == i => v,
            _ => field(out),
        };
        let out_cell = if external && shift > 0 {
            ctx.copy_manager
                .lock()
                .unwrap()
                .mock_external_assigned(value)
        } else {
            ctx.load_witness(value)
        };
        let mut job = ActJob {
            p,
            out: (shift > 0).then_some(out_cell),
            relu,
            shift,
            neg: y < 0,
            mag: y.unsigned_abs(),
            rem: r as u128,
        };
        edit(i, &mut job);
        acts.lock().unwrap().push(job);
        match (external && shift > 0, i % 3) {
            (true, 1) => outs.push(GateChip::default().add(ctx, out_cell, Constant(Fr::zero()))),
            (true, 2) => {}
            _ => outs.push(out_cell),
        }
    }
    b.assigned_instances = vec![outs.clone()];
    let inst: Vec<Fr> = outs.iter().map(|c| *c.value()).collect();
    let mut base = b.calculate_params(Some(20));
    base.num_lookup_advice_per_phase = vec![usize::from(shared)];
    let c = ZkCircuit {
        builder: b,
        lookups: FnLookups::default(),
        dots: DotJobs::default(),
        poly: Default::default(),
        acts,
        params: ZkParams {
            base,
            fn_cols: 0,
            tables: vec![],
            dot_width: 0,
            dot_lanes: 0,
            poly_lanes: 0,
            act_lanes: lanes,
        },
        tamper: None,
        poly_tamper: None,
        act_tamper: tamper,
    };
    MockProver::run(K as u32, &c, vec![inst])
        .expect("mock prover runs")
        .verify()
        .is_ok()
}

#[test]
fn honest_rescales_pass() {
    assert!(run(None, |_, _| {}), "honest act lane rejected");
    assert!(
        run_on(cases(), false, None, |_, _| {}),
        "honest act lane rejected on its own table"
    );
}

#[test]
fn every_constrained_cell_is_constrained() {
    for (job, &(acc, shift, _)) in cases().iter().enumerate() {
        for (limb, row) in (0..3).map(|r| (false, r)).chain((0..4).map(|r| (true, r))) {
            // With a one-limb shift the remainder's high limb is unused (any table value), and
            // a range check has no remainder and no output read; a zero quotient has either
            // sign.
            let unused = match (limb, row) {
                (true, 0 | 1) => shift == 0 || (row == 1 && shift == LB),
                (false, 2) => shift == 0,
                (false, 1) => rescale(acc, shift).0 == 0,
                _ => false,
            };
            if unused {
                continue;
            }
            for delta in [field(1), field(-1), field(1 << LB)] {
                let t = ActTamper::Cell {
                    job,
                    limb,
                    row,
                    delta,
                };
                assert!(
                    !run(Some(t), |_, _| {}),
                    "job {job}: {} row {row} {delta:?} accepted",
                    if limb { "limb" } else { "value" }
                );
            }
        }
    }
}

#[test]
fn the_other_sign_is_refused() {
    for (job, &(acc, shift, _)) in cases().iter().enumerate() {
        if rescale(acc, shift).0 == 0 {
            continue;
        }
        assert!(
            !run(Some(ActTamper::Sign { job }), |_, _| {}),
            "job {job}: the other sign accepted"
        );
    }
}

#[test]
fn other_decompositions_and_out_of_range_quotients_fail() {
    for (job, &(acc, shift, _)) in cases().iter().enumerate() {
        let (y, r) = rescale(acc, shift);
        let d = 1i128 << shift;
        // y + 1 with r - d, and y - 1 with r + d, whichever keeps r non-negative (for a range
        // check, d = 1: the checked value off by one).
        for (dy, dr) in [(1i128, -d), (-1, d)] {
            if r + dr < 0 {
                continue;
            }
            let edit = |i: usize, j: &mut ActJob| {
                if i == job {
                    let y2 = y + dy;
                    j.neg = y2 < 0;
                    j.mag = y2.unsigned_abs();
                    j.rem = (r + dr) as u128;
                }
            };
            assert!(!run(None, edit), "job {job}: quotient {y} + {dy} accepted");
        }
    }
    // Quotients of magnitude 2^(2 LB) need a magnitude limb outside the table, whatever the
    // sign and the ReLU; so does a range-checked value of that magnitude.
    let big = (1i128 << (2 * LB)) << LB;
    let wide = 1i128 << (2 * LB);
    for (acc, shift) in [(big, LB), (-big - 1, LB), (wide, 0), (-wide, 0)] {
        for relu in [false, true] {
            for shared in [true, false] {
                let mut c = cases();
                c.push((acc, shift, relu && shift > 0));
                assert!(
                    !run_on(c, shared, None, |_, _| {}),
                    "quotient of {acc} >> {shift} accepted (relu {relu}, shared table {shared})"
                );
            }
        }
    }
}

/// For each rescale of [`cases`] and each output off by one either way: the job, the wrong
/// output, its `delta`, and the lane tampering that puts it in the lane's output cell.
fn wrong_outputs() -> Vec<(usize, Fr, Fr, ActTamper)> {
    let mut out = vec![];
    for (job, &(acc, shift, relu)) in cases().iter().enumerate() {
        if shift == 0 {
            continue;
        }
        let (y, _) = rescale(acc, shift);
        let honest = field(if relu { y.max(0) } else { y });
        for delta in [field(1), field(-1)] {
            let t = ActTamper::Cell {
                job,
                limb: false,
                row: 2,
                delta,
            };
            out.push((job, honest + delta, delta, t));
        }
    }
    out
}

#[test]
fn a_wrong_output_fails_even_when_every_copy_agrees() {
    for (job, out, delta, t) in wrong_outputs() {
        let relu = cases()[job].2;
        assert!(
            !run_claiming(job, out, t),
            "job {job} (relu {relu}): output {delta:?} off accepted"
        );
    }
}

/// A sign of 1/2 zeroes `(1 - 2s) mag` whatever `mag`, so without the booleanity constraint a
/// ReLU of a zero quotient could output `mag / 2`.
#[test]
fn a_half_sign_fails() {
    // A ReLU job whose accumulator rounds to 0: p = -10 + 16 = 6 in [0, 32).
    let mut c = cases();
    c.push((-10, LB, true));
    let job = c.len() - 1;
    let half = field(2).invert().unwrap();
    let t = ActTamper::Witness {
        job,
        s: half,
        mag: [field(10), field(0)],
        out: field(5),
    };
    assert!(
        !run_full(
            c.clone(),
            true,
            Some(t),
            |_, _| {},
            Some((job, field(5))),
            false
        ),
        "a half sign accepted"
    );
    // The same job honest passes (the harness itself is sound).
    assert!(
        run_on(c, true, None, |_, _| {}),
        "honest zero ReLU rejected"
    );
}

#[test]
fn jobs_share_blocks_by_kind_only() {
    let (r1, r2, c0) = ((true, 12), (false, 24), (false, 0));
    let kinds = [r1, r2, r1, c0, r1, r2];
    // One lane: one job per block, in order.
    assert_eq!(
        plan_acts(&kinds, 1, 24).unwrap(),
        (0..6).map(|b| (b, 0)).collect::<Vec<_>>()
    );
    // Two lanes: r1 r1 | r1 - | r2 r2 | c0 -, each block one kind, lane 0 always used.
    let plan = plan_acts(&kinds, 2, 16).unwrap();
    assert_eq!(plan, vec![(0, 0), (2, 0), (0, 1), (3, 0), (1, 0), (2, 1)]);
    for (i, &(b, _)) in plan.iter().enumerate() {
        for (j, &(b2, _)) in plan.iter().enumerate() {
            assert!(
                b != b2 || kinds[i] == kinds[j],
                "jobs {i} and {j} share a block"
            );
        }
    }
    // Four blocks need 16 rows: 15 do not hold them, and one lane needs 24.
    assert!(plan_acts(&kinds, 2, 15).is_none());
    assert!(plan_acts(&kinds, 1, 23).is_none());
    assert_eq!(act_lanes_needed(&kinds, 24, 2), Some(1));
    assert_eq!(act_lanes_needed(&kinds, 16, 2), Some(2));
    assert_eq!(act_lanes_needed(&kinds, 12, 2), None);
    assert_eq!(act_lanes_needed(&[], 0, 2), Some(0));
}

/// The outputs as the layout makes them: external cells the lane binds, read as instances,
/// through gate copies, or by nobody. Honest jobs pass; a lane output changed alone, or with
/// every reader agreeing, fails.
#[test]
fn external_outputs_are_the_lane_cells() {
    let ext = |tamper: Option<ActTamper>, claim: Option<(usize, Fr)>| {
        run_full(cases(), true, tamper, |_, _| {}, claim, true)
    };
    assert!(ext(None, None), "honest external outputs rejected");
    for (job, out, delta, t) in wrong_outputs() {
        assert!(
            !ext(Some(t), None),
            "job {job}: lane output {delta:?} off accepted"
        );
        assert!(
            !ext(Some(t), Some((job, out))),
            "job {job}: lane output {delta:?} off, readers agreeing, accepted"
        );
    }
}

/// Every sequence of up to six jobs of three kinds, in one to four lanes: each (block, lane)
/// holds one job, a block one kind, lane 0 of every used block is filled, blocks are
/// contiguous from 0 and within the rows, and `act_lanes_needed` is the fewest that fit.
#[test]
fn every_small_plan_keeps_the_block_rules() {
    let all = [(true, 12), (false, 24), (false, 0)];
    for len in 0..=6u32 {
        for code in 0..3usize.pow(len) {
            let kinds: Vec<ActKind> = (0..len).map(|i| all[code / 3usize.pow(i) % 3]).collect();
            for lanes in 1..=4 {
                for usable in [0, 4, 8, 12, 16, 27] {
                    let Some(plan) = plan_acts(&kinds, lanes, usable) else {
                        continue;
                    };
                    let blocks = plan.iter().map(|p| p.0 + 1).max().unwrap_or(0);
                    assert!(
                        blocks * ACT_ROWS <= usable,
                        "{kinds:?} {lanes}: over the rows"
                    );
                    for b in 0..blocks {
                        let here: Vec<usize> =
                            (0..plan.len()).filter(|&j| plan[j].0 == b).collect();
                        assert!(
                            here.iter().any(|&j| plan[j].1 == 0),
                            "{kinds:?}: block {b} without lane 0"
                        );
                        assert!(
                            here.iter().all(|&j| kinds[j] == kinds[here[0]]),
                            "{kinds:?}: block {b} mixes kinds"
                        );
                    }
                    for (i, p) in plan.iter().enumerate() {
                        assert!(
                            p.1 < lanes && !plan[..i].contains(p),
                            "{kinds:?}: slot {p:?} reused"
                        );
                    }
                }
                let need = act_lanes_needed(&kinds, 12, 4);
                if let Some(n) = need.filter(|&n| n > 1) {
                    assert!(
                        plan_acts(&kinds, n - 1, 12).is_none(),
                        "{kinds:?}: {n} lanes not the fewest"
                    );
                }
            }
        }
    }
}
