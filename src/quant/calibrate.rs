//! Choosing fixed-point exponents and table domains from calibration data.

use serde::{Deserialize, Serialize};

use super::{
    to_fixed, Error, QFunc, QNode, QOp, QSrc, QTerm, QTreeNode, QValue, QuantModel, Result,
};
use crate::graph::{eval_f64, Affine, Cmp, Func, Graph, Node, Op, Src, Term, TreeNode};

/// Knobs of quantization.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantConfig {
    /// Activation bit width `B` (signed): every activation is range-checked to it.
    pub act_bits: u32,
    /// Most fractional bits an activation gets.
    pub max_act_frac_bits: i32,
    /// Signed bit width of integer weights.
    pub weight_bits: u32,
    /// Most fractional bits a weight gets.
    pub max_weight_frac_bits: i32,
    /// Factor of room above the largest calibrated magnitude, for inputs beyond the calibration set.
    pub headroom: f64,
    /// Most rows of one function table, as a power of two.
    pub lut_bits: u32,
}

impl Default for QuantConfig {
    fn default() -> Self {
        Self {
            act_bits: 32,
            max_act_frac_bits: 16,
            weight_bits: 24,
            max_weight_frac_bits: 16,
            headroom: 4.0,
            lut_bits: 12,
        }
    }
}

/// Narrowest activation width a model gets: range checks below a limb cost the same.
pub const MIN_ACT_BITS: u32 = 8;

/// Signed bits of the integer `m` (magnitude), sign included.
fn signed_bits(m: f64) -> u32 {
    if m < 1.0 {
        return 1;
    }
    (m + 1.0).log2().ceil() as u32 + 1
}

/// The activation width (signed bits) the model needs: every value's calibrated magnitude
/// times the headroom at its exponent, every constant an activation chip compares or copies
/// (table inputs and outputs, clip bounds, gathered constants), and the largest sum a tree
/// ensemble can reach. Activations are range-checked to this width, so range checks cost what
/// the data needs rather than a fixed 32 bits.
fn needed_act_bits(model: &QuantModel, headroom: f64) -> u32 {
    let mut bits = 1;
    let mut need = |m: f64| bits = bits.max(signed_bits(m.abs()));
    for v in &model.values {
        need(v.calibrated_max * headroom * 2f64.powi(v.exp));
    }
    for node in &model.nodes {
        match &node.op {
            QOp::Func(f) => {
                need(f.lo as f64);
                need(f.hi as f64);
                for (_, y) in f.table() {
                    need(y as f64);
                }
            }
            QOp::Clip { lo, hi } => {
                for b in lo.iter().chain(hi) {
                    need(*b as f64);
                }
            }
            // Labels are copied to the output whichever class calibration saw.
            QOp::ArgMax { labels, .. } => {
                for &l in labels {
                    need(l as f64);
                }
            }
            QOp::Gather(src) => {
                for s in src {
                    if let QSrc::Const(c) = s {
                        need(*c as f64);
                    }
                }
            }
            QOp::Trees { trees, base, .. } => {
                let leaves: f64 = trees
                    .iter()
                    .map(|t| {
                        t.iter()
                            .map(|n| match n {
                                QTreeNode::Leaf { values } => {
                                    values.iter().fold(0f64, |m, v| m.max((v.1 as f64).abs()))
                                }
                                QTreeNode::Branch { threshold, .. } => {
                                    // Thresholds are compared with activations at two bits
                                    // above the width: within 2^B they always fit.
                                    (*threshold as f64).abs() / 2.0
                                }
                            })
                            .fold(0f64, f64::max)
                    })
                    .sum();
                let b = base.iter().fold(0f64, |m, &b| m.max((b as f64).abs()));
                need(leaves + b);
            }
            _ => {}
        }
    }
    bits
}

/// Largest exponent at which `max_abs * headroom` still fits `bits` signed bits, capped.
fn exponent(max_abs: f64, bits: u32, headroom: f64, cap: i32) -> i32 {
    if max_abs == 0.0 {
        return cap;
    }
    let room = ((1u64 << (bits - 1)) - 1) as f64 / (max_abs * headroom);
    (room.log2().floor() as i32).min(cap)
}

/// Per-value statistics over the calibration samples.
#[derive(Clone, Copy, Debug)]
struct Stat {
    min: f64,
    max: f64,
}

impl Stat {
    fn max_abs(&self) -> f64 {
        self.min.abs().max(self.max.abs())
    }
}

struct Quantizer<'a> {
    cfg: &'a QuantConfig,
    stats: Vec<Stat>,
    exp: Vec<Option<i32>>,
    /// Rescale shifts are rounded up to a multiple of this (0: not aligned).
    limb: u32,
}

