//! What quantization did to a model: the float reference against the bit-exact integer
//! evaluator (which is what the circuit proves), per output, over many samples; and what
//! calibration tried ([`CalibrationReport`]).

use serde::{Deserialize, Serialize};

use crate::graph::{eval_f64, Graph};
use crate::quant::{QuantConfig, QuantModel};

/// Errors and agreement of one model output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputFidelity {
    /// Output name.
    pub name: String,
    /// Largest absolute error over every sample and element.
    pub max_abs_error: f64,
    /// Mean absolute error over every sample and element.
    pub mean_abs_error: f64,
    /// For class scores (last axis of 2 or more) and class labels: the share of rows where the
    /// predicted class agrees.
    pub agreement: Option<f64>,
}

/// Fidelity over a set of samples.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FidelityReport {
    /// Samples compared.
    pub samples: usize,
    /// Where the float outputs come from.
    pub reference: String,
    /// Per output.
    pub outputs: Vec<OutputFidelity>,
    /// Max absolute error per output scalar (flattened over outputs).
    pub max_abs_error: Vec<f64>,
    /// Max over all outputs.
    pub max_abs_error_overall: f64,
    /// Lowest agreement over the outputs that have one.
    pub min_agreement: Option<f64>,
}

// What calibration tried: the quantization candidates and the one kept.

/// What calibration optimises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The candidate with the smallest output error (ties: the smaller circuit).
    Accuracy,
    /// The smallest circuit whose class agreement matches the best candidate's and whose error
    /// stays within 10x of the best (or within --max-error / --min-agreement when given).
    Resources,
}

impl Target {
    /// Quantization candidates `(max fractional bits, table bits)` tried for this target.
    pub fn candidates(self, base: &QuantConfig) -> Vec<QuantConfig> {
        let grid: &[(i32, u32)] = match self {
            Target::Accuracy => &[(16, 12), (16, 14)],
            Target::Resources => &[(8, 8), (10, 10), (12, 10), (12, 12), (16, 12)],
        };
        grid.iter()
            .map(|&(f, l)| QuantConfig {
                max_act_frac_bits: f,
                lut_bits: l,
                ..base.clone()
            })
            .collect()
    }
}

/// One quantization candidate calibration tried.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Most fractional bits of an activation.
    pub max_act_frac_bits: i32,
    /// Most rows of a function table (log2).
    pub lut_bits: u32,
    /// Resulting logrows.
    pub logrows: Option<u32>,
    /// Max abs error over the calibration set.
    pub max_abs_error: Option<f64>,
    /// Lowest class agreement.
    pub min_agreement: Option<f64>,
    /// Why the candidate could not be built.
    pub failure: Option<String>,
    /// Whether it was kept.
    pub chosen: bool,
}

/// What calibration tried and chose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibrationReport {
    /// The target.
    pub target: Target,
    /// Every candidate, in order.
    pub tried: Vec<Candidate>,
}

fn argmax(x: &[f64]) -> usize {
    let mut b = 0;
    for (i, v) in x.iter().enumerate() {
        if *v > x[b] {
            b = i;
        }
    }
    b
}

/// Accumulates fidelity figures sample by sample.
pub struct FidelityAcc {
    names: Vec<String>,
    shapes: Vec<Vec<usize>>,
    is_label: Vec<bool>,
    sum_err: Vec<f64>,
    count: Vec<usize>,
    max_err: Vec<Vec<f64>>,
    agree: Vec<(usize, usize)>,
    samples: usize,
}

impl FidelityAcc {
    /// For the outputs of `model`.
    pub fn new(model: &QuantModel) -> Self {
        let n = model.outputs.len();
        let is_label = model
            .nodes
            .iter()
            .filter(|nd| model.outputs.contains(&nd.output))
            .map(|nd| (nd.output, matches!(nd.op, crate::quant::QOp::ArgMax { .. })))
            .collect::<Vec<_>>();
        Self {
            names: model
                .outputs
                .iter()
                .map(|&v| model.values[v].name.clone())
                .collect(),
            shapes: model
                .outputs
                .iter()
                .map(|&v| model.values[v].shape.clone())
                .collect(),
            is_label: model
                .outputs
                .iter()
                .map(|v| is_label.iter().any(|(o, l)| o == v && *l))
                .collect(),
            sum_err: vec![0.0; n],
            count: vec![0; n],
            max_err: model
                .outputs
                .iter()
                .map(|&v| vec![0.0; model.values[v].numel()])
                .collect(),
            agree: vec![(0, 0); n],
            samples: 0,
        }
    }

