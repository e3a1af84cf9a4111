//! Output predicates: prove a statement about the outputs instead of revealing them.
//!
//! Grammar: `OUT[I] OP NAME` with `OP` one of `>=`, `>`, `<=`, `<` (OUT is `y` for the first
//! output or an output's name, I a flattened index into it, NAME a threshold given at prove time
//! with `--param NAME=VALUE`), or `argmax(OUT) == K` with K an integer literal or a NAME given
//! at prove time. Thresholds are
//! public instances at the output's scale, so a contract can demand its own threshold from the
//! same verifier.

use serde::{Deserialize, Serialize};

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CmpOp {
    /// `>=`
    Ge,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `<`
    Lt,
}

impl CmpOp {
    /// Whether `a OP b` holds.
    pub fn holds(self, a: i128, b: i128) -> bool {
        match self {
            CmpOp::Ge => a >= b,
            CmpOp::Gt => a > b,
            CmpOp::Le => a <= b,
            CmpOp::Lt => a < b,
        }
    }

    fn text(self) -> &'static str {
        match self {
            CmpOp::Ge => ">=",
            CmpOp::Gt => ">",
            CmpOp::Le => "<=",
            CmpOp::Lt => "<",
        }
    }
}

/// The class an argmax predicate names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClassRef {
    /// A fixed class.
    Literal(i64),
    /// A class given at prove time (a public instance).
    Param(String),
}

/// A parsed predicate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Predicate {
    /// `output[index] OP param`.
    Compare {
        /// The output: `y` (the first) or an output name.
        output: String,
        /// Flattened index into the output.
        index: usize,
        /// Operator.
        op: CmpOp,
        /// Name of the threshold.
        param: String,
    },
    /// `argmax(output) == class`.
    ArgMax {
        /// The output: `y` (the first) or an output name.
        output: String,
        /// The class.
        class: ClassRef,
    },
}

fn ident(s: &str) -> Option<String> {
    let ok = !s.is_empty()
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    ok.then(|| s.to_string())
}

impl std::str::FromStr for Predicate {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let s: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let help =
            "expected 'y[I] >= NAME' (or >, <=, <; y or an output's name) or 'argmax(y) == K'";
        if let Some(rest) = s.strip_prefix("argmax(") {
            let (out, rest) = rest
                .split_once(")==")
                .ok_or_else(|| format!("'{text}': {help}"))?;
            let output =
                ident(out).ok_or_else(|| format!("'{out}' is not an output name; {help}"))?;
            let class = match rest.parse::<i64>() {
                Ok(k) if k >= 0 => ClassRef::Literal(k),
                _ => ClassRef::Param(ident(rest).ok_or_else(|| {
                    format!("'{rest}' is neither a class number nor a parameter name; {help}")
                })?),
            };
            return Ok(Predicate::ArgMax { output, class });
        }
        let (out, rest) = s
            .split_once('[')
            .ok_or_else(|| format!("'{text}': {help}"))?;
        let output = ident(out).ok_or_else(|| format!("'{out}' is not an output name; {help}"))?;
        let (idx, rest) = rest
            .split_once(']')
            .ok_or_else(|| format!("'{text}': {help}"))?;
        let index: usize = idx
            .parse()
            .map_err(|_| format!("'{idx}' is not an output index; {help}"))?;
        let (op, name) = [
            (">=", CmpOp::Ge),
            ("<=", CmpOp::Le),
            (">", CmpOp::Gt),
            ("<", CmpOp::Lt),
        ]
        .iter()
        .find_map(|(t, op)| rest.strip_prefix(t).map(|n| (*op, n)))
        .ok_or_else(|| format!("'{text}': {help}"))?;
        let param = ident(name).ok_or_else(|| format!("'{name}' is not a parameter name (a threshold is given at prove time with --param {name}=VALUE); {help}"))?;
        Ok(Predicate::Compare {
            output,
            index,
            op,
            param,
        })
    }
}

