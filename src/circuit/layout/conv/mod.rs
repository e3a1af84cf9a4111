//! Convolutions as one polynomial identity on the poly lane (`circuit::zk::poly_lane`), instead
//! of one constrained multiply-accumulate per weight and output.
//!
//! An affine op is recognised as a convolution from its terms alone, whatever ONNX op or graph
//! rewrite produced it: a single input of shape `(C, H, W)`, an output of shape `(O, Ho, Wo)`,
//! strides `(sh, sw)`, and a kernel `K[o][c][dy][dx]` such that row `(o, py, px)` is exactly
//! `sum of K[o][c][dy][dx] * X[c][sh py + dy][sw px + dx]` over the positions inside the image
//! (padding is the positions outside; dilation is a sparse kernel). Recognition is checked
//! term by term, so the identity proves exactly the op's map.
//!
//! With the image and the kernel as polynomials in `t` (row pitch `Wf = W + dx1 - dx0`, channel
//! pitch `Hf Wf`, `Hf = H + dy1 - dy0`):
//!
//! ```text
//! X_c(t) = sum X[c][y][x] t^(y Wf + x)
//! G_c(t) = sum K[o][c][dy][dx] t^(o Hf Wf + (dy1 - dy) Wf + (dx1 - dx))
//! sum_c G_c(t) X_c(t) = sum Yf[o][m][n] t^(o Hf Wf + m Wf + n)      (no carries: m < Hf, n < Wf)
//! ```
//!
//! `Yf` is the full product; output `(o, py, px)` is its coefficient at `m = sh py + dy1`,
//! `n = sw px + dx1`. The lane evaluates both sides at the challenge `t`: the outputs enter
//! the right-hand side as copies of the output cells (less their constant bias), the other
//! coefficients of `Yf` as free cells. Costs: one lane row per input pixel, per coefficient of
//! `Yf` and per kernel weight, instead of one term per multiply-accumulate.

use std::collections::HashMap;

use halo2_base::{AssignedValue, Context};

use crate::circuit::zk::{Coef, PolyJobs, PolyOp, PolyProgram, Reg, Step};
use crate::field::Fr;

/// A recognised convolution.
pub(super) struct Conv {
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    ho: usize,
    wo: usize,
    sh: i64,
    sw: i64,
    /// Kernel offsets' bounds, inclusive.
    dy: (i64, i64),
    dx: (i64, i64),
    /// Non-zero kernel entries `((o, c, dy, dx), weight)`, sorted.
    kernel: Vec<((usize, usize, i64, i64), Fr)>,
}

/// Most image shapes tried for a flattened input.
const MAX_SHAPES: usize = 24;

/// The last three dimensions of a shape whose leading ones are all 1.
fn chw(shape: &[usize]) -> Option<(usize, usize, usize)> {
    let n = shape.len();
    (n >= 3 && shape[..n - 3].iter().all(|&d| d == 1))
        .then(|| (shape[n - 3], shape[n - 2], shape[n - 1]))
}

impl Conv {
    /// Recognises `rows` (row `r` = `terms[rows[r]..rows[r+1]]` as `(input, index, weight)`)
    /// as a convolution from `input` to `output` shapes; `None` when it is not one.
    ///
    /// An input whose shape is not `(C, H, W)` (a flattened image, reshaped by the model) is
    /// tried as every `(C, H, W)` of its size, squarest first; any that checks is exact, and
    /// the cheapest is taken.
    pub(super) fn detect(
        rows: &[u32],
        terms: &[(u32, u32, Fr)],
        input: &[usize],
        output: &[usize],
    ) -> Option<Conv> {
        let out = chw(output)?;
        if out.0 * out.1 * out.2 == 0 {
            return None;
        }
        if let Some(image) = chw(input) {
            return Self::detect_as(rows, terms, image, out);
        }
        let n: usize = input.iter().product();
        let mut shapes: Vec<(usize, usize, usize)> = vec![];
        for c in (1..=n).filter(|&c| n.is_multiple_of(c)) {
            for h in (1..=n / c).filter(|&h| (n / c).is_multiple_of(h)) {
                let w = n / c / h;
                if h > 1 && w > 1 {
                    shapes.push((c, h, w));
                }
            }
        }
        shapes.sort_by_key(|&(c, h, w)| (h.abs_diff(w), c));
        shapes
            .into_iter()
            .take(MAX_SHAPES)
            .filter_map(|image| Self::detect_as(rows, terms, image, out))
            .min_by_key(Conv::lane_rows)
    }

