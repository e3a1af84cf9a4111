//! Affine rows: a constant bias plus a sum of cells times constants (dense or sparse), and
//! sums of products of two cells.
//!
//! With a dot queue, rows whose coefficients and bias are all constants are not laid out in the
//! vertical gate: the chip loads the result as a witness, adds it to a running sum (one gate),
//! and queues a [`DotJob`] that the circuit's dot lanes constrain (see `circuit::lookup`).
//! Without a queue, or when any coefficient is a cell, rows use halo2-base's inner product.

use std::sync::{Arc, Mutex};

use halo2_base::gates::{GateChip, GateInstructions};
use halo2_base::utils::ScalarField;
use halo2_base::{
    AssignedValue, Context,
    QuantumCell::{self, Constant, Existing},
};

/// A dot product with constant, non-zero weights, queued during witness assignment. The chip
/// keeps a running sum `P` in the builder: `prefix = prev + out`, where `out` is the cell it
/// returned; the dot lane proves `prefix = prev + sum of w * x`, hence `out = sum of w * x`.
#[derive(Clone, Debug)]
pub struct DotJob<F: ScalarField> {
    /// `(x, w)` pairs, every `w` non-zero (the bias is a term on a constant-one cell).
    pub terms: Vec<(AssignedValue<F>, F)>,
    /// The running sum before this job.
    pub prev: AssignedValue<F>,
    /// The running sum after it.
    pub prefix: AssignedValue<F>,
}

/// The dot queue: the jobs, the running sum's last cell and the constant-one cell.
#[derive(Clone, Debug, Default)]
pub struct DotQueue<F: ScalarField> {
    /// Jobs in order.
    pub jobs: Vec<DotJob<F>>,
    prefix: Option<AssignedValue<F>>,
    one: Option<AssignedValue<F>>,
    /// Test-only: job `.0`'s output is computed `.1` too high (a dishonest prover).
    #[cfg(test)]
    pub(crate) lie: Option<(usize, F)>,
}

/// Dot products queued during witness assignment.
pub type DotJobs<F> = Arc<Mutex<DotQueue<F>>>;

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
    dots: Option<DotJobs<F>>,
}

impl<F: ScalarField> AffineChip<F> {
    /// A chip laying every row out in `gate`.
    pub fn new(gate: GateChip<F>) -> Self {
        Self { gate, dots: None }
    }

    /// A chip queueing constant-weight rows in `dots`.
    pub fn with_dots(gate: GateChip<F>, dots: DotJobs<F>) -> Self {
        Self {
            gate,
            dots: Some(dots),
        }
    }
}

fn constant<F: ScalarField>(c: &QuantumCell<F>) -> Option<F> {
    match c {
        Constant(v) => Some(*v),
        _ => None,
    }
}

impl<F: ScalarField> AffineInstructions<F> for AffineChip<F> {
    fn affine_row(
        &self,
        ctx: &mut Context<F>,
        terms: &[(AssignedValue<F>, QuantumCell<F>)],
        bias: QuantumCell<F>,
    ) -> AssignedValue<F> {
        if let Some(dots) = &self.dots {
            let weights: Option<Vec<F>> = terms.iter().map(|(_, w)| constant(w)).collect();
            if let (Some(weights), Some(b)) = (weights, constant(&bias)) {
                let mut q = dots.lock().unwrap_or_else(|e| e.into_inner());
                // Zero weights drop out, so that every lane row's first weight is non-zero (it
                // doubles as the row's selector).
                let mut job: Vec<(AssignedValue<F>, F)> = terms
                    .iter()
                    .zip(weights)
                    .filter(|(_, w)| *w != F::ZERO)
                    .map(|((x, _), w)| (*x, w))
                    .collect();
                if b != F::ZERO {
                    let one = *q.one.get_or_insert_with(|| ctx.load_constant(F::ONE));
                    job.push((one, b));
                }
                if job.is_empty() {
                    return ctx.load_zero();
                }
                #[allow(unused_mut)]
                let mut value = job.iter().fold(F::ZERO, |s, (x, w)| s + *w * x.value());
                #[cfg(test)]
                if let Some((j, d)) = q.lie {
                    if j == q.jobs.len() {
                        value += d;
                    }
                }
                let out = ctx.load_witness(value);
                let prev = *q.prefix.get_or_insert_with(|| ctx.load_zero());
                let prefix = self.gate.add(ctx, prev, out);
                q.prefix = Some(prefix);
                q.jobs.push(DotJob {
                    terms: job,
                    prev,
                    prefix,
                });
                return out;
            }
        }
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
