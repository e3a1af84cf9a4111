//! Reductions over axes (ReduceMean/Sum/Max, ArgMax) and Softmax/LogSoftmax, which lower to
//! Max, an affine shift, the Exp table, a sum and a division (or the Log table).

use tract_onnx::pb;

use super::super::{Importer, Result, Val};
use super::{axis, multi_indices, strides};
use crate::graph::{Affine, Func, Groups, Op, ValueId};

/// Groups of flat indices reduced together, and the output shape (reduced axes kept as 1).
fn axis_groups(shape: &[usize], axes: &[usize]) -> (Vec<usize>, Vec<Vec<usize>>) {
    let st = strides(shape);
    let kept: Vec<usize> = (0..shape.len())
        .map(|i| if axes.contains(&i) { 1 } else { shape[i] })
        .collect();
    let red: Vec<usize> = axes.iter().map(|&a| shape[a]).collect();
    let inner = multi_indices(&red);
    let groups = multi_indices(&kept)
        .into_iter()
        .map(|o| {
            inner
                .iter()
                .map(|r| {
                    let mut idx = o.clone();
                    for (k, &a) in axes.iter().enumerate() {
                        idx[a] = r[k];
                    }
                    idx.iter().zip(&st).map(|(a, b)| a * b).sum()
                })
                .collect()
        })
        .collect();
    (kept, groups)
}

/// The reduced axes (sorted) and the output shape, per the node's axes and keepdims.
/// The reduced axes, the output shape, and the input positions summed into each output.
type ReducePlan = (Vec<usize>, Vec<usize>, Vec<Vec<usize>>);

fn reduce_axes(imp: &Importer, node: &pb::NodeProto, shape: &[usize]) -> Result<ReducePlan> {
    let given = match imp.attr_ints(node, "axes")? {
        Some(a) => Some(a),
        None => imp
            .optional_const(node, 1)?
            .map(|t| t.iter().map(|&v| v as i64).collect()),
    };
    let mut axes: Vec<usize> = match given {
        Some(a) if !a.is_empty() => a
            .iter()
            .map(|&v| axis(imp, node, v, shape.len()))
            .collect::<Result<_>>()?,
        _ if imp.attr_i(node, "noop_with_empty_axes", 0)? != 0 => vec![],
        _ => (0..shape.len()).collect(),
    };
    axes.sort_unstable();
    axes.dedup();
    let (kept, groups) = axis_groups(shape, &axes);
    let out = if imp.attr_i(node, "keepdims", 1)? != 0 {
        kept
    } else {
        (0..shape.len())
            .filter(|i| !axes.contains(i))
            .map(|i| shape[i])
            .collect()
    };
    Ok((axes, out, groups))
}

fn sum_like(imp: &mut Importer, node: &pb::NodeProto, mean: bool) -> Result<()> {
    let x = imp.dyn_input(node, 0)?;
    let shape = imp.graph.values[x].shape.clone();
    let (_, out, groups) = reduce_axes(imp, node, &shape)?;
    let af = Affine::group_sums(&groups, |n| if mean { 1.0 / n as f64 } else { 1.0 });
    imp.push(node, Op::Affine(af), vec![x], out)
}

pub fn reduce_mean(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    sum_like(imp, node, true)
}

pub fn reduce_sum(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    sum_like(imp, node, false)
}

pub fn reduce_max(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.dyn_input(node, 0)?;
    let shape = imp.graph.values[x].shape.clone();
    let (_, out, groups) = reduce_axes(imp, node, &shape)?;
    imp.push(node, Op::Max(Groups::from_lists(groups)), vec![x], out)
}

pub fn argmax(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    if imp.attr_i(node, "select_last_index", 0)? != 0 {
        return Err(imp.node_err(node, "select_last_index=1 is not supported"));
    }
    let x = imp.dyn_input(node, 0)?;
    let shape = imp.graph.values[x].shape.clone();
    let ax = axis(imp, node, imp.attr_i(node, "axis", 0)?, shape.len())?;
    let (kept, groups) = axis_groups(&shape, &[ax]);
    let out = if imp.attr_i(node, "keepdims", 1)? != 0 {
        kept
    } else {
        (0..shape.len())
            .filter(|&i| i != ax)
            .map(|i| shape[i])
            .collect()
    };
    let op = Op::ArgMax {
        groups: Groups::from_lists(groups),
        labels: None,
    };
    imp.push(node, op, vec![x], out)
}

