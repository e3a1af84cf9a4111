//! MockProver tests: every chip accepts honest witnesses and rejects each way of tampering,
//! with zkinfer's own pre-checks (the integer evaluator) bypassed.

use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::gates::circuit::CircuitBuilderStage;
use halo2_base::gates::RangeChip;
use halo2_base::halo2_proofs::dev::MockProver;
use halo2_base::{AssignedValue, Context};

use super::*;
use crate::circuit::{field, Fr};
use crate::quant::rescale;

const K: usize = 10;
const BITS: u32 = 32;

/// Builds a mock circuit from `f` and reports whether MockProver accepts it.
fn accepts(f: impl FnOnce(&mut Context<Fr>, &RangeChip<Fr>)) -> bool {
    let mut b = BaseCircuitBuilder::<Fr>::from_stage(CircuitBuilderStage::Mock)
        .use_k(K)
        .use_lookup_bits(K - 1);
    let range = b.range_chip();
    f(b.main(0), &range);
    b.calculate_params(Some(20));
    MockProver::run(K as u32, &b, vec![])
        .expect("mock prover runs")
        .verify()
        .is_ok()
}

fn load(ctx: &mut Context<Fr>, range: &RangeChip<Fr>, xs: &[i128]) -> Vec<AssignedValue<Fr>> {
    xs.iter()
        .map(|&x| {
            let c = ctx.load_witness(field(x));
            range_check_signed(range, ctx, c, BITS);
            c
        })
        .collect()
}

#[test]
fn signed_range_check_bounds() {
    let edge = 1i128 << (BITS - 1);
    for (x, ok) in [
        (0, true),
        (-edge, true),
        (edge - 1, true),
        (edge, false),
        (-edge - 1, false),
    ] {
        assert_eq!(
            accepts(|ctx, range| {
                load(ctx, range, &[x]);
            }),
            ok,
            "x = {x}"
        );
    }
}

#[test]
fn affine_honest_and_wrong_product() {
    let (x, w, b) = ([3i128, -2, 7], [5i128, 7, -1], 11i128);
    let run = |tamper: Option<i128>| {
        accepts(|ctx, range| {
            let xs = load(ctx, range, &x);
            let chip = AffineChip::new(range.gate().clone());
            let terms: Vec<_> = xs.iter().zip(&w).map(|(c, &v)| (*c, field(v))).collect();
            let acc = chip.affine_row(ctx, &terms, field(b));
            assert_eq!(*acc.value(), field(15 - 14 - 7 + 11));
            if let Some(v) = tamper {
                acc.debug_prank(ctx, field(v));
            }
        })
    };
    assert!(run(None));
    assert!(!run(Some(6)), "a wrong affine row must be rejected");
}

/// Runs the rescale chip on `acc` with the prover's (y, r).
fn rescale_accepts(acc: i128, shift: u32, y: i128, r: i128) -> bool {
    accepts(|ctx, range| {
        let a = ctx.load_witness(field(acc));
        let chip = RescaleChip::new(range.clone(), BITS);
        chip.rescale(ctx, a, shift, field(y), field(r));
    })
}

#[test]
fn rescale_honest_and_tampered() {
    for &(acc, shift) in &[
        (1_000_003i128, 8u32),
        (-1_000_003, 8),
        (0, 4),
        (255, 8),
        (-(1 << 20), 16),
    ] {
        let (y, r) = rescale(acc, shift);
        assert!(rescale_accepts(acc, shift, y, r), "honest acc {acc}");
        assert!(
            !rescale_accepts(acc, shift, y + 1, r),
            "wrong quotient, acc {acc}"
        );
        assert!(
            !rescale_accepts(acc, shift, y, (r + 1) % (1 << shift)),
            "wrong remainder, acc {acc}"
        );
        // Balanced but out of range: the equation holds, the range check must catch it.
        assert!(
            !rescale_accepts(acc, shift, y - 1, r + (1 << shift)),
            "remainder >= 2^d, acc {acc}"
        );
        assert!(
            !rescale_accepts(acc, shift, y + 1, r - (1 << shift)),
            "negative remainder, acc {acc}"
        );
    }
}

#[test]
fn rescale_rejects_quotient_out_of_activation_range() {
    // acc so large the honest quotient leaves the 32-bit activation range.
    let acc = 1i128 << 45;
    let (y, r) = rescale(acc, 8);
    assert!(!rescale_accepts(acc, 8, y, r));
}

fn relu_accepts(x: i128, out: i128) -> bool {
    accepts(|ctx, range| {
        let xs = load(ctx, range, &[x]);
        ReluChip::new(range.clone(), BITS).relu(ctx, xs[0], field(out));
    })
}

#[test]
fn relu_honest_and_tampered() {
    for x in [-5i128, 0, 7, -(1 << 31), (1 << 31) - 1] {
        assert!(relu_accepts(x, x.max(0)), "honest x {x}");
    }
    assert!(!relu_accepts(-5, -5), "negative passed through");
    assert!(!relu_accepts(7, 0), "positive zeroed");
    assert!(!relu_accepts(7, 6), "wrong value");
    assert!(!relu_accepts(-5, 3), "made-up positive");
}
