//! One input as the oracle receives it: a JSON object (the format is in the [module
//! doc](super)), read without ever echoing its values into a reason, and the salt rules of
//! commitments.

use std::collections::HashMap;

use serde::Deserialize;

use crate::circuit::commit::parse_salt;
use crate::field::Fr;
use crate::visibility::{Vis, Visibility};

/// One input as written in the source.
#[derive(Deserialize)]
struct InputLine {
    #[serde(default)]
    #[allow(dead_code)]
    id: Option<String>,
    input_data: Vec<Vec<f64>>,
    #[serde(default)]
    salt: Option<String>,
    #[serde(default)]
    output_salt: Option<String>,
    #[serde(default)]
    params: HashMap<String, f64>,
}

/// An input, parsed and checked against the salt rules.
pub struct Input {
    /// The model's inputs.
    pub data: Vec<Vec<f64>>,
    /// Salt of the input commitment (0 when the build has none, or when unsalted is allowed).
    pub salt: Fr,
    /// Salt of the output commitment.
    pub output_salt: Fr,
    /// Predicate parameters by name.
    pub params: Vec<(String, f64)>,
}

/// Which salts an input must carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SaltRules {
    /// The input is hashed: `salt` is required (non-zero).
    pub input: bool,
    /// The outputs are hashed: `output_salt` is required (non-zero).
    pub output: bool,
    /// `--allow-unsalted`: a missing or zero salt means 0.
    pub allow_unsalted: bool,
}

impl SaltRules {
    /// The rules of a build with this visibility.
    pub fn of(vis: Visibility, allow_unsalted: bool) -> Self {
        Self {
            input: vis.input == Vis::Hashed,
            output: vis.output == Vis::Hashed,
            allow_unsalted,
        }
    }
}

/// What a JSON error says, without the values it may quote: serde's data errors name the
/// offending value ("invalid type: floating point `0.73`"), and that value may be private.
fn describe(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("at line {} column {}", e.line(), e.column());
    match e.classify() {
        // Syntax messages are fixed texts ("expected value", "trailing characters").
        Category::Syntax | Category::Eof | Category::Io => e.to_string(),
        Category::Data => {
            let msg = e.to_string();
            if msg.starts_with("missing field") || msg.starts_with("invalid length") {
                msg
            } else if let Some((_, expected)) = msg.split_once(", expected ") {
                // Drop serde's " at line L column C" suffix with the value.
                let expected = expected
                    .rsplit_once(" at line ")
                    .map_or(expected, |(x, _)| x);
                format!("a value has the wrong type or form (expected {expected}) {at}")
            } else {
                format!("a value has the wrong type or form {at}")
            }
        }
    }
}

fn salt(line: &InputLine, output: bool, rules: SaltRules) -> Result<Fr, String> {
    let (field, required, what) = if output {
        (&line.output_salt, rules.output, "outputs")
    } else {
        (&line.salt, rules.input, "input")
    };
    let name = if output { "output_salt" } else { "salt" };
    let s = match field.as_deref().map(parse_salt).transpose() {
        Ok(s) => s.unwrap_or_default(),
        Err(e) => return Err(format!("{name}: {e}")),
    };
    if required && s == Fr::zero() && !rules.allow_unsalted {
        return Err(format!(
            "no {name}: this build publishes a hash of the {what}, and without a salt (or with \
             0) anyone who can guess the data can check a guess against it. Give \"{name}\": a \
             fresh random value for each input, 0x and up to 62 hex digits (31 bytes, e.g. \
             `openssl rand -hex 31`), and keep it with the data (it opens the commitment); or \
             run the oracle with --allow-unsalted"
        ));
    }
    Ok(s)
}

/// Parses an input line and checks its salts. `Err` is a reason that quotes no value.
pub fn parse(text: &str, rules: SaltRules) -> Result<Input, String> {
    let line: InputLine = serde_json::from_str(text).map_err(|e| {
        format!(
            "not an input object ({{\"input_data\": [[...]], \"salt\"?, \"output_salt\"?, \
             \"params\"?}}): {}",
            describe(&e)
        )
    })?;
    Ok(Input {
        salt: salt(&line, false, rules)?,
        output_salt: salt(&line, true, rules)?,
        params: line.params.into_iter().collect(),
        data: line.input_data,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const HASHED: SaltRules = SaltRules {
        input: true,
        output: true,
        allow_unsalted: false,
    };

    #[test]
    fn hashed_inputs_and_outputs_need_salts() {
        let ok = r#"{"input_data": [[1.5]], "salt": "0x7", "output_salt": "0x8"}"#;
        let i = parse(ok, HASHED).unwrap();
        assert_eq!((i.salt, i.output_salt), (Fr::from(7), Fr::from(8)));
        for (line, missing) in [
            (
                r#"{"input_data": [[1.5]], "output_salt": "0x8"}"#,
                "no salt",
            ),
            (
                r#"{"input_data": [[1.5]], "salt": "0x0", "output_salt": "0x8"}"#,
                "no salt",
            ),
            (
                r#"{"input_data": [[1.5]], "salt": "0x7"}"#,
                "no output_salt",
            ),
        ] {
            let e = parse(line, HASHED).err().unwrap();
            assert!(e.starts_with(missing), "{e}");
            assert!(e.contains("openssl rand") && e.contains("--allow-unsalted"));
            let allowed = SaltRules {
                allow_unsalted: true,
                ..HASHED
            };
            parse(line, allowed).unwrap();
        }
        // Nothing hashed: nothing required.
        let none = SaltRules {
            input: false,
            output: false,
            allow_unsalted: false,
        };
        parse(r#"{"input_data": [[1.5]]}"#, none).unwrap();
    }

    #[test]
    fn errors_do_not_quote_values() {
        for line in [
            r#"{"input_data": [[0.7316, "x"]]}"#,
            r#"{"input_data": [[0.7316], 0.7316]}"#,
            r#"{"input_data": 0.7316}"#,
            r#"{"input_data": [[0.7316]], "params": {"T": "0.7316"}}"#,
            r#"{"input_data": [[0.7316]], "salt": 7316}"#,
            r#"{"input_data": [[0.7316]], "salt": "0x7316z"}"#,
            r#"{"input_data": [[0.7316]] "#,
            r#"[0.7316]"#,
        ] {
            let e = parse(line, HASHED).err().unwrap();
            assert!(!e.contains("7316"), "{line}: {e}");
        }
        let e = parse(r#"{"salt": "0x1"}"#, HASHED).err().unwrap();
        assert!(e.contains("missing field `input_data`"), "{e}");
    }
}
