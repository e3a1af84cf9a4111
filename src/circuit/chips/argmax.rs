//! Index of the first maximum: a one-hot witness `e`, `m = sum e_j x_j`, and for every `j`
//! `m - x_j - [j before the hot position] >= 0`.

use halo2_base::gates::{GateInstructions, RangeChip, RangeInstructions};
use halo2_base::utils::ScalarField;
use halo2_base::{
    AssignedValue, Context,
    QuantumCell::{Constant, Existing},
};

/// Operations of the argmax chip.
pub trait ArgMaxInstructions<F: ScalarField> {
    /// Returns `labels[i]` for the first maximum `i` of `xs` (activations of `act_bits`);
    /// `hot` is the prover's claimed position.
    fn argmax(
        &self,
        ctx: &mut Context<F>,
        xs: &[AssignedValue<F>],
        labels: &[F],
        hot: usize,
    ) -> AssignedValue<F>;
}

/// Argmax over a range chip.
#[derive(Clone, Debug)]
pub struct ArgMaxChip<F: ScalarField> {
    range: RangeChip<F>,
    act_bits: u32,
}

impl<F: ScalarField> ArgMaxChip<F> {
    /// A chip over `range`.
    pub fn new(range: RangeChip<F>, act_bits: u32) -> Self {
        Self { range, act_bits }
    }
}

impl<F: ScalarField> ArgMaxInstructions<F> for ArgMaxChip<F> {
    fn argmax(
        &self,
        ctx: &mut Context<F>,
        xs: &[AssignedValue<F>],
        labels: &[F],
        hot: usize,
    ) -> AssignedValue<F> {
        let gate = self.range.gate();
        let e: Vec<AssignedValue<F>> = (0..xs.len())
            .map(|j| {
                let b = ctx.load_witness(if j == hot { F::ONE } else { F::ZERO });
                gate.assert_bit(ctx, b);
                b
            })
            .collect();
        let total = gate.sum(ctx, e.iter().map(|c| Existing(*c)));
        gate.assert_is_const(ctx, &total, &F::ONE);
        let m = gate.inner_product(
            ctx,
            e.iter().map(|c| Existing(*c)),
            xs.iter().map(|c| Existing(*c)),
        );
        let mut prefix = ctx.load_zero();
        for (j, x) in xs.iter().enumerate() {
            prefix = gate.add(ctx, prefix, e[j]);
            // before = 1 - prefix; v = m - x - before = m - x - 1 + prefix
            let v = gate.sub(ctx, m, *x);
            let v = gate.add(ctx, v, prefix);
            let v = gate.sub(ctx, v, Constant(F::ONE));
            self.range.range_check(ctx, v, self.act_bits as usize + 1);
        }
        gate.inner_product(
            ctx,
            e.iter().map(|c| Existing(*c)),
            labels.iter().map(|l| Constant(*l)),
        )
    }
}