    fn detect_as(
        rows: &[u32],
        terms: &[(u32, u32, Fr)],
        (c, h, w): (usize, usize, usize),
        (o, ho, wo): (usize, usize, usize),
    ) -> Option<Conv> {
        if c * h * w == 0 || rows.len() != o * ho * wo + 1 || terms.iter().any(|t| t.0 != 0) {
            return None;
        }
        let row = |r: usize| &terms[rows[r] as usize..rows[r + 1] as usize];
        let pos = |i: u32| {
            let i = i as usize;
            (i / (h * w), ((i / w) % h) as i64, (i % w) as i64)
        };
        // The strides, from an output in the middle of the first channel and its neighbours
        // above and to the left: the shift of their windows' first or last rows (columns),
        // whichever padding does not clip (each candidate is checked below).
        type Axis = fn((usize, i64, i64)) -> i64;
        let shifts = |a: usize, b: usize, f: Axis| -> Vec<i64> {
            let (ra, rb) = (row(a), row(b));
            let ends = |r: &[(u32, u32, Fr)]| {
                let v = r.iter().map(|t| f(pos(t.1)));
                (v.clone().min(), v.max())
            };
            let ((a0, a1), (b0, b1)) = (ends(ra), ends(rb));
            let mut v: Vec<i64> = [b0.zip(a0), b1.zip(a1)]
                .into_iter()
                .flatten()
                .map(|(b, a)| b - a)
                .filter(|&d| d >= 1)
                .collect();
            v.dedup();
            v
        };
        let mid = (ho / 2) * wo + wo / 2;
        let shs = if ho > 1 {
            shifts(mid - wo, mid, |p| p.1)
        } else {
            vec![1]
        };
        let sws = if wo > 1 {
            shifts(mid - 1, mid, |p| p.2)
        } else {
            vec![1]
        };
        shs.iter()
            .flat_map(|&sh| sws.iter().map(move |&sw| (sh, sw)))
            .find_map(|(sh, sw)| Self::check(rows, terms, (c, h, w), (o, ho, wo), (sh, sw)))
    }

