//! Poseidon commitments to inputs, parameters and outputs.
//!
//! Encoding, for values `v_0..v_{n-1}` of `B`-bit signed integers (B = the model's activation
//! bits for inputs and outputs, its parameter bits for parameters) and a salt `s` (0 for
//! parameters):
//! each value is offset to `u_i = v_i + 2^(B-1)`, which the gadget range-checks to `[0, 2^B)`
//! (so every `v_i` lies in `[-2^(B-1), 2^(B-1))`, whatever the caller checked); `k = floor(252 /
//! B)` values are packed little-endian per field element, `p_j = sum_i u_{jk+i} 2^(B i)` (the
//! last element holds the `n - k floor(n/k)` remaining values, if any); the commitment is
//! the Poseidon sponge over BN254's scalar field (width 3, rate 2, 8 full and 57 partial rounds,
//! x^5 S-box, halo2-base's `OptimizedPoseidonSpec` with its standard round constants, capacity
//! initialised to 2^64) absorbing `[tag, n, s, p_0, p_1, ...]` and squeezing one element. Tags:
//! 1 inputs, 2 parameters, 3 outputs. The same gadget computes it in the circuit and, on a
//! scratch context, for `zkinfer hash`.
//!
//! Why the range check belongs here: `k B <= 252 < 254`, so with every `u_i` in `[0, 2^B)` a
//! packed element is below `2^252 < r` and determines its values; with a `u_i` unchecked, a
//! prover could trade units between neighbouring values (`u_0 + 2^B`, `u_1 - 1`) and open one
//! commitment to two different vectors. The in-circuit check makes the packing injective by
//! itself. It also makes the layout's own range check of the same cell redundant, and the
//! layout drops that one (see `layout::assign`): the gadget's check is the same constraint on
//! the same cell at the same width, so every chip that relies on the cell's range still gets it.

use halo2_base::gates::{GateChip, GateInstructions, RangeChip, RangeInstructions};
use halo2_base::poseidon::hasher::{spec::OptimizedPoseidonSpec, PoseidonHasher};
use halo2_base::{
    AssignedValue, Context,
    QuantumCell::{Constant, Existing},
};

use super::{BaseCircuitBuilder, CircuitBuilderStage};
use crate::field::{field, Fr};

/// Poseidon width.
pub const T: usize = 3;
/// Poseidon rate.
pub const RATE: usize = 2;
/// Full rounds.
pub const R_F: usize = 8;
/// Partial rounds.
pub const R_P: usize = 57;

/// Values packed per field element for `bits`-bit activations.
pub fn per_element(bits: u32) -> usize {
    (252 / bits) as usize
}

/// A Poseidon hasher with its constants loaded into `ctx`.
pub fn hasher(ctx: &mut Context<Fr>, gate: &GateChip<Fr>) -> PoseidonHasher<Fr, T, RATE> {
    let mut h = PoseidonHasher::<Fr, T, RATE>::new(OptimizedPoseidonSpec::new::<R_F, R_P, 0>());
    h.initialize_consts(ctx, gate);
    h
}

/// Constrains and returns the commitment to `cells` under `tag` and `salt`, range-checking
/// each cell to the signed `bits` range `[-2^(B-1), 2^(B-1))` (a cell outside it has no
/// satisfying witness).
pub fn commit(
    ctx: &mut Context<Fr>,
    range: &RangeChip<Fr>,
    hasher: &PoseidonHasher<Fr, T, RATE>,
    tag: u64,
    cells: &[AssignedValue<Fr>],
    bits: u32,
    salt: AssignedValue<Fr>,
) -> AssignedValue<Fr> {
    let gate = range.gate();
    let k = per_element(bits);
    let mut elements = vec![
        ctx.load_constant(Fr::from(tag)),
        ctx.load_constant(Fr::from(cells.len() as u64)),
        salt,
    ];
    let limb = (0..bits).fold(Fr::one(), |a, _| a + a); // 2^bits
    let half = (0..bits - 1).fold(Fr::one(), |a, _| a + a); // 2^(bits-1)
                                                            // u_i = v_i + 2^(B-1), checked to B bits: the packing below takes u_i as it is.
    let offset: Vec<AssignedValue<Fr>> = cells
        .iter()
        .map(|c| {
            let u = gate.add(ctx, *c, Constant(half));
            range.range_check(ctx, u, bits as usize);
            u
        })
        .collect();
    for chunk in offset.chunks(k) {
        let pows: Vec<Fr> = (0..chunk.len())
            .scan(Fr::one(), |p, _| {
                let cur = *p;
                *p *= limb;
                Some(cur)
            })
            .collect();
        elements.push(gate.inner_product(
            ctx,
            chunk.iter().map(|c| Existing(*c)),
            pows.iter().map(|p| Constant(*p)),
        ));
    }
    hasher.hash_fix_len_array(ctx, gate, &elements)
}

