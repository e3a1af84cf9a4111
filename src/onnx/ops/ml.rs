//! `ai.onnx.ml` models as exported by skl2onnx: tree ensembles and linear models. tract cannot
//! run these, so they are read from the protobuf attributes here, following onnxruntime's
//! semantics for labels and post-transforms.

use std::collections::HashMap;

use tract_onnx::pb;

use super::super::proto::attr;
use super::super::{Importer, Result, Val};
use super::reduce::softmax_value;
use crate::graph::{Affine, Cmp, Func, Groups, Op, Term, TreeEnsemble, TreeNode, ValueId};

fn strings(node: &pb::NodeProto, name: &str) -> Vec<String> {
    attr(node, name).map_or(vec![], |a| {
        a.strings
            .iter()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect()
    })
}

/// The `[N, F]` input of an ml op.
fn features(imp: &Importer, node: &pb::NodeProto) -> Result<(ValueId, usize, usize)> {
    let x = imp.dyn_input(node, 0)?;
    let s = imp.graph.values[x].shape.clone();
    match s.len() {
        1 => Ok((x, 1, s[0])),
        2 => Ok((x, s[0], s[1])),
        _ => Err(imp.node_err(
            node,
            format!("input must be [N, features], it has shape {s:?}"),
        )),
    }
}