    /// The convolution with strides `(sh, sw)` whose map `rows` is, if it is one.
    fn check(
        rows: &[u32],
        terms: &[(u32, u32, Fr)],
        (c, h, w): (usize, usize, usize),
        (o, ho, wo): (usize, usize, usize),
        (sh, sw): (i64, i64),
    ) -> Option<Conv> {
        let row = |r: usize| &terms[rows[r] as usize..rows[r + 1] as usize];
        let pos = |i: u32| {
            let i = i as usize;
            (i / (h * w), ((i / w) % h) as i64, (i % w) as i64)
        };
        // Every term is its row's kernel entry; the same entry has the same weight everywhere.
        let mut kernel: HashMap<(usize, usize, i64, i64), Fr> = HashMap::new();
        let mut nonzero = 0usize;
        let mut seen: Vec<u32> = vec![];
        for r in 0..o * ho * wo {
            let (oc, py, px) = (r / (ho * wo), ((r / wo) % ho) as i64, (r % wo) as i64);
            seen.clear();
            for &(_, idx, wgt) in row(r) {
                if idx as usize >= c * h * w {
                    return None;
                }
                if wgt == Fr::zero() {
                    continue;
                }
                seen.push(idx);
                nonzero += 1;
                let (ch, y, x) = pos(idx);
                let key = (oc, ch, y - sh * py, x - sw * px);
                if *kernel.entry(key).or_insert(wgt) != wgt {
                    return None;
                }
            }
            seen.sort_unstable();
            if seen.windows(2).any(|p| p[0] == p[1]) {
                return None;
            }
        }
        if kernel.is_empty() {
            return None;
        }
        let dy = kernel
            .keys()
            .fold((i64::MAX, i64::MIN), |a, k| (a.0.min(k.2), a.1.max(k.2)));
        let dx = kernel
            .keys()
            .fold((i64::MAX, i64::MIN), |a, k| (a.0.min(k.3), a.1.max(k.3)));
        // Every output's window meets the image (its coefficient lies in the full product).
        let (hi, wi) = (h as i64, w as i64);
        if dy.1 < 0
            || dx.1 < 0
            || sh * (ho as i64 - 1) + dy.0 > hi - 1
            || sw * (wo as i64 - 1) + dx.0 > wi - 1
        {
            return None;
        }
        let mut kernel: Vec<_> = kernel.into_iter().collect();
        kernel.sort_unstable_by_key(|e| e.0);
        // Every kernel entry inside the image is a term of its row: as many entries as terms.
        let mut by_o = vec![vec![]; o];
        for &((oc, ch, ky, kx), _) in &kernel {
            by_o[oc].push((ch, ky, kx));
        }
        let mut expected = 0usize;
        for r in 0..o * ho * wo {
            let (oc, py, px) = (r / (ho * wo), ((r / wo) % ho) as i64, (r % wo) as i64);
            expected += by_o[oc]
                .iter()
                .filter(|&&(_, ky, kx)| {
                    let (y, x) = (sh * py + ky, sw * px + kx);
                    (0..hi).contains(&y) && (0..wi).contains(&x)
                })
                .count();
        }
        (expected == nonzero).then_some(Conv {
            c,
            h,
            w,
            o,
            ho,
            wo,
            sh,
            sw,
            dy,
            dx,
            kernel,
        })
    }

    /// The full product's height and width.
    fn full(&self) -> (usize, usize) {
        (
            self.h + (self.dy.1 - self.dy.0) as usize,
            self.w + (self.dx.1 - self.dx.0) as usize,
        )
    }

    /// Rows the identity takes on the lane (about: the powers it needs are shared).
    pub(super) fn lane_rows(&self) -> usize {
        let (hf, wf) = self.full();
        let jumps = if wf - self.w + 1 >= 3 {
            2 * self.h
        } else {
            (wf - self.w) * self.h
        };
        let image = self.c * (1 + self.h * self.w + jumps);
        let kernel = self.kernel.len()
            + 2 * self.o * self.c * (1 + (self.dy.1 - self.dy.0) as usize)
            + self.c;
        image + kernel + self.o * hf * wf + 1 + 6 * self.c + 40
    }

    /// Whether the lane is worth it against one dot-lane term per multiply-accumulate: a lane
    /// row has two advice cells where a dot term has about one, and the lane's own columns
    /// (two advice, two fixed) must pay for themselves.
    pub(super) fn worth(&self, terms: usize) -> bool {
        4 * self.lane_rows() <= terms
    }