    /// Adds one sample's float and quantized outputs.
    pub fn add(&mut self, float: &[Vec<f64>], quant: &[Vec<f64>]) {
        self.samples += 1;
        for (o, (f, q)) in float.iter().zip(quant).enumerate() {
            for (k, (a, b)) in f.iter().zip(q).enumerate() {
                let e = (a - b).abs();
                self.sum_err[o] += e;
                self.count[o] += 1;
                if let Some(m) = self.max_err[o].get_mut(k) {
                    *m = m.max(e);
                }
            }
            let last = self.shapes[o].last().copied().unwrap_or(1);
            if self.is_label[o] {
                for (a, b) in f.iter().zip(q) {
                    self.agree[o].0 += (a.round() == b.round()) as usize;
                    self.agree[o].1 += 1;
                }
            } else if last >= 2 && f.len() == q.len() {
                for (ra, rb) in f.chunks(last).zip(q.chunks(last)) {
                    self.agree[o].0 += (argmax(ra) == argmax(rb)) as usize;
                    self.agree[o].1 += 1;
                }
            }
        }
    }

    /// The report.
    pub fn finish(self, reference: &str) -> FidelityReport {
        let outputs: Vec<OutputFidelity> = (0..self.names.len())
            .map(|o| OutputFidelity {
                name: self.names[o].clone(),
                max_abs_error: self.max_err[o].iter().cloned().fold(0.0, f64::max),
                mean_abs_error: self.sum_err[o] / self.count[o].max(1) as f64,
                agreement: (self.agree[o].1 > 0)
                    .then(|| self.agree[o].0 as f64 / self.agree[o].1 as f64),
            })
            .collect();
        let max_abs_error: Vec<f64> = self.max_err.into_iter().flatten().collect();
        FidelityReport {
            samples: self.samples,
            reference: reference.into(),
            max_abs_error_overall: max_abs_error.iter().cloned().fold(0.0, f64::max),
            min_agreement: outputs.iter().filter_map(|o| o.agreement).reduce(f64::min),
            outputs,
            max_abs_error,
        }
    }
}

/// Float outputs from zkinfer's own f64 evaluation of the imported graph (used where tract
/// cannot run the model, e.g. `ai.onnx.ml` ops).
pub fn graph_outputs(
    graph: &Graph,
    inputs: &[Vec<f64>],
) -> Result<Vec<Vec<f64>>, crate::graph::Error> {
    let vals = eval_f64(graph, inputs)?;
    Ok(graph.outputs.iter().map(|&v| vals[v].clone()).collect())
}

/// Accuracy on labelled data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Samples evaluated.
    pub samples: usize,
    /// `classification` (labels are classes) or `regression`.
    pub task: String,
    /// Share of correct classes (classification) of the float model.
    pub float_accuracy: Option<f64>,
    /// Same for the quantized model.
    pub quantized_accuracy: Option<f64>,
    /// Mean absolute error against the labels (regression) of the float model.
    pub float_mae: Option<f64>,
    /// Same for the quantized model.
    pub quantized_mae: Option<f64>,
    /// Share of samples where float and quantized predictions agree (same class; regression:
    /// not reported).
    pub agreement: Option<f64>,
    /// Largest |float - quantized| over every output element.
    pub max_abs_error: f64,
}

/// The predicted class of a sample from the model's first output: a label output (an ArgMax)
/// as is, else the argmax of the scores.
fn predicted(out: &[Vec<f64>], label_output: bool) -> f64 {
    let o = &out[0];
    if label_output || o.len() == 1 {
        o[0]
    } else {
        argmax(o) as f64
    }
}

/// Evaluates the float graph and the quantized model on `samples`.
pub fn evaluate(
    graph: &Graph,
    model: &QuantModel,
    samples: &[crate::inputs::LabeledSample],
) -> Result<EvalReport, crate::quant::Error> {
    let first = model.outputs.first().copied();
    let label_output = model
        .nodes
        .iter()
        .any(|n| Some(n.output) == first && matches!(n.op, crate::quant::QOp::ArgMax { .. }));
    let classification = samples.iter().all(|s| s.label.fract() == 0.0)
        && (label_output || first.is_some_and(|v| model.values[v].numel() > 1));
    let (mut fa, mut qa, mut agree, mut fe, mut qe, mut maxe) =
        (0usize, 0usize, 0usize, 0f64, 0f64, 0f64);
    for s in samples {
        let f = graph_outputs(graph, &s.input_data)?;
        let q = model.output_floats(&model.eval(&s.input_data)?);
        for (a, b) in f.iter().flatten().zip(q.iter().flatten()) {
            maxe = maxe.max((a - b).abs());
        }
        let (pf, pq) = (predicted(&f, label_output), predicted(&q, label_output));
        if classification {
            fa += (pf == s.label) as usize;
            qa += (pq == s.label) as usize;
            agree += (pf == pq) as usize;
        } else {
            fe += (pf - s.label).abs();
            qe += (pq - s.label).abs();
        }
    }
    let n = samples.len().max(1) as f64;
    Ok(EvalReport {
        samples: samples.len(),
        task: if classification {
            "classification"
        } else {
            "regression"
        }
        .into(),
        float_accuracy: classification.then_some(fa as f64 / n),
        quantized_accuracy: classification.then_some(qa as f64 / n),
        float_mae: (!classification).then_some(fe / n),
        quantized_mae: (!classification).then_some(qe / n),
        agreement: classification.then_some(agree as f64 / n),
        max_abs_error: maxe,
    })
}
