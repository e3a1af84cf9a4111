//! Elementwise arithmetic with numpy broadcasting. By a constant it is an affine map; between
//! two computed values Add/Sub are affine, Mul and Div are their own ops.

use tract_onnx::pb;
use tract_onnx::tract_core::ndarray::{ArrayD, IxDyn};

use super::super::{Importer, Result, Val};
use super::{broadcast_index, broadcast_shape};
use crate::graph::{Affine, Groups, Op, Term};

#[derive(Clone, Copy, PartialEq)]
enum Bin {
    Add,
    Sub,
    Mul,
    Div,
}

fn apply(b: Bin, x: f64, y: f64) -> f64 {
    match b {
        Bin::Add => x + y,
        Bin::Sub => x - y,
        Bin::Mul => x * y,
        Bin::Div => x / y,
    }
}

/// Before opset 7, binary ops broadcast only when `broadcast=1`, and then B alone, aligned with
/// A's axes from `axis` (default: A's last axes), each of B's axes equal to A's or 1 (as
/// exporters of the time wrote it): B's shape with ones around it, as numpy broadcasting then
/// reads it. Without `broadcast=1` the shapes must be equal.
pub(super) fn legacy_broadcast(
    imp: &Importer,
    node: &pb::NodeProto,
    sa: &[usize],
    sb: &[usize],
) -> Result<Vec<usize>> {
    if imp.attr_i(node, "broadcast", 0)? == 0 {
        if sa != sb {
            return Err(imp.node_err(
                node,
                format!(
                    "at opset {} inputs of shapes {sa:?} and {sb:?} need broadcast=1 (before opset 7 shapes must be equal otherwise)",
                    imp.opset
                ),
            ));
        }
        return Ok(sb.to_vec());
    }
    let n: usize = sb.iter().product();
    if n == 1 {
        return Ok(vec![1; sa.len()]);
    }
    let rank = sa.len() as i64;
    let start = match super::super::proto::attr(node, "axis") {
        Some(_) => {
            let a = imp.attr_i(node, "axis", 0)?;
            if a < 0 {
                a + rank
            } else {
                a
            }
        }
        None => rank - sb.len() as i64,
    };
    let fits = start >= 0
        && start as usize + sb.len() <= sa.len()
        && sb
            .iter()
            .zip(&sa[start as usize..])
            .all(|(b, a)| b == a || *b == 1);
    if !fits {
        return Err(imp.node_err(
            node,
            format!(
                "at opset {} B of shape {sb:?} does not broadcast to A's {sa:?} from axis {start}",
                imp.opset
            ),
        ));
    }
    let mut padded = vec![1; start as usize];
    padded.extend_from_slice(sb);
    padded.resize(sa.len(), 1);
    Ok(padded)
}

fn binary(imp: &mut Importer, node: &pb::NodeProto, kind: Bin) -> Result<()> {
    let (a, b) = (imp.input(node, 0)?, imp.input(node, 1)?);
    let (sa, mut sb) = (imp.shape_of(&a), imp.shape_of(&b));
    if imp.opset < 7 {
        sb = legacy_broadcast(imp, node, &sa, &sb)?;
    }
    let out = broadcast_shape(&sa, &sb)
        .ok_or_else(|| imp.node_err(node, format!("shapes {sa:?} and {sb:?} do not broadcast")))?;
    let (ia, ib) = (broadcast_index(&sa, &out), broadcast_index(&sb, &out));
    match (&a, &b) {
        (Val::Const(x), Val::Const(y)) => {
            let (xs, ys): (Vec<f64>, Vec<f64>) =
                (x.iter().copied().collect(), y.iter().copied().collect());
            let data = ia
                .iter()
                .zip(&ib)
                .map(|(&i, &j)| apply(kind, xs[i], ys[j]))
                .collect();
            let t = ArrayD::from_shape_vec(IxDyn(&out), data).expect("broadcast length");
            imp.bind(node, 0, Val::Const(t))
        }
        (Val::Dyn(x), Val::Dyn(y)) => {
            let inputs = vec![*x, *y];
            let op = match kind {
                Bin::Add | Bin::Sub => {
                    let s = if kind == Bin::Sub { -1.0 } else { 1.0 };
                    let mut af = Affine::new();
                    for (&i, &j) in ia.iter().zip(&ib) {
                        af.push_row(
                            [
                                Term {
                                    input: 0,
                                    index: i as u32,
                                    weight: 1.0,
                                },
                                Term {
                                    input: 1,
                                    index: j as u32,
                                    weight: s,
                                },
                            ],
                            0.0,
                        );
                    }
                    Op::Affine(af)
                }
                Bin::Mul => Op::Mul(Groups::from_lists(
                    ia.iter().zip(&ib).map(|(&i, &j)| vec![i, j]),
                )),
                Bin::Div => Op::Div {
                    num: ia.iter().map(|&i| i as u32).collect(),
                    den: ib.iter().map(|&j| j as u32).collect(),
                },
            };
            imp.push(node, op, inputs, out)
        }
        (Val::Dyn(x), Val::Const(c)) | (Val::Const(c), Val::Dyn(x)) => {
            let dyn_first = matches!(a, Val::Dyn(_));
            let cs: Vec<f64> = c.iter().copied().collect();
            let mut af = Affine::new();
            for (&i, &j) in ia.iter().zip(&ib) {
                let (di, ci) = if dyn_first { (i, cs[j]) } else { (j, cs[i]) };
                let (w, bias) = match (kind, dyn_first) {
                    (Bin::Add, _) => (1.0, ci),
                    (Bin::Sub, true) => (1.0, -ci),
                    (Bin::Sub, false) => (-1.0, ci),
                    (Bin::Mul, _) => (ci, 0.0),
                    (Bin::Div, true) if ci != 0.0 => (1.0 / ci, 0.0),
                    (Bin::Div, true) => return Err(imp.node_err(node, "divides by a constant 0")),
                    (Bin::Div, false) => {
                        return Err(imp.node_err(node, "divides a constant by a computed value; only division by a constant or of two computed values is supported"))
                    }
                };
                af.push_row(
                    [Term {
                        input: 0,
                        index: di as u32,
                        weight: w,
                    }],
                    bias,
                );
            }
            imp.push(node, Op::Affine(af), vec![*x], out)
        }
    }
}

