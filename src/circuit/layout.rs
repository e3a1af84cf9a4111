//! Wires the chips along a [`QuantModel`] into a halo2-base builder.
//!
//! Only the model inputs come from the trace; every other witness (outputs, remainders,
//! comparison bits) is recomputed here from the input integers with the quantizer's own
//! functions, so a wrong claimed output can only show up as a wrong public instance. Invariant:
//! every activation cell holds an integer in the signed `act_bits` range, either range-checked
//! or built from such cells in a way that keeps it there.

use halo2_base::gates::{RangeChip, RangeInstructions};
use halo2_base::{
    AssignedValue, Context,
    QuantumCell::{self, Constant, Existing},
};

use super::chips::DotJobs;
use super::chips::{
    range_check_signed, AffineChip, AffineInstructions, ArgMaxChip, ArgMaxInstructions,
    ChipTreeNode, CompareChip, CompareInstructions, DivChip, DivInstructions, ReluChip,
    ReluInstructions, RescaleChip, RescaleInstructions, TreeChip, TreeInstructions,
};
use super::lookup::FnLookups;
use super::{Error, Fr, Result};
use crate::quant::{
    argmax_pos, branch_taken, div_round, prelu_neg, rescale, NodeParams, QFunc, QOp, QSrc,
    QTreeNode, QuantModel, Trace,
};
use crate::visibility::{Vis, Visibility};
use halo2_base::halo2_proofs::halo2curves::ff::PrimeField;

/// The field element of a signed integer.
pub fn field(x: i128) -> Fr {
    let m = Fr::from_u128(x.unsigned_abs());
    if x < 0 {
        -m
    } else {
        m
    }
}

/// The signed integer a field element encodes, if it is small.
pub fn field_to_i128(f: &Fr) -> Option<i128> {
    let le = f.to_repr();
    let small = |b: &[u8]| b[16..].iter().all(|&x| x == 0);
    if small(le.as_ref()) {
        let v = u128::from_le_bytes(le.as_ref()[..16].try_into().ok()?);
        return i128::try_from(v).ok();
    }
    let neg = (-*f).to_repr();
    if small(neg.as_ref()) {
        let v = u128::from_le_bytes(neg.as_ref()[..16].try_into().ok()?);
        return i128::try_from(v).ok().map(|v| -v);
    }
    None
}

fn witness_err(node: &str, reason: impl Into<String>) -> Error {
    Error::Witness {
        node: node.to_string(),
        reason: reason.into(),
    }
}

/// The cells the public instances are chosen from.
pub struct Io {
    /// Every input value, flattened.
    pub inputs: Vec<AssignedValue<Fr>>,
    /// The parameter cells (empty when parameters are fixed).
    pub params: Vec<AssignedValue<Fr>>,
    /// The same cells per node (what later samples of a batch share).
    pub param_nodes: Vec<Vec<AssignedValue<Fr>>>,
    /// Every output value, flattened.
    pub outputs: Vec<AssignedValue<Fr>>,
}

/// A node's parameters as the chips see them: constants, or cells.
struct Params<'a> {
    np: &'a NodeParams,
    cells: Option<&'a Vec<AssignedValue<Fr>>>,
}

impl Params<'_> {
    /// The parameter of use `u` (canonical use order, see `quant::params`).
    fn at(&self, u: usize) -> QuantumCell<Fr> {
        let k = self.np.uses[u] as usize;
        match self.cells {
            Some(c) => Existing(c[k]),
            None => Constant(field(self.np.values[k])),
        }
    }
}

/// A value during layout: its cells and their integers.
#[derive(Clone, Default)]
struct Val {
    cells: Vec<AssignedValue<Fr>>,
    ints: Vec<i128>,
}

struct Chips {
    range: RangeChip<Fr>,
    bits: u32,
    affine: AffineChip<Fr>,
    rescale: RescaleChip<Fr>,
    relu: ReluChip<Fr>,
    cmp: CompareChip<Fr>,
    div: DivChip<Fr>,
    argmax: ArgMaxChip<Fr>,
    trees: TreeChip<Fr>,
}

impl Chips {
    fn rescaled(
        &self,
        ctx: &mut Context<Fr>,
        acc_cell: AssignedValue<Fr>,
        acc: i128,
        shift: u32,
    ) -> (AssignedValue<Fr>, i128) {
        let (y, r) = rescale(acc, shift);
        (
            self.rescale
                .rescale(ctx, acc_cell, shift, field(y), field(r)),
            y,
        )
    }

    fn max2(
        &self,
        ctx: &mut Context<Fr>,
        a: (AssignedValue<Fr>, i128),
        b: (AssignedValue<Fr>, i128),
    ) -> (AssignedValue<Fr>, i128) {
        let d = a.1 - b.1;
        (
            self.cmp
                .max2(ctx, a.0, b.0, d > 0, field(d.max(0)), self.bits),
            a.1.max(b.1),
        )
    }

    fn constant(&self, ctx: &mut Context<Fr>, c: i128) -> (AssignedValue<Fr>, i128) {
        (ctx.load_constant(field(c)), c)
    }

