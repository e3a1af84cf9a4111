//! Chips: one op family each, as a Chip over halo2-base's gate and range chips plus an
//! `...Instructions` trait. Each has MockProver tests with honest and tampered witnesses.

mod affine;
mod argmax;
mod compare;
mod div;
mod relu;
mod rescale;
#[cfg(test)]
mod tests;
mod trees;

pub use affine::{AffineChip, AffineInstructions, DotJob, DotJobs, DotQueue};
pub use argmax::{ArgMaxChip, ArgMaxInstructions};
pub use compare::{CompareChip, CompareInstructions};
pub use div::{DivChip, DivInstructions};
pub use relu::{ReluChip, ReluInstructions};
pub use rescale::{RescaleChip, RescaleInstructions};
pub use trees::{ChipTreeNode, TreeChip, TreeInstructions};

use halo2_base::gates::{GateInstructions, RangeChip, RangeInstructions};
use halo2_base::utils::ScalarField;
use halo2_base::{AssignedValue, Context, QuantumCell::Constant};

/// Constrains `a` to the signed range `[-2^(bits-1), 2^(bits-1))`.
pub fn range_check_signed<F: ScalarField>(
    range: &RangeChip<F>,
    ctx: &mut Context<F>,
    a: AssignedValue<F>,
    bits: u32,
) {
    let offset = F::from_u128(1u128 << (bits - 1));
    let shifted = range.gate().add(ctx, a, Constant(offset));
    range.range_check(ctx, shifted, bits as usize);
}
