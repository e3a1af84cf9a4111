//! Choosing the circuit's shape: `logrows`, columns, lookup bits.

use serde::{Deserialize, Serialize};

use super::{
    layout::assign, BaseCircuitBuilder, BaseCircuitParams, CircuitBuilderStage, Error, Fr, Result,
};
use crate::quant::{QuantModel, Trace};

/// Rows kept free at the bottom for halo2's blinding factors.
pub const BLINDING_ROWS: usize = 20;
/// Smallest `logrows` considered.
pub const MIN_K: u32 = 8;
/// Largest `logrows` considered.
pub const MAX_K: u32 = 26;
/// Most advice columns before a larger `logrows` is preferred: each column adds commitments,
/// openings and bytecode to the on-chain verifier.
pub const MAX_ADVICE: usize = 2;

/// Everything needed to rebuild the same circuit for keygen and proving.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CircuitShape {
    /// halo2-base configuration: `k`, columns, lookup bits, instance columns.
    pub params: BaseCircuitParams,
    /// Where each advice column breaks, fixed at keygen; needed by the prover.
    pub break_points: Vec<Vec<usize>>,
}

impl CircuitShape {
    /// `logrows` of the circuit.
    pub fn k(&self) -> u32 {
        self.params.k as u32
    }
}

/// Picks the smallest `logrows` at which the circuit fits in [`MAX_ADVICE`] advice columns and
/// one lookup column, with a lookup table of `logrows - 1` bits.
pub fn choose_params(model: &QuantModel, trace: &Trace) -> Result<CircuitShape> {
    let mut cells = 0;
    for k in MIN_K..=MAX_K {
        let mut b = BaseCircuitBuilder::<Fr>::from_stage(CircuitBuilderStage::Keygen)
            .use_k(k as usize)
            .use_lookup_bits(k as usize - 1)
            .use_instance_columns(1);
        assign(&mut b, model, trace)?;
        let params = b.calculate_params(Some(BLINDING_ROWS));
        cells = b.statistics().gate.total_advice_per_phase.iter().sum();
        if params.num_advice_per_phase[0] <= MAX_ADVICE
            && params.num_lookup_advice_per_phase[0] <= 1
        {
            return Ok(CircuitShape {
                params,
                break_points: vec![],
            });
        }
    }
    Err(Error::TooLarge {
        max_k: MAX_K,
        cells,
    })
}
