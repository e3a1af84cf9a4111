//! Recognition (exact or refused) and the identity under MockProver: honest witnesses pass;
//! a wrong output, a moved activation copy, a changed free coefficient or a non-zero
//! "zero" cell fail.

use super::*;
use crate::circuit::zk::{plan_poly, PolyTamper, ZkCircuit, ZkParams};
use crate::circuit::{BaseCircuitBuilder, CircuitBuilderStage, DotJobs, FnLookups};
use crate::field::field;
use halo2_base::halo2_proofs::dev::MockProver;

const K: usize = 11;

/// Row offsets, terms `(input, index, weight)`, biases and the output's height and width.
type ConvAffine = (Vec<u32>, Vec<(u32, u32, Fr)>, Vec<i128>, (usize, usize));

/// A convolution as an affine map: `(rows, terms, bias)` for an image `(c, h, w)`, `o`
/// output channels, a `k x k` kernel, stride `s`, padding `p`, from a seeded generator.
fn conv_affine(
    (c, h, w): (usize, usize, usize),
    o: usize,
    k: usize,
    s: usize,
    p: usize,
) -> ConvAffine {
    let mut seed = 0x2545_f491u64;
    let mut rnd = |m: i64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % (2 * m as u64 + 1)) as i64 - m
    };
    let kern: Vec<i64> = (0..o * c * k * k).map(|_| rnd(9)).collect();
    let ho = (h + 2 * p - k) / s + 1;
    let wo = (w + 2 * p - k) / s + 1;
    let (mut rows, mut terms, mut bias) = (vec![0u32], vec![], vec![]);
    for oc in 0..o {
        for py in 0..ho {
            for px in 0..wo {
                for ch in 0..c {
                    for ky in 0..k {
                        for kx in 0..k {
                            let y = (py * s + ky) as i64 - p as i64;
                            let x = (px * s + kx) as i64 - p as i64;
                            let wgt = kern[((oc * c + ch) * k + ky) * k + kx];
                            if (0..h as i64).contains(&y) && (0..w as i64).contains(&x) && wgt != 0
                            {
                                let idx = ch * h * w + y as usize * w + x as usize;
                                terms.push((0, idx as u32, field(wgt as i128)));
                            }
                        }
                    }
                }
                rows.push(terms.len() as u32);
                bias.push(rnd(50) as i128);
            }
        }
    }
    (rows, terms, bias, (ho, wo))
}

#[test]
fn convolutions_are_recognised_exactly() {
    for (img, o, k, s, p) in [
        ((2, 6, 5), 3, 3, 1, 0),
        ((1, 7, 7), 2, 3, 2, 1),
        ((3, 5, 5), 2, 2, 1, 1),
    ] {
        let (rows, terms, _, (ho, wo)) = conv_affine(img, o, k, s, p);
        let shape = [1, img.0, img.1, img.2];
        let conv = Conv::detect(&rows, &terms, &shape, &[1, o, ho, wo]).expect("a convolution");
        assert_eq!((conv.sh, conv.sw), (s as i64, s as i64));
        // The same map with a flattened input is found too.
        let n = img.0 * img.1 * img.2;
        assert!(Conv::detect(&rows, &terms, &[1, n], &[1, o, ho, wo]).is_some());
        // One weight changed in one row, or one term dropped: no longer a convolution.
        let mut other = terms.clone();
        other[terms.len() / 2].2 += Fr::one();
        assert!(Conv::detect(&rows, &other, &shape, &[1, o, ho, wo]).is_none());
        let mut fewer_rows = rows.clone();
        let mut fewer = terms.clone();
        let r = rows.len() / 2;
        fewer.remove(rows[r] as usize);
        for b in fewer_rows.iter_mut().skip(r + 1) {
            *b -= 1;
        }
        assert!(Conv::detect(&fewer_rows, &fewer, &shape, &[1, o, ho, wo]).is_none());
    }
}

/// Lays out the identity for a 2-channel 6x5 image, 3 outputs channels, 3x3 kernel, stride
/// `s`, padding 1; `lie` is added to one output cell. Returns whether MockProver accepts.
fn prove(s: usize, lie: i128, pick: impl FnMut(&PolyProgram) -> Option<PolyTamper>) -> bool {
    prove_in(K, 1, s, lie, pick)
}