impl Quantizer<'_> {
    fn act_exp(&self, v: usize) -> i32 {
        exponent(
            self.stats[v].max_abs(),
            self.cfg.act_bits,
            self.cfg.headroom,
            self.cfg.max_act_frac_bits,
        )
    }

    fn e(&self, v: usize) -> i32 {
        self.exp[v].expect("values are quantized before their users")
    }

    fn err(node: &Node, reason: impl Into<String>) -> Error {
        Error::Quantize {
            node: node.name.clone(),
            reason: reason.into(),
        }
    }

    /// An affine op: coefficients are aligned so the accumulator has one exponent.
    fn affine(&self, node: &Node, a: &Affine) -> Result<(QOp, i32)> {
        let wmax = a.terms.iter().fold(0f64, |m, t| m.max(t.weight.abs()));
        let ew = exponent(
            wmax,
            self.cfg.weight_bits,
            1.0,
            self.cfg.max_weight_frac_bits,
        );
        let ein: Vec<i32> = node.inputs.iter().map(|&v| self.e(v)).collect();
        let emax = ein.iter().copied().max().unwrap_or(0);
        let ey = self.act_exp(node.output);
        let mut acc = (ew + emax).max(ey);
        // A shift that fills whole limbs costs no partial-limb check: the extra bits are
        // precision the weights keep.
        if self.limb > 0 && acc > ey {
            let d = (acc - ey) as u32;
            acc = ey + d.next_multiple_of(self.limb) as i32;
        }
        let mut terms = Vec::with_capacity(a.terms.len());
        for t in &a.terms {
            let coef = to_fixed(t.weight, acc - ein[t.input as usize]);
            if coef.unsigned_abs() >= 1 << 62 {
                return Err(Self::err(node, format!("weight {} needs more than 62 bits at the accumulator scale; the inputs' scales differ too much", t.weight)));
            }
            terms.push(QTerm {
                input: t.input,
                index: t.index,
                coef: coef as i64,
            });
        }
        let bias = a.bias.iter().map(|&b| to_fixed(b, acc)).collect();
        Ok((
            QOp::Affine {
                rows: a.rows.clone(),
                terms,
                bias,
                shift: (acc - ey) as u32,
            },
            ey,
        ))
    }

    fn func(&self, node: &Node, f: Func) -> Result<(QOp, i32)> {
        let ein = self.e(node.inputs[0]);
        let s_in = self.stats[node.inputs[0]];
        let ey = match f.bounds() {
            Some((lo, hi)) => exponent(
                lo.abs().max(hi.abs()),
                self.cfg.act_bits,
                1.0,
                self.cfg.max_act_frac_bits,
            ),
            None => self.act_exp(node.output),
        };
        // Where the function is flat to within half an output step.
        let flat = (ey as f64 + 1.0) * std::f64::consts::LN_2;
        let (dlo, dhi, sat_lo, sat_hi) = match f {
            Func::Sigmoid => (-flat, flat, true, true),
            Func::Tanh => (
                -(flat + std::f64::consts::LN_2) / 2.0,
                (flat + std::f64::consts::LN_2) / 2.0,
                true,
                true,
            ),
            Func::Exp => {
                let hi = if s_in.max <= 0.0 {
                    0.0
                } else {
                    s_in.max * self.cfg.headroom.sqrt()
                };
                // Above `cap`, e^x at the output scale leaves the activation range: the table
                // stops there (inputs beyond have no witness and the evaluator refuses them).
                let top = ((1u64 << (self.cfg.act_bits - 1)) - 1) as f64;
                let cap = top.ln() - ey as f64 * std::f64::consts::LN_2;
                (-flat, hi.min(cap), true, false)
            }
            Func::Log => {
                if s_in.min <= 0.0 {
                    return Err(Self::err(
                        node,
                        "the calibration data takes Log's input to zero or below: the input must stay positive",
                    ));
                }
                (
                    s_in.min / self.cfg.headroom,
                    s_in.max * self.cfg.headroom,
                    false,
                    false,
                )
            }
        };
        if dhi <= dlo {
            return Err(Self::err(
                node,
                format!("{}'s values at the output scale 2^-{ey} leave the {}-bit activation range over its whole table domain", f.name(), self.cfg.act_bits),
            ));
        }
        let rows = (1u64 << self.cfg.lut_bits) as f64;
        let mut te = ((rows - 1.0) / (dhi - dlo)).log2().floor() as i32;
        te = te.min(ein);
        let step = 2f64.powi(te);
        let (lo, hi) = ((dlo * step).floor() as i64, (dhi * step).ceil() as i64);
        let mut q = QFunc {
            func: f,
            in_shift: (ein - te) as u32,
            table_exp: te,
            out_exp: ey,
            lo,
            hi,
            sat_lo,
            sat_hi,
        };
        if f == Func::Log && q.domain().0 <= 0.0 {
            return Err(Self::err(
                node,
                "the Log table would include 0 at this table size; raise --lut-bits",
            ));
        }
        // Every table value must be an activation (the rounding at the edges can step over).
        q.fit_range(self.cfg.act_bits)
            .map_err(|e| Self::err(node, e))?;
        Ok((QOp::Func(q), ey))
    }

    fn trees(&self, node: &Node, ens: &crate::graph::TreeEnsemble) -> Result<(QOp, i32)> {
        let ein = self.e(node.inputs[0]);
        let leaf_max = ens.trees.iter().flatten().fold(0f64, |m, t| match t {
            TreeNode::Leaf { values } => values.iter().fold(m, |m, v| m.max(v.1.abs())),
            TreeNode::Branch { .. } => m,
        });
        let bound =
            ens.base.iter().fold(0f64, |m, b| m.max(b.abs())) + leaf_max * ens.trees.len() as f64;
        let ey = exponent(
            bound.max(self.stats[node.output].max_abs()),
            self.cfg.act_bits,
            1.0,
            self.cfg.max_act_frac_bits,
        );
        let scale = 2f64.powi(ein);
        let trees = ens
            .trees
            .iter()
            .map(|tree| {
                tree.iter()
                    .map(|tn| match tn {
                        TreeNode::Branch {
                            feature,
                            threshold,
                            cmp,
                            yes,
                            no,
                        } => {
                            // Inputs are rounded to the grid, so thresholds are too: an input equal
                            // to a threshold (common: thresholds are data values) compares exactly,
                            // and only inputs within one grid step of a threshold can differ.
                            let t = (threshold * scale).round();
                            let (thr, negate) = match cmp {
                                Cmp::Leq => (t, false),
                                Cmp::Gt => (t, true),
                                Cmp::Lt => (t - 1.0, false),
                                Cmp::Gte => (t - 1.0, true),
                            };
                            let lim = 2f64.powi(self.cfg.act_bits as i32);
                            QTreeNode::Branch {
                                feature: *feature,
                                threshold: thr.clamp(-lim, lim) as i64,
                                negate,
                                yes: *yes,
                                no: *no,
                            }
                        }
                        TreeNode::Leaf { values } => QTreeNode::Leaf {
                            values: values
                                .iter()
                                .map(|&(t, w)| (t, to_fixed(w, ey) as i64))
                                .collect(),
                        },
                    })
                    .collect()
            })
            .collect();
        let base = ens.base.iter().map(|&b| to_fixed(b, ey) as i64).collect();
        Ok((
            QOp::Trees {
                features: ens.features,
                trees,
                base,
            },
            ey,
        ))
    }

    fn node(&self, node: &Node) -> Result<(QOp, i32)> {
        let ex = node.inputs.first().map(|&v| self.e(v)).unwrap_or(0);
        Ok(match &node.op {
            Op::Affine(a) => self.affine(node, a)?,
            Op::Gather(src) => {
                let same = node.inputs.iter().all(|&v| self.e(v) == ex);
                if !same {
                    // Inputs at different scales (a Concat): align them with an affine map.
                    let mut a = Affine::new();
                    for s in src {
                        match *s {
                            Src::In { input, index } => a.push_row(
                                [Term {
                                    input,
                                    index,
                                    weight: 1.0,
                                }],
                                0.0,
                            ),
                            Src::Const(c) => a.push_row([], c),
                        }
                    }
                    return self.affine(node, &a);
                }
                let q = src
                    .iter()
                    .map(|s| match *s {
                        Src::In { input, index } => QSrc::In { input, index },
                        Src::Const(c) => QSrc::Const(to_fixed(c, ex) as i64),
                    })
                    .collect();
                (QOp::Gather(q), ex)
            }
            Op::Mul(pairs) => {
                let eb = self.e(node.inputs[1]);
                let ey = self.act_exp(node.output).min(ex + eb);
                (
                    QOp::Mul {
                        pairs: pairs.clone(),
                        shift: (ex + eb - ey) as u32,
                    },
                    ey,
                )
            }
            Op::Div { num, den } => {
                let eb = self.e(node.inputs[1]);
                let ey = self.act_exp(node.output).max(ex - eb);
                (
                    QOp::Div {
                        num: num.clone(),
                        den: den.clone(),
                        shift: (ey - ex + eb) as u32,
                    },
                    ey,
                )
            }
            Op::Relu => (QOp::Relu, ex),
            Op::Prelu(slope) => {
                let smax = slope.iter().fold(0f64, |m, s| m.max(s.abs()));
                let es = exponent(
                    smax,
                    self.cfg.weight_bits,
                    1.0,
                    self.cfg.max_weight_frac_bits,
                )
                .max(0);
                let q = slope.iter().map(|&s| to_fixed(s, es) as i64).collect();
                (
                    QOp::Prelu {
                        slope: q,
                        slope_exp: es as u32,
                    },
                    ex,
                )
            }
            Op::Clip { lo, hi } => {
                let lim = 2f64.powi(self.cfg.act_bits as i32 - 1 - ex) - 1.0;
                let b =
                    |v: Option<f64>| v.filter(|x| x.abs() < lim).map(|x| to_fixed(x, ex) as i64);
                (
                    QOp::Clip {
                        lo: b(*lo),
                        hi: b(*hi),
                    },
                    ex,
                )
            }
            Op::Func(f) => self.func(node, *f)?,
            Op::Max(g) => (QOp::Max(g.clone()), ex),
            Op::ArgMax { groups, labels } => {
                let width = (0..groups.len())
                    .map(|g| groups.group(g).len())
                    .max()
                    .unwrap_or(0);
                let labels = labels
                    .clone()
                    .unwrap_or_else(|| (0..width as i64).collect());
                (
                    QOp::ArgMax {
                        groups: groups.clone(),
                        labels,
                    },
                    0,
                )
            }
            Op::Trees(ens) => self.trees(node, ens)?,
        })
    }
}

