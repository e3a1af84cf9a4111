//! The instance layout as the registry sees it: one kind code and one fixed-point exponent per
//! public instance, and the hash of both that the wrapper states (`LAYOUT`), so a registry
//! takes the layout from the verifier's code, never from whoever registers the model.

use alloy::primitives::keccak256;
use alloy::sol_types::{sol_data, SolType};

use crate::artifacts::InstanceInfo;

/// The registry's code for an instance kind (`KIND_*` in `PredictionRegistry.sol`).
pub fn kind_code(kind: &str) -> Option<u8> {
    Some(match kind {
        "input" => 0,
        "input_commitment" => 1,
        "param" => 2,
        "param_commitment" => 3,
        "output" => 4,
        "output_commitment" => 5,
        "predicate" => 6,
        "predicate_param" => 7,
        "binding" => 8,
        // A batch slot's used bit (models without a predicate; with one, its result is the bit).
        "slot" => 9,
        _ => return None,
    })
}

/// Kind codes and exponents of `infos`, in instance order: what `registerModel` takes.
pub fn registry_layout(infos: &[InstanceInfo]) -> Result<(Vec<u8>, Vec<i16>), String> {
    let mut kinds = Vec::with_capacity(infos.len());
    let mut exps = Vec::with_capacity(infos.len());
    for info in infos {
        kinds.push(
            kind_code(&info.kind)
                .ok_or_else(|| format!("instance kind '{}' has no registry code", info.kind))?,
        );
        exps.push(i16::try_from(info.exp).map_err(|_| {
            format!(
                "instance '{}': exponent {} out of range",
                info.name, info.exp
            )
        })?);
    }
    Ok((kinds, exps))
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
