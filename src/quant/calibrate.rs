//! Choosing fixed-point exponents from calibration data.

use serde::{Deserialize, Serialize};

use super::{to_fixed, Error, QNode, QOp, QValue, QuantModel, Result};
use crate::graph::{eval_f64, Graph, Op};

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
}

impl Default for QuantConfig {
    fn default() -> Self {
        Self {
            act_bits: 32,
            max_act_frac_bits: 16,
            weight_bits: 24,
            max_weight_frac_bits: 16,
            headroom: 4.0,
        }
    }
}

/// Largest exponent at which `max_abs * headroom` still fits `bits` signed bits, capped.
fn exponent(max_abs: f64, bits: u32, headroom: f64, cap: i32) -> i32 {
    if max_abs == 0.0 {
        return cap;
    }
    let room = ((1u64 << (bits - 1)) - 1) as f64 / (max_abs * headroom);
    (room.log2().floor() as i32).min(cap)
}

/// Quantizes `graph` with exponents chosen from the calibration samples (flattened inputs).
pub fn quantize(graph: &Graph, samples: &[Vec<Vec<f64>>], cfg: &QuantConfig) -> Result<QuantModel> {
    if samples.is_empty() {
        return Err(Error::NoCalibration);
    }
    let mut max_abs = vec![0f64; graph.values.len()];
    for s in samples {
        for (v, vals) in eval_f64(graph, s)?.iter().enumerate() {
            max_abs[v] = vals.iter().fold(max_abs[v], |m, x| m.max(x.abs()));
        }
    }
    let mut exp: Vec<Option<i32>> = vec![None; graph.values.len()];
    for &v in &graph.inputs {
        exp[v] = Some(exponent(
            max_abs[v],
            cfg.act_bits,
            cfg.headroom,
            cfg.max_act_frac_bits,
        ));
    }
    let mut nodes = Vec::with_capacity(graph.nodes.len());
    for node in &graph.nodes {
        let ex = exp[node.inputs[0]].expect("inputs are quantized before their users");
        let (op, ey) = match &node.op {
            Op::Linear { weight, bias } => {
                let wmax = weight.data.iter().fold(0f64, |m, x| m.max(x.abs()));
                let ew = exponent(wmax, cfg.weight_bits, 1.0, cfg.max_weight_frac_bits);
                let ey = exponent(
                    max_abs[node.output],
                    cfg.act_bits,
                    cfg.headroom,
                    cfg.max_act_frac_bits,
                )
                .min(ex + ew);
                let out = weight.shape[0];
                let bias = match bias {
                    Some(b) => b.iter().map(|&x| to_fixed(x, ex + ew)).collect(),
                    None => vec![0; out],
                };
                let op = QOp::Linear {
                    out,
                    inp: weight.shape[1],
                    weight: weight
                        .data
                        .iter()
                        .map(|&x| to_fixed(x, ew) as i64)
                        .collect(),
                    weight_exp: ew,
                    bias,
                    shift: (ex + ew - ey) as u32,
                };
                (op, ey)
            }
            Op::AddConst { constant } => (
                QOp::AddConst {
                    constant: constant.iter().map(|&c| to_fixed(c, ex) as i64).collect(),
                },
                ex,
            ),
            Op::Add => {
                let eb = exp[node.inputs[1]].expect("quantized before use");
                let ey = ex.max(eb);
                (
                    QOp::Add {
                        shift_a: (ey - ex) as u32,
                        shift_b: (ey - eb) as u32,
                    },
                    ey,
                )
            }
            Op::Relu => (QOp::Relu, ex),
            Op::Reshape => (QOp::Reshape, ex),
        };
        exp[node.output] = Some(ey);
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
            exp: exp[v].unwrap_or(0),
            calibrated_max: max_abs[v],
        })
        .collect();
    let model = QuantModel {
        act_bits: cfg.act_bits,
        values,
        inputs: graph.inputs.clone(),
        nodes,
        outputs: graph.outputs.clone(),
    };
    for s in samples {
        model.eval(s)?;
    }
    Ok(model)
}
