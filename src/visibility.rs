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
}

impl Default for Visibility {
    fn default() -> Self {
        Self {
            input: Vis::Private,
            params: Vis::Fixed,
            output: Vis::Public,
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

/// Domain-separation tags of the commitments.
pub mod tag {
    /// Commitment to the model inputs.
    pub const INPUT: u64 = 1;
    /// Commitment to the parameters.
    pub const PARAMS: u64 = 2;
    /// Commitment to the model outputs.
    pub const OUTPUT: u64 = 3;
}
