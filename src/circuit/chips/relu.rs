//! ReLU without a lookup table: `out * (out - x) = 0`, `out >= 0`, `out - x >= 0`.

use halo2_base::gates::{GateInstructions, RangeChip, RangeInstructions};
use halo2_base::utils::ScalarField;
use halo2_base::{AssignedValue, Context};

/// Operations of the ReLU chip.
pub trait ReluInstructions<F: ScalarField> {
    /// Constrains and returns `out = max(x, 0)` for `x` in the signed `act_bits` range; `out`
    /// is the prover's witness.
    fn relu(&self, ctx: &mut Context<F>, x: AssignedValue<F>, out: F) -> AssignedValue<F>;
}

/// ReLU by two range checks and one product.
#[derive(Clone, Debug)]
pub struct ReluChip<F: ScalarField> {
    range: RangeChip<F>,
    act_bits: u32,
}

impl<F: ScalarField> ReluChip<F> {
    /// A chip over `range`, for inputs already range-checked to `act_bits` signed bits.
    pub fn new(range: RangeChip<F>, act_bits: u32) -> Self {
        Self { range, act_bits }
    }
}

impl<F: ScalarField> ReluInstructions<F> for ReluChip<F> {
    fn relu(&self, ctx: &mut Context<F>, x: AssignedValue<F>, out: F) -> AssignedValue<F> {
        let gate = self.range.gate();
        let out = ctx.load_witness(out);
        // out in [0, 2^(B-1)): non-negative.
        self.range.range_check(ctx, out, self.act_bits as usize - 1);
        // out - x in [0, 2^B): out >= x (x >= -2^(B-1), so out - x < 2^B when honest).
        let diff = gate.sub(ctx, out, x);
        self.range.range_check(ctx, diff, self.act_bits as usize);
        // out = 0 or out = x.
        let prod = gate.mul(ctx, out, diff);
        gate.assert_is_const(ctx, &prod, &F::ZERO);
        out
    }
}
