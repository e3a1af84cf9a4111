//! One function per op family: each assigns its cells, recomputes every witness from the
//! input integers with the quantizer's functions, and returns the output cells with their
//! integers.

use halo2_base::{AssignedValue, Context, QuantumCell};

use super::conv::Conv;
use super::{get, Chips, Params, Val};
use crate::circuit::chips::{
    range_check_signed, AffineInstructions, ArgMaxInstructions, ChipTreeNode, DivInstructions,
    ReluInstructions, TreeInstructions,
};
use crate::circuit::zk::{FnLookups, PolyJobs};
use crate::field::{field, Fr};
use crate::graph::Groups;
use crate::quant::{
    argmax_pos, branch_taken, div_round, prelu_neg, QFunc, QOp, QSrc, QTerm, QTreeNode,
};

/// Output cells of an op with their integers.
type Cells = Vec<(AssignedValue<Fr>, i128)>;
type Res = std::result::Result<Cells, String>;

/// What every op reads: the chips, the node's parameters, its inputs, the function tables.
pub(super) struct OpCtx<'a> {
    pub ch: &'a Chips,
    pub lookups: &'a FnLookups,
    pub tables: &'a [QFunc],
    pub prm: &'a Params<'a>,
    pub ins: &'a [&'a Val],
    /// The shapes of the inputs and of the output.
    pub shapes: (&'a [&'a [usize]], &'a [usize]),
    /// Where convolutions go as polynomial identities (none: every row is a dot product).
    pub poly: Option<&'a PolyJobs>,
}

/// Assigns one node's op; `n` is the number of outputs the node must have.
pub(super) fn assign_op(ctx: &mut Context<Fr>, o: &OpCtx, op: &QOp, n: usize) -> Res {
    match op {
        QOp::Affine {
            rows,
            terms,
            bias,
            shift,
        } => affine(ctx, o, rows, terms, bias, *shift, false),
        QOp::Gather(src) => gather(ctx, o, src),
        QOp::Mul { pairs, shift } => mul(ctx, o, pairs, *shift),
        QOp::Div { num, den, shift } => div(ctx, o, num, den, *shift),
        QOp::Relu => relu(ctx, o),
        QOp::Prelu { slope, slope_exp } => prelu(ctx, o, slope, *slope_exp),
        QOp::Clip { lo, hi } => clip(ctx, o, *lo, *hi),
        QOp::Func(f) => func(ctx, o, f),
        QOp::Max(groups) => max(ctx, o, groups),
        QOp::ArgMax { groups, labels } => argmax(ctx, o, groups, labels),
        QOp::Trees {
            features,
            trees,
            base,
        } => trees_op(ctx, o, *features, trees, base, n),
    }
}

/// An affine op followed by a ReLU that alone reads it, as one op: the rescale and the ReLU
/// share their range checks (see `RescaleInstructions::rescale_relu`). `None` when `op` is not
/// an affine op with a rescale.
pub(super) fn assign_affine_relu(ctx: &mut Context<Fr>, o: &OpCtx, op: &QOp) -> Option<Res> {
    match op {
        QOp::Affine {
            rows,
            terms,
            bias,
            shift,
        } if *shift > 0 => Some(affine(ctx, o, rows, terms, bias, *shift, true)),
        _ => None,
    }
}

/// Affine rows (dense, sparse or convolution): one row of the vertical gate (or a dot lane) per
/// output, then the rescale, with the ReLU after it fused in when `relu`.
fn affine(
    ctx: &mut Context<Fr>,
    o: &OpCtx,
    rows: &[u32],
    terms: &[QTerm],
    bias: &[i128],
    shift: u32,
    relu: bool,
) -> Res {
    if let Some(out) = affine_conv(ctx, o, rows, terms, bias, shift, relu) {
        return out;
    }
    let OpCtx { ch, prm, ins, .. } = *o;
    let mut out = Cells::new();
    for o in 0..bias.len() {
        let t = &terms[rows[o] as usize..rows[o + 1] as usize];
        let mut cells = Vec::with_capacity(t.len());
        let mut acc = bias[o];
        for (k, term) in t.iter().enumerate() {
            let (c, v) = get(ins, term.input, term.index)?;
            acc += term.coef as i128 * v;
            cells.push((c, prm.at(rows[o] as usize + k)));
        }
        // A constant bias takes the rescale's rounding term 2^(shift-1): one gate row fewer.
        let (b, biased) = match prm.at(terms.len() + o) {
            QuantumCell::Constant(b) if shift > 0 => {
                (QuantumCell::Constant(b + field(1i128 << (shift - 1))), true)
            }
            b => (b, false),
        };
        let a = ch.affine.affine_row(ctx, &cells, b);
        out.push(if relu {
            ch.rescaled_relu(ctx, a, acc, shift, biased)?
        } else {
            ch.rescaled_biased(ctx, a, acc, shift, biased)?
        });
    }
    Ok(out)
}

