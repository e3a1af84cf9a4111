//! Wires the chips along a [`QuantModel`] into a halo2-base builder.
//!
//! Only the model inputs come from the trace; every other witness (outputs, remainders,
//! comparison bits) is recomputed here from the input integers with the quantizer's own
//! functions, so a wrong claimed output can only show up as a wrong public instance. Invariant:
//! every activation cell holds an integer in the signed `act_bits` range, either range-checked
//! or built from such cells in a way that keeps it there.

mod conv;
mod ops;

use halo2_base::gates::{GateInstructions, RangeChip, RangeInstructions};
use halo2_base::{
    AssignedValue, Context,
    QuantumCell::{self, Constant, Existing},
};

use super::chips::DotJobs;
use super::chips::{
    range_check_signed, AffineChip, ArgMaxChip, CompareChip, CompareInstructions, DivChip,
    ReluChip, RescaleChip, RescaleInstructions, TreeChip,
};
use super::zk::{ActJob, ActJobs, FnLookups, PolyJobs};
use super::{Error, Result};
use crate::field::field;
use crate::field::Fr;
use crate::quant::{rescale, NodeParams, QFunc, QuantModel, Trace};
use crate::visibility::{Vis, Visibility};

fn witness_err(node: &str, reason: impl Into<String>) -> Error {
    Error::Witness {
        node: node.to_string(),
        reason: reason.into(),
    }
}

/// The cells the public instances are chosen from.
pub struct Io {
    /// Every input value, flattened.
    pub inputs: Vec<AssignedValue<Fr>>,
    /// The parameter cells (empty when parameters are fixed).
    pub params: Vec<AssignedValue<Fr>>,
    /// The same cells per node (what later samples of a batch share).
    pub param_nodes: Vec<Vec<AssignedValue<Fr>>>,
    /// Every output value, flattened.
    pub outputs: Vec<AssignedValue<Fr>>,
}

/// A node's parameters as the chips see them: constants, or cells.
struct Params<'a> {
    np: &'a NodeParams,
    cells: Option<&'a Vec<AssignedValue<Fr>>>,
}

impl Params<'_> {
    /// The parameter of use `u` (canonical use order, see `quant::params`).
    fn at(&self, u: usize) -> QuantumCell<Fr> {
        let k = self.np.uses[u] as usize;
        match self.cells {
            Some(c) => Existing(c[k]),
            None => Constant(field(self.np.values[k])),
        }
    }
}

/// A value during layout: its cells and their integers.
#[derive(Clone, Default)]
struct Val {
    cells: Vec<AssignedValue<Fr>>,
    ints: Vec<i128>,
}

struct Chips {
    range: RangeChip<Fr>,
    bits: u32,
    affine: AffineChip<Fr>,
    rescale: RescaleChip<Fr>,
    relu: ReluChip<Fr>,
    cmp: CompareChip<Fr>,
    div: DivChip<Fr>,
    argmax: ArgMaxChip<Fr>,
    trees: TreeChip<Fr>,
    /// Where rescales go when the act lane can hold them (see [`Chips::act_lane`]).
    acts: Option<ActJobs>,
}

impl Chips {
    fn rescaled(
        &self,
        ctx: &mut Context<Fr>,
        acc_cell: AssignedValue<Fr>,
        acc: i128,
        shift: u32,
    ) -> std::result::Result<(AssignedValue<Fr>, i128), String> {
        self.rescaled_biased(ctx, acc_cell, acc, shift, false)
    }

    /// [`Self::rescaled`] of `acc`, where `biased` says `acc_cell` holds `acc` plus the
    /// rounding term `2^(shift-1)` (see `RescaleInstructions::rescale_biased`).
    fn rescaled_biased(
        &self,
        ctx: &mut Context<Fr>,
        acc_cell: AssignedValue<Fr>,
        acc: i128,
        shift: u32,
        biased: bool,
    ) -> std::result::Result<(AssignedValue<Fr>, i128), String> {
        if let Some(jobs) = self.act_lane(shift) {
            return self.lane_rescale(ctx, jobs, acc_cell, acc, shift, biased, false);
        }
        let (y, r) = rescale(acc, shift);
        Ok((
            self.rescale
                .rescale_biased(ctx, acc_cell, shift, field(y), field(r), biased),
            y,
        ))
    }

