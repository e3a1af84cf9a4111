//! Gemm, MatMul (batched, numpy broadcasting) and BatchNormalization.

use tract_onnx::pb;
use tract_onnx::tract_core::ndarray::{ArrayD, IxDyn};

use super::super::{Importer, Result, Val};
use super::{broadcast_index, broadcast_shape, strides};
use crate::graph::{Affine, Groups, Op, Term};

/// `y[o] = alpha * sum over (i, j) in pairs[o] of a[i] * b[j] + beta * c[c_idx[o]]`.
#[allow(clippy::too_many_arguments)]
fn products(
    imp: &mut Importer,
    node: &pb::NodeProto,
    a: Val,
    b: Val,
    pairs: Vec<Vec<(usize, usize)>>,
    out: Vec<usize>,
    alpha: f64,
    c: Option<(Val, Vec<usize>, f64)>,
) -> Result<()> {
    let flat = |v: &ArrayD<f64>| v.iter().copied().collect::<Vec<f64>>();
    match (&a, &b) {
        (Val::Const(x), Val::Const(y)) => {
            let (xs, ys) = (flat(x), flat(y));
            let cs = match &c {
                Some((Val::Const(ct), idx, beta)) => {
                    let cv = flat(ct);
                    idx.iter().map(|&i| beta * cv[i]).collect()
                }
                Some((Val::Dyn(_), ..)) => {
                    return Err(imp.node_err(
                        node,
                        "a computed bias on constant operands is not supported",
                    ))
                }
                None => vec![0.0; pairs.len()],
            };
            let data = pairs
                .iter()
                .zip(cs)
                .map(|(p, cb)| alpha * p.iter().map(|&(i, j)| xs[i] * ys[j]).sum::<f64>() + cb)
                .collect();
            let t = ArrayD::from_shape_vec(IxDyn(&out), data).expect("length");
            imp.bind(node, 0, Val::Const(t))
        }
        (Val::Dyn(x), Val::Dyn(y)) => {
            if alpha != 1.0 || c.is_some() {
                return Err(imp.node_err(
                    node,
                    "a product of two computed tensors with alpha != 1 or a bias is not supported",
                ));
            }
            let g = Groups::from_lists(
                pairs
                    .iter()
                    .map(|p| p.iter().flat_map(|&(i, j)| [i, j]).collect()),
            );
            imp.push(node, Op::Mul(g), vec![*x, *y], out)
        }
        (Val::Dyn(x), Val::Const(w)) | (Val::Const(w), Val::Dyn(x)) => {
            let dyn_left = matches!(a, Val::Dyn(_));
            let ws = flat(w);
            let mut inputs = vec![*x];
            let (cvals, cdyn) = match &c {
                Some((Val::Const(ct), idx, beta)) => {
                    let cv = flat(ct);
                    (idx.iter().map(|&i| beta * cv[i]).collect::<Vec<_>>(), None)
                }
                Some((Val::Dyn(cv), idx, beta)) => {
                    inputs.push(*cv);
                    (vec![0.0; pairs.len()], Some((idx.clone(), *beta)))
                }
                None => (vec![0.0; pairs.len()], None),
            };
            let mut af = Affine::new();
            for (o, p) in pairs.iter().enumerate() {
                let mut terms: Vec<Term> = p
                    .iter()
                    .filter_map(|&(i, j)| {
                        let (di, wv) = if dyn_left { (i, ws[j]) } else { (j, ws[i]) };
                        (wv != 0.0).then_some(Term {
                            input: 0,
                            index: di as u32,
                            weight: alpha * wv,
                        })
                    })
                    .collect();
                if let Some((idx, beta)) = &cdyn {
                    terms.push(Term {
                        input: 1,
                        index: idx[o] as u32,
                        weight: *beta,
                    });
                }
                af.push_row(terms, cvals[o]);
            }
            imp.push(node, Op::Affine(af), inputs, out)
        }
    }
}

pub fn gemm(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let (a, b) = (imp.input(node, 0)?, imp.input(node, 1)?);
    let (sa, sb) = (imp.shape_of(&a), imp.shape_of(&b));
    if sa.len() != 2 || sb.len() != 2 {
        return Err(imp.node_err(
            node,
            format!("A and B must be 2-D, they have shapes {sa:?} and {sb:?}"),
        ));
    }
    let (ta, tb) = (
        imp.attr_i(node, "transA", 0)? != 0,
        imp.attr_i(node, "transB", 0)? != 0,
    );
    let (m, k) = if ta { (sa[1], sa[0]) } else { (sa[0], sa[1]) };
    let (kb, n) = if tb { (sb[1], sb[0]) } else { (sb[0], sb[1]) };
    if k != kb {
        return Err(imp.node_err(
            node,
            format!("inner dimensions differ: A gives {k}, B gives {kb}"),
        ));
    }
    let ai = |r: usize, c: usize| if ta { c * sa[1] + r } else { r * sa[1] + c };
    let bi = |r: usize, c: usize| if tb { c * sb[1] + r } else { r * sb[1] + c };
    let pairs = (0..m * n)
        .map(|o| (0..k).map(|kk| (ai(o / n, kk), bi(kk, o % n))).collect())
        .collect();
    let alpha = imp.attr_f(node, "alpha", 1.0)? as f64;
    let beta = imp.attr_f(node, "beta", 1.0)? as f64;
    let c = match imp.optional_input(node, 2)? {
        Some(cv) => {
            let sc = imp.shape_of(&cv);
            // Before opset 7, C broadcasts only with broadcast=1.
            if imp.opset < 7 && imp.attr_i(node, "broadcast", 0)? == 0 && sc != [m, n] {
                return Err(imp.node_err(
                    node,
                    format!("at opset {} bias C of shape {sc:?} needs broadcast=1 to stand for [{m}, {n}]", imp.opset),
                ));
            }
            if broadcast_shape(&sc, &[m, n]).as_deref() != Some(&[m, n][..]) {
                return Err(imp.node_err(
                    node,
                    format!("bias C of shape {sc:?} does not broadcast to [{m}, {n}]"),
                ));
            }
            Some((cv, broadcast_index(&sc, &[m, n]), beta))
        }
        None => None,
    };
    products(imp, node, a, b, pairs, vec![m, n], alpha, c)
}

