//! Which cells become public instances, in which order: for one sample (today's layout) or for
//! a batch of samples of the same model.
//!
//! One sample: inputs (or their commitment), parameters (or theirs), outputs (or theirs), the
//! predicate's result and parameters, the binding.
//!
//! A batch of N: what belongs to the proof once first (the parameters' commitment or the public
//! parameters), then each slot in the one-sample order without the parameters, then the binding.
//! Each slot has a *used* bit, constrained boolean: with a predicate it is the predicate's result
//! instance (1 for every real sample, as in one-sample proofs), without one it is an extra first
//! instance of the slot. Every other instance of the slot is multiplied by the bit, and the
//! predicate is required only when it is 1. So an unused slot (bit 0) exposes only zeros and
//! claims nothing, while a slot with bit 1 carries exactly the statement a one-sample proof would:
//! a prover cannot turn an unused slot into a real one without a valid inference for it.

use halo2_base::gates::{GateInstructions, RangeChip, RangeInstructions};
use halo2_base::poseidon::hasher::PoseidonHasher;
use halo2_base::QuantumCell::Constant;
use halo2_base::{AssignedValue, Context};

use super::layout::Io;
use super::{chips, commit, Secrets};
use crate::field::{field, field_to_i128, Fr};
use crate::predicate::{ClassRef, CmpOp, Predicate};
use crate::quant::QuantModel;
use crate::visibility::{tag, Vis, Visibility};

/// One slot's instances: those before the parameters in the one-sample order, and after.
type SlotCells = (Vec<AssignedValue<Fr>>, Vec<AssignedValue<Fr>>);

/// Collects the instances of a proof, sample by sample.
pub(super) struct Arranger<'a> {
    model: &'a QuantModel,
    vis: Visibility,
    predicate: Option<&'a Predicate>,
    batched: bool,
    hasher: Option<PoseidonHasher<Fr, { commit::T }, { commit::RATE }>>,
    params: Option<Vec<AssignedValue<Fr>>>,
    samples: Vec<SlotCells>,
}

impl<'a> Arranger<'a> {
    /// An arranger for one sample (`batched` false: today's layout) or a batch.
    pub(super) fn new(
        model: &'a QuantModel,
        vis: Visibility,
        predicate: Option<&'a Predicate>,
        batched: bool,
    ) -> Self {
        Self {
            model,
            vis,
            predicate,
            batched,
            hasher: None,
            params: None,
            samples: vec![],
        }
    }

    /// One commitment or the cells themselves, per visibility.
    #[allow(clippy::too_many_arguments)] // one instance group's whole description
    fn part(
        &mut self,
        ctx: &mut Context<Fr>,
        range: &RangeChip<Fr>,
        v: Vis,
        t: u64,
        cells: Vec<AssignedValue<Fr>>,
        bits: u32,
        salt: Option<Fr>,
    ) -> Vec<AssignedValue<Fr>> {
        match v {
            Vis::Public => cells,
            Vis::Hashed => {
                let h = self
                    .hasher
                    .get_or_insert_with(|| commit::hasher(ctx, range.gate()));
                let s = match salt {
                    Some(s) => ctx.load_witness(s),
                    None => ctx.load_zero(),
                };
                // The gadget range-checks each cell to `bits` (see `layout::assign`, which
                // leaves hashed inputs and parameters to this check).
                vec![commit::commit(ctx, range, h, t, &cells, bits, s)]
            }
            Vis::Private | Vis::Fixed => vec![],
        }
    }

    /// Adds one slot: its assigned cells, salts and predicate parameters, and whether it holds a
    /// real sample (always true for one-sample circuits). The first slot's parameter cells are
    /// the proof's parameters.
    pub(super) fn sample(
        &mut self,
        ctx: &mut Context<Fr>,
        range: &RangeChip<Fr>,
        io: Io,
        secrets: &Secrets,
        used: bool,
    ) {
        let gate = range.gate();
        let model = self.model;
        let bit = self.batched.then(|| {
            let b = ctx.load_witness(Fr::from(used as u64));
            gate.assert_bit(ctx, b);
            b
        });
        // The cells of the output the predicate speaks about (checked to exist at build time).
        let pred_out: Vec<AssignedValue<Fr>> = self
            .predicate
            .and_then(|p| p.locate(model))
            .map_or(vec![], |(_, v, off)| {
                io.outputs[off..off + model.values[v].numel()].to_vec()
            });
        let mut first = self.part(
            ctx,
            range,
            self.vis.input,
            tag::INPUT,
            io.inputs,
            model.act_bits,
            Some(secrets.input_salt),
        );
        if self.params.is_none() {
            let p = self.part(
                ctx,
                range,
                self.vis.params,
                tag::PARAMS,
                io.params,
                model.param_bits(),
                None,
            );
            self.params = Some(p);
        }
        let mut rest = self.part(
            ctx,
            range,
            self.vis.output,
            tag::OUTPUT,
            io.outputs,
            model.act_bits,
            Some(secrets.output_salt),
        );
        // The predicate's result (the used bit in a batch) and its parameters.
        let (result, pred_params) = match self.predicate {
            Some(p) => {
                let mut part = predicate_instances(
                    ctx,
                    range,
                    model,
                    p,
                    &pred_out,
                    &secrets.predicate_params,
                    bit,
                );
                let result = part.remove(0);
                (Some(result), part)
            }
            None => (None, vec![]),
        };
        let mut rest_tail = pred_params;
        if let Some(b) = bit {
            let gated = |ctx: &mut Context<Fr>, cells: Vec<AssignedValue<Fr>>| {
                cells
                    .into_iter()
                    .map(|c| gate.mul(ctx, c, b))
                    .collect::<Vec<_>>()
            };
            first = gated(ctx, first);
            rest = gated(ctx, rest);
            rest_tail = gated(ctx, rest_tail);
            if result.is_none() {
                first.insert(0, b);
            }
        }
        rest.extend(result);
        rest.extend(rest_tail);
        self.samples.push((first, rest));
    }

