//! What each public instance means, in the circuit's order (see [`super::instances`] for the
//! cells): the description `settings.json` and every proof file carry, and the registry's
//! layout is derived from.

use serde::{Deserialize, Serialize};

use crate::predicate::Predicate;
use crate::quant::QuantModel;
use crate::visibility::{Vis, Visibility};

/// What a public instance is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstanceKind {
    /// A model input value.
    Input,
    /// The Poseidon commitment to the inputs.
    InputCommitment,
    /// A public weight.
    Param,
    /// The Poseidon commitment to the weights.
    ParamCommitment,
    /// A model output value.
    Output,
    /// The Poseidon commitment to the outputs.
    OutputCommitment,
    /// The output predicate's result (in a batch, the slot's used bit).
    Predicate,
    /// A parameter of the output predicate (a threshold, a class).
    PredicateParam,
    /// A batch slot's used bit, when there is no predicate.
    Slot,
    /// keccak256(chain id, registry, submitter, model id, nonce) mod r.
    Binding,
}

impl InstanceKind {
    /// Every kind, in declaration order.
    pub const ALL: [InstanceKind; 10] = [
        Self::Input,
        Self::InputCommitment,
        Self::Param,
        Self::ParamCommitment,
        Self::Output,
        Self::OutputCommitment,
        Self::Predicate,
        Self::PredicateParam,
        Self::Slot,
        Self::Binding,
    ];

    /// The name used in files and messages (`input_commitment`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Input => "input",
            Self::InputCommitment => "input_commitment",
            Self::Param => "param",
            Self::ParamCommitment => "param_commitment",
            Self::Output => "output",
            Self::OutputCommitment => "output_commitment",
            Self::Predicate => "predicate",
            Self::PredicateParam => "predicate_param",
            Self::Slot => "slot",
            Self::Binding => "binding",
        }
    }

    /// Whether it encodes a signed integer (inputs, parameters, outputs, predicate results and
    /// parameters, used bits), not a hash (commitments, the binding).
    pub fn is_numeric(self) -> bool {
        !matches!(
            self,
            Self::InputCommitment | Self::ParamCommitment | Self::OutputCommitment | Self::Binding
        )
    }

    /// The commitment kind of a hashed part.
    fn commitment(part: Part) -> Self {
        match part {
            Part::Input => Self::InputCommitment,
            Part::Output => Self::OutputCommitment,
        }
    }
}

impl std::fmt::Display for InstanceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The meaning of one public instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceInfo {
    /// Human name, e.g. `output 0 'logits' [1]`.
    pub name: String,
    /// What it is.
    pub kind: InstanceKind,
    /// Which model input or output.
    pub tensor: usize,
    /// Position inside that output (flattened).
    pub index: usize,
    /// Fixed-point exponent: the float is `value * 2^-exp`.
    pub exp: i32,
    /// The batch slot the instance belongs to (batch builds; absent for what belongs to the
    /// proof once: weights, the binding, and every instance of a one-sample build).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample: Option<usize>,
}

impl InstanceInfo {
    /// Whether the instance encodes a signed integer, not a hash.
    pub fn is_numeric(&self) -> bool {
        self.kind.is_numeric()
    }

    fn new(name: String, kind: InstanceKind, tensor: usize, index: usize, exp: i32) -> Self {
        Self {
            name,
            kind,
            tensor,
            index,
            exp,
            sample: None,
        }
    }
}

#[derive(Clone, Copy)]
enum Part {
    Input,
    Output,
}

/// The meaning of each public instance, in the circuit's order (see [`super::instances`]): for
/// one sample, inputs, parameters, outputs, predicate, binding; for a batch of `batch` slots,
/// the parameters once, then each slot (its used bit first when there is no predicate; with one,
/// the predicate's result is the used bit), then the binding.
pub fn instance_infos(
    model: &QuantModel,
    vis: Visibility,
    predicate: Option<&Predicate>,
    batch: usize,
) -> Vec<InstanceInfo> {
    let part = |out: &mut Vec<InstanceInfo>, v: Vis, part: Part| {
        let (word, kind, tensors) = match part {
            Part::Input => ("input", InstanceKind::Input, &model.inputs),
            Part::Output => ("output", InstanceKind::Output, &model.outputs),
        };
        match v {
            Vis::Public => {
                for (t, &id) in tensors.iter().enumerate() {
                    let value = &model.values[id];
                    for index in 0..value.numel() {
                        out.push(InstanceInfo::new(
                            format!("{word} {t} '{}' [{index}]", value.name),
                            kind,
                            t,
                            index,
                            value.exp,
                        ));
                    }
                }
            }
            Vis::Hashed => out.push(InstanceInfo::new(
                format!("Poseidon commitment to the {word}s"),
                InstanceKind::commitment(part),
                0,
                0,
                0,
            )),
            Vis::Private | Vis::Fixed => {}
        }
    };
    let mut weights = vec![];
    match vis.params {
        Vis::Public => weights.extend((0..model.params().len()).map(|index| {
            InstanceInfo::new(format!("param [{index}]"), InstanceKind::Param, 0, index, 0)
        })),
        Vis::Hashed => weights.push(InstanceInfo::new(
            "Poseidon commitment to the parameters".into(),
            InstanceKind::ParamCommitment,
            0,
            0,
            0,
        )),
        Vis::Private | Vis::Fixed => {}
    }
    let batched = batch > 1;
    let mut out = if batched { weights.clone() } else { vec![] };
    for s in 0..batch.max(1) {
        let mut slot = vec![];
        if batched && predicate.is_none() {
            slot.push(InstanceInfo::new(
                "used (1: a real sample, 0: an unused slot)".into(),
                InstanceKind::Slot,
                0,
                0,
                0,
            ));
        }
        part(&mut slot, vis.input, Part::Input);
        if !batched {
            slot.extend(weights.iter().cloned());
        }
        part(&mut slot, vis.output, Part::Output);
        if let Some(p) = predicate {
            slot.push(InstanceInfo::new(
                p.to_string(),
                InstanceKind::Predicate,
                0,
                0,
                0,
            ));
            let exp = p.param_exp(p.locate(model).map_or(0, |(_, v, _)| model.values[v].exp));
            for (index, name) in p.params().into_iter().enumerate() {
                slot.push(InstanceInfo::new(
                    name,
                    InstanceKind::PredicateParam,
                    0,
                    index,
                    exp,
                ));
            }
        }
        if batched {
            for i in &mut slot {
                i.name = format!("sample {s}: {}", i.name);
                i.sample = Some(s);
            }
        }
        out.extend(slot);
    }
    if vis.binding {
        out.push(InstanceInfo::new(
            "binding: keccak256(chain id, registry, submitter, model id, nonce) mod r".into(),
            InstanceKind::Binding,
            0,
            0,
            0,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kinds serialize as the names files have always carried.
    #[test]
    fn kinds_serialize_as_their_names() {
        for k in InstanceKind::ALL {
            let s = serde_json::to_string(&k).expect("serialize");
            assert_eq!(s, format!("\"{}\"", k.as_str()));
            let back: InstanceKind = serde_json::from_str(&s).expect("deserialize");
            assert_eq!(back, k);
        }
    }
}