/// Quantizes `graph` with exponents chosen from the calibration samples (flattened inputs).
pub fn quantize(graph: &Graph, samples: &[Vec<Vec<f64>>], cfg: &QuantConfig) -> Result<QuantModel> {
    // First pass: the widths the data needs; second: shifts aligned to the limb those give.
    let first = quantize_with_limb(graph, samples, cfg, 0)?;
    let limb = limb_for(first.act_bits);
    // Shifts rounded up to whole limbs widen coefficients; where that fails, unaligned.
    let Ok(mut model) = quantize_with_limb(graph, samples, cfg, limb) else {
        return Ok(first);
    };
    let aligned = (model.act_bits - 1).next_multiple_of(limb) + 1;
    if aligned <= cfg.act_bits {
        model.act_bits = aligned;
    }
    model.limb_bits = limb;
    for s in samples {
        model.eval(s)?;
    }
    Ok(model)
}

/// Most bits of one range-check limb the alignment aims at: the range table then has at most
/// 2^14 rows, which any circuit of 2^15 rows or more holds beside the function tables.
const MAX_LIMB_BITS: u32 = 14;

/// The limb width for activations of `bits` signed bits: one limb when the magnitude fits
/// one, else two equal limbs (at most [`MAX_LIMB_BITS`] each: wider magnitudes are not
/// aligned).
fn limb_for(bits: u32) -> u32 {
    let mag = bits - 1;
    if mag <= MAX_LIMB_BITS {
        mag
    } else {
        mag.div_ceil(2).min(MAX_LIMB_BITS)
    }
}

