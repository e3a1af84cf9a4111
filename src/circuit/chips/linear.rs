//! Linear layers: dot products of activations with constant weights, plus a constant bias.

use halo2_base::gates::{GateChip, GateInstructions};
use halo2_base::utils::ScalarField;
use halo2_base::{AssignedValue, Context, QuantumCell::Constant};

/// Operations of the linear chip.
pub trait LinearInstructions<F: ScalarField> {
    /// Returns `acc[o] = sum_i x[i] * weight[o * x.len() + i] + bias[o]`, weights and bias
    /// as circuit constants.
    fn linear(
        &self,
        ctx: &mut Context<F>,
        x: &[AssignedValue<F>],
        weight: &[F],
        bias: &[F],
    ) -> Vec<AssignedValue<F>>;
}

/// Dot products against constant weights over the vertical gate.
#[derive(Clone, Debug, Default)]
pub struct LinearChip<F: ScalarField> {
    gate: GateChip<F>,
}

impl<F: ScalarField> LinearChip<F> {
    /// A chip over `gate`.
    pub fn new(gate: GateChip<F>) -> Self {
        Self { gate }
    }
}

impl<F: ScalarField> LinearInstructions<F> for LinearChip<F> {
    fn linear(
        &self,
        ctx: &mut Context<F>,
        x: &[AssignedValue<F>],
        weight: &[F],
        bias: &[F],
    ) -> Vec<AssignedValue<F>> {
        let n = x.len();
        bias.iter()
            .enumerate()
            .map(|(o, b)| {
                // The bias enters as the first term: bias * 1 with a constant one.
                let terms = std::iter::once(Constant(F::ONE))
                    .chain(x.iter().map(|a| halo2_base::QuantumCell::Existing(*a)));
                let coeffs = std::iter::once(Constant(*b))
                    .chain(weight[o * n..(o + 1) * n].iter().map(|w| Constant(*w)));
                self.gate.inner_product(ctx, terms, coeffs)
            })
            .collect()
    }
}
