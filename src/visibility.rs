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

impl std::str::FromStr for Vis {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "public" => Ok(Vis::Public),
            "private" => Ok(Vis::Private),
            "hashed" => Ok(Vis::Hashed),
            "fixed" => Ok(Vis::Fixed),
            other => Err(format!(
                "unknown visibility '{other}' (public, private, hashed, fixed)"
            )),
        }
    }
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
    use halo2_base::halo2_proofs::halo2curves::ff::FromUniformBytes;
    use serde::{Deserialize, Serialize};
    use sha3::{Digest, Keccak256};

    use crate::circuit::Fr;

    /// What a proof is bound to.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Binding {
        /// The chain id.
        pub chain_id: u64,
        /// The registry's address, `0x` hex.
        pub registry: String,
        /// The submitter's address, `0x` hex.
        pub submitter: String,
        /// The model id, 32 bytes `0x` hex.
        pub model_id: String,
        /// The submitter's nonce for this model.
        pub nonce: u64,
    }

    fn bytes<const N: usize>(field: &str, s: &str) -> Result<[u8; N], String> {
        let b = hex::decode(s.strip_prefix("0x").unwrap_or(s))
            .map_err(|e| format!("binding {field} '{s}': not hex ({e})"))?;
        b.try_into()
            .map_err(|_| format!("binding {field} '{s}': expected {N} bytes"))
    }

    impl Binding {
        /// The instance value.
        pub fn value(&self) -> Result<Fr, String> {
            let registry: [u8; 20] = bytes("registry", &self.registry)?;
            let submitter: [u8; 20] = bytes("submitter", &self.submitter)?;
            let model: [u8; 32] = bytes("model_id", &self.model_id)?;
            let mut enc = [0u8; 160];
            enc[24..32].copy_from_slice(&self.chain_id.to_be_bytes());
            enc[44..64].copy_from_slice(&registry);
            enc[76..96].copy_from_slice(&submitter);
            enc[96..128].copy_from_slice(&model);
            enc[152..160].copy_from_slice(&self.nonce.to_be_bytes());
            let h = Keccak256::digest(enc);
            // A 256-bit big-endian integer reduced mod r: little-endian into a 64-byte wide
            // buffer whose upper half is zero.
            let mut wide = [0u8; 64];
            for (i, b) in h.iter().rev().enumerate() {
                wide[i] = *b;
            }
            Ok(Fr::from_uniform_bytes(&wide))
        }
    }
}
