//! MockProver tests: every chip accepts honest witnesses and rejects each way of tampering,
//! with zkinfer's own pre-checks (the integer evaluator) bypassed.

use halo2_base::gates::circuit::builder::BaseCircuitBuilder;
use halo2_base::gates::circuit::CircuitBuilderStage;
use halo2_base::gates::RangeChip;
use halo2_base::halo2_proofs::dev::MockProver;
use halo2_base::{AssignedValue, Context, QuantumCell::Constant};

use super::*;
use crate::field::{field, Fr};
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
            let terms: Vec<_> = xs
                .iter()
                .zip(&w)
                .map(|(c, &v)| (*c, Constant(field(v))))
                .collect();
            let acc = chip.affine_row(ctx, &terms, Constant(field(b)));
            assert_eq!(*acc.value(), field(15 - 14 - 7 + 11));
            if let Some(v) = tamper {
                acc.debug_prank(ctx, field(v));
            }
        })
    };
    assert!(run(None));
    assert!(!run(Some(6)), "a wrong affine row must be rejected");
}

/// Runs the rescale chip on `acc` with the prover's (y, r), with and without the rounding term
/// already in the accumulator cell (both must agree).
fn rescale_accepts(acc: i128, shift: u32, y: i128, r: i128) -> bool {
    let run = |biased: bool| {
        accepts(|ctx, range| {
            let cell = if biased {
                acc + (1 << (shift - 1))
            } else {
                acc
            };
            let a = ctx.load_witness(field(cell));
            let chip = RescaleChip::new(range.clone(), BITS);
            chip.rescale_biased(ctx, a, shift, field(y), field(r), biased);
        })
    };
    let plain = run(false);
    if shift > 0 {
        assert_eq!(plain, run(true), "biased and plain forms disagree");
    }
    plain
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

/// Runs the fused rescale-ReLU chip on `acc` with the prover's (out, neg, r), at `bits`.
/// Both forms are run (the accumulator cell with and without the rounding term) and must agree.
fn rescale_relu_accepts(acc: i128, shift: u32, out: i128, neg: i128, r: i128, bits: u32) -> bool {
    let run = |biased: bool| {
        accepts(|ctx, range| {
            let cell = if biased {
                acc + (1 << (shift - 1))
            } else {
                acc
            };
            let a = ctx.load_witness(field(cell));
            let chip = RescaleChip::new(range.clone(), bits);
            chip.rescale_relu(ctx, a, shift, field(out), field(neg), field(r), biased);
        })
    };
    let plain = run(false);
    assert_eq!(plain, run(true), "biased and plain forms disagree");
    plain
}

#[test]
fn rescale_relu_honest_and_tampered() {
    for bits in [BITS, 12] {
        let top = (1i128 << (bits - 1)) - 1;
        for &(acc, shift) in &[
            (1_000_003i128, 8u32),
            (-1_000_003, 8),
            (0, 4),
            (255, 8),
            (-256, 8),
            (-(1 << 20), 16),
            (top << 3, 3),
            (-(top << 3), 3),
        ] {
            let (y, r) = rescale(acc, shift);
            if y.abs() > top {
                continue;
            }
            let (out, neg) = (y.max(0), (-y).max(0));
            let ok = |o, n, r| rescale_relu_accepts(acc, shift, o, n, r, bits);
            assert!(ok(out, neg, r), "honest acc {acc} at {bits} bits");
            assert!(!ok(out + 1, neg, r), "output one too high, acc {acc}");
            if y < 0 {
                assert!(!ok(y, 0, r), "negative passed through, acc {acc}");
                assert!(!ok(0, 0, r), "negative zeroed without its part, acc {acc}");
            }
            assert!(
                !ok(out, neg, (r + 1) % (1 << shift)),
                "wrong remainder, acc {acc}"
            );
            // Both parts non-zero with the right difference: the zero product must catch it.
            assert!(!ok(out + 1, neg + 1, r), "both parts non-zero, acc {acc}");
            // Balanced but out of range: the equations hold, a range check must catch them.
            assert!(
                !ok(out - 1, neg, r + (1 << shift)),
                "remainder >= 2^d, acc {acc}"
            );
            assert!(
                !ok(out + 1, neg, r - (1 << shift)),
                "negative remainder, acc {acc}"
            );
            // A negative `out` (field wrap-around) balanced by the remainder or `neg`.
            assert!(
                !ok(out - (1 << 20), neg, r + (1 << (20 + shift))),
                "negative out, acc {acc}"
            );
        }
    }
}

#[test]
fn rescale_relu_rejects_parts_out_of_activation_range() {
    // The honest quotient leaves the 12-bit activation range, on either side.
    for acc in [1i128 << 20, -(1i128 << 20)] {
        let (y, r) = rescale(acc, 8);
        assert!(
            !rescale_relu_accepts(acc, 8, y.max(0), (-y).max(0), r, 12),
            "acc {acc}"
        );
    }
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

#[test]
fn sign_bit_is_unique() {
    for x in [-(1i128 << 31), -5, -1, 0, 1, 7, (1i128 << 31) - 1] {
        for claim in [false, true] {
            let ok = accepts(|ctx, range| {
                let c = load(ctx, range, &[x])[0];
                CompareChip::new(range.clone()).is_negative(ctx, c, claim, BITS);
            });
            assert_eq!(ok, claim == (x < 0), "x = {x}, claimed negative = {claim}");
        }
    }
}

#[test]
fn leq_bit_is_unique() {
    for (x, t) in [
        (3i128, 3i128),
        (4, 3),
        (-10, 2),
        (2, -10),
        (-(1 << 31), (1 << 31) - 1),
    ] {
        for claim in [false, true] {
            let ok = accepts(|ctx, range| {
                let c = load(ctx, range, &[x])[0];
                CompareChip::new(range.clone()).leq_const(
                    ctx,
                    c,
                    Constant(field(t)),
                    claim,
                    BITS + 2,
                );
            });
            assert_eq!(ok, claim == (x <= t), "x = {x}, t = {t}, claimed = {claim}");
        }
    }
}

#[test]
fn max_of_two_rejects_a_wrong_maximum() {
    let run = |a: i128, b: i128, a_wins: bool, diff: i128, prank: Option<i128>| {
        accepts(|ctx, range| {
            let v = load(ctx, range, &[a, b]);
            let m =
                CompareChip::new(range.clone()).max2(ctx, v[0], v[1], a_wins, field(diff), BITS);
            if a_wins == (a > b) && diff == (a - b).max(0) && prank.is_none() {
                assert_eq!(*m.value(), field(a.max(b)));
            }
            if let Some(p) = prank {
                m.debug_prank(ctx, field(p));
            }
        })
    };
    assert!(run(5, -3, true, 8, None));
    assert!(run(-3, 5, false, 0, None));
    assert!(!run(5, -3, false, 0, None), "claimed b is the max");
    assert!(!run(-3, 5, true, 8, None), "claimed a is the max");
    assert!(!run(5, -3, true, 7, None), "wrong difference");
    assert!(!run(5, -3, true, 8, Some(6)), "pranked result");
}

#[test]
fn division_witness_is_unique() {
    let run = |a: i128, b: i128, shift: u32, y: i128, r: i128| {
        accepts(|ctx, range| {
            let v = load(ctx, range, &[a, b]);
            DivChip::new(range.clone(), BITS).div(ctx, v[0], v[1], shift, field(y), field(r));
        })
    };
    let (a, b, s) = (7i128, 3i128, 4u32);
    let (y, r) = crate::quant::div_round(a, b, s);
    assert_eq!(y, 37); // round(7 * 16 / 3) = round(37.33)
    assert!(run(a, b, s, y, r));
    assert!(!run(a, b, s, y + 1, r - 2 * b), "quotient one too high");
    assert!(!run(a, b, s, y - 1, r + 2 * b), "remainder too large");
    assert!(!run(a, 0, s, 0, 0), "zero denominator");
    assert!(!run(a, -3, s, -37, 0), "negative denominator");
}

#[test]
fn argmax_is_the_first_maximum() {
    let xs = [4i128, 9, -2, 9, 1];
    let run = |hot: usize| {
        accepts(|ctx, range| {
            let v = load(ctx, range, &xs);
            let labels: Vec<Fr> = (0..5).map(|l| field(10 + l)).collect();
            let out = ArgMaxChip::new(range.clone(), BITS).argmax(ctx, &v, &labels, hot);
            assert_eq!(*out.value(), field(10 + hot as i128));
        })
    };
    assert!(run(1));
    for hot in [0, 2, 3, 4] {
        assert!(!run(hot), "position {hot} accepted as the first maximum");
    }
}

#[test]
fn tree_rejects_a_wrong_branch() {
    // root: x0 <= 5 ? leaf(+3) : (x1 <= -1 ? leaf(+7) : leaf(+11))
    let tree = |h0: bool, h1: bool| {
        vec![
            ChipTreeNode::Branch {
                feature: 0,
                threshold: Constant(field(5)),
                negate: false,
                holds: h0,
                yes: 1,
                no: 2,
            },
            ChipTreeNode::Leaf(vec![(0, Constant(field(3)))]),
            ChipTreeNode::Branch {
                feature: 1,
                threshold: Constant(field(-1)),
                negate: false,
                holds: h1,
                yes: 3,
                no: 4,
            },
            ChipTreeNode::Leaf(vec![(0, Constant(field(7)))]),
            ChipTreeNode::Leaf(vec![(0, Constant(field(11)))]),
        ]
    };
    let run = |x: [i128; 2], h0: bool, h1: bool, expect: i128| {
        accepts(|ctx, range| {
            let v = load(ctx, range, &x);
            let mut acc = vec![vec![]];
            TreeChip::new(range.clone(), BITS + 2).add_tree(ctx, &v, &tree(h0, h1), &mut acc);
            let out = AffineChip::new(range.gate().clone()).affine_row(
                ctx,
                &acc[0],
                Constant(Fr::zero()),
            );
            if h0 == (x[0] <= 5) && (x[0] <= 5 || h1 == (x[1] <= -1)) {
                assert_eq!(*out.value(), field(expect));
            }
        })
    };
    assert!(run([9, -4], false, true, 7));
    assert!(!run([9, -4], true, true, 3), "wrong root test");
    assert!(!run([9, -4], false, false, 11), "wrong inner test");
    assert!(run([2, 0], true, false, 3));
}

/// PReLU with slope `s` at exponent 4, the prover's witnesses given; `prank` overwrites the
/// output cell.
fn prelu_accepts(x: i128, s: i64, neg: bool, n: (i128, i128), prank: Option<i128>) -> bool {
    accepts(|ctx, range| {
        let v = load(ctx, range, &[x]);
        let y = ReluChip::new(range.clone(), BITS).prelu(
            ctx,
            v[0],
            Constant(field(s as i128)),
            4,
            neg,
            field(n.0),
            field(n.1),
        );
        if let Some(p) = prank {
            y.debug_prank(ctx, field(p));
        }
    })
}

#[test]
fn prelu_honest_and_tampered() {
    use crate::quant::prelu_neg;
    // Slopes 0.25 and -1.5 at exponent 4; inputs either side of 0 and at the range's edges.
    for (x, s) in [
        (-37i128, 4i64),
        (37, 4),
        (0, 4),
        (-1, -24),
        (-(1 << 31), 4),
        ((1 << 31) - 1, -24),
    ] {
        let n = prelu_neg(x.min(0), s, 4);
        let neg = x < 0;
        let honest = if neg { n.0 } else { x };
        let ok = accepts(|ctx, range| {
            let v = load(ctx, range, &[x]);
            let chip = ReluChip::new(range.clone(), BITS);
            let y = chip.prelu(
                ctx,
                v[0],
                Constant(field(s as i128)),
                4,
                neg,
                field(n.0),
                field(n.1),
            );
            assert_eq!(*y.value(), field(honest), "x = {x}, slope {s}");
        });
        assert!(ok, "honest PReLU rejected: x = {x}, slope {s}");
        // The other branch: a claimed sign bit that is wrong (x = 0 is not negative).
        assert!(
            !prelu_accepts(x, s, !neg, n, None),
            "wrong sign bit accepted: x = {x}, slope {s}"
        );
        // The negative branch's rescale is constrained whatever the sign.
        assert!(
            !prelu_accepts(x, s, neg, (n.0 + 1, n.1), None),
            "wrong rescaled product accepted: x = {x}, slope {s}"
        );
        assert!(
            !prelu_accepts(x, s, neg, (n.0 - 1, n.1 + 16), None),
            "out-of-range remainder accepted: x = {x}, slope {s}"
        );
        assert!(
            !prelu_accepts(x, s, neg, n, Some(honest + 1)),
            "pranked output accepted: x = {x}, slope {s}"
        );
    }
}

#[test]
fn min_of_two_rejects_a_wrong_minimum() {
    let run = |a: i128, b: i128, a_wins: bool, diff: i128, prank: Option<i128>| {
        accepts(|ctx, range| {
            let v = load(ctx, range, &[a, b]);
            let m =
                CompareChip::new(range.clone()).min2(ctx, v[0], v[1], a_wins, field(diff), BITS);
            if a_wins == (a > b) && diff == (a - b).max(0) && prank.is_none() {
                assert_eq!(*m.value(), field(a.min(b)));
            }
            if let Some(p) = prank {
                m.debug_prank(ctx, field(p));
            }
        })
    };
    assert!(run(5, -3, true, 8, None));
    assert!(run(-3, 5, false, 0, None));
    assert!(run(4, 4, false, 0, None));
    let edge = 1i128 << (BITS - 1);
    assert!(run(-edge, edge - 1, false, 0, None));
    assert!(run(edge - 1, -edge, true, 2 * edge - 1, None));
    assert!(
        !run(5, -3, false, 0, None),
        "claimed b is the max (a is the min)"
    );
    assert!(!run(-3, 5, true, -8, None), "negative difference");
    assert!(!run(5, -3, true, 7, None), "wrong difference");
    assert!(!run(5, -3, true, 8, Some(-2)), "pranked result");
    assert!(
        !run(4, 4, true, 1, None),
        "made-up difference of equal values"
    );
}

/// Clip as the layout builds it: `max2(x, lo)`, then `min2(that, hi)`, with the prover's
/// comparison witnesses `(a_wins, diff)` for each.
fn clip_accepts(
    x: i128,
    lo_hint: (bool, i128),
    hi_hint: (bool, i128),
    prank: Option<i128>,
) -> bool {
    let (lo, hi) = (-10i128, 20i128);
    accepts(|ctx, range| {
        let v = load(ctx, range, &[x])[0];
        let cmp = CompareChip::new(range.clone());
        let l = ctx.load_constant(field(lo));
        let h = ctx.load_constant(field(hi));
        let m = cmp.max2(ctx, v, l, lo_hint.0, field(lo_hint.1), BITS);
        let y = cmp.min2(ctx, m, h, hi_hint.0, field(hi_hint.1), BITS);
        if let Some(p) = prank {
            y.debug_prank(ctx, field(p));
        }
    })
}

#[test]
fn clip_rejects_wrong_comparisons() {
    let (lo, hi) = (-10i128, 20i128);
    let hints = |x: i128| {
        let m = x.max(lo);
        ((x > lo, (x - lo).max(0)), (m > hi, (m - hi).max(0)))
    };
    for x in [-50i128, lo - 1, lo, 5, hi, hi + 1, 70] {
        let (l, h) = hints(x);
        assert!(clip_accepts(x, l, h, None), "honest clip of {x} rejected");
        assert!(
            !clip_accepts(x, l, h, Some(x.clamp(lo, hi) + 1)),
            "pranked clip of {x} accepted"
        );
    }
    // Below lo, claiming x is above it (r = x - lo < 0); above hi, claiming no clamp.
    assert!(
        !clip_accepts(-50, (true, -40), hints(-50).1, None),
        "x < lo passed through"
    );
    assert!(
        !clip_accepts(70, hints(70).0, (false, 0), None),
        "x > hi passed through"
    );
    // Inside, claiming a clamp to either bound.
    assert!(
        !clip_accepts(5, (false, 0), hints(5).1, None),
        "x clamped up to lo"
    );
    // (max(5, 20) claimed to be 5: r = -15.)
    assert!(
        !clip_accepts(5, hints(5).0, (true, -15), None),
        "x clamped down to hi"
    );
}
