//! Affine rows: a constant bias plus a sum of cells times constants (dense or sparse), and
//! sums of products of two cells.

use halo2_base::gates::{GateChip, GateInstructions};
use halo2_base::utils::ScalarField;
use halo2_base::{
    AssignedValue, Context,
    QuantumCell::{self, Constant, Existing},
};

/// Operations of the affine chip.
pub trait AffineInstructions<F: ScalarField> {
    /// `bias + sum of coef * cell`, exactly (no rescale). Coefficients and bias are constants
    /// (fixed parameters) or cells (parameters as witnesses).
    fn affine_row(
        &self,
        ctx: &mut Context<F>,
        terms: &[(AssignedValue<F>, QuantumCell<F>)],
        bias: QuantumCell<F>,
    ) -> AssignedValue<F>;

    /// `sum of a * b` over pairs of cells.
    fn products(
        &self,
        ctx: &mut Context<F>,
        pairs: &[(AssignedValue<F>, AssignedValue<F>)],
    ) -> AssignedValue<F>;
}

/// Affine rows over halo2-base's vertical gate.
#[derive(Clone, Debug, Default)]
pub struct AffineChip<F: ScalarField> {
    gate: GateChip<F>,
}

impl<F: ScalarField> AffineChip<F> {
    /// A chip over `gate`.
    pub fn new(gate: GateChip<F>) -> Self {
        Self { gate }
    }
}

impl<F: ScalarField> AffineInstructions<F> for AffineChip<F> {
    fn affine_row(
        &self,
        ctx: &mut Context<F>,
        terms: &[(AssignedValue<F>, QuantumCell<F>)],
        bias: QuantumCell<F>,
    ) -> AssignedValue<F> {
        // The bias enters as the first term, `1 * bias`, so a row costs one gate per term.
        let cells =
            std::iter::once(Constant(F::ONE)).chain(terms.iter().map(|(c, _)| Existing(*c)));
        let coefs = std::iter::once(bias).chain(terms.iter().map(|(_, w)| *w));
        self.gate.inner_product(ctx, cells, coefs)
    }

    fn products(
        &self,
        ctx: &mut Context<F>,
        pairs: &[(AssignedValue<F>, AssignedValue<F>)],
    ) -> AssignedValue<F> {
        let a = pairs.iter().map(|(a, _)| Existing(*a));
        let b = pairs.iter().map(|(_, b)| Existing(*b));
        self.gate.inner_product(ctx, a, b)
    }
}
