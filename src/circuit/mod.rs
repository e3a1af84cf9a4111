//! The halo2 circuit proving one inference of a [`QuantModel`].
//!
//! Built on halo2-base's vertical gate (`a + b * c = d`) and its lookup range checks, plus a
//! function-table lookup ([`lookup`]). Chips in [`chips`] constrain one op family each;
//! [`layout`] walks the model and wires them. Weights, biases and tables are circuit constants
//! (fixed columns), so the verifying key is bound to the model; the outputs are the public
//! instances, in order.

pub mod chips;
pub mod commit;
mod layout;
mod lookup;
mod params;
mod tables;

pub use chips::{DotJob, DotJobs};
pub use layout::{field, field_to_i128};
pub use lookup::{plan_dots, FnLookups, ZkCircuit, ZkParams};
pub use params::{choose_params, CircuitShape, Optimize};
pub use tables::model_tables;

pub use halo2_base::gates::circuit::CircuitBuilderStage;
pub use halo2_base::halo2_proofs;
pub use halo2_base::{
    gates::circuit::builder::BaseCircuitBuilder, gates::circuit::BaseCircuitParams,
};
pub use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};

use halo2_base::gates::RangeChip;
use halo2_base::{AssignedValue, Context};

use crate::predicate::{ClassRef, CmpOp, Predicate};
use crate::quant::{QuantModel, Trace};
use crate::visibility::{tag, Vis, Visibility};

/// Private values a prover adds beyond the model's inputs: the commitments' salts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Secrets {
    /// Salt of the input commitment.
    pub input_salt: Fr,
    /// Salt of the output commitment.
    pub output_salt: Fr,
    /// The output predicate's parameters, quantized, in `Predicate::params` order. These are
    /// public instances, not secrets; they travel with the salts because both are given at
    /// prove time.
    pub predicate_params: Vec<i128>,
    /// What the proof is bound to (see [`crate::visibility::binding`]); public, like the
    /// predicate parameters. Used only when the visibility asks for a binding.
    pub binding: Option<crate::visibility::binding::Binding>,
}

/// Arranges the public instances: inputs, then parameters, then outputs, per visibility.
fn public_instances(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    model: &QuantModel,
    vis: Visibility,
    io: layout::Io,
    secrets: &Secrets,
    predicate: Option<&Predicate>,
) -> Vec<AssignedValue<Fr>> {
    // The cells of the output the predicate speaks about (checked to exist at build time).
    let pred_out: Vec<AssignedValue<Fr>> = predicate
        .and_then(|p| p.locate(model))
        .map_or(vec![], |(_, v, off)| {
            io.outputs[off..off + model.values[v].numel()].to_vec()
        });
    use halo2_base::gates::RangeInstructions;
    let mut hasher = None;
    let mut part = |ctx: &mut Context<Fr>,
                    v: Vis,
                    t: u64,
                    cells: Vec<AssignedValue<Fr>>,
                    bits: u32,
                    salt: Option<Fr>|
     -> Vec<AssignedValue<Fr>> {
        match v {
            Vis::Public => cells,
            Vis::Hashed => {
                let h = hasher.get_or_insert_with(|| commit::hasher(ctx, range.gate()));
                let s = match salt {
                    Some(s) => ctx.load_witness(s),
                    None => ctx.load_zero(),
                };
                // The gadget range-checks each cell to `bits` (see `layout::assign`, which
                // leaves hashed inputs and parameters to this check).
                vec![commit::commit(ctx, range, h, t, &cells, bits, s)]
            }
            Vis::Private | Vis::Fixed => vec![],
        }
    };
    let mut out = part(
        ctx,
        vis.input,
        tag::INPUT,
        io.inputs,
        model.act_bits,
        Some(secrets.input_salt),
    );
    out.extend(part(
        ctx,
        vis.params,
        tag::PARAMS,
        io.params,
        model.param_bits(),
        None,
    ));
    out.extend(part(
        ctx,
        vis.output,
        tag::OUTPUT,
        io.outputs,
        model.act_bits,
        Some(secrets.output_salt),
    ));
    if let Some(p) = predicate {
        out.extend(predicate_instances(
            ctx,
            range,
            model,
            p,
            &pred_out,
            &secrets.predicate_params,
        ));
    }
    if vis.binding {
        // A witness copied to the last instance: the proof commits to it through the
        // permutation argument and the transcript, so it cannot be changed after proving.
        // `pipeline::prove` checks the binding parses; keygen uses 0.
        let value = secrets
            .binding
            .as_ref()
            .and_then(|b| b.value().ok())
            .unwrap_or_default();
        out.push(ctx.load_witness(value));
    }
    out
}