    fn min2(
        &self,
        ctx: &mut Context<Fr>,
        a: (AssignedValue<Fr>, i128),
        b: (AssignedValue<Fr>, i128),
    ) -> (AssignedValue<Fr>, i128) {
        let d = a.1 - b.1;
        (
            self.cmp
                .min2(ctx, a.0, b.0, d > 0, field(d.max(0)), self.bits),
            a.1.min(b.1),
        )
    }
}

/// Assigns the whole model. Function lookups are queued in `lookups` with tags from `tables`;
/// constant-weight affine rows in `dots`, if given.
///
/// Inputs and parameter witnesses are range-checked here (inputs to `act_bits`, parameters to
/// `param_bits`), except where `vis` hashes them: the caller then passes exactly these cells,
/// at exactly these widths, to [`super::commit::commit`], which range-checks every cell it
/// packs. That is the same constraint on the same cell, so the invariant every chip relies on
/// (activations and parameters in their signed ranges) holds as before, at the price of one
/// check instead of two (a hashed parameter set is mostly range checks otherwise). Nothing
/// else reads these checks: their result cells are used by nothing but the range lookup.
#[allow(clippy::too_many_arguments)] // the layout's whole context, passed once
pub fn assign(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    lookups: &FnLookups,
    dots: Option<&DotJobs<Fr>>,
    tables: &[QFunc],
    model: &QuantModel,
    trace: &Trace,
    vis: Visibility,
    shared_params: Option<&[Vec<AssignedValue<Fr>>]>,
) -> Result<Io> {
    let params = vis.params;
    if trace.values.len() != model.values.len() {
        return Err(witness_err(
            "(model)",
            "trace does not belong to this model",
        ));
    }
    let bits = model.act_bits;
    let gate = range.gate().clone();
    let ch = Chips {
        range: range.clone(),
        bits,
        affine: match dots {
            Some(d) => AffineChip::with_dots(gate.clone(), d.clone()),
            None => AffineChip::new(gate.clone()),
        },
        rescale: RescaleChip::new(range.clone(), bits),
        relu: ReluChip::new(range.clone(), bits),
        cmp: CompareChip::new(range.clone()),
        div: DivChip::new(range.clone(), bits),
        argmax: ArgMaxChip::new(range.clone(), bits),
        trees: TreeChip::new(range.clone(), bits + 2),
    };
    let mut vals: Vec<Val> = vec![Val::default(); model.values.len()];
    for &v in &model.inputs {
        let ints = trace.values[v].clone();
        if ints.len() != model.values[v].numel() {
            return Err(witness_err("input", "wrong number of input values"));
        }
        let cells = ints
            .iter()
            .map(|&x| {
                let c = ctx.load_witness(field(x));
                if vis.input != Vis::Hashed {
                    range_check_signed(range, ctx, c, bits);
                }
                c
            })
            .collect();
        vals[v] = Val { cells, ints };
    }
    // Parameters: constants when fixed, else one range-checked witness per distinct value.
    let node_params = model.node_params();
    let pbits = model.param_bits();
    // A batch's later samples use the first sample's parameter cells: one model for the batch.
    let param_cells: Vec<Vec<AssignedValue<Fr>>> = match shared_params {
        Some(shared) if params != Vis::Fixed => shared.to_vec(),
        _ => node_params
            .iter()
            .map(|p| {
                if params == Vis::Fixed {
                    return vec![];
                }
                p.values
                    .iter()
                    .map(|&v| {
                        let c = ctx.load_witness(field(v));
                        if params != Vis::Hashed {
                            range_check_signed(range, ctx, c, pbits);
                        }
                        c
                    })
                    .collect()
            })
            .collect(),
    };
    if param_cells.len() != node_params.len() {
        return Err(witness_err(
            "(parameters)",
            "shared parameter cells of another model",
        ));
    }
    for (node, (np, pc)) in model.nodes.iter().zip(node_params.iter().zip(&param_cells)) {
        let prm = Params {
            np,
            cells: if params == Vis::Fixed { None } else { Some(pc) },
        };
        let ins: Vec<&Val> = node.inputs.iter().map(|&v| &vals[v]).collect();
        let expect = model.values[node.output].numel();
        let out = assign_op(ctx, &ch, lookups, tables, &node.op, &prm, &ins, expect)
            .map_err(|r| witness_err(&node.name, r))?;
        if out.cells.len() != expect {
            return Err(witness_err(
                &node.name,
                format!(
                    "op produced {} values, the model expects {expect}",
                    out.cells.len()
                ),
            ));
        }
        vals[node.output] = out;
    }
    let cells = |vs: &[usize]| {
        vs.iter()
            .flat_map(|&v| vals[v].cells.iter().copied())
            .collect()
    };
    Ok(Io {
        inputs: cells(&model.inputs),
        params: param_cells.iter().flatten().copied().collect(),
        param_nodes: param_cells,
        outputs: cells(&model.outputs),
    })
}

fn get(ins: &[&Val], k: u32, i: u32) -> std::result::Result<(AssignedValue<Fr>, i128), String> {
    let v = ins.get(k as usize).ok_or("input index out of range")?;
    let c = v
        .cells
        .get(i as usize)
        .ok_or("element index out of range")?;
    Ok((*c, v.ints[i as usize]))
}

