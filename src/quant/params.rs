//! The model's parameters as one vector: what `--param-visibility hashed|public|private` makes
//! witnesses, commits to, or exposes.
//!
//! Parameters are the integer weights and biases of affine ops, PReLU slopes, and tree
//! thresholds, leaf weights and bases; clip bounds, padding constants and function tables stay
//! part of the circuit. Per node, in model order, each use of a parameter (an affine op's terms
//! then its biases; a PReLU's elements; a tree ensemble's nodes, tree by tree, then its bases)
//! points into that node's distinct values in first-use order, so a convolution's shared
//! weights are one parameter each. The vector is the concatenation over nodes.

use super::{Error, QOp, QTreeNode, QuantModel, Result};

/// A node's distinct parameter values and, for each use, its position among them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeParams {
    /// Distinct values, first-use order.
    pub values: Vec<i128>,
    /// Per use, an index into `values`.
    pub uses: Vec<u32>,
}

/// Every use of a parameter of `op`, in the canonical order.
fn uses(op: &QOp) -> Vec<i128> {
    match op {
        QOp::Affine { terms, bias, .. } => terms
            .iter()
            .map(|t| t.coef as i128)
            .chain(bias.iter().copied())
            .collect(),
        QOp::Prelu { slope, .. } => slope.iter().map(|&s| s as i128).collect(),
        QOp::Trees { trees, base, .. } => {
            let mut v = vec![];
            for tree in trees {
                for n in tree {
                    match n {
                        QTreeNode::Branch { threshold, .. } => v.push(*threshold as i128),
                        QTreeNode::Leaf { values } => {
                            v.extend(values.iter().map(|&(_, w)| w as i128))
                        }
                    }
                }
            }
            v.extend(base.iter().map(|&b| b as i128));
            v
        }
        _ => vec![],
    }
}

/// Widest parameter that can be a witness (signed bits).
pub const PARAM_BITS: u32 = 64;

impl QuantModel {
    /// The parameters of each node (empty for ops without any).
    pub fn node_params(&self) -> Vec<NodeParams> {
        self.nodes
            .iter()
            .map(|n| {
                let mut p = NodeParams::default();
                let mut pos = std::collections::HashMap::new();
                for u in uses(&n.op) {
                    let k = *pos.entry(u).or_insert_with(|| {
                        p.values.push(u);
                        p.values.len() - 1
                    });
                    p.uses.push(k as u32);
                }
                p
            })
            .collect()
    }

    /// The parameter vector: every node's distinct values, in model order.
    pub fn params(&self) -> Vec<i128> {
        self.node_params()
            .into_iter()
            .flat_map(|p| p.values)
            .collect()
    }

    /// The signed width parameters are range-checked and packed at when they are witnesses:
    /// the smallest that holds every parameter, at least 8 and at most [`PARAM_BITS`].
    pub fn param_bits(&self) -> u32 {
        let m = self
            .params()
            .iter()
            .map(|v| v.unsigned_abs())
            .max()
            .unwrap_or(0);
        let bits = 128 - m.leading_zeros() + 1;
        bits.clamp(8, PARAM_BITS)
    }

    /// Checks that every parameter fits [`PARAM_BITS`] signed bits (needed when parameters are
    /// witnesses: they are range-checked and packed at that width).
    pub fn check_param_range(&self) -> Result<()> {
        let lim = 1i128 << (PARAM_BITS - 1);
        for (n, p) in self.nodes.iter().zip(self.node_params()) {
            if let Some(v) = p.values.iter().find(|v| !(-lim..lim).contains(*v)) {
                return Err(Error::Quantize {
                    node: n.name.clone(),
                    reason: format!("parameter {v} does not fit {PARAM_BITS} signed bits; keep parameters fixed for this model"),
                });
            }
        }
        Ok(())
    }
}
