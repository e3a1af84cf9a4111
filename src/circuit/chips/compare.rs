//! Comparisons without lookup tables beyond range checks: sign bits, `x <= t` bits and the
//! maximum and minimum of two values. Inputs are assumed in a signed range of `bits` bits (the caller's
//! invariant); each gadget range-checks what it needs to make its output unique.

use halo2_base::gates::{GateInstructions, RangeChip, RangeInstructions};
use halo2_base::utils::ScalarField;
use halo2_base::{
    AssignedValue, Context,
    QuantumCell::{self, Constant, Existing},
};

/// Operations of the comparison chip.
pub trait CompareInstructions<F: ScalarField> {
    /// `1` if `x < 0`, else `0`, for `x` in `[-2^(bits-1), 2^(bits-1))`.
    fn is_negative(
        &self,
        ctx: &mut Context<F>,
        x: AssignedValue<F>,
        neg: bool,
        bits: u32,
    ) -> AssignedValue<F>;

    /// `1` if `x <= t` (a constant or a cell), else `0`; `x - t` must lie in a signed `bits` range.
    fn leq_const(
        &self,
        ctx: &mut Context<F>,
        x: AssignedValue<F>,
        t: QuantumCell<F>,
        holds: bool,
        bits: u32,
    ) -> AssignedValue<F>;

    /// `max(a, b)`, with `a - b` in a signed `bits` range. `a_wins` (`a > b`) and `diff`
    /// (`max(a - b, 0)`) are the prover's witnesses.
    fn max2(
        &self,
        ctx: &mut Context<F>,
        a: AssignedValue<F>,
        b: AssignedValue<F>,
        a_wins: bool,
        diff: F,
        bits: u32,
    ) -> AssignedValue<F>;

    /// `min(a, b) = a + b - max(a, b)`, with the same witnesses and range as [`Self::max2`].
    fn min2(
        &self,
        ctx: &mut Context<F>,
        a: AssignedValue<F>,
        b: AssignedValue<F>,
        a_wins: bool,
        diff: F,
        bits: u32,
    ) -> AssignedValue<F> {
        let m = self.max2(ctx, a, b, a_wins, diff, bits);
        let gate = self.gate();
        let s = gate.add(ctx, a, b);
        gate.sub(ctx, s, m)
    }

    /// The gate the comparisons are built on.
    fn gate(&self) -> &halo2_base::gates::GateChip<F>;
}

/// Comparison gadgets over a range chip.
#[derive(Clone, Debug)]
pub struct CompareChip<F: ScalarField> {
    range: RangeChip<F>,
}

impl<F: ScalarField> CompareChip<F> {
    /// A chip over `range`.
    pub fn new(range: RangeChip<F>) -> Self {
        Self { range }
    }
}

impl<F: ScalarField> CompareInstructions<F> for CompareChip<F> {
    fn gate(&self) -> &halo2_base::gates::GateChip<F> {
        self.range.gate()
    }

    fn is_negative(
        &self,
        ctx: &mut Context<F>,
        x: AssignedValue<F>,
        neg: bool,
        bits: u32,
    ) -> AssignedValue<F> {
        let gate = self.range.gate();
        // x + 2^(bits-1) = (1 - s) * 2^(bits-1) + low, low in [0, 2^(bits-1)), s boolean.
        let s = ctx.load_witness(if neg { F::ONE } else { F::ZERO });
        gate.assert_bit(ctx, s);
        let half = F::from_u128(1u128 << (bits - 1));
        // low = x + s * 2^(bits-1)
        let low = gate.mul_add(ctx, s, Constant(half), x);
        self.range.range_check(ctx, low, bits as usize - 1);
        s
    }

    fn leq_const(
        &self,
        ctx: &mut Context<F>,
        x: AssignedValue<F>,
        t: QuantumCell<F>,
        holds: bool,
        bits: u32,
    ) -> AssignedValue<F> {
        let gate = self.range.gate();
        let c = ctx.load_witness(if holds { F::ONE } else { F::ZERO });
        gate.assert_bit(ctx, c);
        // d = t - x; if c then d >= 0 else d <= -1: v = c * (2d + 1) - d - 1 >= 0.
        let d = gate.sub(ctx, t, x);
        let two_d1 = gate.mul_add(ctx, d, Constant(F::from(2)), Constant(F::ONE));
        let cd = gate.mul(ctx, c, two_d1);
        let v = gate.sub(ctx, cd, d);
        let v = gate.sub(ctx, v, Constant(F::ONE));
        self.range.range_check(ctx, v, bits as usize);
        c
    }

    fn max2(
        &self,
        ctx: &mut Context<F>,
        a: AssignedValue<F>,
        b: AssignedValue<F>,
        a_wins: bool,
        diff: F,
        bits: u32,
    ) -> AssignedValue<F> {
        let gate = self.range.gate();
        // r = relu(a - b): r * (r - (a - b)) = 0, r >= 0, r - (a - b) >= 0; max = b + r.
        let d = gate.sub(ctx, a, b);
        let r = ctx.load_witness(if a_wins { diff } else { F::ZERO });
        self.range.range_check(ctx, r, bits as usize);
        let slack = gate.sub(ctx, r, d);
        self.range.range_check(ctx, slack, bits as usize);
        let prod = gate.mul(ctx, r, slack);
        gate.assert_is_const(ctx, &prod, &F::ZERO);
        gate.add(ctx, Existing(b), Existing(r))
    }
}