/// The groups a softmax normalises over: one axis (opset >= 13), or everything from `axis` on
/// (older opsets, which flatten the input to 2-D).
fn softmax_groups(
    imp: &Importer,
    node: &pb::NodeProto,
    shape: &[usize],
) -> Result<Vec<Vec<usize>>> {
    let (default, flatten) = if imp.opset >= 13 {
        (-1, false)
    } else {
        (1, true)
    };
    let ax = axis(imp, node, imp.attr_i(node, "axis", default)?, shape.len())?;
    let axes: Vec<usize> = if flatten {
        (ax..shape.len()).collect()
    } else {
        vec![ax]
    };
    Ok(axis_groups(shape, &axes).1)
}

/// Emits max, shift, exp and the per-group sum; returns (shifted, exp, sum, group of each index).
fn softmax_parts(
    imp: &mut Importer,
    node: &pb::NodeProto,
    x: ValueId,
    groups: &[Vec<usize>],
    out_name: &str,
) -> Result<(ValueId, ValueId, ValueId, Vec<usize>)> {
    let shape = imp.graph.values[x].shape.clone();
    let n: usize = shape.iter().product();
    let mut group_of = vec![0; n];
    for (g, idx) in groups.iter().enumerate() {
        for &i in idx {
            group_of[i] = g;
        }
    }
    let ng = groups.len();
    let m = imp.add_node(
        node,
        &format!("{out_name}/max"),
        Op::Max(Groups::from_lists(groups.to_vec())),
        vec![x],
        vec![ng],
    )?;
    let shift = Affine::minus_group(&group_of);
    let d = imp.add_node(
        node,
        &format!("{out_name}/shifted"),
        Op::Affine(shift),
        vec![x, m],
        shape.clone(),
    )?;
    let e = imp.add_node(
        node,
        &format!("{out_name}/exp"),
        Op::Func(Func::Exp),
        vec![d],
        shape.clone(),
    )?;
    let sum = Affine::group_sums(groups, |_| 1.0);
    let s = imp.add_node(
        node,
        &format!("{out_name}/sum"),
        Op::Affine(sum),
        vec![e],
        vec![ng],
    )?;
    Ok((d, e, s, group_of))
}

/// Softmax of `x` over `groups`, as a new value named `out_name`.
pub fn softmax_value(
    imp: &mut Importer,
    node: &pb::NodeProto,
    x: ValueId,
    groups: &[Vec<usize>],
    out_name: &str,
) -> Result<ValueId> {
    let shape = imp.graph.values[x].shape.clone();
    let (_, e, s, group_of) = softmax_parts(imp, node, x, groups, out_name)?;
    let op = Op::Div {
        num: (0..group_of.len() as u32).collect(),
        den: group_of.iter().map(|&g| g as u32).collect(),
    };
    imp.add_node(node, out_name, op, vec![e, s], shape)
}

pub fn softmax(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = match imp.input(node, 0)? {
        Val::Dyn(x) => x,
        Val::Const(_) => return Err(imp.node_err(node, "softmax of a constant")),
    };
    let shape = imp.graph.values[x].shape.clone();
    let groups = softmax_groups(imp, node, &shape)?;
    let name = imp.output_name(node, 0)?.to_string();
    let y = softmax_value(imp, node, x, &groups, &name)?;
    imp.bind(node, 0, Val::Dyn(y))
}

pub fn log_softmax(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let x = imp.dyn_input(node, 0)?;
    let shape = imp.graph.values[x].shape.clone();
    let name = imp.output_name(node, 0)?.to_string();
    let groups = softmax_groups(imp, node, &shape)?;
    let (d, _, s, group_of) = softmax_parts(imp, node, x, &groups, &name)?;
    let ng = imp.graph.values[s].shape[0];
    let l = imp.add_node(
        node,
        &format!("{name}/log"),
        Op::Func(Func::Log),
        vec![s],
        vec![ng],
    )?;
    let af = Affine::minus_group(&group_of);
    imp.push(node, Op::Affine(af), vec![d, l], shape)
}
