//! Typed client of the `LendingGate` contract (bindings by `sol!` from the committed artifact):
//! a gate that lends to an account only with a fresh enough proven threshold in the registry.

use alloy::primitives::{Address, B256, I256, U256};
use alloy::sol;
use serde::Serialize;

use super::registry::Registry;
use super::revert::CallError;
use super::tx::Mined;
use super::{Chain, Error};

sol!(
    #[sol(rpc)]
    #[derive(Debug)]
    #[allow(clippy::too_many_arguments)]
    // the generated deploy builder takes every constructor argument
    LendingGate,
    "contracts/artifacts/LendingGate.json"
);

/// What a lending gate requires: a proven threshold on `output` in `direction` of `bound`,
/// written at the model's threshold exponent `exp`, at most `max_age` seconds old.
#[derive(Clone, Copy, Debug)]
pub struct GateSpec {
    /// The flattened model output the predicate must read.
    pub output: u32,
    /// Floor or ceiling.
    pub direction: GateDirection,
    /// The bound, fixed point at `exp`.
    pub bound: i128,
    /// The bound's fixed-point exponent: must be the model's threshold exponent.
    pub exp: i16,
    /// Oldest acceptable proof, in seconds.
    pub max_age: u64,
}

/// Direction of a lending gate: the proven threshold is a floor (`AT_LEAST`) or a ceiling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum GateDirection {
    /// The model proves `OUT[i] >= T` (or `>`); the gate wants `T >= bound`.
    AtLeast,
    /// The model proves `OUT[i] <= T` (or `<`); the gate wants `T <= bound`.
    AtMost,
}

impl GateDirection {
    /// The gate's code (`AT_LEAST` 1, `AT_MOST` 2).
    pub fn code(self) -> u8 {
        match self {
            GateDirection::AtLeast => 1,
            GateDirection::AtMost => 2,
        }
    }

    /// Whether a model's predicate operator (the registry's `PREDICATE_*`) fits.
    pub fn accepts(self, predicate_op: u8) -> bool {
        match self {
            GateDirection::AtLeast => matches!(predicate_op, 1 | 2),
            GateDirection::AtMost => matches!(predicate_op, 3 | 4),
        }
    }
}

/// The lending gate at an address, on a chain.
#[derive(Clone, Copy)]
pub struct Gate<'a> {
    chain: &'a Chain,
    /// The gate's address.
    pub address: Address,
}

impl Chain {
    /// The lending gate at `address`.
    pub fn gate(&self, address: Address) -> Gate<'_> {
        Gate {
            chain: self,
            address,
        }
    }
}

impl Registry<'_> {
    /// Deploys a `LendingGate` over `registry` for `model` (see [`GateSpec`]).
    pub async fn deploy_gate(
        self,
        model: [u8; 32],
        spec: GateSpec,
    ) -> std::result::Result<super::Deployed, CallError> {
        let GateSpec {
            output,
            direction,
            bound,
            exp,
            max_age,
        } = spec;
        self.chain.need_key("deploying LendingGate")?;
        let bound = I256::try_from(bound).map_err(|_| Error::Tx {
            what: "deploying LendingGate".into(),
            reason: format!("bound {bound} does not fit an int256"),
        })?;
        let b = LendingGate::deploy_builder(
            &self.chain.provider,
            self.address,
            B256::from(model),
            output,
            direction.code(),
            bound,
            exp,
            U256::from(max_age),
        );
        let gas = b
            .estimate_gas()
            .await
            .map_err(|e| self.chain.call_err("deploying LendingGate", e))?;
        let pending = b
            .gas(gas + gas / 5)
            .send()
            .await
            .map_err(|e| self.chain.call_err("deploying LendingGate", e))?;
        let receipt = pending
            .get_receipt()
            .await
            .map_err(|e| self.chain.tx("deploying LendingGate", e))?;
        let address = receipt
            .contract_address
            .filter(|_| receipt.status())
            .ok_or_else(|| Error::Tx {
                what: "deploying LendingGate".into(),
                reason: "reverted".into(),
            })?;
        Ok(super::Deployed {
            address,
            gas_used: receipt.gas_used,
            tx_hash: receipt.transaction_hash,
        })
    }
}

impl Gate<'_> {
    /// A lending gate's verdict for `account` and `commitment`: the proven threshold and age,
    /// or the gate's reason to refuse.
    pub async fn check(
        self,
        account: Address,
        commitment: [u8; 32],
    ) -> std::result::Result<(i128, u64), CallError> {
        let g = LendingGate::new(self.address, &self.chain.provider);
        let out = g
            .check(account, B256::from(commitment))
            .call()
            .await
            .map_err(|e| self.chain.call_err("check", e))?;
        let threshold = i128::try_from(out.provenThreshold).map_err(|_| {
            CallError::Other(Error::Tx {
                what: "check".into(),
                reason: format!(
                    "the gate reports a threshold {} beyond i128",
                    out.provenThreshold
                ),
            })
        })?;
        Ok((threshold, out.age.saturating_to::<u64>()))
    }

    /// Borrows through a lending gate (the signer is the account).
    pub async fn borrow(
        self,
        commitment: [u8; 32],
        amount: u64,
    ) -> std::result::Result<Mined, CallError> {
        let g = LendingGate::new(self.address, &self.chain.provider);
        self.chain
            .mine(
                "borrow",
                g.borrow(B256::from(commitment), U256::from(amount)),
            )
            .await
    }
}