pub fn add(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    binary(imp, node, Bin::Add)
}

pub fn sub(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    binary(imp, node, Bin::Sub)
}

pub fn mul(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    binary(imp, node, Bin::Mul)
}

pub fn div(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    binary(imp, node, Bin::Div)
}

/// Variadic sum: folded pairwise into one affine map over all inputs.
pub fn sum(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let vals: Vec<Val> = (0..node.input.len())
        .map(|i| imp.input(node, i))
        .collect::<Result<_>>()?;
    let mut out: Vec<usize> = vec![];
    for v in &vals {
        out = broadcast_shape(&out, &imp.shape_of(v))
            .ok_or_else(|| imp.node_err(node, "input shapes do not broadcast"))?;
    }
    let n: usize = out.iter().product();
    let mut rows: Vec<(Vec<Term>, f64)> = vec![(vec![], 0.0); n];
    let mut inputs = vec![];
    for v in &vals {
        let idx = broadcast_index(&imp.shape_of(v), &out);
        match v {
            Val::Const(c) => {
                let cs: Vec<f64> = c.iter().copied().collect();
                for (o, &i) in idx.iter().enumerate() {
                    rows[o].1 += cs[i];
                }
            }
            Val::Dyn(x) => {
                inputs.push(*x);
                let k = (inputs.len() - 1) as u32;
                for (o, &i) in idx.iter().enumerate() {
                    rows[o].0.push(Term {
                        input: k,
                        index: i as u32,
                        weight: 1.0,
                    });
                }
            }
        }
    }
    if inputs.is_empty() {
        let t = ArrayD::from_shape_vec(IxDyn(&out), rows.iter().map(|r| r.1).collect())
            .expect("length");
        return imp.bind(node, 0, Val::Const(t));
    }
    let mut af = Affine::new();
    for (t, b) in rows {
        af.push_row(t, b);
    }
    imp.push(node, Op::Affine(af), inputs, out)
}

pub fn neg(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    match imp.input(node, 0)? {
        Val::Const(c) => imp.bind(node, 0, Val::Const(c.mapv(|v| -v))),
        Val::Dyn(x) => {
            let shape = imp.graph.values[x].shape.clone();
            let n: usize = shape.iter().product();
            let af = Affine::elementwise(n, -1.0, 0.0);
            imp.push(node, Op::Affine(af), vec![x], shape)
        }
    }
}

/// An elementwise function that is only folded on constants (exporters use it on weights).
fn const_unary(imp: &mut Importer, node: &pb::NodeProto, f: fn(f64) -> f64) -> Result<()> {
    let c = imp.const_input(node, 0)?;
    imp.bind(node, 0, Val::Const(c.mapv(f)))
}

pub fn sqrt(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    const_unary(imp, node, f64::sqrt)
}

pub fn reciprocal(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    const_unary(imp, node, |v| 1.0 / v)
}

/// Pow of constants, or of a computed value by the constant exponent 2 (a product).
pub fn pow(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let (a, b) = (imp.input(node, 0)?, imp.input(node, 1)?);
    if imp.opset < 7 {
        let (sa, sb) = (imp.shape_of(&a), imp.shape_of(&b));
        legacy_broadcast(imp, node, &sa, &sb)?;
    }
    match (&a, &b) {
        (Val::Const(x), Val::Const(y)) if y.len() == 1 => {
            let e = y.iter().next().copied().unwrap_or(1.0);
            imp.bind(node, 0, Val::Const(x.mapv(|v| v.powf(e))))
        }
        (Val::Dyn(x), Val::Const(y)) if y.len() == 1 && y.iter().next() == Some(&2.0) => {
            let shape = imp.graph.values[*x].shape.clone();
            let n: usize = shape.iter().product();
            let op = Op::Mul(Groups::from_lists((0..n).map(|i| vec![i, i])));
            imp.push(node, op, vec![*x, *x], shape)
        }
        _ => Err(imp.node_err(
            node,
            "only constant powers, and squares of computed values, are supported",
        )),
    }
}
