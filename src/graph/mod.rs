//! zkinfer's model IR: a straight-line list of ops over named tensors, with a float64 reference
//! evaluator. Produced by [`crate::onnx`], consumed by [`crate::quant`].

mod eval;
mod ops;
mod optimize;

pub use eval::{eval_f64, eval_op};
pub use ops::{Affine, Cmp, Func, Groups, Op, Src, Term, TreeEnsemble, TreeNode};

use serde::{Deserialize, Serialize};

/// Errors in the graph IR.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An input had a different number of values than the model expects.
    #[error(
        "input {index} ({name}) has {got} values, the model expects {expected} (shape {shape:?})"
    )]
    InputLength {
        /// Position of the input.
        index: usize,
        /// Name of the input in the model.
        name: String,
        /// Number of values given.
        got: usize,
        /// Number of values expected.
        expected: usize,
        /// The expected shape.
        shape: Vec<usize>,
    },
    /// The number of inputs differs from the model's.
    #[error("{got} inputs given, the model has {expected}")]
    InputCount {
        /// Inputs given.
        got: usize,
        /// Inputs the model has.
        expected: usize,
    },
    /// An input value is NaN or infinite (the message names its position, never the value).
    #[error(
        "input {index} value {position} is not a finite number: inputs must be finite numbers"
    )]
    NonFinite {
        /// Position of the input.
        index: usize,
        /// Position of the value inside the flattened input.
        position: usize,
    },
}

/// Result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Number of elements a shape holds.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Index of a value (tensor) in a [`Graph`].
pub type ValueId = usize;

/// A node: an op, its dynamic inputs and its single output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Name of the ONNX node it came from (for messages).
    pub name: String,
    /// The operation.
    pub op: Op,
    /// Dynamic inputs.
    pub inputs: Vec<ValueId>,
    /// The value this node defines.
    pub output: ValueId,
}

/// Shape and name of a value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValueInfo {
    /// Name in the ONNX model.
    pub name: String,
    /// Static shape.
    pub shape: Vec<usize>,
}

/// A model: inputs, topologically ordered nodes, outputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Graph {
    /// Every value, indexed by [`ValueId`].
    pub values: Vec<ValueInfo>,
    /// The model inputs.
    pub inputs: Vec<ValueId>,
    /// Nodes in evaluation order.
    pub nodes: Vec<Node>,
    /// The model outputs.
    pub outputs: Vec<ValueId>,
}

impl Graph {
    /// Number of scalar values of a value.
    pub fn numel(&self, v: ValueId) -> usize {
        numel(&self.values[v].shape)
    }

    /// Checks flattened inputs against the model: count, lengths, finiteness.
    pub fn check_inputs(&self, inputs: &[Vec<f64>]) -> Result<()> {
        check_inputs(
            inputs,
            self.inputs.iter().map(|&v| {
                (
                    self.values[v].name.as_str(),
                    self.values[v].shape.as_slice(),
                )
            }),
        )
    }

    /// Multiply-accumulate count (affine terms and products), a size measure for reports.
    pub fn macs(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| match &n.op {
                Op::Affine(a) => a.terms.len(),
                Op::Mul(g) => g.idx.len() / 2,
                _ => 0,
            })
            .sum()
    }
}

/// Checks flattened inputs against `(name, shape)` specs: count, lengths, finiteness.
pub fn check_inputs<'a>(
    inputs: &[Vec<f64>],
    specs: impl ExactSizeIterator<Item = (&'a str, &'a [usize])>,
) -> Result<()> {
    if inputs.len() != specs.len() {
        return Err(Error::InputCount {
            got: inputs.len(),
            expected: specs.len(),
        });
    }
    for (index, (data, (name, shape))) in inputs.iter().zip(specs).enumerate() {
        let expected = numel(shape);
        if data.len() != expected {
            return Err(Error::InputLength {
                index,
                name: name.to_string(),
                got: data.len(),
                expected,
                shape: shape.to_vec(),
            });
        }
        if let Some(position) = data.iter().position(|x| !x.is_finite()) {
            return Err(Error::NonFinite { index, position });
        }
    }
    Ok(())
}
