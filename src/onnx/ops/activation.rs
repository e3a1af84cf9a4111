//! Elementwise activations. On constants they are folded with the same f64 definitions the
//! graph evaluator uses.

use tract_onnx::pb;

use super::super::proto::attr;
use super::super::{Importer, Result, Val};
use super::broadcast_index;
use crate::graph::{eval_op, Affine, Func, Op};

/// Applies `op` elementwise: folded on a constant, a node on a computed value.
fn unary(imp: &mut Importer, node: &pb::NodeProto, op: Op) -> Result<()> {
    match imp.input(node, 0)? {
        Val::Const(c) => {
            let data: Vec<f64> = c.iter().copied().collect();
            let y = eval_op(&op, &[&data], data.len());
            let mut out = c.clone();
            out.iter_mut().zip(y).for_each(|(o, v)| *o = v);
            imp.bind(node, 0, Val::Const(out))
        }
        Val::Dyn(x) => {
            let shape = imp.graph.values[x].shape.clone();
            imp.push(node, op, vec![x], shape)
        }
    }
}

pub fn relu(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    unary(imp, node, Op::Relu)
}

pub fn leaky_relu(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let alpha = imp.attr_f(node, "alpha", 0.01)? as f64;
    let n: usize = imp.shape_of(&imp.input(node, 0)?).iter().product();
    unary(imp, node, Op::Prelu(vec![alpha; n]))
}

pub fn prelu(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.input(node, 0)?;
    let shape = imp.shape_of(&x);
    let slope = imp.const_input(node, 1)?;
    // ONNX PRelu broadcasts the slope unidirectionally to x (numpy style) from opset 7; before,
    // a slope is one value or one per channel (axis 1), as exporters of the time wrote it.
    let mut s = slope.shape().to_vec();
    if imp.opset < 7 && shape.len() > 2 && s.len() == 1 && s[0] == shape[1] && s[0] > 1 {
        s = vec![s[0]];
        s.extend(std::iter::repeat_n(1, shape.len() - 2));
    }
    let fits = s.len() <= shape.len()
        && s.iter()
            .rev()
            .zip(shape.iter().rev())
            .all(|(&a, &b)| a == b || a == 1);
    if !fits {
        return Err(imp.node_err(
            node,
            format!("slope of shape {s:?} does not broadcast to {shape:?}"),
        ));
    }
    let sv: Vec<f64> = slope.iter().copied().collect();
    let slopes = broadcast_index(&s, &shape)
        .into_iter()
        .map(|i| sv[i])
        .collect();
    unary(imp, node, Op::Prelu(slopes))
}

pub fn clip(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let bound = |i: usize, name: &str| -> Result<Option<f64>> {
        if let Some(a) = attr(node, name) {
            return Ok(Some(a.f as f64));
        }
        Ok(imp
            .optional_const(node, i)?
            .and_then(|t| t.iter().next().copied()))
    };
    let (lo, hi) = (bound(1, "min")?, bound(2, "max")?);
    if let (Some(l), Some(h)) = (lo, hi) {
        if l > h {
            return Err(imp.node_err(node, format!("min {l} is above max {h}")));
        }
    }
    unary(imp, node, Op::Clip { lo, hi })
}

/// `max(0, min(1, alpha * x + beta))`: an affine map, then a clip.
pub fn hard_sigmoid(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let alpha = imp.attr_f(node, "alpha", 0.2)? as f64;
    let beta = imp.attr_f(node, "beta", 0.5)? as f64;
    let x = imp.dyn_input(node, 0)?;
    let shape = imp.graph.values[x].shape.clone();
    let n: usize = shape.iter().product();
    let af = Affine::elementwise(n, alpha, beta);
    let name = format!("{}/affine", imp.output_name(node, 0)?);
    let a = imp.add_node(node, &name, Op::Affine(af), vec![x], shape.clone())?;
    imp.push(
        node,
        Op::Clip {
            lo: Some(0.0),
            hi: Some(1.0),
        },
        vec![a],
        shape,
    )
}

pub fn sigmoid(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    unary(imp, node, Op::Func(Func::Sigmoid))
}

pub fn tanh(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    unary(imp, node, Op::Func(Func::Tanh))
}

pub fn exp(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    unary(imp, node, Op::Func(Func::Exp))
}

pub fn log(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    unary(imp, node, Op::Func(Func::Log))
}