/// [`affine`] for an op with fixed parameters that [`Conv::detect`] recognises, when the poly
/// lane is the cheaper place for it: each output is a witness, the lane proves them all.
/// `None` otherwise.
fn affine_conv(
    ctx: &mut Context<Fr>,
    o: &OpCtx,
    rows: &[u32],
    terms: &[QTerm],
    bias: &[i128],
    shift: u32,
    relu: bool,
) -> Option<Res> {
    let OpCtx { ch, prm, ins, .. } = *o;
    let poly = o.poly?;
    let (&[input], out_shape) = (o.shapes.0, o.shapes.1) else {
        return None;
    };
    let constant = |u: usize| match prm.at(u) {
        QuantumCell::Constant(c) => Some(c),
        _ => None,
    };
    let weighted: Vec<(u32, u32, Fr)> = terms
        .iter()
        .enumerate()
        .map(|(u, t)| Some((t.input, t.index, constant(u)?)))
        .collect::<Option<_>>()?;
    let conv = Conv::detect(rows, &weighted, input, out_shape)?;
    if !conv.worth(terms.len()) || ins[0].cells.len() != input.iter().product::<usize>() {
        return None;
    }
    let round = if shift > 0 { 1i128 << (shift - 1) } else { 0 };
    // The constant biases, each with the rounding term, before any cell is laid out.
    let biases: Vec<Fr> = (0..bias.len())
        .map(|r| Some(constant(terms.len() + r)? + field(round)))
        .collect::<Option<_>>()?;
    let mut out = Cells::new();
    let mut accs = Vec::with_capacity(bias.len());
    for r in 0..bias.len() {
        let mut acc = bias[r];
        for term in &terms[rows[r] as usize..rows[r + 1] as usize] {
            let v = match get(ins, term.input, term.index) {
                Ok((_, v)) => v,
                Err(e) => return Some(Err(e)),
            };
            acc += term.coef as i128 * v;
        }
        // The cell holds the sum, the bias and the rounding term, as a dot product's would.
        let a = ctx.load_witness(field(acc + round));
        let y = if relu {
            ch.rescaled_relu(ctx, a, acc, shift, shift > 0)
        } else {
            ch.rescaled_biased(ctx, a, acc, shift, shift > 0)
        };
        match y {
            Ok(c) => out.push(c),
            Err(e) => return Some(Err(e)),
        }
        accs.push(a);
    }
    conv.queue(ctx, poly, &ins[0].cells, &accs, &biases);
    Some(Ok(out))
}

/// Copies and constants: no constraint beyond the copy.
fn gather(ctx: &mut Context<Fr>, o: &OpCtx, src: &[QSrc]) -> Res {
    let OpCtx { ch, ins, .. } = *o;
    let mut out = Cells::new();
    for s in src {
        out.push(match *s {
            QSrc::In { input, index } => get(ins, input, index)?,
            QSrc::Const(c) => ch.constant(ctx, c as i128),
        });
    }
    Ok(out)
}

/// Products of two activations, summed per output, then rescaled.
fn mul(ctx: &mut Context<Fr>, o: &OpCtx, pairs: &Groups, shift: u32) -> Res {
    let OpCtx { ch, ins, .. } = *o;
    let mut out = Cells::new();
    for o in 0..pairs.len() {
        let mut cells = vec![];
        let mut acc = 0i128;
        for p in pairs.group(o).chunks(2) {
            let (a, b) = (get(ins, 0, p[0])?, get(ins, 1, p[1])?);
            acc += a.1 * b.1;
            cells.push((a.0, b.0));
        }
        let a = ch.affine.products(ctx, &cells);
        out.push(ch.rescaled(ctx, a, acc, shift)?);
    }
    Ok(out)
}