/// The predicate part of the instances: the result (always 1: a false predicate has no
/// satisfying witness) and the predicate's parameters.
fn predicate_instances(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    model: &QuantModel,
    p: &Predicate,
    y: &[AssignedValue<Fr>],
    params: &[i128],
) -> Vec<AssignedValue<Fr>> {
    use chips::{ArgMaxChip, ArgMaxInstructions};
    use halo2_base::gates::{GateInstructions, RangeInstructions};
    use halo2_base::QuantumCell::Constant;
    let bits = model.act_bits;
    let gate = range.gate();
    let one = ctx.load_constant(Fr::one());
    let mut out = vec![one];
    let cells: Vec<AssignedValue<Fr>> = (0..p.params().len())
        .map(|i| {
            let c = ctx.load_witness(field(params.get(i).copied().unwrap_or(0)));
            chips::range_check_signed(range, ctx, c, bits);
            c
        })
        .collect();
    match p {
        Predicate::Compare { index, op, .. } => {
            // A missing output index has no honest witness: compare against a zero cell.
            let yv = y.get(*index).copied().unwrap_or_else(|| ctx.load_zero());
            let t = cells[0];
            let v = match op {
                CmpOp::Ge => gate.sub(ctx, yv, t),
                CmpOp::Gt => {
                    let d = gate.sub(ctx, yv, t);
                    gate.sub(ctx, d, Constant(Fr::one()))
                }
                CmpOp::Le => gate.sub(ctx, t, yv),
                CmpOp::Lt => {
                    let d = gate.sub(ctx, t, yv);
                    gate.sub(ctx, d, Constant(Fr::one()))
                }
            };
            range.range_check(ctx, v, bits as usize + 1);
        }
        Predicate::ArgMax { class, .. } => {
            let ints: Vec<i128> = y
                .iter()
                .map(|c| field_to_i128(c.value()).unwrap_or(0))
                .collect();
            let mut hot = 0;
            for (i, v) in ints.iter().enumerate() {
                if *v > ints[hot] {
                    hot = i;
                }
            }
            let labels: Vec<Fr> = (0..y.len()).map(|i| Fr::from(i as u64)).collect();
            let idx = ArgMaxChip::new(range.clone(), bits).argmax(ctx, y, &labels, hot);
            let k = match class {
                ClassRef::Literal(k) => ctx.load_constant(field(*k as i128)),
                ClassRef::Param(_) => cells[0],
            };
            ctx.constrain_equal(&idx, &k);
        }
    }
    out.extend(cells);
    out
}

/// Errors while building the circuit.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No `logrows` up to the maximum fits the model.
    #[error("the model needs more than 2^{max_k} rows ({cells} advice cells, {table_rows} table rows); it is too large to prove on this setup")]
    TooLarge {
        /// Largest logrows tried.
        max_k: u32,
        /// Advice cells at that size.
        cells: usize,
        /// Function-table rows.
        table_rows: usize,
    },
    /// A function table holds a value outside the activation range.
    #[error("function table of node '{node}': {reason}; requantize the model with this zkinfer (`zkinfer build`), which keeps every table inside the activation range")]
    Table {
        /// The (first) node using the table.
        node: String,
        /// Which value is out of range.
        reason: String,
    },
    /// The witness does not fit the model's ops.
    #[error("witness for node '{node}' does not match its op: {reason}")]
    Witness {
        /// The node.
        node: String,
        /// What is wrong.
        reason: String,
    },
}

/// Result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Builds the circuit for `stage` with a known shape.
pub fn build(
    stage: CircuitBuilderStage,
    shape: &CircuitShape,
    model: &QuantModel,
    trace: &Trace,
    secrets: &Secrets,
) -> Result<ZkCircuit> {
    tables::check_tables(model, &shape.params.tables)?;
    let base = &shape.params.base;
    let mut builder = match stage {
        CircuitBuilderStage::Prover => {
            BaseCircuitBuilder::prover(base.clone(), shape.break_points.clone())
        }
        _ => BaseCircuitBuilder::from_stage(stage).use_params(base.clone()),
    };
    let lookups = FnLookups::default();
    let dots = DotJobs::default();
    let range = builder.range_chip();
    let io = layout::assign(
        builder.main(0),
        &range,
        &lookups,
        (shape.params.dot_width > 0).then_some(&dots),
        &shape.params.tables,
        model,
        trace,
        shape.visibility,
    )?;
    let instances = public_instances(
        builder.main(0),
        &range,
        model,
        shape.visibility,
        io,
        secrets,
        shape.predicate.as_ref(),
    );
    builder.assigned_instances = vec![instances];
    Ok(ZkCircuit {
        builder,
        lookups,
        dots,
        params: shape.params.clone(),
        #[cfg(test)]
        tamper: None,
    })
}