/// [`prove`] at `2^k` rows with `lanes` poly lanes.
fn prove_in(
    k: usize,
    lanes: usize,
    s: usize,
    lie: i128,
    mut pick: impl FnMut(&PolyProgram) -> Option<PolyTamper>,
) -> bool {
    let img = (2, 6, 5);
    let (rows, terms, bias, (ho, wo)) = conv_affine(img, 3, 3, s, 1);
    let conv = Conv::detect(&rows, &terms, &[1, 2, 6, 5], &[1, 3, ho, wo]).expect("a convolution");
    let mut b = BaseCircuitBuilder::<Fr>::from_stage(CircuitBuilderStage::Mock)
        .use_k(k)
        .use_lookup_bits(k - 1)
        .use_instance_columns(1);
    let ctx = b.main(0);
    let xs: Vec<i128> = (0..60).map(|i| (i * 37 % 23) as i128 - 11).collect();
    let image: Vec<_> = xs.iter().map(|&v| ctx.load_witness(field(v))).collect();
    let mut outs = vec![];
    for (r, &bi) in bias.iter().enumerate() {
        let mut acc = field(bi);
        for t in &terms[rows[r] as usize..rows[r + 1] as usize] {
            acc += t.2 * image[t.1 as usize].value();
        }
        if r == 5 {
            acc += field(lie);
        }
        outs.push(ctx.load_witness(acc));
    }
    let poly = PolyJobs::default();
    let biases: Vec<Fr> = bias.iter().map(|&v| field(v)).collect();
    conv.queue(ctx, &poly, &image, &outs, &biases);
    let tamper = pick(&poly.lock().unwrap());
    b.assigned_instances = vec![outs.clone()];
    let inst: Vec<Fr> = outs.iter().map(|c| *c.value()).collect();
    let base = b.calculate_params(Some(20));
    let c = ZkCircuit {
        builder: b,
        lookups: FnLookups::default(),
        dots: DotJobs::default(),
        poly,
        acts: Default::default(),
        params: ZkParams {
            base,
            fn_cols: 0,
            tables: vec![],
            dot_width: 0,
            dot_lanes: 0,
            poly_lanes: lanes,
            act_lanes: 0,
        },
        tamper: None,
        poly_tamper: tamper,
        act_tamper: None,
    };
    MockProver::run(k as u32, &c, vec![inst])
        .expect("mock prover runs")
        .verify()
        .is_ok()
}

#[test]
fn the_identity_accepts_honest_convolutions_and_rejects_tampering() {
    for s in [1, 2] {
        assert!(
            prove(s, 0, |_| None),
            "honest stride-{s} convolution rejected"
        );
        assert!(
            !prove(s, 1, |_| None),
            "a wrong output accepted (stride {s})"
        );
        assert!(
            !prove(s, -7, |_| None),
            "a wrong output accepted (stride {s})"
        );
        // Op 0 is the left-hand side: its first step is a free coefficient (the full
        // product's corner), and the output (0, 0, 0) is a copy at exponent
        // `(dy1 Wf + dx1)` = `Wf + 1`, counted from the last step.
        let (hf, wf) = (6 + 2, 5 + 2);
        let data = 3 * hf * wf - 1 - (wf + 1);
        for step in [0, data] {
            let t = PolyTamper {
                op: 0,
                step,
                delta: Fr::one(),
            };
            assert!(
                !prove(s, 0, |_| Some(t)),
                "left-hand step {step} tampered, accepted"
            );
        }
        // The first and last step of every other chain: kernel chains (x copied from zero),
        // image chains (copies) and powers of t.
        let horners: Vec<(usize, usize)> = {
            let mut v = vec![];
            prove(s, 0, |p| {
                for (i, op) in p.ops.iter().enumerate().skip(1) {
                    if let PolyOp::Horner(steps) = op {
                        v.push((i, steps.len()));
                    }
                }
                None
            });
            v
        };
        assert!(horners.len() >= 5, "{horners:?}");
        for (op, n) in horners {
            for step in [0, n - 1] {
                let t = PolyTamper {
                    op,
                    step,
                    delta: Fr::one(),
                };
                assert!(
                    !prove(s, 0, |_| Some(t)),
                    "op {op} step {step} tampered, accepted (stride {s})"
                );
            }
        }
    }
}

#[test]
fn chains_split_across_lanes_stay_constrained() {
    // At 2^8 rows the program takes several lanes, its chains continued from copies.
    let mut horners: Vec<(usize, usize)> = vec![];
    let mut rows = 0;
    let mut split = true;
    prove_in(8, 4, 1, 0, |p| {
        rows = p.rows();
        // Whatever the usable rows at 2^8 (the blinding rows depend on the gates), a chain
        // is continued in another lane.
        split = (230..=252)
            .all(|u| plan_poly(&p.ops, 4, u).is_some_and(|plan| plan.iter().any(|s| s.len() > 1)));
        for (i, op) in p.ops.iter().enumerate() {
            if let PolyOp::Horner(steps) = op {
                horners.push((i, steps.len()));
            }
        }
        None
    });
    assert!(
        rows > 1 << 8,
        "the program ({rows} rows) fits one lane: no split tested"
    );
    assert!(
        prove_in(8, 4, 1, 0, |_| None),
        "honest split program rejected"
    );
    assert!(!prove_in(8, 4, 1, 1, |_| None), "a wrong output accepted");
    // Every step of every chain, one at a time: whichever lies at a split is covered.
    for (op, n) in horners {
        for step in 0..n {
            let t = PolyTamper {
                op,
                step,
                delta: Fr::one(),
            };
            assert!(
                !prove_in(8, 4, 1, 0, |_| Some(t)),
                "op {op} step {step} tampered, accepted"
            );
        }
    }
}

#[test]
fn a_program_that_does_not_fit_is_refused() {
    let mut fits = vec![];
    prove_in(8, 4, 1, 0, |p| {
        fits = (1..=4)
            .map(|l| plan_poly(&p.ops, l, 200).is_some())
            .collect();
        None
    });
    assert_eq!(fits.first(), Some(&false), "{fits:?}");
    assert_eq!(fits.last(), Some(&true), "{fits:?}");
}
