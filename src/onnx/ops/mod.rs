//! The op registry: one small converter per ONNX op family, looked up by domain and op type.
//! Converters lower each ONNX op to the primitive ops of [`crate::graph::Op`]; ops whose inputs
//! are all constants are folded at import time.

mod activation;
mod arith;
mod conv;
mod linear;
mod ml;
mod reduce;
mod shape;

use tract_onnx::pb;
use tract_onnx::tract_core::ndarray::{ArrayD, IxDyn};

use super::{Importer, Result};

/// A converter appends the IR for one ONNX node.
pub type Converter = fn(&mut Importer, &pb::NodeProto) -> Result<()>;

const REGISTRY: &[(&str, Converter)] = &[
    // data movement and shapes
    ("Reshape", shape::reshape),
    ("Flatten", shape::flatten),
    ("Transpose", shape::transpose),
    ("Squeeze", shape::squeeze),
    ("Unsqueeze", shape::unsqueeze),
    ("Concat", shape::concat),
    ("Slice", shape::slice),
    ("Pad", shape::pad),
    ("Gather", shape::gather),
    ("Expand", shape::expand),
    ("Tile", shape::tile),
    ("Split", shape::split),
    ("Identity", shape::identity),
    ("Dropout", shape::dropout),
    ("Cast", shape::cast),
    ("Shape", shape::shape),
    ("Constant", shape::constant),
    ("ConstantOfShape", shape::constant_of_shape),
    // arithmetic
    ("Add", arith::add),
    ("Sub", arith::sub),
    ("Mul", arith::mul),
    ("Div", arith::div),
    ("Neg", arith::neg),
    ("Sum", arith::sum),
    ("Sqrt", arith::sqrt),
    ("Reciprocal", arith::reciprocal),
    ("Pow", arith::pow),
    // linear layers
    ("Gemm", linear::gemm),
    ("MatMul", linear::matmul),
    ("BatchNormalization", linear::batch_norm),
    ("Conv", conv::conv),
    ("ConvTranspose", conv::conv_transpose),
    ("MaxPool", conv::max_pool),
    ("AveragePool", conv::average_pool),
    ("GlobalAveragePool", conv::global_average_pool),
    ("GlobalMaxPool", conv::global_max_pool),
    // reductions
    ("ReduceMean", reduce::reduce_mean),
    ("ReduceSum", reduce::reduce_sum),
    ("ReduceMax", reduce::reduce_max),
    ("ArgMax", reduce::argmax),
    ("Softmax", reduce::softmax),
    ("LogSoftmax", reduce::log_softmax),
    // activations
    ("Relu", activation::relu),
    ("LeakyRelu", activation::leaky_relu),
    ("PRelu", activation::prelu),
    ("Clip", activation::clip),
    ("HardSigmoid", activation::hard_sigmoid),
    ("Sigmoid", activation::sigmoid),
    ("Tanh", activation::tanh),
    ("Exp", activation::exp),
    ("Log", activation::log),
];

const ML_REGISTRY: &[(&str, Converter)] = &[
    ("TreeEnsembleClassifier", ml::tree_ensemble_classifier),
    ("TreeEnsembleRegressor", ml::tree_ensemble_regressor),
    ("LinearClassifier", ml::linear_classifier),
    ("LinearRegressor", ml::linear_regressor),
    ("Normalizer", ml::normalizer),
    ("ZipMap", ml::zipmap),
];

/// The op types zkinfer imports, for messages.
pub fn supported() -> Vec<String> {
    REGISTRY
        .iter()
        .map(|(n, _)| n.to_string())
        .chain(
            ML_REGISTRY
                .iter()
                .filter(|(n, _)| *n != "ZipMap")
                .map(|(n, _)| format!("ai.onnx.ml.{n}")),
        )
        .collect()
}

/// The converter for a node, if its op is supported.
pub fn converter(node: &pb::NodeProto) -> Option<Converter> {
    let table = match node.domain.as_str() {
        "" | "ai.onnx" => REGISTRY,
        "ai.onnx.ml" => ML_REGISTRY,
        _ => return None,
    };
    table
        .iter()
        .find(|(name, _)| *name == node.op_type)
        .map(|(_, f)| *f)
}

/// Normalises a possibly negative axis for a tensor of rank `rank`.
fn axis(imp: &Importer, node: &pb::NodeProto, a: i64, rank: usize) -> Result<usize> {
    let r = rank as i64;
    let v = if a < 0 { a + r } else { a };
    if (0..r).contains(&v) {
        Ok(v as usize)
    } else {
        Err(imp.node_err(node, format!("axis {a} is out of range for rank {rank}")))
    }
}

/// Numpy-style broadcast of two shapes.
fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let get = |s: &[usize], i: usize| {
        let off = n - s.len();
        if i < off {
            1
        } else {
            s[i - off]
        }
    };
    (0..n)
        .map(|i| {
            let (x, y) = (get(a, i), get(b, i));
            match (x, y) {
                _ if x == y => Some(x),
                (1, _) => Some(y),
                (_, 1) => Some(x),
                _ => None,
            }
        })
        .collect()
}

/// For each element of `out` (row-major), the flat index of the element of a tensor of shape
/// `shape` that broadcasts to it.
fn broadcast_index(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let n: usize = shape.iter().product();
    let idx = ArrayD::from_shape_vec(IxDyn(shape), (0..n).collect::<Vec<usize>>())
        .expect("shape matches length");
    let b = idx.broadcast(IxDyn(out)).expect("shapes broadcast");
    b.iter().copied().collect()
}

/// Row-major strides of a shape.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Every multi-index of `dims`, row-major.
fn multi_indices(dims: &[usize]) -> Vec<Vec<usize>> {
    let n: usize = dims.iter().product();
    let st = strides(dims);
    (0..n)
        .map(|f| {
            dims.iter()
                .zip(&st)
                .map(|(&d, &s)| (f / s) % d.max(1))
                .collect()
        })
        .collect()
}
