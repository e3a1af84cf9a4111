//! The instance layout as the registry sees it: one kind code and one fixed-point exponent per
//! public instance, and the hash of both that the wrapper states (`LAYOUT`), so a registry
//! takes the layout from the verifier's code, never from whoever registers the model.

use alloy::primitives::keccak256;
use alloy::sol_types::{sol_data, SolType};

use super::{Error, Result, WrapperFacts};
use crate::circuit::{InstanceInfo, InstanceKind};
use crate::predicate::Predicate;
use crate::quant::QuantModel;
use crate::visibility::Visibility;

/// The registry's code for an instance kind (`KIND_*` in `PredictionRegistry.sol`).
pub fn kind_code(kind: InstanceKind) -> u8 {
    match kind {
        InstanceKind::Input => 0,
        InstanceKind::InputCommitment => 1,
        InstanceKind::Param => 2,
        InstanceKind::ParamCommitment => 3,
        InstanceKind::Output => 4,
        InstanceKind::OutputCommitment => 5,
        InstanceKind::Predicate => 6,
        InstanceKind::PredicateParam => 7,
        InstanceKind::Binding => 8,
        // A batch slot's used bit (models without a predicate; with one, its result is the bit).
        InstanceKind::Slot => 9,
    }
}

/// Kind codes and exponents of `infos`, in instance order: what `registerModel` takes.
pub fn registry_layout(infos: &[InstanceInfo]) -> Result<(Vec<u8>, Vec<i16>)> {
    let mut kinds = Vec::with_capacity(infos.len());
    let mut exps = Vec::with_capacity(infos.len());
    for info in infos {
        kinds.push(kind_code(info.kind));
        exps.push(i16::try_from(info.exp).map_err(|_| Error::Exponent {
            instance: info.name.clone(),
            exp: info.exp,
        })?);
    }
    Ok((kinds, exps))
}

/// What the wrapper states about its proofs: how the weights are pinned, the instance layout,
/// and the predicate (operator, flattened output index, threshold exponent).
pub fn wrapper_facts(
    model: &QuantModel,
    vis: Visibility,
    predicate: Option<&Predicate>,
    instances: &[InstanceInfo],
) -> Result<WrapperFacts> {
    let (kinds, exps) = registry_layout(instances)?;
    let mut f = WrapperFacts {
        weights: vis.weights_code(),
        layout: layout_hash(&kinds, &exps),
        ..Default::default()
    };
    if let Some((p, (_, v, offset))) = predicate.and_then(|p| p.locate(model).map(|l| (p, l))) {
        f.predicate_op = p.op_code();
        let index = match p {
            Predicate::Compare { index, .. } => *index,
            Predicate::ArgMax { .. } => 0,
        };
        f.predicate_output = (offset + index) as u32;
        f.predicate_exp = p.param_exp(model.values[v].exp) as i16;
    }
    Ok(f)
}

/// `keccak256(abi.encode(kinds, exps))` with `kinds` a `uint8[]` and `exps` an `int16[]`: the
/// wrapper's `LAYOUT`, which the registry compares with the layout it is given.
pub fn layout_hash(kinds: &[u8], exps: &[i16]) -> [u8; 32] {
    type Layout = (
        sol_data::Array<sol_data::Uint<8>>,
        sol_data::Array<sol_data::Int<16>>,
    );
    keccak256(Layout::abi_encode_params(&(kinds.to_vec(), exps.to_vec()))).0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ABI encoding by hand: two offsets, then each array as its length and one
    /// sign-extended word per element.
    #[test]
    fn layout_hash_is_keccak_of_abi_encode() {
        let kinds = [8u8, 4, 6];
        let exps = [0i16, -3];
        let word = |v: i64| {
            let mut w = [if v < 0 { 0xff } else { 0 }; 32];
            w[24..].copy_from_slice(&v.to_be_bytes());
            w
        };
        let mut enc = vec![];
        enc.extend(word(0x40));
        enc.extend(word(0x40 + 32 * 4));
        enc.extend(word(3));
        for k in kinds {
            enc.extend(word(k as i64));
        }
        enc.extend(word(2));
        for e in exps {
            enc.extend(word(e as i64));
        }
        assert_eq!(layout_hash(&kinds, &exps), keccak256(&enc).0);
    }
}