    /// The instances in order, the binding's value (if the build has one) last.
    pub(super) fn finish(
        self,
        ctx: &mut Context<Fr>,
        binding: Option<Fr>,
    ) -> Vec<AssignedValue<Fr>> {
        let params = self.params.unwrap_or_default();
        let mut out = vec![];
        if self.batched {
            out.extend(params);
            for (first, rest) in self.samples {
                out.extend(first);
                out.extend(rest);
            }
        } else {
            for (first, rest) in self.samples {
                out.extend(first);
                out.extend(params.iter().copied());
                out.extend(rest);
            }
        }
        if self.vis.binding {
            // A witness copied to the last instance: the proof commits to it through the
            // permutation argument and the transcript, so it cannot be changed after proving.
            // `pipeline::prove` checks the binding parses; keygen uses 0.
            out.push(ctx.load_witness(binding.unwrap_or_default()));
        }
        out
    }
}

/// The predicate part of a slot's instances: the result and the predicate's parameters. Without
/// `used` (one sample) the result is the constant 1: a false predicate has no satisfying witness.
/// With it (a batch slot) the result is the used bit, and the predicate must hold when it is 1.
fn predicate_instances(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    model: &QuantModel,
    p: &Predicate,
    y: &[AssignedValue<Fr>],
    params: &[i128],
    used: Option<AssignedValue<Fr>>,
) -> Vec<AssignedValue<Fr>> {
    use chips::{ArgMaxChip, ArgMaxInstructions};
    let bits = model.act_bits;
    let gate = range.gate();
    let result = match used {
        Some(b) => b,
        None => ctx.load_constant(Fr::one()),
    };
    let mut out = vec![result];
    let cells: Vec<AssignedValue<Fr>> = (0..p.params().len())
        .map(|i| {
            let c = ctx.load_witness(field(params.get(i).copied().unwrap_or(0)));
            chips::range_check_signed(range, ctx, c, bits);
            c
        })
        .collect();
    match p {
        Predicate::Compare { index, op, .. } => {
            // A missing output index has no honest witness: compare against a zero cell.
            let yv = y.get(*index).copied().unwrap_or_else(|| ctx.load_zero());
            let t = cells[0];
            let v = match op {
                CmpOp::Ge => gate.sub(ctx, yv, t),
                CmpOp::Gt => {
                    let d = gate.sub(ctx, yv, t);
                    gate.sub(ctx, d, Constant(Fr::one()))
                }
                CmpOp::Le => gate.sub(ctx, t, yv),
                CmpOp::Lt => {
                    let d = gate.sub(ctx, t, yv);
                    gate.sub(ctx, d, Constant(Fr::one()))
                }
            };
            // In an unused slot the difference is multiplied by 0: nothing is required.
            let v = match used {
                Some(b) => gate.mul(ctx, v, b),
                None => v,
            };
            range.range_check(ctx, v, bits as usize + 1);
        }
        Predicate::ArgMax { class, .. } => {
            let ints: Vec<i128> = y
                .iter()
                .map(|c| field_to_i128(c.value()).unwrap_or(0))
                .collect();
            let mut hot = 0;
            for (i, v) in ints.iter().enumerate() {
                if *v > ints[hot] {
                    hot = i;
                }
            }
            let labels: Vec<Fr> = (0..y.len()).map(|i| Fr::from(i as u64)).collect();
            let idx = ArgMaxChip::new(range.clone(), bits).argmax(ctx, y, &labels, hot);
            let k = match class {
                ClassRef::Literal(k) => ctx.load_constant(field(*k as i128)),
                ClassRef::Param(_) => cells[0],
            };
            match used {
                None => ctx.constrain_equal(&idx, &k),
                Some(b) => {
                    let d = gate.sub(ctx, idx, k);
                    let g = gate.mul(ctx, d, b);
                    gate.assert_is_const(ctx, &g, &Fr::zero());
                }
            }
        }
    }
    out.extend(cells);
    out
}