impl std::fmt::Display for Predicate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Predicate::Compare {
                output,
                index,
                op,
                param,
            } => write!(f, "{output}[{index}] {} {param}", op.text()),
            Predicate::ArgMax {
                output,
                class: ClassRef::Literal(k),
            } => write!(f, "argmax({output}) == {k}"),
            Predicate::ArgMax {
                output,
                class: ClassRef::Param(p),
            } => write!(f, "argmax({output}) == {p}"),
        }
    }
}

impl Predicate {
    /// Names of the parameters given at prove time, in instance order.
    pub fn params(&self) -> Vec<String> {
        match self {
            Predicate::Compare { param, .. } => vec![param.clone()],
            Predicate::ArgMax {
                class: ClassRef::Param(p),
                ..
            } => vec![p.clone()],
            Predicate::ArgMax {
                class: ClassRef::Literal(_),
                ..
            } => vec![],
        }
    }

    /// The output it speaks about.
    pub fn output(&self) -> &str {
        match self {
            Predicate::Compare { output, .. } | Predicate::ArgMax { output, .. } => output,
        }
    }

    /// Position of that output among the model's outputs (`y` is the first), if it exists.
    pub fn output_position(&self, output_names: &[String]) -> Option<usize> {
        let o = self.output();
        output_names
            .iter()
            .position(|n| n == o)
            .or((o == "y").then_some(0))
    }

    /// The model output it speaks about: `(position among the outputs, value id, offset of
    /// its first element in the flattened outputs)`.
    pub fn locate(&self, model: &crate::quant::QuantModel) -> Option<(usize, usize, usize)> {
        let names: Vec<String> = model
            .outputs
            .iter()
            .map(|&v| model.values[v].name.clone())
            .collect();
        let pos = self.output_position(&names)?;
        let offset = model.outputs[..pos]
            .iter()
            .map(|&v| model.values[v].numel())
            .sum();
        Some((pos, model.outputs[pos], offset))
    }

    /// Evaluates on the output's integers with the parameters' integers (in
    /// [`Predicate::params`] order).
    pub fn holds(&self, y: &[i128], params: &[i128]) -> Result<bool, String> {
        match self {
            Predicate::Compare { index, op, .. } => {
                let v = y.get(*index).ok_or_else(|| {
                    format!(
                        "{}[{index}] does not exist: the output has {} values",
                        self.output(),
                        y.len()
                    )
                })?;
                Ok(op.holds(*v, params[0]))
            }
            Predicate::ArgMax { class, .. } => {
                let k = match class {
                    ClassRef::Literal(k) => *k as i128,
                    ClassRef::Param(_) => params[0],
                };
                let mut best = 0;
                for (i, v) in y.iter().enumerate() {
                    if *v > y[best] {
                        best = i;
                    }
                }
                Ok(best as i128 == k)
            }
        }
    }

    /// The registry's `PREDICATE_*` code: 1 `>=`, 2 `>`, 3 `<=`, 4 `<`, 5 argmax (0 is "no
    /// predicate").
    pub fn op_code(&self) -> u8 {
        match self {
            Predicate::Compare { op: CmpOp::Ge, .. } => 1,
            Predicate::Compare { op: CmpOp::Gt, .. } => 2,
            Predicate::Compare { op: CmpOp::Le, .. } => 3,
            Predicate::Compare { op: CmpOp::Lt, .. } => 4,
            Predicate::ArgMax { .. } => 5,
        }
    }

    /// The exponent a parameter is quantized at: the output's for a threshold, 0 for a class.
    pub fn param_exp(&self, output_exp: i32) -> i32 {
        match self {
            Predicate::Compare { .. } => output_exp,
            Predicate::ArgMax { .. } => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for t in [
            "y[0] >= t",
            "y[3]<limit",
            "probabilities[1] > t",
            "argmax(y) == 1",
            "argmax(y)==k",
        ] {
            let p: Predicate = t.parse().unwrap();
            assert_eq!(p.to_string().replace(' ', ""), t.replace(' ', ""));
        }
        for bad in [
            "y[0] >= 0.7",
            "1x[0] > t",
            "y[a] > t",
            "argmax(y) == -1x",
            "y[0] = t",
        ] {
            assert!(bad.parse::<Predicate>().is_err(), "{bad}");
        }
    }
}
