//! Fixed-point quantization and the integer evaluator.
//!
//! Every activation is an integer `q` standing for `q * 2^-exp`, with one exponent per tensor
//! chosen from calibration data, and lies in `[-2^(B-1), 2^(B-1))` for the model's activation
//! bit width `B`. Weights get their own exponent per tensor. A Linear op accumulates exactly and
//! rescales with [`rescale`], the one rounding rule of zkinfer: the integer evaluator here uses it
//! to produce the witness, and the circuit constrains exactly it.

mod calibrate;
mod eval;
mod func;
mod params;

pub use calibrate::{quantize, QuantConfig};
pub use eval::{argmax_pos, branch_taken, div_round, eval_qop, prelu_neg, tree_leaf, Trace};
pub use func::QFunc;
pub use params::{NodeParams, PARAM_BITS};

use serde::{Deserialize, Serialize};

use crate::graph::{Groups, ValueId};

/// Errors of quantization and integer evaluation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The inputs did not match the model.
    #[error(transparent)]
    Input(#[from] crate::graph::Error),
    /// No calibration sample was given.
    #[error("no calibration samples: give --calibration a JSON file with input_data, or a JSON-lines file of them")]
    NoCalibration,
    /// A value does not fit the circuit's range.
    ///
    /// The message names the node, the tensor and the range but never the value: it may be a
    /// private input or derived from one, and errors reach logs and the oracle's journal.
    #[error("node '{node}' (value '{value}'): a value is outside the range the circuit accepts, [{lo:.6}, {hi:.6}] at scale 2^-{exp}; {hint}")]
    Range {
        /// The node (or "input") producing the value.
        node: String,
        /// The tensor name.
        value: String,
        /// Smallest representable float.
        lo: f64,
        /// Largest representable float.
        hi: f64,
        /// The tensor's exponent.
        exp: i32,
        /// What to do.
        hint: &'static str,
    },
    /// A value left the domain of a non-saturating lookup table or a division was not defined.
    /// Like [`Error::Range`], the reason never contains the value.
    #[error("node '{node}' ({op}): {reason}")]
    Domain {
        /// The node.
        node: String,
        /// Its op.
        op: &'static str,
        /// What happened and what to do.
        reason: String,
    },
    /// Quantization cannot represent the model.
    #[error("cannot quantize node '{node}': {reason}")]
    Quantize {
        /// The node.
        node: String,
        /// What to change.
        reason: String,
    },
}

/// Result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The rounding rule: `y = floor((acc + 2^(d-1)) / 2^d)` (round half up) and the remainder
/// `r = acc + 2^(d-1) - y * 2^d` in `[0, 2^d)`. For `d = 0`, `y = acc` and `r = 0`.
pub fn rescale(acc: i128, d: u32) -> (i128, i128) {
    if d == 0 {
        return (acc, 0);
    }
    let shifted = acc + (1i128 << (d - 1));
    let y = shifted.div_euclid(1i128 << d);
    (y, shifted - (y << d))
}

/// Rounds a float to the nearest integer at exponent `exp`.
pub fn to_fixed(x: f64, exp: i32) -> i128 {
    (x * 2f64.powi(exp)).round() as i128
}

/// The float an integer stands for at exponent `exp`.
pub fn to_float(q: i128, exp: i32) -> f64 {
    q as f64 * 2f64.powi(-exp)
}

/// One term of a quantized affine row: `coef * inputs[input][index]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct QTerm {
    /// Position in the node's input list.
    pub input: u32,
    /// Flattened index in that input.
    pub index: u32,
    /// Integer coefficient at exponent `acc exp - input exp`.
    pub coef: i64,
}

/// Where a quantized Gather output comes from.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum QSrc {
    /// `inputs[input][index]`.
    In {
        /// Position in the node's input list.
        input: u32,
        /// Flattened index.
        index: u32,
    },
    /// An integer constant at the output's exponent.
    Const(i64),
}

/// A quantized tree node: a branch tests `x[feature] <= threshold` (negated if `negate`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum QTreeNode {
    /// A comparison.
    Branch {
        /// Feature index.
        feature: u32,
        /// Integer threshold at the input's exponent.
        threshold: i64,
        /// True if the branch goes to `yes` when `x > threshold`.
        negate: bool,
        /// Taken when the (possibly negated) test holds.
        yes: u32,
        /// Taken otherwise.
        no: u32,
    },
    /// A leaf: `(target, integer weight at the output exponent)`.
    Leaf {
        /// Contributions.
        values: Vec<(u32, i64)>,
    },
}

