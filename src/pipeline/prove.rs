//! Proving: a sample's checks (shape, range, predicate), then one proof of up to a batch of
//! samples, written as a proof file.

use std::path::Path;
use std::time::Instant;

use crate::artifacts::{BuildDir, ProofFile, ProofInstance};
use crate::circuit::{self, CircuitBuilderStage, Secrets};
use crate::field::{field_to_i128, to_word};
use crate::files::{self, write_json_atomic};
use crate::visibility::binding::Binding;
use crate::{proof, quant};

use super::{step, Build, Error, Progress, Result};

/// What `prove` produced.
#[derive(Clone, Debug)]
pub struct ProveReport {
    /// The proof file (also written to disk).
    pub proof: ProofFile,
    /// Output floats (of the first sample, for a batch).
    pub outputs: Vec<Vec<f64>>,
    /// Output floats of every sample proven (one entry for a one-sample build).
    pub sample_outputs: Vec<Vec<Vec<f64>>>,
    /// Seconds spent proving (witness, proof, native self-check).
    pub prove_secs: f64,
    /// Proof size in bytes.
    pub proof_bytes: usize,
}

/// One sample of a proof: the model's inputs, with its salts and predicate parameters (the
/// binding in `secrets` is ignored: a proof has one, given to [`prove_batch`]).
#[derive(Clone, Debug, Default)]
pub struct Sample {
    /// One flattened list per model input.
    pub inputs: Vec<Vec<f64>>,
    /// Salts and predicate parameters.
    pub secrets: Secrets,
}

/// Checks that `sample` can be proven by the build: its inputs have the model's shapes and
/// range (the integer evaluator's checks), its predicate parameters are all there and the
/// predicate holds. Returns its trace. What a batch prover (the oracle) runs on each sample
/// before forming a batch, so that a bad one fails alone.
pub fn check_sample(build: &Build, sample: &Sample) -> Result<quant::Trace> {
    check_sample_named(build, sample, "")
}

/// [`check_sample`], errors prefixed with `name` (a batch's "sample i (line i+1): ").
fn check_sample_named(build: &Build, sample: &Sample, name: &str) -> Result<quant::Trace> {
    let shape = &build.settings.circuit;
    let trace = build.model.eval(&sample.inputs).map_err(|e| {
        if name.is_empty() {
            e.into()
        } else {
            Error::Batch(format!("{name}{e}"))
        }
    })?;
    if let Some(pred) = &shape.predicate {
        let params = &sample.secrets.predicate_params;
        if params.len() != pred.params().len() {
            return Err(Error::Predicate(format!(
                "{name}'{pred}' needs {}: give each with --param NAME=VALUE",
                pred.params().join(", ")
            )));
        }
        let (_, v, _) = pred
            .locate(&build.model)
            .ok_or_else(|| Error::Predicate(format!("'{pred}' names no output of the model")))?;
        if !pred
            .holds(&trace.values[v], params)
            .map_err(Error::Predicate)?
        {
            // No values: the outputs (and the score the predicate reads) may be private.
            return Err(Error::Predicate(format!(
                "{name}'{pred}' is false for this input, and a false predicate cannot be proven"
            )));
        }
    }
    Ok(trace)
}

/// Proves one inference of the build's model on `inputs` (with the commitments' salts in
/// `secrets`), writing the proof file to `out`. On a batch build the other slots are unused.
pub fn prove(
    build: &Build,
    inputs: &[Vec<f64>],
    secrets: &Secrets,
    out: &Path,
    p: &dyn Progress,
) -> Result<ProveReport> {
    let sample = Sample {
        inputs: inputs.to_vec(),
        secrets: secrets.clone(),
    };
    prove_batch(build, &[sample], secrets.binding.as_ref(), out, p)
}