/// The commitment computed outside a proof (same gadget, scratch context). The values must lie
/// in the signed `bits` range (a proof over any other value does not exist); zkinfer's callers
/// pass quantized inputs, which the quantizer keeps in range, or parameters, whose width is
/// chosen to hold them.
pub fn commitment(tag: u64, values: &[i128], bits: u32, salt: Fr) -> Fr {
    let mut b = BaseCircuitBuilder::<Fr>::from_stage(CircuitBuilderStage::Mock).use_lookup_bits(8);
    let range = b.range_chip();
    let ctx = b.main(0);
    let h = hasher(ctx, range.gate());
    let cells: Vec<AssignedValue<Fr>> =
        values.iter().map(|&v| ctx.load_witness(field(v))).collect();
    let s = ctx.load_witness(salt);
    *commit(ctx, &range, &h, tag, &cells, bits, s).value()
}

/// The commitment a proof with hashed inputs exposes for `inputs` (floats, quantized as the
/// model quantizes them) under `salt`: what `zkinfer hash --input` prints.
pub fn input_commitment(
    model: &crate::quant::QuantModel,
    inputs: &[Vec<f64>],
    salt: Fr,
) -> crate::quant::Result<Fr> {
    model.check_inputs(inputs)?;
    let q: Vec<i128> = model
        .quantize_inputs(inputs)?
        .into_iter()
        .flatten()
        .collect();
    Ok(commitment(
        crate::visibility::tag::INPUT,
        &q,
        model.act_bits,
        salt,
    ))
}

/// The commitment a proof with hashed parameters exposes (salt 0): what `zkinfer hash
/// --weights` prints and a registry pins.
pub fn param_commitment(model: &crate::quant::QuantModel) -> Fr {
    commitment(
        crate::visibility::tag::PARAMS,
        &model.params(),
        model.param_bits(),
        Fr::zero(),
    )
}