    /// The act lane, when there is one and the activation width is two limbs (what its range
    /// checks need; see `zk::act_lane`).
    fn act_jobs(&self) -> Option<&ActJobs> {
        let lb = self.range.lookup_bits() as u32;
        self.acts.as_ref().filter(|_| self.bits == 2 * lb + 1)
    }

    /// [`Self::act_jobs`], when the lane also holds a rescale by `shift`: one or two limbs.
    fn act_lane(&self, shift: u32) -> Option<&ActJobs> {
        let lb = self.range.lookup_bits() as u32;
        self.act_jobs()
            .filter(|_| shift > 0 && (shift == lb || shift == 2 * lb))
    }

    /// Constrains `cell` (holding `x`) to the signed activation range: on the act lane when
    /// there is one (which refuses the range's lowest value, as the fused ReLU does), else by
    /// halo2-base's range check.
    fn range_signed(
        &self,
        ctx: &mut Context<Fr>,
        cell: AssignedValue<Fr>,
        x: i128,
    ) -> std::result::Result<(), String> {
        match self.act_jobs() {
            Some(jobs) => {
                self.refuse_lowest(x, "an input value")?;
                jobs.lock().unwrap_or_else(|e| e.into_inner()).push(ActJob {
                    p: cell,
                    out: None,
                    relu: false,
                    shift: 0,
                    neg: x < 0,
                    mag: x.unsigned_abs(),
                    rem: 0,
                });
            }
            None => range_check_signed(&self.range, ctx, cell, self.bits),
        }
        Ok(())
    }

    /// The lowest value of the activation range, which neither the fused ReLU chip nor the act
    /// lane holds as a quotient (both prove a magnitude below `2^(act_bits-1)`): refused.
    fn refuse_lowest(&self, y: i128, what: &str) -> std::result::Result<(), String> {
        if y == -(1i128 << (self.bits - 1)) {
            return Err(format!(
                "{what} is the lowest of the {}-bit activation range, which the circuit does not hold",
                self.bits
            ));
        }
        Ok(())
    }

    /// A rescale (then a ReLU when `relu`) queued for the act lane; the output is a witness
    /// cell the lane constrains. A quotient outside the activation range gets limbs outside the
    /// range table, for the lookup to reject (a trace the evaluator would refuse).
    #[allow(clippy::too_many_arguments)] // the op's input, its shift and what to prove
    fn lane_rescale(
        &self,
        ctx: &mut Context<Fr>,
        jobs: &ActJobs,
        acc_cell: AssignedValue<Fr>,
        acc: i128,
        shift: u32,
        biased: bool,
        relu: bool,
    ) -> std::result::Result<(AssignedValue<Fr>, i128), String> {
        let (y, r) = rescale(acc, shift);
        self.refuse_lowest(
            y,
            if relu {
                "a value before the ReLU"
            } else {
                "a rescaled value"
            },
        )?;
        let p = if biased {
            acc_cell
        } else {
            self.range
                .gate()
                .add(ctx, acc_cell, Constant(field(1i128 << (shift - 1))))
        };
        let out = if relu { y.max(0) } else { y };
        // The output is the lane's own cell (row r+2 of `v`), not a gate cell copied to it: a
        // virtual cell of halo2-base's "external" kind, which the lane binds to its cell when
        // it places the job (`constrain_virtual_equals_external`), and every consumer is copied
        // from. (`mock_external_assigned` is halo2-base's way to make one before that cell
        // exists; it is "mock" only if nothing ever binds it, and the lane binds every job's.)
        // halo2-base's own lookups must never take this cell itself (a range check of at most
        // `lookup_bits` on it): with one gate column they expect it in that column. None does:
        // every range check here is of a gate result, and the activation width is two limbs.
        let out_cell = ctx
            .copy_manager
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .mock_external_assigned(field(out));
        jobs.lock().unwrap_or_else(|e| e.into_inner()).push(ActJob {
            p,
            out: Some(out_cell),
            relu,
            shift,
            neg: y < 0,
            mag: y.unsigned_abs(),
            rem: r as u128,
        });
        Ok((out_cell, out))
    }

