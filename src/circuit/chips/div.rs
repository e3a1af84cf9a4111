//! Division of two activations, rounded half up: `y = floor((2 a 2^s + b) / 2b)` for `b > 0`.

use halo2_base::gates::{GateInstructions, RangeChip, RangeInstructions};
use halo2_base::utils::ScalarField;
use halo2_base::{AssignedValue, Context, QuantumCell::Constant};

use super::range_check_signed;

/// Operations of the division chip.
pub trait DivInstructions<F: ScalarField> {
    /// Constrains `2 a 2^s + b = y * 2b + r` with `b >= 1`, `0 <= r < 2b` and `y` in range.
    fn div(
        &self,
        ctx: &mut Context<F>,
        a: AssignedValue<F>,
        b: AssignedValue<F>,
        shift: u32,
        y: F,
        r: F,
    ) -> AssignedValue<F>;
}

/// Division over a range chip, for activations of `act_bits` signed bits.
#[derive(Clone, Debug)]
pub struct DivChip<F: ScalarField> {
    range: RangeChip<F>,
    act_bits: u32,
}

impl<F: ScalarField> DivChip<F> {
    /// A chip over `range`.
    pub fn new(range: RangeChip<F>, act_bits: u32) -> Self {
        Self { range, act_bits }
    }
}

impl<F: ScalarField> DivInstructions<F> for DivChip<F> {
    fn div(
        &self,
        ctx: &mut Context<F>,
        a: AssignedValue<F>,
        b: AssignedValue<F>,
        shift: u32,
        y: F,
        r: F,
    ) -> AssignedValue<F> {
        let gate = self.range.gate();
        let bits = self.act_bits as usize;
        // b >= 1 (b is an activation, so b - 1 < 2^(B-1) when honest).
        let b1 = gate.sub(ctx, b, Constant(F::ONE));
        self.range.range_check(ctx, b1, bits);
        let n = gate.mul_add(ctx, a, Constant(F::from_u128(1u128 << (shift + 1))), b);
        let d = gate.add(ctx, b, b);
        let y = ctx.load_witness(y);
        range_check_signed(&self.range, ctx, y, self.act_bits);
        let r = ctx.load_witness(r);
        self.range.range_check(ctx, r, bits + 1);
        // r <= d - 1
        let room = gate.sub(ctx, d, r);
        let room = gate.sub(ctx, room, Constant(F::ONE));
        self.range.range_check(ctx, room, bits + 1);
        let yd = gate.mul_add(ctx, y, d, r);
        ctx.constrain_equal(&yd, &n);
        y
    }
}