/// Parses a salt: `0x` followed by up to 64 hex digits (big-endian), below the field modulus.
pub fn parse_salt(s: &str) -> Result<Fr, String> {
    if !s.starts_with("0x") {
        return Err("a salt is 0x followed by up to 64 hex digits".into());
    }
    let word = crate::files::decode_word(s)
        .map_err(|_| "a salt is 0x followed by 1 to 64 hex digits".to_string())?;
    crate::field::from_word(word)
        .ok_or_else(|| "the salt must be below the BN254 scalar field modulus".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::visibility::tag;
    use halo2_base::halo2_proofs::dev::MockProver;

    const K: usize = 10;

    /// Commits to `values` (loaded as plain witnesses: no range check by the caller) under the
    /// input tag; returns the commitment's value and whether MockProver accepts.
    fn run(values: &[i128], bits: u32) -> (Fr, bool) {
        let mut b = BaseCircuitBuilder::<Fr>::from_stage(CircuitBuilderStage::Mock)
            .use_k(K)
            .use_lookup_bits(K - 1);
        let range = b.range_chip();
        let ctx = b.main(0);
        let h = hasher(ctx, range.gate());
        let cells: Vec<_> = values.iter().map(|&v| ctx.load_witness(field(v))).collect();
        let salt = ctx.load_witness(Fr::from(77));
        let c = *commit(ctx, &range, &h, tag::INPUT, &cells, bits, salt).value();
        b.calculate_params(Some(20));
        let ok = MockProver::run(K as u32, &b, vec![])
            .expect("mock prover runs")
            .verify()
            .is_ok();
        (c, ok)
    }

    /// The encoding as the module doc states it, packed natively (only the sponge is shared).
    fn spec(t: u64, values: &[i128], bits: u32, salt: Fr) -> Fr {
        let mut b = BaseCircuitBuilder::<Fr>::from_stage(CircuitBuilderStage::Mock);
        let gate = GateChip::<Fr>::default();
        let ctx = b.main(0);
        let h = hasher(ctx, &gate);
        let mut elements = vec![Fr::from(t), Fr::from(values.len() as u64), salt];
        for chunk in values.chunks(per_element(bits)) {
            let p = chunk.iter().rev().fold(Fr::zero(), |acc, &v| {
                (0..bits).fold(acc, |a, _| a + a) + field(v + (1i128 << (bits - 1)))
            });
            elements.push(p);
        }
        let cells: Vec<_> = elements.into_iter().map(|e| ctx.load_witness(e)).collect();
        *h.hash_fix_len_array(ctx, &gate, &cells).value()
    }

    #[test]
    fn packing_range_edges_full_and_partial_chunks() {
        for bits in [32u32, 24, 64] {
            let (lo, hi) = (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1);
            let k = per_element(bits);
            // A full chunk, then a full chunk and a partial one; the edges in first and last
            // slots.
            let mut full: Vec<i128> = vec![lo, hi, 0, -1, 1, 5, -5, 9, 11, 12];
            full.truncate(k);
            full[k - 1] = hi;
            let mut partial = full.clone();
            partial.extend([lo, 3, hi]);
            for values in [&full, &partial] {
                let (c, ok) = run(values, bits);
                assert!(ok, "{bits} bits: values at the range's edges rejected");
                assert_eq!(c, commitment(tag::INPUT, values, bits, Fr::from(77)));
                assert_eq!(
                    c,
                    spec(tag::INPUT, values, bits, Fr::from(77)),
                    "{bits} bits"
                );
                // One beyond either edge, in any slot: the gadget's own range check refuses it.
                for (i, beyond) in [(0, lo - 1), (k - 1, hi + 1), (values.len() - 1, hi + 1)] {
                    let mut v = values.to_vec();
                    v[i] = beyond;
                    assert!(!run(&v, bits).1, "{bits} bits: {beyond} at {i} accepted");
                }
            }
        }
    }

    /// Without the range check a packed element opens to two vectors: a value 2^B above its
    /// slot and its neighbour one below pack to the same element, hence the same commitment.
    #[test]
    fn a_carry_between_slots_is_rejected() {
        let bits = 32;
        let honest = [7i128, -3, 0, 0, 0, 0, 0, 1];
        let mut carried = honest;
        carried[0] += 1 << bits;
        carried[1] -= 1;
        let (c, ok) = run(&honest, bits);
        assert!(ok);
        let (c2, ok2) = run(&carried, bits);
        assert_eq!(c, c2, "the carry packs to the same commitment");
        assert!(!ok2, "a commitment opened to a second vector");
    }

    #[test]
    fn tags_separate_inputs_outputs_and_parameters() {
        let v = [1i128, -2, 3];
        let s = Fr::from(5);
        let input = commitment(tag::INPUT, &v, 32, s);
        let output = commitment(tag::OUTPUT, &v, 32, s);
        let params = commitment(tag::PARAMS, &v, 32, s);
        assert_ne!(input, output, "the same values as input and as output");
        assert_ne!(input, params);
        assert_ne!(output, params);
        assert_ne!(input, commitment(tag::INPUT, &v, 32, Fr::from(6)), "salt");
        assert_ne!(input, commitment(tag::INPUT, &v[..2], 32, s), "length");
    }
}