/// A quantized op. The integer meaning of each is in [`eval`]; the circuit constrains exactly it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum QOp {
    /// `acc[o] = bias[o] + sum coef * x`, then `y = rescale(acc, shift)`.
    Affine {
        /// Row offsets (outputs + 1).
        rows: Vec<u32>,
        /// Terms, row after row.
        terms: Vec<QTerm>,
        /// Integer bias at the accumulator exponent.
        bias: Vec<i128>,
        /// Rescale from the accumulator exponent to the output's.
        shift: u32,
    },
    /// Copies and constants.
    Gather(Vec<QSrc>),
    /// `y[o] = rescale(sum over pairs of x0[a] * x1[b], shift)`.
    Mul {
        /// Pairs per output, interleaved `a, b`.
        pairs: Groups,
        /// Rescale shift.
        shift: u32,
    },
    /// `y[o] = round_half_up(x0[num[o]] * 2^shift / x1[den[o]])`, denominator positive.
    Div {
        /// Numerator indices.
        num: Vec<u32>,
        /// Denominator indices.
        den: Vec<u32>,
        /// Left shift of the numerator.
        shift: u32,
    },
    /// `max(x, 0)`.
    Relu,
    /// `x` if `x >= 0`, else `rescale(x * slope[i], slope_exp)`.
    Prelu {
        /// Integer slopes at `slope_exp`.
        slope: Vec<i64>,
        /// Exponent of the slopes.
        slope_exp: u32,
    },
    /// `min(max(x, lo), hi)` at the input's exponent.
    Clip {
        /// Lower bound.
        lo: Option<i64>,
        /// Upper bound.
        hi: Option<i64>,
    },
    /// A table lookup.
    Func(QFunc),
    /// Group maxima.
    Max(Groups),
    /// First index of the group maximum, mapped to labels.
    ArgMax {
        /// Groups.
        groups: Groups,
        /// Value for each position of a group.
        labels: Vec<i64>,
    },
    /// Tree ensemble: `y[t] = base[t] + sum of the reached leaves`.
    Trees {
        /// Features per sample.
        features: usize,
        /// Trees, root first.
        trees: Vec<Vec<QTreeNode>>,
        /// Base per target at the output exponent.
        base: Vec<i64>,
    },
}

impl QOp {
    /// A short name for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            QOp::Affine { .. } => "Affine",
            QOp::Gather(_) => "Gather",
            QOp::Mul { .. } => "Mul",
            QOp::Div { .. } => "Div",
            QOp::Relu => "Relu",
            QOp::Prelu { .. } => "Prelu",
            QOp::Clip { .. } => "Clip",
            QOp::Func(f) => f.func.name(),
            QOp::Max(_) => "Max",
            QOp::ArgMax { .. } => "ArgMax",
            QOp::Trees { .. } => "Trees",
        }
    }
}

/// A quantized node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QNode {
    /// Name of the ONNX node.
    pub name: String,
    /// The op.
    pub op: QOp,
    /// Dynamic inputs.
    pub inputs: Vec<ValueId>,
    /// Output value.
    pub output: ValueId,
}

/// A quantized value (tensor).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QValue {
    /// Name in the ONNX model.
    pub name: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Fixed-point exponent: `q` stands for `q * 2^-exp`.
    pub exp: i32,
    /// Largest |float| seen in calibration.
    pub calibrated_max: f64,
}

