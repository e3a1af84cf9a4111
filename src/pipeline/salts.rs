//! Salts: how a provider should choose them, and the refusal of unsalted commitments.

use crate::field::{Fr, PrimeField};
use crate::visibility::Vis;

use super::{Build, Error, Result};

/// How a provider should choose a salt (quoted in errors and the README).
pub const SALT_ADVICE: &str = "a salt is a secret random number, 0x and up to 62 hex digits (e.g. `openssl rand -hex 31`), drawn afresh per input and kept with it";

/// Bits a salt should have at least: below this a salt adds little to a guessable input.
pub const SALT_MIN_BITS: u32 = 120;

/// A warning for a salt that is given but short (fewer than [`SALT_MIN_BITS`] significant
/// bits), naming the flag, never the salt.
pub fn weak_salt_warning(salt: Option<Fr>, flag: &str) -> Option<String> {
    let s = salt.filter(|s| *s != Fr::zero())?;
    let repr = s.to_repr();
    let bytes = repr.as_ref();
    let top = bytes.iter().rposition(|&b| b != 0).unwrap_or(0);
    let bits = 8 * top as u32 + (8 - bytes[top].leading_zeros());
    (bits < SALT_MIN_BITS).then(|| {
        format!(
            "warning: {flag} has only {bits} significant bits: with a guessable input, a commitment under it can be inverted by trying salts too. Use at least {SALT_MIN_BITS} random bits ({SALT_ADVICE})"
        )
    })
}

/// Refuses unsalted commitments: a hashed input (or output) whose salt is missing or zero
/// could be recovered from its public commitment by trying likely values, so it needs a salt
/// unless the caller explicitly allows none (`--allow-unsalted`). `what` names where salts
/// come from (`--salt`, an input's `salt` field).
pub fn check_salts(
    build: &Build,
    input_salt: Option<Fr>,
    output_salt: Option<Fr>,
    allow_unsalted: bool,
    what: (&str, &str),
) -> Result<()> {
    if allow_unsalted {
        return Ok(());
    }
    let vis = build.settings.circuit.visibility;
    let missing = |s: Option<Fr>| s.is_none_or(|s| s == Fr::zero());
    for (hashed, salt, part, flag) in [
        (vis.input == Vis::Hashed, input_salt, "inputs", what.0),
        (vis.output == Vis::Hashed, output_salt, "outputs", what.1),
    ] {
        if hashed && missing(salt) {
            return Err(Error::Salt(format!(
                "this build commits to its {part} by a public hash: without a salt ({flag}), anyone can recover low-entropy {part} by hashing likely values. Give {flag} ({SALT_ADVICE}), or --allow-unsalted if the {part} are public knowledge anyway"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_salts_are_warned_about_without_their_value() {
        let salt = |s: &str| Some(crate::circuit::commit::parse_salt(s).unwrap());
        let w = weak_salt_warning(salt("0x5a17"), "--salt").unwrap();
        assert!(w.contains("--salt has only 15 significant bits"), "{w}");
        assert!(!w.contains("5a17"), "{w}");
        let w = weak_salt_warning(salt(&format!("0x{}", "f".repeat(29))), "--salt").unwrap();
        assert!(w.contains("116"), "{w}");
        assert!(weak_salt_warning(salt(&format!("0x1{}", "0".repeat(30))), "--salt").is_none());
        assert!(weak_salt_warning(None, "--salt").is_none());
    }
}