/// Proves up to `batch` inferences of the build's model in one proof, bound to `binding` if the
/// build has a binding, writing the proof file to `out`. Slots beyond `samples` are unused: their
/// instances are 0 and the proof claims nothing about them.
pub fn prove_batch(
    build: &Build,
    samples: &[Sample],
    binding: Option<&Binding>,
    out: &Path,
    p: &dyn Progress,
) -> Result<ProveReport> {
    let shape = &build.settings.circuit;
    let batch = shape.batch.max(1);
    if samples.is_empty() || samples.len() > batch {
        return Err(Error::Batch(format!(
            "{} samples for a build that proves {batch} per proof: give 1 to {batch}",
            samples.len()
        )));
    }
    match (binding, shape.visibility.binding) {
        (None, true) => return Err(Error::Binding("this build binds every proof to a registry, a chain, a submitter and a nonce: prove with `--model ID --rpc-url URL` (or use `zkinfer oracle`)".into())),
        (Some(_), false) => return Err(Error::Binding("this build has no binding instance: rebuild with --binding to submit its proofs to a PredictionRegistry".into())),
        (Some(_), true) | (None, false) => {}
    }
    let name = |i: usize| {
        if batch > 1 {
            format!("sample {i} (line {}): ", i + 1)
        } else {
            String::new()
        }
    };
    let mut traces = Vec::with_capacity(samples.len());
    for (i, sample) in samples.iter().enumerate() {
        traces.push(check_sample_named(build, sample, &name(i))?);
    }
    let params = step(p, "loading SRS", || build.params())?;
    let pk = step(p, "loading proving key", || {
        Ok(proof::read_pk(
            &build.dir.path(BuildDir::PK),
            shape.params.clone(),
        )?)
    })?;
    let t = Instant::now();
    let idle = Secrets::default();
    let slots: Vec<circuit::Slot> = (0..batch)
        .map(|i| match (traces.get(i), samples.get(i)) {
            (Some(trace), Some(sample)) => circuit::Slot {
                trace,
                secrets: &sample.secrets,
                used: true,
            },
            // An unused slot: any valid witness of the model; it is exposed as zeros.
            _ => circuit::Slot {
                trace: &traces[0],
                secrets: &idle,
                used: false,
            },
        })
        .collect();
    let (instances, proof_bytes) = step(p, "proving", || {
        let builder = circuit::build_batch(
            CircuitBuilderStage::Prover,
            shape,
            &build.model,
            &slots,
            binding,
        )?;
        let instances = builder.instances();
        let proof = proof::prove(&params, &pk, builder, &instances)?;
        Ok((instances, proof))
    })?;
    let prove_secs = t.elapsed().as_secs_f64();
    if instances.len() != build.settings.instances.len() {
        return Err(Error::InstanceCount {
            circuit: instances.len(),
            described: build.settings.instances.len(),
        });
    }
    let pf = ProofFile {
        format: ProofFile::FORMAT.into(),
        version: ProofFile::VERSION,
        vk_digest: build.settings.vk_digest,
        model_sha256: build.settings.model_sha256.clone(),
        instances: build
            .settings
            .instances
            .iter()
            .zip(&instances)
            .map(|(info, f)| {
                let numeric = info.is_numeric();
                let q = field_to_i128(f).filter(|_| numeric);
                ProofInstance {
                    info: info.clone(),
                    field: to_word(f).into(),
                    integer: q.map(|q| q.to_string()),
                    value: q.map(|q| quant::to_float(q, info.exp)),
                }
            })
            .collect(),
        binding: binding.cloned(),
        proof: proof_bytes.clone().into(),
    };
    write_json_atomic(out, &pf).map_err(|source| files::Error::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let sample_outputs: Vec<Vec<Vec<f64>>> = traces
        .iter()
        .map(|t| build.model.output_floats(t))
        .collect();
    Ok(ProveReport {
        outputs: sample_outputs[0].clone(),
        sample_outputs,
        proof_bytes: proof_bytes.len(),
        proof: pf,
        prove_secs,
    })
}