    /// Queues the identity: `outputs[r]` holds row `r`'s sum plus `bias[r]`.
    pub(super) fn queue(
        &self,
        ctx: &mut Context<Fr>,
        poly: &PolyJobs,
        image: &[AssignedValue<Fr>],
        outputs: &[AssignedValue<Fr>],
        bias: &[Fr],
    ) {
        let mut p = poly.lock().unwrap_or_else(|e| e.into_inner());
        if p.zero.is_none() {
            p.zero = Some(ctx.load_zero());
        }
        let (hf, wf) = self.full();
        let (dy1, dx1) = (self.dy.1, self.dx.1);
        let exp_g = |oc: usize, ky: i64, kx: i64| {
            (oc * hf * wf) as u64 + (dy1 - ky) as u64 * wf as u64 + (dx1 - kx) as u64
        };
        // The full product, coefficient by coefficient.
        let mut yf = vec![Fr::zero(); self.o * hf * wf];
        for &((oc, ch, ky, kx), wgt) in &self.kernel {
            for y in 0..self.h {
                let m = y as i64 + dy1 - ky;
                let base = oc * hf * wf + m as usize * wf;
                for x in 0..self.w {
                    let n = (x as i64 + dx1 - kx) as usize;
                    yf[base + n] += wgt * image[ch * self.h * self.w + y * self.w + x].value();
                }
            }
        }
        // Left-hand side: the outputs (less their bias) where they are, free cells elsewhere.
        let mut coefs: Vec<(Coef, Fr)> = yf.iter().map(|&v| (Coef::Free(v), Fr::zero())).collect();
        for (r, (out, b)) in outputs.iter().zip(bias).enumerate() {
            let (oc, py, px) = (
                r / (self.ho * self.wo),
                (r / self.wo) % self.ho,
                r % self.wo,
            );
            let m = (self.sh * py as i64 + dy1) as usize;
            let n = (self.sw * px as i64 + dx1) as usize;
            coefs[oc * hf * wf + m * wf + n] = (Coef::Data(*out), -*b);
        }
        let lhs = p.push(PolyOp::Horner(
            coefs
                .iter()
                .rev()
                .map(|&(x, c)| Step { by: None, x, c })
                .collect(),
        ));
        // Right-hand side: sum over channels of G_c(t) X_c(t).
        let mut sum: Option<Reg> = None;
        for ch in 0..self.c {
            let g: Vec<(u64, Coef, Fr)> = self
                .kernel
                .iter()
                .filter(|e| e.0 .1 == ch)
                .map(|&((oc, _, ky, kx), wgt)| (exp_g(oc, ky, kx), Coef::Zero, wgt))
                .collect();
            if g.is_empty() {
                continue;
            }
            let x: Vec<(u64, Coef, Fr)> = (0..self.h * self.w)
                .map(|i| {
                    let e = (i / self.w * wf + i % self.w) as u64;
                    (e, Coef::Data(image[ch * self.h * self.w + i]), Fr::zero())
                })
                .collect();
            let gr = horner(&mut p, g);
            let xr = horner(&mut p, x);
            let prod = p.push(PolyOp::Mul(gr, xr));
            sum = Some(match sum {
                None => prod,
                Some(s) => p.push(PolyOp::Add(s, prod)),
            });
        }
        if let Some(rhs) = sum {
            p.push(PolyOp::Eq(lhs, rhs));
        }
    }
}

/// Evaluates `sum of (x + c) t^e` over `terms` (any order, distinct exponents) as one Horner
/// chain: a gap of one or two exponents costs as many rows, a longer one a step by `t^gap`.
fn horner(p: &mut PolyProgram, mut terms: Vec<(u64, Coef, Fr)>) -> Reg {
    terms.sort_unstable_by_key(|t| std::cmp::Reverse(t.0));
    let mut steps: Vec<Step> = Vec::with_capacity(terms.len());
    let mut prev: Option<u64> = None;
    let gap_step = |p: &mut PolyProgram, steps: &mut Vec<Step>, gap: u64, x: Coef, c: Fr| {
        if gap <= 2 {
            for _ in 1..gap {
                steps.push(Step {
                    by: None,
                    x: Coef::Zero,
                    c: Fr::zero(),
                });
            }
            steps.push(Step { by: None, x, c });
        } else {
            let by = p.power(gap);
            steps.push(Step { by: Some(by), x, c });
        }
    };
    for (e, x, c) in terms {
        match prev {
            None => steps.push(Step { by: None, x, c }),
            Some(pe) => gap_step(p, &mut steps, pe - e, x, c),
        }
        prev = Some(e);
    }
    if let Some(e) = prev.filter(|&e| e > 0) {
        gap_step(p, &mut steps, e, Coef::Zero, Fr::zero());
    }
    p.push(PolyOp::Horner(steps))
}

#[cfg(test)]
mod tests;