#[allow(clippy::too_many_arguments)]
fn assign_op(
    ctx: &mut Context<Fr>,
    ch: &Chips,
    lookups: &FnLookups,
    tables: &[QFunc],
    op: &QOp,
    prm: &Params,
    ins: &[&Val],
    n: usize,
) -> std::result::Result<Val, String> {
    let mut out = Val::default();
    let mut push = |(c, v): (AssignedValue<Fr>, i128)| {
        out.cells.push(c);
        out.ints.push(v);
    };
    match op {
        QOp::Affine {
            rows,
            terms,
            bias,
            shift,
        } => {
            for o in 0..bias.len() {
                let t = &terms[rows[o] as usize..rows[o + 1] as usize];
                let mut cells = Vec::with_capacity(t.len());
                let mut acc = bias[o];
                for (k, term) in t.iter().enumerate() {
                    let (c, v) = get(ins, term.input, term.index)?;
                    acc += term.coef as i128 * v;
                    cells.push((c, prm.at(rows[o] as usize + k)));
                }
                let a = ch.affine.affine_row(ctx, &cells, prm.at(terms.len() + o));
                push(ch.rescaled(ctx, a, acc, *shift));
            }
        }
        QOp::Gather(src) => {
            for s in src {
                push(match *s {
                    QSrc::In { input, index } => get(ins, input, index)?,
                    QSrc::Const(c) => ch.constant(ctx, c as i128),
                });
            }
        }
        QOp::Mul { pairs, shift } => {
            for o in 0..pairs.len() {
                let mut cells = vec![];
                let mut acc = 0i128;
                for p in pairs.group(o).chunks(2) {
                    let (a, b) = (get(ins, 0, p[0])?, get(ins, 1, p[1])?);
                    acc += a.1 * b.1;
                    cells.push((a.0, b.0));
                }
                let a = ch.affine.products(ctx, &cells);
                push(ch.rescaled(ctx, a, acc, *shift));
            }
        }
        QOp::Div { num, den, shift } => {
            for (&i, &j) in num.iter().zip(den) {
                let (a, b) = (get(ins, 0, i)?, get(ins, 1, j)?);
                // A non-positive denominator has no honest witness; the chip then fails.
                let (y, r) = if b.1 > 0 {
                    div_round(a.1, b.1, *shift)
                } else {
                    (0, 0)
                };
                push((ch.div.div(ctx, a.0, b.0, *shift, field(y), field(r)), y));
            }
        }
        QOp::Relu => {
            for (c, &v) in ins[0].cells.iter().zip(&ins[0].ints) {
                push((ch.relu.relu(ctx, *c, field(v.max(0))), v.max(0)));
            }
        }
        QOp::Prelu { slope, slope_exp } => {
            for (i, ((c, &v), &s)) in ins[0].cells.iter().zip(&ins[0].ints).zip(slope).enumerate() {
                // The rescale is of 0 on the positive branch (see `ReluInstructions::prelu`).
                let (nv, nr) = prelu_neg(v.min(0), s, *slope_exp);
                let y = ch
                    .relu
                    .prelu(ctx, *c, prm.at(i), *slope_exp, v < 0, field(nv), field(nr));
                push((y, if v < 0 { nv } else { v }));
            }
        }
        QOp::Clip { lo, hi } => {
            for (c, &v) in ins[0].cells.iter().zip(&ins[0].ints) {
                let mut x = (*c, v);
                if let Some(l) = lo {
                    let l = ch.constant(ctx, *l as i128);
                    x = ch.max2(ctx, x, l);
                }
                if let Some(h) = hi {
                    let h = ch.constant(ctx, *h as i128);
                    x = ch.min2(ctx, x, h);
                }
                push(x);
            }
        }
        QOp::Func(f) => {
            let tag = tables
                .iter()
                .position(|t| t == f)
                .ok_or("function table missing from the circuit")? as u64
                + 1;
            for (c, &v) in ins[0].cells.iter().zip(&ins[0].ints) {
                let step = f.apply(v);
                let mut x = ch.rescaled(ctx, *c, v, f.in_shift);
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
                push((yc, y));
            }
        }
        QOp::Max(groups) => {
            for g in 0..groups.len() {
                let idx = groups.group(g);
                let mut m = get(ins, 0, *idx.first().ok_or("empty max group")?)?;
                for &i in &idx[1..] {
                    let x = get(ins, 0, i)?;
                    m = ch.max2(ctx, m, x);
                }
                push(m);
            }
        }
        QOp::ArgMax { groups, labels } => {
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
                push((ch.argmax.argmax(ctx, &xs, &lab, hot), labels[hot] as i128));
            }
        }
        QOp::Trees {
            features,
            trees,
            base,
        } => {
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
                let mut acc: Vec<Vec<(AssignedValue<Fr>, QuantumCell<Fr>)>> =
                    vec![vec![]; base.len()];
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
                    push((y, exact[t]));
                }
            }
        }
    }
    Ok(out)
}
