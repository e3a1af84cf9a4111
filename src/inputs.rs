//! The data users give: model inputs (EZKL's `input_data` format), calibration sets, batch
//! input lines with their salts and parameters, and labelled evaluation sets.

use std::path::Path;

use serde::Deserialize;

use crate::files::{Error, Result};

/// Reads model inputs in EZKL's format: `{"input_data": [[...], ...]}`, one flattened list per
/// model input.
pub fn read_input(path: &Path) -> Result<Vec<Vec<f64>>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_input(&text).map_err(|reason| Error::Format {
        path: path.to_path_buf(),
        reason,
    })
}

#[derive(Deserialize)]
struct InputJson {
    input_data: Vec<Vec<f64>>,
}

fn parse_input(text: &str) -> std::result::Result<Vec<Vec<f64>>, String> {
    match serde_json::from_str::<InputJson>(text) {
        Ok(i) => Ok(i.input_data),
        Err(e) => {
            if ["NaN", "Infinity", "inf"].iter().any(|t| text.contains(t)) {
                Err("holds NaN or Infinity: every input value must be a finite number".into())
            } else {
                Err(format!(
                    "expected {{\"input_data\": [[numbers, ...], ...]}} (EZKL's input format): {e}"
                ))
            }
        }
    }
}

/// One line of a batch's input file: a sample's inputs, with its own salts and predicate
/// parameters where the build needs them.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchLine {
    /// One flattened list per model input.
    pub input_data: Vec<Vec<f64>>,
    /// Salt of the input commitment (hashed inputs): `0x` + up to 64 hex digits.
    #[serde(default)]
    pub salt: Option<String>,
    /// Salt of the output commitment (hashed outputs).
    #[serde(default)]
    pub output_salt: Option<String>,
    /// The output predicate's parameters by name, e.g. `{"T": 0.5}`.
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, f64>,
}

/// Reads a batch's samples: JSON lines of [`BatchLine`] (a one-sample input object is one
/// line). Errors name the line, never a salt.
pub fn read_batch_input(path: &Path) -> Result<Vec<BatchLine>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let parse = |i: usize, l: &str| {
        serde_json::from_str::<BatchLine>(l).map_err(|e| Error::Format {
            path: path.to_path_buf(),
            reason: format!(
                "line {}: expected {{\"input_data\": [[...]], \"salt\": \"0x..\", \"output_salt\": \"0x..\", \"params\": {{\"NAME\": number}}}} (salts and params where the build needs them): {}",
                i + 1,
                // Never serde's text: it can quote the offending value (a salt, a private input).
                match e.classify() {
                    serde_json::error::Category::Syntax | serde_json::error::Category::Eof =>
                        format!("not valid JSON (column {})", e.column()),
                    _ => format!(
                        "a missing or unknown field, or a value of the wrong type (column {})",
                        e.column()
                    ),
                }
            ),
        })
    };
    // One object, perhaps spread over several lines, or JSON lines.
    if let Ok(one) = serde_json::from_str::<BatchLine>(&text) {
        return Ok(vec![one]);
    }
    lines.into_iter().map(|(i, l)| parse(i, l)).collect()
}

/// One labelled sample of an evaluation set.
#[derive(Clone, Debug, Deserialize)]
pub struct LabeledSample {
    /// The inputs, flattened.
    pub input_data: Vec<Vec<f64>>,
    /// The true class (an integer) or target value.
    pub label: f64,
}

/// Reads JSON lines of `{"input_data": [[...]], "label": y}`.
pub fn read_labeled(path: &Path) -> Result<Vec<LabeledSample>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str::<LabeledSample>(l).map_err(|e| Error::Format {
                path: path.to_path_buf(),
                reason: format!(
                    "line {}: expected {{\"input_data\": [[...]], \"label\": number}}: {e}",
                    i + 1
                ),
            })
        })
        .collect()
}

