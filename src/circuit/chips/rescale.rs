//! Rescaling: `y = floor((acc + 2^(d-1)) / 2^d)`, proven with a range-checked remainder; and
//! the same rescale fused with a ReLU, `max(y, 0)`, which proves `y = out - neg` with `out` and
//! `neg` non-negative, one of them zero: three range checks where the two chips take four.

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
    ) -> AssignedValue<F> {
        self.rescale_biased(ctx, acc, shift, y, r, false)
    }

    /// [`Self::rescale`] where `biased` says the cell `acc` already holds `acc + 2^(d-1)` (a
    /// constant bias took the rounding term: one gate row fewer).
    fn rescale_biased(
        &self,
        ctx: &mut Context<F>,
        acc: AssignedValue<F>,
        shift: u32,
        y: F,
        r: F,
        biased: bool,
    ) -> AssignedValue<F>;

    /// Constrains and returns `out = max(y, 0)` for `y = floor((acc + 2^(d-1)) / 2^d)`, `d > 0`:
    /// `acc + 2^(d-1) = (out - neg) * 2^d + r` with `r` in `[0, 2^d)`, `out` and `neg` in
    /// `[0, 2^(act_bits-1))` and `out * neg = 0`. For any `acc` of fewer than
    /// `253 - act_bits - d` bits the witness is unique: `out - neg` and `r` are the quotient and
    /// remainder, and the zero product splits the quotient into its positive and negative parts.
    /// `out`, `neg` and `r` are the prover's witnesses; `biased` as in [`Self::rescale_biased`].
    #[allow(clippy::too_many_arguments)] // the op's input, its shift and the three witnesses
    fn rescale_relu(
        &self,
        ctx: &mut Context<F>,
        acc: AssignedValue<F>,
        shift: u32,
        out: F,
        neg: F,
        r: F,
        biased: bool,
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
    fn rescale_biased(
        &self,
        ctx: &mut Context<F>,
        acc: AssignedValue<F>,
        shift: u32,
        y: F,
        r: F,
        biased: bool,
    ) -> AssignedValue<F> {
        if shift == 0 {
            assert!(!biased, "a shift of 0 has no rounding term");
            range_check_signed(&self.range, ctx, acc, self.act_bits);
            return acc;
        }
        let half = F::from_u128(1u128 << (shift - 1));
        let pow = F::from_u128(1u128 << shift);
        // One gate row: r + y * 2^d = acc + 2^(d-1).
        let shifted = if biased {
            acc
        } else {
            self.range.gate().add(ctx, acc, Constant(half))
        };
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

    fn rescale_relu(
        &self,
        ctx: &mut Context<F>,
        acc: AssignedValue<F>,
        shift: u32,
        out: F,
        neg: F,
        r: F,
        biased: bool,
    ) -> AssignedValue<F> {
        assert!(shift > 0, "rescale_relu needs a shift");
        let half = F::from_u128(1u128 << (shift - 1));
        let pow = F::from_u128(1u128 << shift);
        // Chained gate rows (a + b * c = d, each starting on the last one's d):
        //   r + out * 2^d = t,  t + neg * (-2^d) = s,  and unless biased s + 1 * (-2^(d-1)) = acc
        //   (biased: s is acc itself).
        let t = r + out * pow;
        let s = t - neg * pow;
        let head = [
            Witness(r),
            Witness(out),
            Constant(pow),
            Witness(t),
            Witness(neg),
            Constant(-pow),
        ];
        let offset = if biased {
            ctx.assign_region(head.into_iter().chain([Existing(acc)]), [0, 3]);
            -7
        } else {
            ctx.assign_region(
                head.into_iter().chain([
                    Witness(s),
                    Constant(F::ONE),
                    Constant(-half),
                    Existing(acc),
                ]),
                [0, 3, 6],
            );
            -10
        };
        let r_cell = ctx.get(offset);
        let out_cell = ctx.get(offset + 1);
        let neg_cell = ctx.get(offset + 4);
        // out * neg = 0.
        ctx.assign_region(
            [
                Constant(F::ZERO),
                Existing(out_cell),
                Existing(neg_cell),
                Constant(F::ZERO),
            ],
            [0],
        );
        let half_bits = self.act_bits as usize - 1;
        self.range.range_check(ctx, r_cell, shift as usize);
        self.range.range_check(ctx, out_cell, half_bits);
        self.range.range_check(ctx, neg_cell, half_bits);
        out_cell
    }
}