/// Division of two activations, rounded half up (the denominator must be positive).
fn div(ctx: &mut Context<Fr>, o: &OpCtx, num: &[u32], den: &[u32], shift: u32) -> Res {
    let OpCtx { ch, ins, .. } = *o;
    let mut out = Cells::new();
    for (&i, &j) in num.iter().zip(den) {
        let (a, b) = (get(ins, 0, i)?, get(ins, 1, j)?);
        // A non-positive denominator has no honest witness; the chip then fails.
        let (y, r) = if b.1 > 0 {
            div_round(a.1, b.1, shift)
        } else {
            (0, 0)
        };
        out.push((ch.div.div(ctx, a.0, b.0, shift, field(y), field(r)), y));
    }
    Ok(out)
}

/// `max(x, 0)`.
fn relu(ctx: &mut Context<Fr>, o: &OpCtx) -> Res {
    let OpCtx { ch, ins, .. } = *o;
    let mut out = Cells::new();
    for (c, &v) in ins[0].cells.iter().zip(&ins[0].ints) {
        out.push((ch.relu.relu(ctx, *c, field(v.max(0))), v.max(0)));
    }
    Ok(out)
}

/// `x` if `x >= 0`, else `x * slope` rescaled.
fn prelu(ctx: &mut Context<Fr>, o: &OpCtx, slope: &[i64], slope_exp: u32) -> Res {
    let OpCtx { ch, prm, ins, .. } = *o;
    let mut out = Cells::new();
    for (i, ((c, &v), &s)) in ins[0].cells.iter().zip(&ins[0].ints).zip(slope).enumerate() {
        // The rescale is of 0 on the positive branch (see `ReluInstructions::prelu`).
        let (nv, nr) = prelu_neg(v.min(0), s, slope_exp);
        let y = ch
            .relu
            .prelu(ctx, *c, prm.at(i), slope_exp, v < 0, field(nv), field(nr));
        out.push((y, if v < 0 { nv } else { v }));
    }
    Ok(out)
}

/// `min(max(x, lo), hi)`.
fn clip(ctx: &mut Context<Fr>, o: &OpCtx, lo: Option<i64>, hi: Option<i64>) -> Res {
    let OpCtx { ch, ins, .. } = *o;
    let mut out = Cells::new();
    for (c, &v) in ins[0].cells.iter().zip(&ins[0].ints) {
        let mut x = (*c, v);
        if let Some(l) = lo {
            let l = ch.constant(ctx, l as i128);
            x = ch.max2(ctx, x, l);
        }
        if let Some(h) = hi {
            let h = ch.constant(ctx, h as i128);
            x = ch.min2(ctx, x, h);
        }
        out.push(x);
    }
    Ok(out)
}

/// A function table: the input rescaled to the table's step (saturated at its ends) and looked up.
fn func(ctx: &mut Context<Fr>, o: &OpCtx, f: &QFunc) -> Res {
    let OpCtx {
        ch,
        lookups,
        tables,
        ..
    } = *o;
    let ins = o.ins;
    let mut out = Cells::new();
    let tag = tables
        .iter()
        .position(|t| t == f)
        .ok_or("function table missing from the circuit")? as u64
        + 1;
    for (c, &v) in ins[0].cells.iter().zip(&ins[0].ints) {
        let step = f.apply(v);
        let mut x = ch.rescaled(ctx, *c, v, f.in_shift)?;
        if f.sat_lo {
            let l = ch.constant(ctx, f.lo as i128);
            x = ch.max2(ctx, x, l);
        }
        if f.sat_hi {
            let h = ch.constant(ctx, f.hi as i128);
            x = ch.min2(ctx, x, h);
        }
        // Outside the table there is no honest witness; the lookup then fails.
        let y = step.y.unwrap_or(0);
        let yc = ctx.load_witness(field(y));
        lookups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((tag, x.0, yc));
        out.push((yc, y));
    }
    Ok(out)
}