    /// `max(rescale(acc, shift), 0)` by the fused chip or the act lane; refuses the one
    /// in-range quotient neither holds, the activation range's lowest value. Any other quotient
    /// outside the range (a trace the evaluator would refuse) is laid out for the constraints
    /// to reject.
    fn rescaled_relu(
        &self,
        ctx: &mut Context<Fr>,
        acc_cell: AssignedValue<Fr>,
        acc: i128,
        shift: u32,
        biased: bool,
    ) -> std::result::Result<(AssignedValue<Fr>, i128), String> {
        if let Some(jobs) = self.act_lane(shift) {
            return self.lane_rescale(ctx, jobs, acc_cell, acc, shift, biased, true);
        }
        let (y, r) = rescale(acc, shift);
        self.refuse_lowest(y, "a value before the ReLU")?;
        let cell = self.rescale.rescale_relu(
            ctx,
            acc_cell,
            shift,
            field(y.max(0)),
            field((-y).max(0)),
            field(r),
            biased,
        );
        Ok((cell, y.max(0)))
    }

    fn max2(
        &self,
        ctx: &mut Context<Fr>,
        a: (AssignedValue<Fr>, i128),
        b: (AssignedValue<Fr>, i128),
    ) -> (AssignedValue<Fr>, i128) {
        let d = a.1 - b.1;
        (
            self.cmp
                .max2(ctx, a.0, b.0, d > 0, field(d.max(0)), self.bits),
            a.1.max(b.1),
        )
    }

    fn constant(&self, ctx: &mut Context<Fr>, c: i128) -> (AssignedValue<Fr>, i128) {
        (ctx.load_constant(field(c)), c)
    }

    fn min2(
        &self,
        ctx: &mut Context<Fr>,
        a: (AssignedValue<Fr>, i128),
        b: (AssignedValue<Fr>, i128),
    ) -> (AssignedValue<Fr>, i128) {
        let d = a.1 - b.1;
        (
            self.cmp
                .min2(ctx, a.0, b.0, d > 0, field(d.max(0)), self.bits),
            a.1.min(b.1),
        )
    }
}

