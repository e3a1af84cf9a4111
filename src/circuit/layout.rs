//! Wires the chips along a [`QuantModel`] into a halo2-base builder.

use halo2_base::gates::{GateInstructions, RangeInstructions};
use halo2_base::{
    AssignedValue,
    QuantumCell::{Constant, Existing},
};

use super::chips::{
    range_check_signed, LinearChip, LinearInstructions, ReluChip, ReluInstructions, RescaleChip,
    RescaleInstructions,
};
use super::{BaseCircuitBuilder, Error, Fr, Result};
use crate::quant::{NodeTrace, QOp, QuantModel, Trace};
use halo2_base::halo2_proofs::halo2curves::ff::PrimeField;

/// The field element of a signed integer (negatives as `p - |x|`).
pub fn field(x: i128) -> Fr {
    let m = Fr::from_u128(x.unsigned_abs());
    if x < 0 {
        -m
    } else {
        m
    }
}

/// The signed integer of a field element, if it is within `i128` (`p - |x|` for negatives).
pub fn field_to_i128(f: &Fr) -> Option<i128> {
    let le = f.to_repr();
    let small = |b: &[u8]| b[16..].iter().all(|&x| x == 0);
    if small(le.as_ref()) {
        let v = u128::from_le_bytes(le.as_ref()[..16].try_into().ok()?);
        return i128::try_from(v).ok();
    }
    let neg = (-*f).to_repr();
    if small(neg.as_ref()) {
        let v = u128::from_le_bytes(neg.as_ref()[..16].try_into().ok()?);
        return i128::try_from(v).ok().map(|v| -v);
    }
    None
}

fn witness_err(node: &str, reason: impl Into<String>) -> Error {
    Error::Witness {
        node: node.to_string(),
        reason: reason.into(),
    }
}

/// Assigns the whole model into `builder` (main context, phase 0) and sets the outputs as the
/// public instances. The builder must have `lookup_bits` set.
pub fn assign(
    builder: &mut BaseCircuitBuilder<Fr>,
    model: &QuantModel,
    trace: &Trace,
) -> Result<()> {
    if trace.values.len() != model.values.len() || trace.nodes.len() != model.nodes.len() {
        return Err(witness_err(
            "(model)",
            "trace does not belong to this model",
        ));
    }
    let bits = model.act_bits;
    let range = builder.range_chip();
    let gate = range.gate().clone();
    let linear = LinearChip::new(gate.clone());
    let rescale = RescaleChip::new(range.clone(), bits);
    let relu = ReluChip::new(range.clone(), bits);
    let ctx = builder.main(0);

    let mut cells: Vec<Vec<AssignedValue<Fr>>> = vec![Vec::new(); model.values.len()];
    for &v in &model.inputs {
        if trace.values[v].len() != model.values[v].numel() {
            return Err(witness_err("input", "wrong number of input values"));
        }
        cells[v] = trace.values[v]
            .iter()
            .map(|&x| {
                let c = ctx.load_witness(field(x));
                range_check_signed(&range, ctx, c, bits);
                c
            })
            .collect();
    }
    for (node, nt) in model.nodes.iter().zip(&trace.nodes) {
        let x = cells[node.inputs[0]].clone();
        let ys = &trace.values[node.output];
        let expect = model.values[node.output].numel();
        if ys.len() != expect {
            return Err(witness_err(
                &node.name,
                format!("{} output values, expected {expect}", ys.len()),
            ));
        }
        let out: Vec<AssignedValue<Fr>> = match (&node.op, nt) {
            (
                QOp::Linear {
                    out,
                    inp,
                    weight,
                    bias,
                    shift,
                    ..
                },
                NodeTrace::Linear { rem, .. },
            ) => {
                if rem.len() != ys.len() || x.len() % inp != 0 {
                    return Err(witness_err(
                        &node.name,
                        "remainders do not match the outputs",
                    ));
                }
                let w: Vec<Fr> = weight.iter().map(|&v| field(v as i128)).collect();
                let b: Vec<Fr> = bias.iter().map(|&v| field(v)).collect();
                let mut res = Vec::with_capacity(ys.len());
                for (m, row) in x.chunks(*inp).enumerate() {
                    let accs = linear.linear(ctx, row, &w, &b);
                    for (o, acc) in accs.into_iter().enumerate() {
                        let i = m * out + o;
                        res.push(rescale.rescale(ctx, acc, *shift, field(ys[i]), field(rem[i])));
                    }
                }
                res
            }
            (QOp::AddConst { constant }, _) => x
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let y = gate.add(
                        ctx,
                        *a,
                        Constant(field(constant[i % constant.len()] as i128)),
                    );
                    range_check_signed(&range, ctx, y, bits);
                    y
                })
                .collect(),
            (QOp::Add { shift_a, shift_b }, _) => {
                let other = cells[node.inputs[1]].clone();
                let (ca, cb) = (field(1i128 << shift_a), field(1i128 << shift_b));
                x.iter()
                    .zip(&other)
                    .map(|(a, b)| {
                        let y = gate.inner_product(
                            ctx,
                            [Existing(*a), Existing(*b)],
                            [Constant(ca), Constant(cb)],
                        );
                        range_check_signed(&range, ctx, y, bits);
                        y
                    })
                    .collect()
            }
            (QOp::Relu, _) => x
                .iter()
                .zip(ys)
                .map(|(a, &y)| relu.relu(ctx, *a, field(y)))
                .collect(),
            (QOp::Reshape, _) => x,
            (QOp::Linear { .. }, NodeTrace::Plain) => {
                return Err(witness_err(&node.name, "missing accumulators"))
            }
        };
        if out.len() != expect {
            return Err(witness_err(
                &node.name,
                format!(
                    "input has {} values, op produced {}",
                    cells[node.inputs[0]].len(),
                    out.len()
                ),
            ));
        }
        cells[node.output] = out;
    }
    let outputs = model
        .outputs
        .iter()
        .flat_map(|&v| cells[v].iter().copied())
        .collect();
    builder.assigned_instances = vec![outputs];
    Ok(())
}
