//! The integer evaluator: runs a [`QuantModel`] exactly and records the witness.

use super::{rescale, QOp, QuantModel, Result};

/// Extra witness of one node beyond its output values.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeTrace {
    /// Accumulators (bias included) and rescale remainders of a Linear op.
    Linear {
        /// Exact accumulators.
        acc: Vec<i128>,
        /// Remainders in `[0, 2^shift)`.
        rem: Vec<i128>,
    },
    /// Nothing beyond the outputs.
    Plain,
}

/// Every integer the circuit assigns for one inference.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// Each value's integers, indexed by `ValueId`.
    pub values: Vec<Vec<i128>>,
    /// Per node, in order.
    pub nodes: Vec<NodeTrace>,
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
        let mut nodes = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let x = &values[node.inputs[0]];
            let (y, t): (Vec<i128>, NodeTrace) = match &node.op {
                QOp::Linear {
                    out,
                    inp,
                    weight,
                    bias,
                    shift,
                    ..
                } => {
                    let rows = x.len() / inp;
                    let mut acc = Vec::with_capacity(rows * out);
                    for m in 0..rows {
                        let xr = &x[m * inp..(m + 1) * inp];
                        for o in 0..*out {
                            let w = &weight[o * inp..(o + 1) * inp];
                            let s: i128 = xr.iter().zip(w).map(|(a, &b)| a * b as i128).sum();
                            acc.push(s + bias[o]);
                        }
                    }
                    let (y, rem) = acc.iter().map(|&a| rescale(a, *shift)).unzip();
                    (y, NodeTrace::Linear { acc, rem })
                }
                QOp::AddConst { constant } => (
                    x.iter()
                        .enumerate()
                        .map(|(i, a)| a + constant[i % constant.len()] as i128)
                        .collect(),
                    NodeTrace::Plain,
                ),
                QOp::Add { shift_a, shift_b } => (
                    x.iter()
                        .zip(&values[node.inputs[1]])
                        .map(|(a, b)| (a << shift_a) + (b << shift_b))
                        .collect(),
                    NodeTrace::Plain,
                ),
                QOp::Relu => (x.iter().map(|&a| a.max(0)).collect(), NodeTrace::Plain),
                QOp::Reshape => (x.clone(), NodeTrace::Plain),
            };
            for &q in &y {
                self.check_range(&node.name, node.output, q)?;
            }
            values[node.output] = y;
            nodes.push(t);
        }
        Ok(Trace { values, nodes })
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
