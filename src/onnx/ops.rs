//! The op registry: one small converter per ONNX op family, looked up by op type.

use tract_onnx::pb;

use super::proto::{attr, attr_f, attr_i};
use super::{Importer, Result, Val};
use crate::graph::{Op, Tensor};

/// A converter appends the IR for one ONNX node.
pub type Converter = fn(&mut Importer, &pb::NodeProto) -> Result<()>;

const REGISTRY: &[(&str, Converter)] = &[
    ("Gemm", gemm),
    ("MatMul", matmul),
    ("Add", add),
    ("Relu", relu),
    ("Reshape", reshape),
    ("Flatten", flatten),
    ("Identity", identity),
    ("Dropout", identity),
    ("Constant", constant),
];

/// The op types zkinfer imports (default ONNX domain).
pub const SUPPORTED: &[&str] = &[
    "Gemm", "MatMul", "Add", "Relu", "Reshape", "Flatten", "Identity", "Dropout", "Constant",
];

/// The converter for a node, if its op is supported.
pub fn converter(node: &pb::NodeProto) -> Option<Converter> {
    if !(node.domain.is_empty() || node.domain == "ai.onnx") {
        return None;
    }
    REGISTRY
        .iter()
        .find(|(name, _)| *name == node.op_type)
        .map(|(_, f)| *f)
}

/// Builds a Linear op from `x [rows, k]` and weights `[out, k]`.
fn linear(
    imp: &mut Importer,
    node: &pb::NodeProto,
    x: usize,
    weight: Tensor,
    bias: Option<Vec<f64>>,
) -> Result<()> {
    let xs = imp.shape(x).to_vec();
    let k = *xs.last().unwrap_or(&0);
    if weight.shape[1] != k {
        return Err(imp.node_err(
            node,
            format!(
                "input has {k} features per row but the weights expect {}",
                weight.shape[1]
            ),
        ));
    }
    let mut shape = xs;
    *shape.last_mut().expect("non-empty") = weight.shape[0];
    imp.push(node, Op::Linear { weight, bias }, vec![x], shape)
}

fn transpose2(t: &Tensor) -> Tensor {
    let (r, c) = (t.shape[0], t.shape[1]);
    let mut data = vec![0.0; r * c];
    for i in 0..r {
        for j in 0..c {
            data[j * r + i] = t.data[i * c + j];
        }
    }
    Tensor {
        shape: vec![c, r],
        data,
    }
}

/// Broadcasts a constant to `n` values along the last axis (a scalar, `[n]`, or `[1, n]`).
fn bias_vector(c: &Tensor, n: usize) -> Option<Vec<f64>> {
    match c.data.len() {
        1 => Some(vec![c.data[0]; n]),
        len if len == n && c.shape.iter().rev().skip(1).all(|&d| d == 1) => Some(c.data.clone()),
        _ => None,
    }
}

fn gemm(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    if attr_i(node, "transA", 0) != 0 {
        return Err(imp.node_err(
            node,
            "transA=1 is not supported; the data input must be [batch, features]",
        ));
    }
    let x = imp.dyn_input(node, 0)?;
    if imp.shape(x).len() != 2 {
        return Err(imp.node_err(
            node,
            format!("input A must be 2-D, it has shape {:?}", imp.shape(x)),
        ));
    }
    let b = imp.const_input(node, 1)?.clone();
    if b.shape.len() != 2 {
        return Err(imp.node_err(
            node,
            format!("input B must be a 2-D constant, it has shape {:?}", b.shape),
        ));
    }
    let alpha = attr_f(node, "alpha", 1.0) as f64;
    let beta = attr_f(node, "beta", 1.0) as f64;
    let mut w = if attr_i(node, "transB", 0) != 0 {
        b
    } else {
        transpose2(&b)
    };
    w.data.iter_mut().for_each(|v| *v *= alpha);
    let out = w.shape[0];
    let bias = match imp.optional_input(node, 2)? {
        None => None,
        Some(Val::Const(c)) => {
            let v = bias_vector(c, out).ok_or_else(|| {
                imp.node_err(
                    node,
                    format!(
                        "bias C of shape {:?} does not broadcast to {out} outputs",
                        c.shape
                    ),
                )
            })?;
            Some(v.into_iter().map(|x| x * beta).collect())
        }
        Some(Val::Dyn(_)) => return Err(imp.node_err(node, "bias C must be a constant")),
    };
    linear(imp, node, x, w, bias)
}

fn matmul(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.dyn_input(node, 0)?;
    let b = imp.const_input(node, 1)?.clone();
    if b.shape.len() != 2 {
        return Err(imp.node_err(
            node,
            format!(
                "the constant right operand must be 2-D, it has shape {:?}",
                b.shape
            ),
        ));
    }
    linear(imp, node, x, transpose2(&b), None)
}