/// Group maxima.
fn max(ctx: &mut Context<Fr>, o: &OpCtx, groups: &Groups) -> Res {
    let OpCtx { ch, ins, .. } = *o;
    let mut out = Cells::new();
    for g in 0..groups.len() {
        let idx = groups.group(g);
        let mut m = get(ins, 0, *idx.first().ok_or("empty max group")?)?;
        for &i in &idx[1..] {
            let x = get(ins, 0, i)?;
            m = ch.max2(ctx, m, x);
        }
        out.push(m);
    }
    Ok(out)
}

/// The label of the first maximum of each group.
fn argmax(ctx: &mut Context<Fr>, o: &OpCtx, groups: &Groups, labels: &[i64]) -> Res {
    let OpCtx { ch, ins, .. } = *o;
    let mut out = Cells::new();
    for g in 0..groups.len() {
        let idx = groups.group(g);
        let xs: Vec<AssignedValue<Fr>> = idx
            .iter()
            .map(|&i| get(ins, 0, i).map(|x| x.0))
            .collect::<std::result::Result<_, _>>()?;
        let hot = argmax_pos(idx, &ins[0].ints);
        let lab: Vec<Fr> = labels
            .iter()
            .take(idx.len())
            .map(|&l| field(l as i128))
            .collect();
        if lab.len() != idx.len() {
            return Err("fewer labels than group members".into());
        }
        out.push((ch.argmax.argmax(ctx, &xs, &lab, hot), labels[hot] as i128));
    }
    Ok(out)
}

/// Tree ensembles: each tree's path as comparisons, the reached leaves summed per target.
fn trees_op(
    ctx: &mut Context<Fr>,
    o: &OpCtx,
    features: usize,
    trees: &[Vec<QTreeNode>],
    base: &[i64],
    n: usize,
) -> Res {
    let OpCtx { ch, prm, ins, .. } = *o;
    let mut out = Cells::new();
    let samples = n / base.len().max(1);
    // Use indices of the tree parameters, in the canonical order.
    let mut first_use = vec![];
    let mut u = 0;
    for tree in trees {
        let mut per = vec![];
        for t in tree {
            per.push(u);
            u += match t {
                QTreeNode::Branch { .. } => 1,
                QTreeNode::Leaf { values } => values.len(),
            };
        }
        first_use.push(per);
    }
    let base_use = u;
    for s in 0..samples {
        let x = &ins[0].cells[s * features..(s + 1) * features];
        let xi = &ins[0].ints[s * features..(s + 1) * features];
        let mut acc: Vec<Vec<(AssignedValue<Fr>, QuantumCell<Fr>)>> = vec![vec![]; base.len()];
        let mut exact: Vec<i128> = base.iter().map(|&b| b as i128).collect();
        for (ti, tree) in trees.iter().enumerate() {
            let nodes: Vec<ChipTreeNode<Fr>> = tree
                .iter()
                .enumerate()
                .map(|(ni, t)| match t {
                    QTreeNode::Branch {
                        feature,
                        threshold,
                        negate,
                        yes,
                        no,
                    } => ChipTreeNode::Branch {
                        feature: *feature as usize,
                        threshold: prm.at(first_use[ti][ni]),
                        negate: *negate,
                        holds: branch_taken(xi[*feature as usize], *threshold, false),
                        yes: *yes as usize,
                        no: *no as usize,
                    },
                    QTreeNode::Leaf { values } => ChipTreeNode::Leaf(
                        values
                            .iter()
                            .enumerate()
                            .map(|(k, &(t, _))| (t as usize, prm.at(first_use[ti][ni] + k)))
                            .collect(),
                    ),
                })
                .collect();
            ch.trees.add_tree(ctx, x, &nodes, &mut acc);
            if let QTreeNode::Leaf { values } = &tree[crate::quant::tree_leaf(tree, xi)] {
                for &(t, w) in values {
                    exact[t as usize] += w as i128;
                }
            }
        }
        for (t, terms) in acc.iter().enumerate() {
            let y = ch.affine.affine_row(ctx, terms, prm.at(base_use + t));
            range_check_signed(&ch.range, ctx, y, ch.bits);
            out.push((y, exact[t]));
        }
    }
    Ok(out)
}