/// Assigns the whole model. Function lookups are queued in `lookups` with tags from `tables`;
/// constant-weight affine rows in `dots`, if given.
///
/// Inputs and parameter witnesses are range-checked here (inputs to `act_bits`, parameters to
/// `param_bits`), except where `vis` hashes them: the caller then passes exactly these cells,
/// at exactly these widths, to [`super::commit::commit`], which range-checks every cell it
/// packs. That is the same constraint on the same cell, so the invariant every chip relies on
/// (activations and parameters in their signed ranges) holds as before, at the price of one
/// check instead of two (a hashed parameter set is mostly range checks otherwise). Nothing
/// else reads these checks: their result cells are used by nothing but the range lookup.
#[allow(clippy::too_many_arguments)] // the layout's whole context, passed once
pub fn assign(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    lookups: &FnLookups,
    dots: Option<&DotJobs<Fr>>,
    poly: Option<&PolyJobs>,
    acts: Option<&ActJobs>,
    tables: &[QFunc],
    model: &QuantModel,
    trace: &Trace,
    vis: Visibility,
    shared_params: Option<&[Vec<AssignedValue<Fr>>]>,
) -> Result<Io> {
    let params = vis.params;
    if trace.values.len() != model.values.len() {
        return Err(witness_err(
            "(model)",
            "trace does not belong to this model",
        ));
    }
    let bits = model.act_bits;
    let gate = range.gate().clone();
    let ch = Chips {
        range: range.clone(),
        bits,
        affine: match dots {
            Some(d) => AffineChip::with_dots(gate.clone(), d.clone()),
            None => AffineChip::new(gate.clone()),
        },
        rescale: RescaleChip::new(range.clone(), bits),
        relu: ReluChip::new(range.clone(), bits),
        cmp: CompareChip::new(range.clone()),
        div: DivChip::new(range.clone(), bits),
        argmax: ArgMaxChip::new(range.clone(), bits),
        trees: TreeChip::new(range.clone(), bits + 2),
        acts: acts.cloned(),
    };
    let mut vals: Vec<Val> = vec![Val::default(); model.values.len()];
    for &v in &model.inputs {
        let ints = trace.values[v].clone();
        if ints.len() != model.values[v].numel() {
            return Err(witness_err("input", "wrong number of input values"));
        }
        let mut cells = Vec::with_capacity(ints.len());
        for &x in &ints {
            let c = ctx.load_witness(field(x));
            if vis.input != Vis::Hashed {
                ch.range_signed(ctx, c, x)
                    .map_err(|r| witness_err("input", r))?;
            }
            cells.push(c);
        }
        vals[v] = Val { cells, ints };
    }
    // Parameters: constants when fixed, else one range-checked witness per distinct value.
    let node_params = model.node_params();
    let pbits = model.param_bits();
    // A batch's later samples use the first sample's parameter cells: one model for the batch.
    let param_cells: Vec<Vec<AssignedValue<Fr>>> = match shared_params {
        Some(shared) if params != Vis::Fixed => shared.to_vec(),
        _ => node_params
            .iter()
            .map(|p| {
                if params == Vis::Fixed {
                    return vec![];
                }
                p.values
                    .iter()
                    .map(|&v| {
                        let c = ctx.load_witness(field(v));
                        if params != Vis::Hashed {
                            range_check_signed(range, ctx, c, pbits);
                        }
                        c
                    })
                    .collect()
            })
            .collect(),
    };
    if param_cells.len() != node_params.len() {
        return Err(witness_err(
            "(parameters)",
            "shared parameter cells of another model",
        ));
    }
    // Readers of each value: an affine op whose only reader is the next node, a ReLU, and whose
    // output is not a model output is laid out with that ReLU as one fused op.
    let mut readers = vec![0usize; model.values.len()];
    for node in &model.nodes {
        for &v in &node.inputs {
            readers[v] += 1;
        }
    }
    let fused_relu = |i: usize| {
        let (node, next) = (&model.nodes[i], model.nodes.get(i + 1));
        next.is_some_and(|n| {
            matches!(n.op, crate::quant::QOp::Relu)
                && n.inputs == [node.output]
                && readers[node.output] == 1
                && !model.outputs.contains(&node.output)
        })
    };
    let mut skip = false;
    for (i, (node, (np, pc))) in model
        .nodes
        .iter()
        .zip(node_params.iter().zip(&param_cells))
        .enumerate()
    {
        if std::mem::take(&mut skip) {
            continue;
        }
        let prm = Params {
            np,
            cells: if params == Vis::Fixed { None } else { Some(pc) },
        };
        let ins: Vec<&Val> = node.inputs.iter().map(|&v| &vals[v]).collect();
        let expect = model.values[node.output].numel();
        let in_shapes: Vec<&[usize]> = node
            .inputs
            .iter()
            .map(|&v| model.values[v].shape.as_slice())
            .collect();
        let op = ops::OpCtx {
            ch: &ch,
            lookups,
            tables,
            prm: &prm,
            ins: &ins,
            shapes: (&in_shapes, &model.values[node.output].shape),
            poly,
        };
        // The fused ReLU's output is the next node's; the affine output gets no cells.
        let (node, expect, fused) = match fused_relu(i)
            .then(|| ops::assign_affine_relu(ctx, &op, &node.op))
            .flatten()
        {
            Some(res) => {
                skip = true;
                let relu = &model.nodes[i + 1];
                (relu, model.values[relu.output].numel(), Some(res))
            }
            None => (node, expect, None),
        };
        let out = fused
            .unwrap_or_else(|| ops::assign_op(ctx, &op, &node.op, expect))
            .map(|cells| {
                let (cells, ints) = cells.into_iter().unzip();
                Val { cells, ints }
            })
            .map_err(|r| witness_err(&node.name, r))?;
        if out.cells.len() != expect {
            return Err(witness_err(
                &node.name,
                format!(
                    "op produced {} values, the model expects {expect}",
                    out.cells.len()
                ),
            ));
        }
        vals[node.output] = out;
    }
    let cells = |vs: &[usize]| {
        vs.iter()
            .flat_map(|&v| vals[v].cells.iter().copied())
            .collect()
    };
    Ok(Io {
        inputs: cells(&model.inputs),
        params: param_cells.iter().flatten().copied().collect(),
        param_nodes: param_cells,
        outputs: cells(&model.outputs),
    })
}

fn get(ins: &[&Val], k: u32, i: u32) -> std::result::Result<(AssignedValue<Fr>, i128), String> {
    let v = ins.get(k as usize).ok_or("input index out of range")?;
    let c = v
        .cells
        .get(i as usize)
        .ok_or("element index out of range")?;
    Ok((*c, v.ints[i as usize]))
}