/// Reads the trees; `prefix` is "target" (regressor) or "class" (classifier). Returns the
/// ensemble over the distinct output ids, in sorted order, and those ids.
fn read_trees(
    imp: &Importer,
    node: &pb::NodeProto,
    prefix: &str,
    nfeat: usize,
) -> Result<(TreeEnsemble, Vec<i64>)> {
    let ints = |n: &str| -> Result<Vec<i64>> { Ok(imp.attr_ints(node, n)?.unwrap_or_default()) };
    let (tree_ids, node_ids, feats) = (
        ints("nodes_treeids")?,
        ints("nodes_nodeids")?,
        ints("nodes_featureids")?,
    );
    let (yes, no) = (ints("nodes_truenodeids")?, ints("nodes_falsenodeids")?);
    let mut values = imp.attr_floats(node, "nodes_values")?;
    if values.is_empty() {
        if let Some(t) = attr(node, "nodes_values_as_tensor").and_then(|a| a.t.as_ref()) {
            values = super::super::proto::tensor(t)
                .map_err(|r| imp.node_err(node, r))?
                .iter()
                .copied()
                .collect();
        }
    }
    let modes = strings(node, "nodes_modes");
    let n = tree_ids.len();
    if [
        node_ids.len(),
        feats.len(),
        yes.len(),
        no.len(),
        values.len(),
        modes.len(),
    ]
    .iter()
    .any(|&l| l != n)
        || n == 0
    {
        return Err(imp.node_err(
            node,
            "the nodes_* attributes are missing or differ in length",
        ));
    }
    let mut order: Vec<i64> = tree_ids.clone();
    order.sort_unstable();
    order.dedup();
    let tree_pos: HashMap<i64, usize> = order.iter().enumerate().map(|(i, &t)| (t, i)).collect();
    // Position of each node inside its tree, the root (the node no branch points to) first.
    let mut is_child = std::collections::HashSet::new();
    for i in 0..n {
        if modes[i] != "LEAF" {
            is_child.insert((tree_ids[i], yes[i]));
            is_child.insert((tree_ids[i], no[i]));
        }
    }
    let mut pos: HashMap<(i64, i64), usize> = HashMap::new();
    let mut members: Vec<Vec<usize>> = vec![vec![]; order.len()];
    for root_pass in [true, false] {
        for i in 0..n {
            if is_child.contains(&(tree_ids[i], node_ids[i])) != root_pass {
                let t = tree_pos[&tree_ids[i]];
                if pos
                    .insert((tree_ids[i], node_ids[i]), members[t].len())
                    .is_some()
                {
                    return Err(imp.node_err(
                        node,
                        format!("tree {} repeats node id {}", tree_ids[i], node_ids[i]),
                    ));
                }
                members[t].push(i);
            }
        }
    }
    let mut trees: Vec<Vec<TreeNode>> = vec![];
    for (t, list) in members.iter().enumerate() {
        let first_is_root = list
            .first()
            .is_some_and(|&i| !is_child.contains(&(tree_ids[i], node_ids[i])));
        if !first_is_root
            || list
                .iter()
                .skip(1)
                .any(|&i| !is_child.contains(&(tree_ids[i], node_ids[i])))
        {
            return Err(imp.node_err(
                node,
                format!("tree {} does not have exactly one root", order[t]),
            ));
        }
        let mut tree = Vec::with_capacity(list.len());
        for &i in list {
            let child = |id: i64| {
                pos.get(&(tree_ids[i], id))
                    .map(|&p| p as u32)
                    .ok_or_else(|| {
                        imp.node_err(
                            node,
                            format!(
                                "tree {} node {} points to missing node {id}",
                                tree_ids[i], node_ids[i]
                            ),
                        )
                    })
            };
            let tn = match modes[i].as_str() {
                "LEAF" => TreeNode::Leaf { values: vec![] },
                m => {
                    let cmp = match m {
                        "BRANCH_LEQ" => Cmp::Leq,
                        "BRANCH_LT" => Cmp::Lt,
                        "BRANCH_GTE" => Cmp::Gte,
                        "BRANCH_GT" => Cmp::Gt,
                        other => {
                            return Err(imp.node_err(
                                node,
                                format!("branch mode {other} is not supported (LEQ, LT, GTE, GT)"),
                            ))
                        }
                    };
                    if feats[i] < 0 || feats[i] as usize >= nfeat {
                        return Err(imp.node_err(
                            node,
                            format!("feature {} is out of range ({nfeat} features)", feats[i]),
                        ));
                    }
                    TreeNode::Branch {
                        feature: feats[i] as u32,
                        threshold: values[i],
                        cmp,
                        yes: child(yes[i])?,
                        no: child(no[i])?,
                    }
                }
            };
            tree.push(tn);
        }
        trees.push(tree);
    }
    for (t, tree) in trees.iter().enumerate() {
        let mut seen = vec![false; tree.len()];
        let mut stack = vec![0usize];
        while let Some(k) = stack.pop() {
            if std::mem::replace(&mut seen[k], true) {
                return Err(imp.node_err(
                    node,
                    format!("tree {} is not a tree (node {k} reached twice)", order[t]),
                ));
            }
            if let TreeNode::Branch { yes, no, .. } = &tree[k] {
                stack.push(*yes as usize);
                stack.push(*no as usize);
            }
        }
        if seen.iter().any(|s| !s) {
            return Err(imp.node_err(
                node,
                format!("tree {} has nodes unreachable from its root", order[t]),
            ));
        }
    }
    let (lt, ln, lid) = (
        ints(&format!("{prefix}_treeids"))?,
        ints(&format!("{prefix}_nodeids"))?,
        ints(&format!("{prefix}_ids"))?,
    );
    let lw = imp.attr_floats(node, &format!("{prefix}_weights"))?;
    if [ln.len(), lid.len(), lw.len()]
        .iter()
        .any(|&l| l != lt.len())
    {
        return Err(imp.node_err(node, format!("the {prefix}_* attributes differ in length")));
    }
    let mut ids: Vec<i64> = lid.clone();
    ids.sort_unstable();
    ids.dedup();
    for i in 0..lt.len() {
        let (Some(&t), Some(&p)) = (tree_pos.get(&lt[i]), pos.get(&(lt[i], ln[i]))) else {
            return Err(imp.node_err(
                node,
                format!("leaf weight for missing node {} of tree {}", ln[i], lt[i]),
            ));
        };
        let target = ids.binary_search(&lid[i]).expect("collected above") as u32;
        match &mut trees[t][p] {
            TreeNode::Leaf { values } => values.push((target, lw[i])),
            TreeNode::Branch { .. } => {
                return Err(imp.node_err(
                    node,
                    format!("weight given for branch node {} of tree {}", ln[i], lt[i]),
                ))
            }
        }
    }
    Ok((
        TreeEnsemble {
            features: nfeat,
            trees,
            base: vec![0.0; ids.len()],
        },
        ids,
    ))
}

/// Applies `f` to every `(target, weight)` pair of every leaf.
fn for_each_leaf_value(ens: &mut TreeEnsemble, mut f: impl FnMut(&mut (u32, f64))) {
    for tn in ens.trees.iter_mut().flatten() {
        if let TreeNode::Leaf { values } = tn {
            values.iter_mut().for_each(&mut f);
        }
    }
}

fn no_post_transform(imp: &Importer, node: &pb::NodeProto) -> Result<()> {
    match imp.attr_s(node, "post_transform")?.as_str() {
        "" | "NONE" => Ok(()),
        p => Err(imp.node_err(
            node,
            format!("post_transform {p} is not supported for a regressor"),
        )),
    }
}

