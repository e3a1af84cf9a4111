//! Float64 reference evaluation of a [`Graph`], used to pick quantization scales.

use super::{Graph, Op, Result};

/// Evaluates the graph in f64 and returns every value (indexed by `ValueId`), flattened.
pub fn eval_f64(graph: &Graph, inputs: &[Vec<f64>]) -> Result<Vec<Vec<f64>>> {
    graph.check_inputs(inputs)?;
    let mut vals: Vec<Vec<f64>> = vec![Vec::new(); graph.values.len()];
    for (&v, data) in graph.inputs.iter().zip(inputs) {
        vals[v] = data.clone();
    }
    for node in &graph.nodes {
        let x = &vals[node.inputs[0]];
        let y = match &node.op {
            Op::Linear { weight, bias } => {
                let (out, inn) = (weight.shape[0], weight.shape[1]);
                let rows = x.len() / inn;
                let mut y = vec![0.0; rows * out];
                for m in 0..rows {
                    for o in 0..out {
                        let w = &weight.data[o * inn..(o + 1) * inn];
                        let acc: f64 = x[m * inn..(m + 1) * inn]
                            .iter()
                            .zip(w)
                            .map(|(a, b)| a * b)
                            .sum();
                        y[m * out + o] = acc + bias.as_ref().map_or(0.0, |b| b[o]);
                    }
                }
                y
            }
            Op::AddConst { constant } => x
                .iter()
                .enumerate()
                .map(|(i, a)| a + constant[i % constant.len()])
                .collect(),
            Op::Add => x
                .iter()
                .zip(&vals[node.inputs[1]])
                .map(|(a, b)| a + b)
                .collect(),
            Op::Relu => x.iter().map(|a| a.max(0.0)).collect(),
            Op::Reshape => x.clone(),
        };
        vals[node.output] = y;
    }
    Ok(vals)
}
