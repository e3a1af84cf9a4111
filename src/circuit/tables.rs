//! The function tables of a model: which ones the circuit holds (tag = position + 1), and the
//! check that every value they hold is an activation.

use super::{Error, Result};
use crate::quant::{QFunc, QOp, QuantModel};

/// The distinct function tables of a model, in first-use order (tag = position + 1).
pub fn model_tables(model: &QuantModel) -> Vec<QFunc> {
    let mut t: Vec<QFunc> = vec![];
    for n in &model.nodes {
        if let QOp::Func(f) = &n.op {
            if !t.contains(f) {
                t.push(*f);
            }
        }
    }
    t
}

/// Checks that every value of every function table lies in the model's signed activation
/// range: a lookup's output is an activation that no other constraint range-checks, so a table
/// value outside the range (an Exp table far above its calibration, say) would break the
/// invariant every chip and the commitments' packing rely on. A build-time error, never a
/// silently wrong table.
pub fn check_tables(model: &QuantModel, tables: &[QFunc]) -> Result<()> {
    for (i, t) in tables.iter().enumerate() {
        if let Some((x, _)) = t.row_out_of_range(model.act_bits) {
            let node = model
                .nodes
                .iter()
                .find(|n| matches!(&n.op, QOp::Func(f) if f == t))
                .map_or_else(|| format!("(function table {})", i + 1), |n| n.name.clone());
            return Err(Error::Table {
                node,
                reason: format!(
                    "the {} table's value at input {:.4} lies outside the {}-bit activation range at scale 2^-{}",
                    t.func.name(),
                    x as f64 * 2f64.powi(-t.table_exp),
                    model.act_bits,
                    t.out_exp
                ),
            });
        }
    }
    Ok(())
}