fn add(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let (a, b) = (imp.input(node, 0)?.clone(), imp.input(node, 1)?.clone());
    match (a, b) {
        (Val::Dyn(x), Val::Const(c)) | (Val::Const(c), Val::Dyn(x)) => {
            let shape = imp.shape(x).to_vec();
            let last = *shape.last().unwrap_or(&1);
            let constant = bias_vector(&c, last).ok_or_else(|| {
                imp.node_err(
                    node,
                    format!(
                        "constant of shape {:?} does not broadcast to {shape:?}",
                        c.shape
                    ),
                )
            })?;
            imp.push(node, Op::AddConst { constant }, vec![x], shape)
        }
        (Val::Dyn(x), Val::Dyn(y)) => {
            let (sx, sy) = (imp.shape(x).to_vec(), imp.shape(y).to_vec());
            if sx != sy {
                return Err(imp.node_err(node, format!("adding shapes {sx:?} and {sy:?}: broadcasting two computed tensors is not supported")));
            }
            imp.push(node, Op::Add, vec![x, y], sx)
        }
        (Val::Const(_), Val::Const(_)) => {
            Err(imp.node_err(node, "adds two constants; fold it before export"))
        }
    }
}

fn relu(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.dyn_input(node, 0)?;
    let shape = imp.shape(x).to_vec();
    imp.push(node, Op::Relu, vec![x], shape)
}

fn identity(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    match imp.input(node, 0)?.clone() {
        Val::Const(t) => {
            let name = imp.output_name(node)?.to_string();
            imp.names.insert(name, Val::Const(t));
            Ok(())
        }
        Val::Dyn(x) => {
            let shape = imp.shape(x).to_vec();
            imp.push(node, Op::Reshape, vec![x], shape)
        }
    }
}

fn reshape(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.dyn_input(node, 0)?;
    let spec = imp.const_input(node, 1)?.data.clone();
    let from = imp.shape(x).to_vec();
    let total = Tensor::numel(&from);
    let allow_zero = attr_i(node, "allowzero", 0) != 0;
    let mut shape = Vec::with_capacity(spec.len());
    let mut infer = None;
    for (i, &d) in spec.iter().enumerate() {
        match d as i64 {
            -1 if infer.is_none() => {
                infer = Some(i);
                shape.push(1);
            }
            0 if !allow_zero => shape.push(
                *from
                    .get(i)
                    .ok_or_else(|| imp.node_err(node, "shape copies a missing dimension"))?,
            ),
            d if d > 0 => shape.push(d as usize),
            d => {
                return Err(imp.node_err(
                    node,
                    format!("target shape {spec:?} has invalid dimension {d}"),
                ))
            }
        }
    }
    if let Some(i) = infer {
        let known: usize = shape.iter().product();
        if known == 0 || total % known != 0 {
            return Err(imp.node_err(node, format!("cannot reshape {from:?} to {spec:?}")));
        }
        shape[i] = total / known;
    }
    if Tensor::numel(&shape) != total {
        return Err(imp.node_err(
            node,
            format!("cannot reshape {from:?} ({total} values) to {shape:?}"),
        ));
    }
    imp.push(node, Op::Reshape, vec![x], shape)
}

fn flatten(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.dyn_input(node, 0)?;
    let from = imp.shape(x).to_vec();
    let rank = from.len() as i64;
    let mut axis = attr_i(node, "axis", 1);
    if axis < 0 {
        axis += rank;
    }
    if !(0..=rank).contains(&axis) {
        return Err(imp.node_err(
            node,
            format!("axis {axis} is out of range for shape {from:?}"),
        ));
    }
    let (a, b) = from.split_at(axis as usize);
    let shape = vec![a.iter().product(), b.iter().product()];
    imp.push(node, Op::Reshape, vec![x], shape)
}

fn constant(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let t = if let Some(t) = attr(node, "value").and_then(|a| a.t.as_ref()) {
        super::proto::tensor(t).map_err(|r| imp.node_err(node, r))?
    } else if let Some(a) = attr(node, "value_float") {
        Tensor {
            shape: vec![],
            data: vec![a.f as f64],
        }
    } else if let Some(a) = attr(node, "value_floats") {
        Tensor {
            shape: vec![a.floats.len()],
            data: a.floats.iter().map(|&x| x as f64).collect(),
        }
    } else if let Some(a) = attr(node, "value_int") {
        Tensor {
            shape: vec![],
            data: vec![a.i as f64],
        }
    } else if let Some(a) = attr(node, "value_ints") {
        Tensor {
            shape: vec![a.ints.len()],
            data: a.ints.iter().map(|&x| x as f64).collect(),
        }
    } else {
        return Err(imp.node_err(
            node,
            "has no supported value attribute (value, value_float(s), value_int(s))",
        ));
    };
    let name = imp.output_name(node)?.to_string();
    imp.names.insert(name, Val::Const(t));
    Ok(())
}
