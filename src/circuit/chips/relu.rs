//! ReLU without a lookup table: `out * (out - x) = 0`, `out >= 0`, `out - x >= 0`; and PReLU,
//! `x` if `x >= 0` else `rescale(x * slope, d)`, from a sign bit `s` and a rescale of
//! `s * x * slope`.

use halo2_base::gates::{GateInstructions, RangeChip, RangeInstructions};
use halo2_base::utils::ScalarField;
use halo2_base::{AssignedValue, Context, QuantumCell};

use super::{CompareChip, CompareInstructions, RescaleChip, RescaleInstructions};

/// Operations of the ReLU chip.
pub trait ReluInstructions<F: ScalarField> {
    /// Constrains and returns `out = max(x, 0)` for `x` in the signed `act_bits` range; `out`
    /// is the prover's witness.
    fn relu(&self, ctx: &mut Context<F>, x: AssignedValue<F>, out: F) -> AssignedValue<F>;

    /// Constrains and returns PReLU of `x` (signed `act_bits`): `x` if `x >= 0`, else
    /// `rescale(x * slope, slope_exp)`. The prover's witnesses: `neg` (`x < 0`) and the
    /// rescale's quotient and remainder `(ny, nr)` of `neg * x * slope` (of 0 when `x >= 0`,
    /// so that a large positive `x` with a steep slope does not overflow a branch it skips).
    #[allow(clippy::too_many_arguments)] // the op's inputs and the prover's three witnesses
    fn prelu(
        &self,
        ctx: &mut Context<F>,
        x: AssignedValue<F>,
        slope: QuantumCell<F>,
        slope_exp: u32,
        neg: bool,
        ny: F,
        nr: F,
    ) -> AssignedValue<F>;
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

    fn prelu(
        &self,
        ctx: &mut Context<F>,
        x: AssignedValue<F>,
        slope: QuantumCell<F>,
        slope_exp: u32,
        neg: bool,
        ny: F,
        nr: F,
    ) -> AssignedValue<F> {
        let gate = self.range.gate();
        // s = [x < 0], unique for x in the signed range.
        let s = CompareChip::new(self.range.clone()).is_negative(ctx, x, neg, self.act_bits);
        // m = s * x (x or 0), n = rescale(m * slope): unique, in the activation range.
        let m = gate.mul(ctx, s, x);
        let prod = gate.mul(ctx, m, slope);
        let n = RescaleChip::new(self.range.clone(), self.act_bits)
            .rescale(ctx, prod, slope_exp, ny, nr);
        // out = s ? n : x = n + (x - m) (n = 0 when s = 0).
        let rest = gate.sub(ctx, x, m);
        gate.add(ctx, n, rest)
    }
}
