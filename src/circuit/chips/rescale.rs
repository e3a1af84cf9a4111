//! Rescaling: `y = floor((acc + 2^(d-1)) / 2^d)`, proven with a range-checked remainder.

use halo2_base::gates::{GateInstructions, RangeChip, RangeInstructions};
use halo2_base::utils::ScalarField;
use halo2_base::{
    AssignedValue, Context,
    QuantumCell::{Constant, Existing, Witness},
};

use super::range_check_signed;

/// Operations of the rescale chip.
pub trait RescaleInstructions<F: ScalarField> {
    /// Constrains and returns `y` with `acc + 2^(d-1) = y * 2^d + r`, `r` in `[0, 2^d)` and
    /// `y` in the signed `act_bits` range. `y` and `r` are the prover's witnesses.
    fn rescale(
        &self,
        ctx: &mut Context<F>,
        acc: AssignedValue<F>,
        shift: u32,
        y: F,
        r: F,
    ) -> AssignedValue<F>;
}

/// Rescale with a lookup-checked remainder.
#[derive(Clone, Debug)]
pub struct RescaleChip<F: ScalarField> {
    range: RangeChip<F>,
    act_bits: u32,
}

impl<F: ScalarField> RescaleChip<F> {
    /// A chip over `range`, for activations of `act_bits` signed bits.
    pub fn new(range: RangeChip<F>, act_bits: u32) -> Self {
        Self { range, act_bits }
    }
}

impl<F: ScalarField> RescaleInstructions<F> for RescaleChip<F> {
    fn rescale(
        &self,
        ctx: &mut Context<F>,
        acc: AssignedValue<F>,
        shift: u32,
        y: F,
        r: F,
    ) -> AssignedValue<F> {
        if shift == 0 {
            range_check_signed(&self.range, ctx, acc, self.act_bits);
            return acc;
        }
        let half = F::from_u128(1u128 << (shift - 1));
        let pow = F::from_u128(1u128 << shift);
        // One gate row: r + y * 2^d = acc + 2^(d-1).
        let shifted = self.range.gate().add(ctx, acc, Constant(half));
        ctx.assign_region(
            [Witness(r), Witness(y), Constant(pow), Existing(shifted)],
            [0],
        );
        let r_cell = ctx.get(-4);
        let y_cell = ctx.get(-3);
        self.range.range_check(ctx, r_cell, shift as usize);
        range_check_signed(&self.range, ctx, y_cell, self.act_bits);
        y_cell
    }
}
