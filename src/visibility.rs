//! Who sees what: the visibility of a model's inputs, parameters and outputs, and the public
//! instances that follow from it.

use serde::{Deserialize, Serialize};

/// Visibility of one part of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vis {
    /// The values are public instances.
    Public,
    /// The values are private witnesses.
    Private,
    /// A Poseidon commitment to the values is a public instance; the values stay private.
    Hashed,
    /// Parameters only: baked into the circuit as constants (the verifying key binds them).
    Fixed,
}

impl std::fmt::Display for Vis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Vis::Public => "public",
            Vis::Private => "private",
            Vis::Hashed => "hashed",
            Vis::Fixed => "fixed",
        })
    }
}

/// Visibility of inputs, parameters and outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visibility {
    /// Model inputs: public, private or hashed.
    pub input: Vis,
    /// Weights and biases: fixed, hashed, public or private.
    pub params: Vis,
    /// Model outputs: public, private or hashed.
    pub output: Vis,
    /// A last public instance binds each proof to one use: a `PredictionRegistry` on one
    /// chain, one submitter, one nonce (see [`binding`]). Off: the proof can be verified
    /// anywhere by anyone.
    #[serde(default)]
    pub binding: bool,
}

impl Default for Visibility {
    fn default() -> Self {
        Self {
            input: Vis::Private,
            params: Vis::Fixed,
            output: Vis::Public,
            binding: false,
        }
    }
}

impl Visibility {
    /// Checks the combination; `allow_unbound_params` permits private parameters without a hash.
    pub fn check(&self, allow_unbound_params: bool) -> Result<(), String> {
        if self.input == Vis::Fixed || self.output == Vis::Fixed {
            return Err("'fixed' applies to parameters only; inputs and outputs are public, private or hashed".into());
        }
        if self.params == Vis::Private && !allow_unbound_params {
            return Err("--param-visibility private binds no model: a prover could use any parameters of the right shape and the proof would still verify. Use fixed or hashed, or pass --allow-unbound-params if that is really what you want".into());
        }
        Ok(())
    }
}

impl Visibility {
    /// How the proofs pin the weights, as the registry's `WEIGHTS_*` code: 0 fixed (circuit
    /// constants), 1 hashed, 2 public, 3 unbound (private: nothing pins them).
    pub fn weights_code(&self) -> u8 {
        match self.params {
            Vis::Fixed => 0,
            Vis::Hashed => 1,
            Vis::Public => 2,
            Vis::Private => 3,
        }
    }
}

/// Domain-separation tags of the commitments.
pub mod tag {
    /// Commitment to the model inputs.
    pub const INPUT: u64 = 1;
    /// Commitment to the parameters.
    pub const PARAMS: u64 = 2;
    /// Commitment to the model outputs.
    pub const OUTPUT: u64 = 3;
}

/// The binding instance: which registry, chain, submitter and nonce a proof is for.
///
/// Its value is `keccak256(abi.encode(chainId, registry, submitter, modelId, nonce)) mod r`
/// (r the BN254 scalar modulus), exactly as `PredictionRegistry.bindingFor` computes it.
pub mod binding {
    use alloy::primitives::{keccak256, Address, B256, U256};
    use alloy::sol_types::SolValue;
    use serde::{Deserialize, Serialize};

    use crate::field::{Fr, FromUniformBytes};

    /// What a proof is bound to.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Binding {
        /// The chain id.
        pub chain_id: u64,
        /// The registry's address.
        pub registry: Address,
        /// The submitter's address.
        pub submitter: Address,
        /// The model id.
        pub model_id: B256,
        /// The submitter's nonce for this model.
        pub nonce: u64,
    }

    impl Binding {
        /// The instance value.
        pub fn value(&self) -> Fr {
            let enc = (
                U256::from(self.chain_id),
                self.registry,
                self.submitter,
                self.model_id,
                U256::from(self.nonce),
            )
                .abi_encode_params();
            let h = keccak256(enc);
            // A 256-bit big-endian integer reduced mod r: little-endian into a 64-byte wide
            // buffer whose upper half is zero.
            let mut wide = [0u8; 64];
            for (i, b) in h.iter().rev().enumerate() {
                wide[i] = *b;
            }
            Fr::from_uniform_bytes(&wide)
        }
    }
}
