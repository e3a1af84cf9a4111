//! Why a contract call failed: a revert decoded to the registry's or the gate's custom error,
//! or anything else.

use serde::Serialize;

use super::gate::LendingGate;
use super::registry::PredictionRegistry;
use super::{Chain, Error};

/// A registry revert, decoded: the custom error's name and fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Revert {
    /// The custom error, e.g. `BindingMismatch`.
    pub name: String,
    /// The error with its fields, as Rust debug text.
    pub detail: String,
}

pub(super) fn decode_revert(e: &alloy::contract::Error) -> Option<Revert> {
    let detail = if let Some(r) =
        e.as_decoded_interface_error::<PredictionRegistry::PredictionRegistryErrors>()
    {
        format!("{r:?}")
    } else if let Some(r) = e.as_decoded_interface_error::<LendingGate::LendingGateErrors>() {
        format!("{r:?}")
    } else {
        let data = e.as_revert_data()?;
        return Some(Revert {
            name: "unknown".into(),
            detail: format!("0x{}", hex::encode(data)),
        });
    };
    // `Variant(Variant { .. })`: the name is the variant.
    let name = detail.split(['(', ' ']).next().unwrap_or("?").to_string();
    Some(Revert { name, detail })
}

/// Why a registry call failed: a revert with its custom error, or anything else.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The contract reverted.
    #[error("{what} reverted with {}", .revert.detail)]
    Reverted {
        /// What was called.
        what: String,
        /// The decoded error.
        revert: Revert,
    },
    /// Transport, signing, or another failure.
    #[error(transparent)]
    Other(#[from] Error),
}

impl CallError {
    /// The custom error's name, if the call reverted.
    pub fn revert_name(&self) -> Option<&str> {
        match self {
            CallError::Reverted { revert, .. } => Some(&revert.name),
            CallError::Other(_) => None,
        }
    }
}

impl Chain {
    pub(super) fn call_err(&self, what: &str, e: alloy::contract::Error) -> CallError {
        match decode_revert(&e) {
            Some(revert) => CallError::Reverted {
                what: what.into(),
                revert,
            },
            None => CallError::Other(self.tx(what, e)),
        }
    }
}