pub fn tree_ensemble_regressor(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    no_post_transform(imp, node)?;
    let (x, n, f) = features(imp, node)?;
    let (mut ens, ids) = read_trees(imp, node, "target", f)?;
    // n_targets is an INT (it was read as a list before, so always 1).
    let targets = imp.attr_i(node, "n_targets", 1)?.max(1) as usize;
    if ids.iter().any(|&i| i < 0 || i as usize >= targets) {
        return Err(imp.node_err(node, "target ids exceed n_targets"));
    }
    // Re-index onto all n_targets outputs.
    for_each_leaf_value(&mut ens, |(t, _)| *t = ids[*t as usize] as u32);
    ens.base = imp.attr_floats(node, "base_values")?;
    if ens.base.is_empty() {
        ens.base = vec![0.0; targets];
    }
    match imp.attr_s(node, "aggregate_function")?.as_str() {
        "" | "SUM" => {}
        "AVERAGE" => {
            let k = ens.trees.len() as f64;
            for_each_leaf_value(&mut ens, |(_, w)| *w /= k);
        }
        other => {
            return Err(imp.node_err(
                node,
                format!("aggregate_function {other} is not supported (SUM, AVERAGE)"),
            ))
        }
    }
    if ens.base.len() != targets {
        return Err(imp.node_err(node, "base_values do not match n_targets"));
    }
    imp.push(node, Op::Trees(ens), vec![x], vec![n, targets])
}

fn class_labels(imp: &Importer, node: &pb::NodeProto, names: &[&str]) -> Result<Vec<i64>> {
    for n in names {
        if let Some(l) = imp.attr_ints(node, n)? {
            return Ok(l);
        }
    }
    if !strings(node, "classlabels_strings").is_empty() {
        return Err(imp.node_err(
            node,
            "string class labels cannot be proven; export with integer labels",
        ));
    }
    Err(imp.node_err(node, "has no class labels"))
}

/// Finishes a classifier from raw per-class scores `[n, c]`: label = first argmax mapped to the
/// class labels, probabilities = the post-transform of the scores.
fn classify(
    imp: &mut Importer,
    node: &pb::NodeProto,
    scores: ValueId,
    n: usize,
    labels: Vec<i64>,
) -> Result<()> {
    let c = labels.len();
    let rows: Vec<Vec<usize>> = (0..n).map(|r| (r * c..(r + 1) * c).collect()).collect();
    let arg = Op::ArgMax {
        groups: Groups::from_lists(rows.clone()),
        labels: Some(labels),
    };
    imp.push_out(node, 0, arg, vec![scores], vec![n])?;
    if node.output.get(1).is_none_or(|o| o.is_empty()) {
        return Ok(());
    }
    let name = imp.output_name(node, 1)?.to_string();
    let probs = match imp.attr_s(node, "post_transform")?.as_str() {
        "" | "NONE" => scores,
        "LOGISTIC" => imp.add_node(
            node,
            &name,
            Op::Func(Func::Sigmoid),
            vec![scores],
            vec![n, c],
        )?,
        "SOFTMAX" => softmax_value(imp, node, scores, &rows, &name)?,
        other => {
            return Err(imp.node_err(
                node,
                format!("post_transform {other} is not supported (NONE, LOGISTIC, SOFTMAX)"),
            ))
        }
    };
    imp.bind(node, 1, Val::Dyn(probs))
}

pub fn tree_ensemble_classifier(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let (x, n, f) = features(imp, node)?;
    let labels = class_labels(imp, node, &["classlabels_int64s"])?;
    let (mut ens, ids) = read_trees(imp, node, "class", f)?;
    let base = imp.attr_floats(node, "base_values")?;
    let c = labels.len();
    let name = format!("{}/scores", imp.output_name(node, 0)?);
    if c == 2 && ids.len() == 1 {
        // Binary with one score s (onnxruntime): classes get [-s, s] (or [1 - s, s] when all
        // leaf weights are positive and there is no post-transform).
        ens.base = vec![base.first().copied().unwrap_or(0.0)];
        let positive = ens.trees.iter().flatten().all(|tn| match tn {
            TreeNode::Leaf { values } => values.iter().all(|&(_, w)| w >= 0.0),
            TreeNode::Branch { .. } => true,
        });
        let post = imp.attr_s(node, "post_transform")?;
        let s = imp.add_node(
            node,
            &format!("{name}/raw"),
            Op::Trees(ens),
            vec![x],
            vec![n, 1],
        )?;
        let mut af = Affine::new();
        let one_minus = positive && (post.is_empty() || post == "NONE");
        for r in 0..n {
            let t = |w| Term {
                input: 0,
                index: r as u32,
                weight: w,
            };
            af.push_row([t(-1.0)], if one_minus { 1.0 } else { 0.0 });
            af.push_row([t(1.0)], 0.0);
        }
        let scores = imp.add_node(node, &name, Op::Affine(af), vec![s], vec![n, 2])?;
        return classify(imp, node, scores, n, labels);
    }
    if ids.iter().any(|&i| i < 0 || i as usize >= c) {
        return Err(imp.node_err(node, "class ids exceed the class labels"));
    }
    for_each_leaf_value(&mut ens, |(t, _)| *t = ids[*t as usize] as u32);
    ens.base = if base.is_empty() { vec![0.0; c] } else { base };
    if ens.base.len() != c {
        return Err(imp.node_err(node, "base_values do not match the classes"));
    }
    let scores = imp.add_node(node, &name, Op::Trees(ens), vec![x], vec![n, c])?;
    classify(imp, node, scores, n, labels)
}

