//! The halo2 circuit proving one inference of a [`QuantModel`], or a batch of them.
//!
//! Built on halo2-base's vertical gate (`a + b * c = d`) and its lookup range checks, plus a
//! function-table lookup and dot lanes ([`zk`]). Chips in [`chips`] constrain one op family each;
//! [`layout`] walks the model and wires them. Weights, biases and tables are circuit constants
//! (fixed columns), so the verifying key is bound to the model; [`instances`] says which cells
//! are public. A batch lays the model out once per slot in the same columns (lookup tables
//! shared, fixed weights repeated in fixed rows, non-fixed weights assigned once and shared).

pub mod chips;
pub mod commit;
mod instance_info;
mod instances;
mod layout;
mod params;
mod tables;
mod zk;

pub use chips::{DotJob, DotJobs};
pub use instance_info::{instance_infos, InstanceInfo, InstanceKind};
pub use params::{
    choose_batch_params, choose_params, largest_batch_within, prove_weight, verify_gas_estimate,
    CircuitShape, Layout, Optimize, BALANCED_MAX_SLOWDOWN, BALANCED_MIN_GAS_SAVING,
};
pub use tables::model_tables;
pub use zk::{plan_dots, plan_poly, ActJobs, FnLookups, PolyJobs, ZkCircuit, ZkParams};

pub use halo2_base::gates::circuit::CircuitBuilderStage;
pub use halo2_base::{
    gates::circuit::builder::BaseCircuitBuilder, gates::circuit::BaseCircuitParams,
};

use halo2_base::AssignedValue;

use crate::field::Fr;

use crate::quant::{QuantModel, Trace};

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

/// One slot of a batch circuit.
#[derive(Clone, Copy, Debug)]
pub struct Slot<'a> {
    /// The slot's witness: a real sample's trace, or for an unused slot any valid trace of the
    /// model (e.g. a copy of a real sample's).
    pub trace: &'a Trace,
    /// The slot's salts and predicate parameters.
    pub secrets: &'a Secrets,
    /// A real sample (its statement is proven and exposed) or an unused slot (its instances are
    /// all 0 and it claims nothing).
    pub used: bool,
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
    /// A batch's slots need more rows than the largest circuit has.
    #[error("--batch {batch}: {batch} samples of this model need more than 2^{max_k} rows; the largest batch that fits is {largest} (the verifier's size does not grow with the batch, its rows do)")]
    BatchTooLarge {
        /// Slots asked for.
        batch: usize,
        /// Largest logrows tried.
        max_k: u32,
        /// The largest batch that fits (0: not even one sample).
        largest: usize,
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

/// Builds the one-sample circuit for `stage` with a known shape (`shape.batch` 1).
pub fn build(
    stage: CircuitBuilderStage,
    shape: &CircuitShape,
    model: &QuantModel,
    trace: &Trace,
    secrets: &Secrets,
) -> Result<ZkCircuit> {
    let slot = Slot {
        trace,
        secrets,
        used: true,
    };
    build_batch(stage, shape, model, &[slot], secrets.binding.as_ref())
}

/// Builds the circuit for `stage` with a known shape: one slot per sample of `shape.batch`
/// (see [`instances`] for the instance layout), bound to `binding` if the build has a binding.
pub fn build_batch(
    stage: CircuitBuilderStage,
    shape: &CircuitShape,
    model: &QuantModel,
    slots: &[Slot],
    binding: Option<&crate::visibility::binding::Binding>,
) -> Result<ZkCircuit> {
    let batch = shape.batch.max(1);
    if slots.len() != batch {
        return Err(Error::Witness {
            node: "(batch)".into(),
            reason: format!("{} slots for a batch of {batch}", slots.len()),
        });
    }
    if batch == 1 && !slots[0].used {
        return Err(Error::Witness {
            node: "(batch)".into(),
            reason: "a one-sample circuit has no unused slot".into(),
        });
    }
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
    let poly = PolyJobs::default();
    let acts = ActJobs::default();
    let range = builder.range_chip();
    let mut arranger =
        instances::Arranger::new(model, shape.visibility, shape.predicate.as_ref(), batch > 1);
    let mut shared: Option<Vec<Vec<AssignedValue<Fr>>>> = None;
    for slot in slots {
        let io = layout::assign(
            builder.main(0),
            &range,
            &lookups,
            (shape.params.dot_width > 0).then_some(&dots),
            (shape.params.poly_lanes > 0).then_some(&poly),
            (shape.params.act_lanes > 0).then_some(&acts),
            &shape.params.tables,
            model,
            slot.trace,
            shape.visibility,
            shared.as_deref(),
        )?;
        if shared.is_none() {
            shared = Some(io.param_nodes.clone());
        }
        arranger.sample(builder.main(0), &range, io, slot.secrets, slot.used);
    }
    let binding = binding.map(|b| b.value());
    let instances = arranger.finish(builder.main(0), binding);
    builder.assigned_instances = vec![instances];
    Ok(ZkCircuit {
        builder,
        lookups,
        dots,
        poly,
        acts,
        params: shape.params.clone(),
        #[cfg(test)]
        tamper: None,
        #[cfg(test)]
        poly_tamper: None,
        #[cfg(test)]
        act_tamper: None,
    })
}
