//! Tree ensembles: every branch test is a proven bit, every leaf an indicator (the product of
//! the tests along its path), every output a constant-weighted sum of indicators.

use halo2_base::gates::{GateInstructions, RangeChip, RangeInstructions};
use halo2_base::utils::ScalarField;
use halo2_base::{
    AssignedValue, Context,
    QuantumCell::{self, Constant, Existing},
};

use super::compare::{CompareChip, CompareInstructions};

/// One tree node for the chip: a branch on `features[feature] <= threshold` (negated if
/// `negate`), or a leaf with `(target, weight)` pairs.
#[derive(Clone, Debug)]
pub enum ChipTreeNode<F: ScalarField> {
    /// A test.
    Branch {
        /// Feature position.
        feature: usize,
        /// Threshold (field encoding of a signed integer).
        threshold: QuantumCell<F>,
        /// Whether `yes` is taken when the test fails.
        negate: bool,
        /// Whether `x <= threshold` holds for this sample (the prover's witness).
        holds: bool,
        /// Next node when taken.
        yes: usize,
        /// Next node otherwise.
        no: usize,
    },
    /// A leaf.
    Leaf(Vec<(usize, QuantumCell<F>)>),
}

/// Operations of the tree chip.
pub trait TreeInstructions<F: ScalarField> {
    /// Adds each tree's reached leaf weights to `acc` (one cell per target).
    fn add_tree(
        &self,
        ctx: &mut Context<F>,
        x: &[AssignedValue<F>],
        tree: &[ChipTreeNode<F>],
        acc: &mut [Vec<(AssignedValue<F>, QuantumCell<F>)>],
    );
}

/// Trees over a range chip; tests compare values of `bits` signed bits.
#[derive(Clone, Debug)]
pub struct TreeChip<F: ScalarField> {
    range: RangeChip<F>,
    bits: u32,
}

impl<F: ScalarField> TreeChip<F> {
    /// A chip over `range`; `bits` bounds `threshold - x`.
    pub fn new(range: RangeChip<F>, bits: u32) -> Self {
        Self { range, bits }
    }
}

impl<F: ScalarField> TreeInstructions<F> for TreeChip<F> {
    fn add_tree(
        &self,
        ctx: &mut Context<F>,
        x: &[AssignedValue<F>],
        tree: &[ChipTreeNode<F>],
        acc: &mut [Vec<(AssignedValue<F>, QuantumCell<F>)>],
    ) {
        let gate = self.range.gate();
        let cmp = CompareChip::new(self.range.clone());
        let one = ctx.load_constant(F::ONE);
        let mut ind: Vec<Option<AssignedValue<F>>> = vec![None; tree.len()];
        ind[0] = Some(one);
        // Nodes are visited root first; a child's indicator is set from its parent's.
        let mut stack = vec![0usize];
        while let Some(k) = stack.pop() {
            let here = ind[k].expect("parent visited first");
            match &tree[k] {
                ChipTreeNode::Branch {
                    feature,
                    threshold,
                    negate,
                    holds,
                    yes,
                    no,
                } => {
                    let c = cmp.leq_const(ctx, x[*feature], *threshold, *holds, self.bits);
                    let taken = if *negate {
                        gate.sub(ctx, Constant(F::ONE), Existing(c))
                    } else {
                        c
                    };
                    let iy = gate.mul(ctx, here, taken);
                    let ino = gate.sub(ctx, here, iy);
                    ind[*yes] = Some(iy);
                    ind[*no] = Some(ino);
                    stack.push(*yes);
                    stack.push(*no);
                }
                ChipTreeNode::Leaf(values) => {
                    for (t, w) in values {
                        acc[*t].push((here, *w));
                    }
                }
            }
        }
    }
}
