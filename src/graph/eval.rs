//! Float64 reference evaluation of a [`Graph`], used to pick quantization scales and to measure
//! what quantization changed.

use super::{Graph, Op, Result, Src};

/// Evaluates the graph in f64 and returns every value (indexed by `ValueId`), flattened.
pub fn eval_f64(graph: &Graph, inputs: &[Vec<f64>]) -> Result<Vec<Vec<f64>>> {
    graph.check_inputs(inputs)?;
    let mut vals: Vec<Vec<f64>> = vec![Vec::new(); graph.values.len()];
    for (&v, data) in graph.inputs.iter().zip(inputs) {
        vals[v] = data.clone();
    }
    for node in &graph.nodes {
        let ins: Vec<&[f64]> = node.inputs.iter().map(|&v| vals[v].as_slice()).collect();
        let y = eval_op(&node.op, &ins, graph.numel(node.output));
        vals[node.output] = y;
    }
    Ok(vals)
}

/// One op in f64: `ins` are the node's inputs, `n` its output length.
pub fn eval_op(op: &Op, ins: &[&[f64]], n: usize) -> Vec<f64> {
    let x = ins[0];
    match op {
        Op::Affine(a) => (0..a.len())
            .map(|o| {
                a.row(o).iter().fold(a.bias[o], |acc, t| {
                    acc + t.weight * ins[t.input as usize][t.index as usize]
                })
            })
            .collect(),
        Op::Gather(src) => src
            .iter()
            .map(|s| match *s {
                Src::In { input, index } => ins[input as usize][index as usize],
                Src::Const(c) => c,
            })
            .collect(),
        Op::Mul(g) => (0..g.len())
            .map(|o| {
                g.group(o)
                    .chunks(2)
                    .map(|p| ins[0][p[0] as usize] * ins[1][p[1] as usize])
                    .sum()
            })
            .collect(),
        Op::Div { num, den } => num
            .iter()
            .zip(den)
            .map(|(&a, &b)| ins[0][a as usize] / ins[1][b as usize])
            .collect(),
        Op::Relu => x.iter().map(|a| a.max(0.0)).collect(),
        Op::Prelu(slope) => x
            .iter()
            .zip(slope)
            .map(|(&a, &s)| if a >= 0.0 { a } else { s * a })
            .collect(),
        Op::Clip { lo, hi } => x
            .iter()
            .map(|a| {
                a.max(lo.unwrap_or(f64::NEG_INFINITY))
                    .min(hi.unwrap_or(f64::INFINITY))
            })
            .collect(),
        Op::Func(f) => x.iter().map(|&a| f.eval(a)).collect(),
        Op::Max(g) => (0..g.len())
            .map(|o| {
                g.group(o)
                    .iter()
                    .map(|&i| x[i as usize])
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .collect(),
        Op::ArgMax { groups, labels } => (0..groups.len())
            .map(|o| {
                let grp = groups.group(o);
                let mut best = 0;
                for (p, &i) in grp.iter().enumerate() {
                    if x[i as usize] > x[grp[best] as usize] {
                        best = p;
                    }
                }
                labels.as_ref().map_or(best as f64, |l| l[best] as f64)
            })
            .collect(),
        Op::Trees(ens) => {
            let samples = n / ens.targets();
            let mut y = Vec::with_capacity(n);
            for s in 0..samples {
                let xs = &x[s * ens.features..(s + 1) * ens.features];
                let mut acc = ens.base.clone();
                for t in 0..ens.trees.len() {
                    if let super::TreeNode::Leaf { values } = &ens.trees[t][ens.leaf(t, xs)] {
                        for &(target, w) in values {
                            acc[target as usize] += w;
                        }
                    }
                }
                y.extend(acc);
            }
            y
        }
    }
}
