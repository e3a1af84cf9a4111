//! Poseidon commitments to inputs, parameters and outputs.
//!
//! Encoding, for values `v_0..v_{n-1}` of `B`-bit signed integers (B = 32 for activations, 64
//! for parameters) and a salt `s` (0 for parameters):
//! each value is offset to `u_i = v_i + 2^(B-1)` in `[0, 2^B)`; `k = floor(252 / B)` values are
//! packed little-endian per field element, `p_j = sum_i u_{jk+i} 2^(B i)`; the commitment is
//! the Poseidon sponge over BN254's scalar field (width 3, rate 2, 8 full and 57 partial rounds,
//! x^5 S-box, halo2-base's `OptimizedPoseidonSpec` with its standard round constants, capacity
//! initialised to 2^64) absorbing `[tag, n, s, p_0, p_1, ...]` and squeezing one element. Tags:
//! 1 inputs, 2 parameters, 3 outputs. The same gadget computes it in the circuit and, on a
//! scratch context, for `zkinfer hash`.

use halo2_base::gates::{GateChip, GateInstructions};
use halo2_base::poseidon::hasher::{spec::OptimizedPoseidonSpec, PoseidonHasher};
use halo2_base::{
    AssignedValue, Context,
    QuantumCell::{Constant, Existing},
};

use super::{field, BaseCircuitBuilder, CircuitBuilderStage, Fr};

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

/// Constrains and returns the commitment to `cells` (each a `bits`-bit signed activation,
/// range-checked by the caller) under `tag` and `salt`.
pub fn commit(
    ctx: &mut Context<Fr>,
    gate: &GateChip<Fr>,
    hasher: &PoseidonHasher<Fr, T, RATE>,
    tag: u64,
    cells: &[AssignedValue<Fr>],
    bits: u32,
    salt: AssignedValue<Fr>,
) -> AssignedValue<Fr> {
    let k = per_element(bits);
    let mut elements = vec![
        ctx.load_constant(Fr::from(tag)),
        ctx.load_constant(Fr::from(cells.len() as u64)),
        salt,
    ];
    let limb = (0..bits).fold(Fr::one(), |a, _| a + a); // 2^bits
    let half = (0..bits - 1).fold(Fr::one(), |a, _| a + a); // 2^(bits-1)
    for chunk in cells.chunks(k) {
        let pows: Vec<Fr> = (0..chunk.len())
            .scan(Fr::one(), |p, _| {
                let cur = *p;
                *p *= limb;
                Some(cur)
            })
            .collect();
        let offset: Fr = pows.iter().fold(Fr::zero(), |acc, p| acc + *p * half);
        let packed = gate.inner_product(
            ctx,
            chunk.iter().map(|c| Existing(*c)),
            pows.iter().map(|p| Constant(*p)),
        );
        elements.push(gate.add(ctx, packed, Constant(offset)));
    }
    hasher.hash_fix_len_array(ctx, gate, &elements)
}

/// The commitment computed outside a proof (same gadget, scratch context).
pub fn commitment(tag: u64, values: &[i128], bits: u32, salt: Fr) -> Fr {
    let mut b = BaseCircuitBuilder::<Fr>::from_stage(CircuitBuilderStage::Mock);
    let gate = GateChip::<Fr>::default();
    let ctx = b.main(0);
    let h = hasher(ctx, &gate);
    let cells: Vec<AssignedValue<Fr>> =
        values.iter().map(|&v| ctx.load_witness(field(v))).collect();
    let s = ctx.load_witness(salt);
    *commit(ctx, &gate, &h, tag, &cells, bits, s).value()
}

/// Parses a salt: `0x` followed by up to 64 hex digits (big-endian), below the field modulus.
pub fn parse_salt(s: &str) -> Result<Fr, String> {
    use halo2_base::halo2_proofs::halo2curves::ff::PrimeField;
    let hex = s
        .strip_prefix("0x")
        .ok_or("a salt is 0x followed by up to 64 hex digits")?;
    if hex.is_empty() || hex.len() > 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("a salt is 0x followed by 1 to 64 hex digits".into());
    }
    let padded = format!("{hex:0>64}");
    let mut le = [0u8; 32];
    for i in 0..32 {
        le[31 - i] =
            u8::from_str_radix(&padded[2 * i..2 * i + 2], 16).map_err(|e| e.to_string())?;
    }
    Option::<Fr>::from(Fr::from_repr(le))
        .ok_or_else(|| "the salt must be below the BN254 scalar field modulus".into())
}