/// Reads calibration data: one input object (as [`read_input`]) or JSON lines of them.
pub fn read_calibration(path: &Path) -> Result<Vec<Vec<Vec<f64>>>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if let Ok(one) = serde_json::from_str::<InputJson>(&text) {
        return Ok(vec![one.input_data]);
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            parse_input(l).map_err(|reason| Error::Format {
                path: path.to_path_buf(),
                reason: format!("line {}: {reason}", i + 1),
            })
        })
        .collect()
}

/// Splits a sample given EZKL's way, several samples one after another in each input's list
/// (how `ezkl calibrate-settings` data is written), into its samples. `sizes` is the number of
/// values of each model input. A sample whose lists are not all the same whole number of
/// samples long is returned as it is (the model's input check then names the length).
pub fn split_concatenated(sample: Vec<Vec<f64>>, sizes: &[usize]) -> Vec<Vec<Vec<f64>>> {
    let count = |(list, &size): (&Vec<f64>, &usize)| {
        (size > 0 && list.len() % size == 0).then(|| list.len() / size)
    };
    let counts: Option<Vec<usize>> = sample.iter().zip(sizes).map(count).collect();
    let n = match counts.as_deref() {
        Some([first, rest @ ..])
            if sample.len() == sizes.len() && *first > 1 && rest.iter().all(|c| c == first) =>
        {
            *first
        }
        _ => return vec![sample],
    };
    (0..n)
        .map(|i| {
            sample
                .iter()
                .zip(sizes)
                .map(|(list, &size)| list[i * size..(i + 1) * size].to_vec())
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch input line with a wrong value names the line, never the value (it may be a
    /// salt or a private input).
    #[test]
    fn batch_input_errors_do_not_echo_values() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("in.jsonl");
        let good = r#"{"input_data": [[1.5, 2.0]], "salt": "0x5eed", "params": {"T": 0.5}}"#;
        for bad in [
            r#"{"input_data": [[1.5, 2.0]], "salt": 987654321987}"#,
            r#"{"input_data": [["314159.26"]], "salt": "0x5eed"}"#,
            r#"{"input_data": [[1.5]], "salt": "0x5eed", "secret": "271828182"}"#,
            r#"{"input_data": [[1.5, 2.0]], "salt": "0x5eed", "params": {"T": "0x161803398"}}"#,
        ] {
            std::fs::write(&path, format!("{good}\n{bad}\n")).expect("write");
            let e = read_batch_input(&path)
                .expect_err("bad line accepted")
                .to_string();
            assert!(e.contains("line 2"), "{e}");
            for secret in ["987654321987", "314159", "271828182", "161803398", "5eed"] {
                assert!(!e.contains(secret), "{e}");
            }
        }
        std::fs::write(&path, format!("{good}\n{good}\n")).expect("write");
        assert_eq!(read_batch_input(&path).expect("two good lines").len(), 2);
    }

    /// EZKL's calibration data (samples one after another per input) splits into samples; a
    /// list that is no whole number of samples stays as given.
    #[test]
    fn concatenated_samples_split() {
        let s = vec![vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], vec![7.0, 8.0, 9.0]];
        let split = split_concatenated(s, &[2, 1]);
        assert_eq!(
            split,
            vec![
                vec![vec![1.0, 2.0], vec![7.0]],
                vec![vec![3.0, 4.0], vec![8.0]],
                vec![vec![5.0, 6.0], vec![9.0]],
            ]
        );
        let one = vec![vec![1.0, 2.0]];
        assert_eq!(split_concatenated(one.clone(), &[2]), vec![one]);
        let uneven = vec![vec![1.0, 2.0, 3.0, 4.0], vec![7.0, 8.0, 9.0]];
        assert_eq!(split_concatenated(uneven.clone(), &[2, 1]), vec![uneven]);
        let odd = vec![vec![1.0, 2.0, 3.0]];
        assert_eq!(split_concatenated(odd.clone(), &[2]), vec![odd]);
    }
}