impl QValue {
    /// Number of scalars.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// A fixed-point model: what the circuit proves and the integer evaluator computes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuantModel {
    /// Every activation lies in `[-2^(act_bits-1), 2^(act_bits-1))`.
    pub act_bits: u32,
    /// The range-check limb width the widths were aligned to: `act_bits - 1` and the rescale
    /// shifts are multiples of it where they can be, so each range check fills whole limbs of
    /// the circuit's range table (0: none, builds from before the alignment).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub limb_bits: u32,
    /// All values, indexed by `ValueId`.
    pub values: Vec<QValue>,
    /// Model inputs.
    pub inputs: Vec<ValueId>,
    /// Nodes in evaluation order.
    pub nodes: Vec<QNode>,
    /// Model outputs (public instances, in order).
    pub outputs: Vec<ValueId>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl QuantModel {
    /// Inclusive bounds of an activation integer.
    pub fn act_bounds(&self) -> (i128, i128) {
        let h = 1i128 << (self.act_bits - 1);
        (-h, h - 1)
    }

    /// Number of public output scalars.
    pub fn num_outputs(&self) -> usize {
        self.outputs.iter().map(|&v| self.values[v].numel()).sum()
    }

    /// Quantizes flattened float inputs, refusing values outside the circuit's range.
    pub fn quantize_inputs(&self, inputs: &[Vec<f64>]) -> Result<Vec<Vec<i128>>> {
        inputs
            .iter()
            .zip(&self.inputs)
            .map(|(data, &v)| {
                let exp = self.values[v].exp;
                data.iter()
                    .map(|&x| self.check_range("input", v, to_fixed(x, exp)))
                    .collect()
            })
            .collect()
    }

    /// Returns `q` if it is within the activation range, else a [`Error::Range`] naming the node.
    pub fn check_range(&self, node: &str, v: ValueId, q: i128) -> Result<i128> {
        let (lo, hi) = self.act_bounds();
        if (lo..=hi).contains(&q) {
            return Ok(q);
        }
        let info = &self.values[v];
        Err(Error::Range {
            node: node.to_string(),
            value: info.name.clone(),
            lo: to_float(lo, info.exp),
            hi: to_float(hi, info.exp),
            exp: info.exp,
            hint: "the input is far outside the calibration data; rebuild with calibration samples that cover it",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescale_is_round_half_up_with_remainder_in_range() {
        for acc in -1000i128..1000 {
            for d in 0..6u32 {
                let (y, r) = rescale(acc, d);
                assert!((0..(1i128 << d)).contains(&r));
                assert_eq!(
                    y * (1i128 << d) + r,
                    acc + if d == 0 { 0 } else { 1i128 << (d - 1) }
                );
                let exact = acc as f64 / 2f64.powi(d as i32);
                assert_eq!(y as f64, (exact + 0.5).floor(), "acc {acc} d {d}");
            }
        }
    }
}

impl QuantModel {
    /// Checks flattened inputs against the model: count, lengths, finiteness.
    pub fn check_inputs(&self, inputs: &[Vec<f64>]) -> Result<()> {
        let specs = self.inputs.iter().map(|&v| {
            (
                self.values[v].name.as_str(),
                self.values[v].shape.as_slice(),
            )
        });
        Ok(crate::graph::check_inputs(inputs, specs)?)
    }
}

#[cfg(test)]
mod private_values {
    use super::*;
    use crate::graph::Func;

    /// `x -> e = exp(x)` with a small table, and `x, d -> q = x / d`, at 16 bits.
    fn model() -> QuantModel {
        let value = |name: &str| QValue {
            name: name.into(),
            shape: vec![1],
            exp: 8,
            calibrated_max: 1.0,
        };
        let exp = QFunc {
            func: Func::Exp,
            in_shift: 0,
            table_exp: 8,
            out_exp: 8,
            lo: -2048,
            hi: 256,
            sat_lo: true,
            sat_hi: false,
        };
        QuantModel {
            act_bits: 16,
            limb_bits: 0,
            values: ["x", "d", "e", "q"].map(value).to_vec(),
            inputs: vec![0, 1],
            nodes: vec![
                QNode {
                    name: "e".into(),
                    op: QOp::Func(exp),
                    inputs: vec![0],
                    output: 2,
                },
                QNode {
                    name: "q".into(),
                    op: QOp::Div {
                        num: vec![0],
                        den: vec![0],
                        shift: 0,
                    },
                    inputs: vec![0, 1],
                    output: 3,
                },
            ],
            outputs: vec![2, 3],
        }
    }

    /// Errors name the node, the value and the allowed range, never the value itself: it is a
    /// private input or derived from one.
    #[test]
    fn errors_do_not_contain_the_values() {
        let m = model();
        let leaks = |err: String, secrets: &[&str]| {
            for s in secrets {
                assert!(!err.contains(s), "'{s}' leaked: {err}");
            }
            err
        };
        // Beyond the exp table (12345 / 256 = 48.22...).
        let err = m
            .eval(&[vec![48.22265625], vec![1.0]])
            .expect_err("refused")
            .to_string();
        let err = leaks(err, &["12345", "48.22"]);
        assert!(
            err.contains("node 'e'") && err.contains("outside the table's domain"),
            "{err}"
        );
        // Outside the 16-bit range (40000 / 256 = 156.25).
        let err = m
            .eval(&[vec![156.25], vec![1.0]])
            .expect_err("refused")
            .to_string();
        let err = leaks(err, &["40000", "156.25"]);
        assert!(
            err.contains("'x'") && err.contains("outside the range"),
            "{err}"
        );
        // A negative denominator (-7 / 256 = -0.02734375).
        let err = m
            .eval(&[vec![-0.5], vec![-0.02734375]])
            .expect_err("refused")
            .to_string();
        let err = leaks(err, &["-7", "-0.0273"]);
        assert!(
            err.contains("node 'q'") && err.contains("not positive"),
            "{err}"
        );
        // A non-finite input names its position only.
        let err = m
            .eval(&[vec![f64::NEG_INFINITY], vec![1.0]])
            .expect_err("refused")
            .to_string();
        let err = leaks(err, &["inf"]);
        assert!(err.contains("not a finite number"), "{err}");
    }
}