pub fn matmul(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let (a, b) = (imp.input(node, 0)?, imp.input(node, 1)?);
    let (mut sa, mut sb) = (imp.shape_of(&a), imp.shape_of(&b));
    let (va, vb) = (sa.len() == 1, sb.len() == 1);
    if va {
        sa.insert(0, 1);
    }
    if vb {
        sb.push(1);
    }
    let (m, k) = (sa[sa.len() - 2], sa[sa.len() - 1]);
    let (kb, n) = (sb[sb.len() - 2], sb[sb.len() - 1]);
    if k != kb {
        return Err(imp.node_err(node, format!("inner dimensions differ: {sa:?} x {sb:?}")));
    }
    let (ba, bb) = (&sa[..sa.len() - 2], &sb[..sb.len() - 2]);
    let batch = broadcast_shape(ba, bb).ok_or_else(|| {
        imp.node_err(
            node,
            format!("batch dimensions {ba:?} and {bb:?} do not broadcast"),
        )
    })?;
    let (ia, ib) = (broadcast_index(ba, &batch), broadcast_index(bb, &batch));
    let nb = ia.len().max(1);
    let mut pairs = Vec::with_capacity(nb * m * n);
    for bt in 0..nb {
        let (oa, ob) = (
            ia.get(bt).copied().unwrap_or(0) * m * k,
            ib.get(bt).copied().unwrap_or(0) * k * n,
        );
        for r in 0..m {
            for c in 0..n {
                pairs.push(
                    (0..k)
                        .map(|kk| (oa + r * k + kk, ob + kk * n + c))
                        .collect(),
                );
            }
        }
    }
    let mut out = batch;
    if !va {
        out.push(m);
    }
    if !vb {
        out.push(n);
    }
    products(imp, node, a, b, pairs, out, 1.0, None)
}

/// Inference-mode batch norm over axis 1, as a per-channel affine map (folded into a
/// preceding Conv or Gemm by the graph optimizer).
pub fn batch_norm(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    // Before opset 7, is_test=0 (the default) means training mode: batch statistics.
    if imp.opset < 7 && imp.attr_i(node, "is_test", 0)? == 0 {
        return Err(imp.node_err(
            node,
            format!("at opset {} is_test=0 normalises with the batch's own statistics (training mode); export in eval mode (is_test=1)", imp.opset),
        ));
    }
    // Before opset 9, spatial=0 keeps statistics per position as well as per channel.
    if imp.opset < 9 && imp.attr_i(node, "spatial", 1)? == 0 {
        return Err(imp.node_err(
            node,
            "spatial=0 (statistics per channel and position) is not supported; export with spatial=1",
        ));
    }
    if imp.attr_i(node, "training_mode", 0)? != 0
        || node.output.iter().skip(1).any(|o| !o.is_empty())
    {
        return Err(imp.node_err(
            node,
            "training-mode batch norm is not supported; export the model in eval mode",
        ));
    }
    let x = imp.dyn_input(node, 0)?;
    let shape = imp.graph.values[x].shape.clone();
    if shape.len() < 2 {
        return Err(imp.node_err(
            node,
            format!("input must have a channel axis, shape is {shape:?}"),
        ));
    }
    let c = shape[1];
    let get = |i: usize| -> Result<Vec<f64>> {
        let t = imp.const_input(node, i)?;
        if t.len() != c {
            return Err(imp.node_err(
                node,
                format!(
                    "input {i} has {} values, expected {c} (one per channel)",
                    t.len()
                ),
            ));
        }
        Ok(t.iter().copied().collect())
    };
    let (scale, bias, mean, var) = (get(1)?, get(2)?, get(3)?, get(4)?);
    let eps = imp.attr_f(node, "epsilon", 1e-5)? as f64;
    let inner = strides(&shape)[1];
    let n: usize = shape.iter().product();
    let mut af = Affine::new();
    for i in 0..n {
        let ch = (i / inner) % c;
        let s = scale[ch] / (var[ch] + eps).sqrt();
        af.push_row(
            [Term {
                input: 0,
                index: i as u32,
                weight: s,
            }],
            bias[ch] - mean[ch] * s,
        );
    }
    imp.push(node, Op::Affine(af), vec![x], shape)
}