fn quantize_with_limb(
    graph: &Graph,
    samples: &[Vec<Vec<f64>>],
    cfg: &QuantConfig,
    limb: u32,
) -> Result<QuantModel> {
    if samples.is_empty() {
        return Err(Error::NoCalibration);
    }
    let mut stats = vec![
        Stat {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY
        };
        graph.values.len()
    ];
    for s in samples {
        for (v, vals) in eval_f64(graph, s)?.iter().enumerate() {
            for &x in vals {
                stats[v].min = stats[v].min.min(x);
                stats[v].max = stats[v].max.max(x);
            }
        }
    }
    for s in &mut stats {
        if !s.min.is_finite() || !s.max.is_finite() {
            *s = Stat { min: 0.0, max: 0.0 };
        }
    }
    let mut q = Quantizer {
        cfg,
        stats,
        exp: vec![None; graph.values.len()],
        limb,
    };
    for &v in &graph.inputs {
        q.exp[v] = Some(q.act_exp(v));
    }
    let mut nodes = Vec::with_capacity(graph.nodes.len());
    for node in &graph.nodes {
        let (op, ey) = q.node(node)?;
        q.exp[node.output] = Some(ey);
        nodes.push(QNode {
            name: node.name.clone(),
            op,
            inputs: node.inputs.clone(),
            output: node.output,
        });
    }
    let values = graph
        .values
        .iter()
        .enumerate()
        .map(|(v, info)| QValue {
            name: info.name.clone(),
            shape: info.shape.clone(),
            exp: q.exp[v].unwrap_or(0),
            calibrated_max: q.stats[v].max_abs(),
        })
        .collect();
    let mut model = QuantModel {
        act_bits: cfg.act_bits,
        limb_bits: 0,
        values,
        inputs: graph.inputs.clone(),
        nodes,
        outputs: graph.outputs.clone(),
    };
    model.act_bits = needed_act_bits(&model, cfg.headroom).clamp(MIN_ACT_BITS, cfg.act_bits);
    for s in samples {
        model.eval(s)?;
    }
    Ok(model)
}