/// `scores = x W^T + intercepts` as an affine map over `[n, f]`.
fn linear_scores(
    imp: &Importer,
    node: &pb::NodeProto,
    f: usize,
    n: usize,
) -> Result<(Affine, usize)> {
    let coef = imp.attr_floats(node, "coefficients")?;
    let icpt = imp.attr_floats(node, "intercepts")?;
    if coef.is_empty() || !coef.len().is_multiple_of(f) {
        return Err(imp.node_err(
            node,
            format!("{} coefficients do not fit {f} features", coef.len()),
        ));
    }
    let c = coef.len() / f;
    if !icpt.is_empty() && icpt.len() != c {
        return Err(imp.node_err(node, format!("{} intercepts for {c} outputs", icpt.len())));
    }
    let mut af = Affine::new();
    for r in 0..n {
        for k in 0..c {
            let terms = (0..f).filter(|&j| coef[k * f + j] != 0.0).map(|j| Term {
                input: 0,
                index: (r * f + j) as u32,
                weight: coef[k * f + j],
            });
            af.push_row(terms, icpt.get(k).copied().unwrap_or(0.0));
        }
    }
    Ok((af, c))
}

pub fn linear_regressor(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    no_post_transform(imp, node)?;
    let (x, n, f) = features(imp, node)?;
    let (af, c) = linear_scores(imp, node, f, n)?;
    imp.push(node, Op::Affine(af), vec![x], vec![n, c])
}

pub fn linear_classifier(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let (x, n, f) = features(imp, node)?;
    let labels = class_labels(imp, node, &["classlabels_ints", "classlabels_int64s"])?;
    let (af, c) = linear_scores(imp, node, f, n)?;
    if c != labels.len() {
        return Err(imp.node_err(node, format!("{c} score rows for {} classes; a single-score binary export is not supported, export with one coefficient row per class", labels.len())));
    }
    let name = format!("{}/scores", imp.output_name(node, 0)?);
    let scores = imp.add_node(node, &name, Op::Affine(af), vec![x], vec![n, c])?;
    classify(imp, node, scores, n, labels)
}

pub fn zipmap(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    Err(imp.node_err(node, "ZipMap outputs a list of maps, which cannot be proven; export the classifier with options={'zipmap': False}"))
}

/// `Normalizer` (L1 or MAX over each row): `y = x / sum |x|` or `x / max |x|`, with
/// `|x| = 2 relu(x) - x`. L2 would need a square root and is refused.
pub fn normalizer(imp: &mut Importer, node: &pb::NodeProto) -> Result<()> {
    let (x, n, c) = features(imp, node)?;
    let norm = imp.attr_s(node, "norm")?;
    if norm != "L1" && norm != "MAX" {
        return Err(imp.node_err(node, format!("norm '{norm}' is not supported (L1, MAX)")));
    }
    let name = imp.output_name(node, 0)?.to_string();
    let r = imp.add_node(node, &format!("{name}/relu"), Op::Relu, vec![x], vec![n, c])?;
    let mut abs = Affine::new();
    for i in 0..n * c {
        abs.push_row(
            [
                Term {
                    input: 0,
                    index: i as u32,
                    weight: 2.0,
                },
                Term {
                    input: 1,
                    index: i as u32,
                    weight: -1.0,
                },
            ],
            0.0,
        );
    }
    let a = imp.add_node(
        node,
        &format!("{name}/abs"),
        Op::Affine(abs),
        vec![r, x],
        vec![n, c],
    )?;
    let rows: Vec<Vec<usize>> = (0..n).map(|k| (k * c..(k + 1) * c).collect()).collect();
    let den = if norm == "L1" {
        let sum = Affine::group_sums(&rows, |_| 1.0);
        imp.add_node(
            node,
            &format!("{name}/l1"),
            Op::Affine(sum),
            vec![a],
            vec![n],
        )?
    } else {
        imp.add_node(
            node,
            &format!("{name}/max"),
            Op::Max(Groups::from_lists(rows)),
            vec![a],
            vec![n],
        )?
    };
    let op = Op::Div {
        num: (0..(n * c) as u32).collect(),
        den: (0..(n * c) as u32).map(|i| i / c as u32).collect(),
    };
    imp.push(node, op, vec![x, den], vec![n, c])
}
