//! The integer evaluator: runs a [`QuantModel`] exactly and records the witness.

use super::{rescale, Error, QOp, QSrc, QTreeNode, QuantModel, Result};

/// Every activation integer of one inference, indexed by `ValueId`. The circuit derives the
/// rest of its witness (remainders, comparison bits) from these with the same functions.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// Each value's integers.
    pub values: Vec<Vec<i128>>,
}

impl Trace {
    /// The model outputs, flattened in order.
    pub fn outputs(&self, model: &QuantModel) -> Vec<i128> {
        model
            .outputs
            .iter()
            .flat_map(|&v| self.values[v].iter().copied())
            .collect()
    }
}

/// Division rounded half up: `y = floor((2 a 2^s + b) / 2b)` and remainder `r` in `[0, 2b)`,
/// for `b > 0`.
pub fn div_round(a: i128, b: i128, shift: u32) -> (i128, i128) {
    let n = 2 * (a << shift) + b;
    let d = 2 * b;
    let y = n.div_euclid(d);
    (y, n - y * d)
}

/// The negative branch of Prelu: `rescale(x * slope, slope_exp)` (value and remainder).
pub fn prelu_neg(x: i128, slope: i64, slope_exp: u32) -> (i128, i128) {
    rescale(x * slope as i128, slope_exp)
}

/// One op on integers; `None` in the error means the caller names the node.
pub fn eval_qop(op: &QOp, ins: &[&[i128]], n: usize) -> std::result::Result<Vec<i128>, String> {
    let x = ins[0];
    Ok(match op {
        QOp::Affine { rows, terms, bias, shift } => (0..bias.len())
            .map(|o| {
                let t = &terms[rows[o] as usize..rows[o + 1] as usize];
                let acc = t.iter().fold(bias[o], |a, t| a + t.coef as i128 * ins[t.input as usize][t.index as usize]);
                rescale(acc, *shift).0
            })
            .collect(),
        QOp::Gather(src) => src
            .iter()
            .map(|s| match *s {
                QSrc::In { input, index } => ins[input as usize][index as usize],
                QSrc::Const(c) => c as i128,
            })
            .collect(),
        QOp::Mul { pairs, shift } => (0..pairs.len())
            .map(|o| {
                let acc: i128 = pairs.group(o).chunks(2).map(|p| ins[0][p[0] as usize] * ins[1][p[1] as usize]).sum();
                rescale(acc, *shift).0
            })
            .collect(),
        QOp::Div { num, den, shift } => num
            .iter()
            .zip(den)
            .map(|(&a, &b)| {
                let d = ins[1][b as usize];
                if d <= 0 {
                    return Err(format!("the denominator at position {b} is not positive"));
                }
                Ok(div_round(ins[0][a as usize], d, *shift).0)
            })
            .collect::<std::result::Result<_, _>>()?,
        QOp::Relu => x.iter().map(|&a| a.max(0)).collect(),
        QOp::Prelu { slope, slope_exp } => x
            .iter()
            .zip(slope)
            .map(|(&a, &s)| if a >= 0 { a } else { prelu_neg(a, s, *slope_exp).0 })
            .collect(),
        QOp::Clip { lo, hi } => x
            .iter()
            .map(|&a| {
                let a = lo.map_or(a, |l| a.max(l as i128));
                hi.map_or(a, |h| a.min(h as i128))
            })
            .collect(),
        QOp::Func(f) => x
            .iter()
            .map(|&a| {
                let s = f.apply(a);
                s.y.ok_or_else(|| {
                    let (lo, hi) = f.domain();
                    format!(
                        "an input is outside the table's domain [{lo:.4}, {hi:.4}]; rebuild with calibration data that covers it (a domain never extends past where the function's value leaves the activation range: inputs beyond that cannot be proven)"
                    )
                })
            })
            .collect::<std::result::Result<_, _>>()?,
        QOp::Max(g) => (0..g.len())
            .map(|o| g.group(o).iter().map(|&i| x[i as usize]).max().unwrap_or(0))
            .collect(),
        QOp::ArgMax { groups, labels } => (0..groups.len())
            .map(|o| labels[argmax_pos(groups.group(o), x)] as i128)
            .collect(),
        QOp::Trees { features, trees, base } => {
            let samples = n / base.len();
            let mut y = Vec::with_capacity(n);
            for s in 0..samples {
                let xs = &x[s * features..(s + 1) * features];
                let mut acc: Vec<i128> = base.iter().map(|&b| b as i128).collect();
                for tree in trees {
                    if let QTreeNode::Leaf { values } = &tree[tree_leaf(tree, xs)] {
                        for &(t, w) in values {
                            acc[t as usize] += w as i128;
                        }
                    }
                }
                y.extend(acc);
            }
            y
        }
    })
}

/// Position (inside the group) of the first maximum.
pub fn argmax_pos(group: &[u32], x: &[i128]) -> usize {
    let mut best = 0;
    for (p, &i) in group.iter().enumerate() {
        if x[i as usize] > x[group[best] as usize] {
            best = p;
        }
    }
    best
}

/// The outcome of a branch test on an integer feature.
pub fn branch_taken(x: i128, threshold: i64, negate: bool) -> bool {
    (x <= threshold as i128) != negate
}

/// The leaf a sample reaches.
pub fn tree_leaf(tree: &[QTreeNode], xs: &[i128]) -> usize {
    let mut k = 0;
    while let QTreeNode::Branch {
        feature,
        threshold,
        negate,
        yes,
        no,
    } = &tree[k]
    {
        k = if branch_taken(xs[*feature as usize], *threshold, *negate) {
            *yes as usize
        } else {
            *no as usize
        };
    }
    k
}

impl QuantModel {
    /// Evaluates the model on float inputs, exactly as the circuit does.
    pub fn eval(&self, inputs: &[Vec<f64>]) -> Result<Trace> {
        self.check_inputs(inputs)?;
        let q = self.quantize_inputs(inputs)?;
        self.eval_quantized(q)
    }

    /// Evaluates on already quantized inputs, refusing any value outside the circuit's range.
    pub fn eval_quantized(&self, inputs: Vec<Vec<i128>>) -> Result<Trace> {
        let mut values: Vec<Vec<i128>> = vec![Vec::new(); self.values.len()];
        for (&v, data) in self.inputs.iter().zip(inputs) {
            for &x in &data {
                self.check_range("input", v, x)?;
            }
            values[v] = data;
        }
        for node in &self.nodes {
            let ins: Vec<&[i128]> = node.inputs.iter().map(|&v| values[v].as_slice()).collect();
            let y =
                eval_qop(&node.op, &ins, self.values[node.output].numel()).map_err(|reason| {
                    Error::Domain {
                        node: node.name.clone(),
                        op: node.op.kind(),
                        reason,
                    }
                })?;
            for &q in &y {
                self.check_range(&node.name, node.output, q)?;
            }
            values[node.output] = y;
        }
        Ok(Trace { values })
    }

    /// Float meaning of the outputs of a trace.
    pub fn output_floats(&self, trace: &Trace) -> Vec<Vec<f64>> {
        self.outputs
            .iter()
            .map(|&v| {
                trace.values[v]
                    .iter()
                    .map(|&q| super::to_float(q, self.values[v].exp))
                    .collect()
            })
            .collect()
    }
}
