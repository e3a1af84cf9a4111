//! The halo2 circuit proving one inference of a [`QuantModel`].
//!
//! Built on halo2-base's vertical gate (`a + b * c = d`) and its lookup range checks. Chips in
//! [`chips`] constrain one op family each; [`layout`] walks the model and wires them. Weights and
//! biases are circuit constants (fixed columns), so the verifying key is bound to the model; the
//! outputs are the public instances, in order.

pub mod chips;
mod layout;
mod params;

pub use layout::{assign, field, field_to_i128};
pub use params::{choose_params, CircuitShape};

pub use halo2_base::gates::circuit::CircuitBuilderStage;
/// The proving backend, re-exported once: every other module imports halo2 from here.
pub use halo2_base::halo2_proofs;
pub use halo2_base::{
    gates::circuit::builder::BaseCircuitBuilder, gates::circuit::BaseCircuitParams,
};
pub use halo2_proofs::halo2curves::bn256::{Bn256, Fr, G1Affine};

use crate::quant::{QuantModel, Trace};

/// Errors while laying out the circuit.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No `logrows` up to the maximum fits the model.
    #[error("the model needs more than 2^{max_k} rows ({cells} advice cells); it is too large to prove on this setup")]
    TooLarge {
        /// Largest logrows tried.
        max_k: u32,
        /// Advice cells at that size.
        cells: usize,
    },
    /// A witness value is inconsistent with the model (a bug or a tampered trace).
    #[error("witness for node '{node}' does not match its op: {reason}")]
    Witness {
        /// Node name.
        node: String,
        /// What is inconsistent.
        reason: String,
    },
}

/// Result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Builds the circuit for `model` with witness `trace` at a given stage and shape.
pub fn build(
    stage: CircuitBuilderStage,
    shape: &CircuitShape,
    model: &QuantModel,
    trace: &Trace,
) -> Result<BaseCircuitBuilder<Fr>> {
    let mut builder = match stage {
        CircuitBuilderStage::Prover => {
            BaseCircuitBuilder::prover(shape.params.clone(), shape.break_points.clone())
        }
        _ => BaseCircuitBuilder::from_stage(stage).use_params(shape.params.clone()),
    };
    assign(&mut builder, model, trace)?;
    Ok(builder)
}
