//! The pipeline as library calls: `build`, `prove`, `verify`, and in-process EVM checks. The CLI
//! is a thin layer over these.

use std::path::{Path, PathBuf};
use std::time::Instant;

use halo2_base::halo2_proofs::halo2curves::ff::PrimeField;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::artifacts::{
    self, read_json, write_atomic, write_json_atomic, BuildDir, FidelityReport, InstanceInfo,
    ProofFile, ProofInstance, Settings, VerifierInfo,
};
use crate::circuit::Secrets;
use crate::circuit::{self, CircuitBuilderStage, Fr};
use crate::fidelity::FidelityAcc;
use crate::graph::Graph;
use crate::quant::{self, QuantConfig, QuantModel};
use crate::verifier::{self, Compiled, EvmRun};
use crate::visibility::{Vis, Visibility};
use crate::{graph, onnx, proof, tools};

/// Errors of the pipeline: each stage's error, plus checks between stages.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// ONNX import.
    #[error(transparent)]
    Onnx(#[from] onnx::Error),
    /// Model inputs.
    #[error(transparent)]
    Graph(#[from] graph::Error),
    /// Quantization or evaluation.
    #[error(transparent)]
    Quant(#[from] quant::Error),
    /// Circuit layout.
    #[error(transparent)]
    Circuit(#[from] circuit::Error),
    /// SRS, keys, proving.
    #[error(transparent)]
    Proof(#[from] proof::Error),
    /// Solidity verifier.
    #[error(transparent)]
    Verifier(#[from] verifier::Error),
    /// Artifacts on disk.
    #[error(transparent)]
    Artifacts(#[from] artifacts::Error),
    /// A tool is missing.
    #[error(transparent)]
    Tool(#[from] tools::Error),
    /// The output directory already exists.
    #[error("{0} already exists; pass --force to replace it, or choose another --out")]
    OutExists(PathBuf),
    /// The proof belongs to another circuit.
    #[error("{proof} was made for another model or build (verifying key {theirs}); {dir} has verifying key {ours}. Verify it against the build it came from")]
    OtherModel {
        /// The proof file.
        proof: PathBuf,
        /// The build directory.
        dir: PathBuf,
        /// Digest in the proof.
        theirs: String,
        /// Digest of the build.
        ours: String,
    },
    /// A build directory's verifying key, description, model or SRS do not give its digest.
    #[error("{dir} is not the build its vk_digest names: {reason}. settings.json, vk.bin, model.quant.json, srs.bin or contracts.json was edited or damaged, or an older zkinfer made the build; rebuild the directory with `zkinfer build`")]
    DigestMismatch {
        /// The build directory.
        dir: PathBuf,
        /// What differs.
        reason: String,
    },
    /// The output predicate cannot be proven.
    #[error("output predicate: {0}")]
    Predicate(String),
    /// A commitment would be unsalted.
    #[error("{0}")]
    Salt(String),
    /// The binding is missing, unexpected or malformed.
    #[error("binding: {0}")]
    Binding(String),
    /// A batch size or a batch's samples are wrong.
    #[error("batch: {0}")]
    Batch(String),
    /// The visibility combination is not allowed.
    #[error("visibility: {0}")]
    Visibility(String),
    /// Quantization is worse than the user allows.
    #[error("quantization fidelity check failed: {0}")]
    Fidelity(String),
    /// Filesystem error outside the artifact helpers.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Reports long steps (to a progress bar, a log, or nowhere).
pub trait Progress {
    /// A step starts.
    fn start(&self, _step: &str) {}
    /// The step ends.
    fn finish(&self, _step: &str, _secs: f64) {}
}

/// No progress output.
pub struct Quiet;
impl Progress for Quiet {}

fn step<T>(p: &dyn Progress, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    p.start(name);
    let t = Instant::now();
    let r = f();
    p.finish(name, t.elapsed().as_secs_f64());
    r
}

/// What calibration optimises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// The candidate with the smallest output error (ties: the smaller circuit).
    Accuracy,
    /// The smallest circuit whose class agreement matches the best candidate's and whose error
    /// stays within 10x of the best (or within --max-error / --min-agreement when given).
    Resources,
}

impl std::str::FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "accuracy" => Ok(Target::Accuracy),
            "resources" => Ok(Target::Resources),
            other => Err(format!("unknown target '{other}' (accuracy or resources)")),
        }
    }
}

impl Target {
    /// Quantization candidates `(max fractional bits, table bits)` tried for this target.
    pub fn candidates(self, base: &QuantConfig) -> Vec<QuantConfig> {
        let grid: &[(i32, u32)] = match self {
            Target::Accuracy => &[(16, 12), (16, 14)],
            Target::Resources => &[(8, 8), (10, 10), (12, 10), (12, 12), (16, 12)],
        };
        grid.iter()
            .map(|&(f, l)| QuantConfig {
                max_act_frac_bits: f,
                lut_bits: l,
                ..base.clone()
            })
            .collect()
    }
}

/// One quantization candidate calibration tried.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// Most fractional bits of an activation.
    pub max_act_frac_bits: i32,
    /// Most rows of a function table (log2).
    pub lut_bits: u32,
    /// Resulting logrows.
    pub logrows: Option<u32>,
    /// Max abs error over the calibration set.
    pub max_abs_error: Option<f64>,
    /// Lowest class agreement.
    pub min_agreement: Option<f64>,
    /// Why the candidate could not be built.
    pub failure: Option<String>,
    /// Whether it was kept.
    pub chosen: bool,
}

/// What calibration tried and chose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibrationReport {
    /// The target.
    pub target: Target,
    /// Every candidate, in order.
    pub tried: Vec<Candidate>,
}

/// What `build` needs.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// The ONNX model.
    pub model: PathBuf,
    /// Calibration data (one input object, or JSON lines of them).
    pub calibration: PathBuf,
    /// Output directory.
    pub out: PathBuf,
    /// An SRS in halo2's raw format; without it an insecure one is generated.
    pub srs: Option<PathBuf>,
    /// The user vouches for `srs` (`--trusted-srs`); otherwise it is trusted only when its
    /// SHA-256 is on [`proof::TRUSTED_SRS`].
    pub srs_trusted: bool,
    /// Replace an existing output directory.
    pub force: bool,
    /// Quantization knobs.
    pub quant: QuantConfig,
    /// Import options (symbolic dimensions).
    pub load: onnx::LoadOptions,
    /// Fail if the max absolute output error over the calibration set exceeds this.
    pub max_error: Option<f64>,
    /// Fail if the class agreement of any classifier output falls below this share.
    pub min_agreement: Option<f64>,
    /// What calibration optimises.
    pub target: Target,
    /// What is public.
    pub visibility: Visibility,
    /// Allow `--param-visibility private` (binds no model).
    pub allow_unbound_params: bool,
    /// Prove this statement about the outputs instead of revealing them.
    pub predicate: Option<crate::predicate::Predicate>,
    /// Faster proving or a cheaper verifier (dot lanes or not).
    pub optimize: circuit::Optimize,
    /// Samples per proof (`--batch`; 1: one-sample proofs, today's circuit and instances).
    pub batch: usize,
}

impl BuildOptions {
    /// Options with the defaults of `zkinfer build`: generated SRS, default quantization,
    /// `--target accuracy`, input private, parameters fixed, outputs public, no predicate,
    /// no fidelity thresholds, an existing `out` refused.
    pub fn new(model: PathBuf, calibration: PathBuf, out: PathBuf) -> Self {
        Self {
            model,
            calibration,
            out,
            srs: None,
            srs_trusted: false,
            force: false,
            quant: QuantConfig::default(),
            load: onnx::LoadOptions::default(),
            max_error: None,
            min_agreement: None,
            target: Target::Accuracy,
            visibility: Visibility::default(),
            allow_unbound_params: false,
            predicate: None,
            optimize: circuit::Optimize::default(),
            batch: 1,
        }
    }
}

/// The largest `--batch`: the circuit lays the model out once per slot, so the real bound is
/// the rows a model needs; this one keeps a typo from keygen-ing for hours.
pub const MAX_BATCH: usize = 1024;

/// What `build` measured and wrote.
#[derive(Clone, Debug)]
pub struct BuildReport {
    /// The settings written.
    pub settings: Settings,
    /// Float (tract) outputs on the first calibration sample.
    pub float_outputs: Vec<Vec<f64>>,
    /// Quantized outputs on the same sample.
    pub quant_outputs: Vec<Vec<f64>>,
    /// Seconds spent in key generation.
    pub keygen_secs: f64,
    /// Seconds for the whole build.
    pub total_secs: f64,
    /// Gas of a verify call in the in-process EVM, on the build's self-test proof.
    pub evm_verify_gas: u64,
}

fn sha256_file(path: &Path) -> Result<String> {
    let b = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(hex::encode(Sha256::digest(b)))
}

/// The meaning of each public instance, in the circuit's order (see `circuit::instances`): for
/// one sample, inputs, parameters, outputs, predicate, binding; for a batch of `batch` slots,
/// the parameters once, then each slot (its used bit first when there is no predicate; with one,
/// the predicate's result is the used bit), then the binding.
pub fn instance_infos(
    model: &QuantModel,
    vis: Visibility,
    predicate: Option<&crate::predicate::Predicate>,
    batch: usize,
) -> Vec<InstanceInfo> {
    let info = |name: String, kind: &str, tensor: usize, index: usize, exp: i32| InstanceInfo {
        name,
        kind: kind.into(),
        tensor,
        index,
        exp,
        sample: None,
    };
    let part = |out: &mut Vec<InstanceInfo>, v: Vis, kind: &str, tensors: &[usize]| match v {
        Vis::Public => {
            for (t, &id) in tensors.iter().enumerate() {
                let value = &model.values[id];
                for index in 0..value.numel() {
                    out.push(info(
                        format!("{kind} {t} '{}' [{index}]", value.name),
                        kind,
                        t,
                        index,
                        value.exp,
                    ));
                }
            }
        }
        Vis::Hashed => out.push(info(
            format!("Poseidon commitment to the {kind}s"),
            &format!("{kind}_commitment"),
            0,
            0,
            0,
        )),
        Vis::Private | Vis::Fixed => {}
    };
    let mut weights = vec![];
    match vis.params {
        Vis::Public => weights.extend(
            (0..model.params().len())
                .map(|index| info(format!("param [{index}]"), "param", 0, index, 0)),
        ),
        Vis::Hashed => weights.push(info(
            "Poseidon commitment to the parameters".into(),
            "param_commitment",
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
            slot.push(info(
                "used (1: a real sample, 0: an unused slot)".into(),
                "slot",
                0,
                0,
                0,
            ));
        }
        part(&mut slot, vis.input, "input", &model.inputs);
        if !batched {
            slot.extend(weights.iter().cloned());
        }
        part(&mut slot, vis.output, "output", &model.outputs);
        if let Some(p) = predicate {
            slot.push(info(p.to_string(), "predicate", 0, 0, 0));
            let exp = p.param_exp(p.locate(model).map_or(0, |(_, v, _)| model.values[v].exp));
            for (index, name) in p.params().into_iter().enumerate() {
                slot.push(info(name, "predicate_param", 0, index, exp));
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
        out.push(info(
            "binding: keccak256(chain id, registry, submitter, model id, nonce) mod r".into(),
            "binding",
            0,
            0,
            0,
        ));
    }
    out
}

/// What the wrapper states about its proofs: how the weights are pinned and the predicate
/// (operator, flattened output index, threshold exponent).
pub fn wrapper_facts(
    model: &QuantModel,
    vis: Visibility,
    predicate: Option<&crate::predicate::Predicate>,
    instances: &[InstanceInfo],
) -> Result<verifier::WrapperFacts> {
    let (kinds, exps) = verifier::registry_layout(instances).map_err(Error::Visibility)?;
    let mut f = verifier::WrapperFacts {
        weights: vis.weights_code(),
        layout: verifier::layout_hash(&kinds, &exps),
        ..Default::default()
    };
    if let Some((p, (_, v, offset))) = predicate.and_then(|p| p.locate(model).map(|l| (p, l))) {
        f.predicate_op = p.op_code();
        let index = match p {
            crate::predicate::Predicate::Compare { index, .. } => *index,
            crate::predicate::Predicate::ArgMax { .. } => 0,
        };
        f.predicate_output = (offset + index) as u32;
        f.predicate_exp = p.param_exp(model.values[v].exp) as i16;
    }
    Ok(f)
}

/// Predicate parameters that hold on `trace` (for the build's self-test proof): the first
/// output's own value for a threshold, its argmax for a class.
fn self_test_params(
    model: &QuantModel,
    trace: &quant::Trace,
    p: Option<&crate::predicate::Predicate>,
) -> Vec<i128> {
    use crate::predicate::{ClassRef, Predicate};
    let Some((_, v, _)) = p.and_then(|p| p.locate(model)) else {
        return vec![];
    };
    let y = &trace.values[v];
    match p {
        Some(Predicate::Compare { index, .. }) => vec![y.get(*index).copied().unwrap_or(0)],
        Some(Predicate::ArgMax {
            class: ClassRef::Param(_),
            ..
        }) => {
            vec![quant::argmax_pos(&(0..y.len() as u32).collect::<Vec<_>>(), y) as i128]
        }
        _ => vec![],
    }
}

/// Float outputs of every sample: tract running the ONNX file, or zkinfer's f64 graph where
/// tract cannot run the model (`ai.onnx.ml` ops).
fn float_outputs(
    opts: &BuildOptions,
    graph: &Graph,
    samples: &[Vec<Vec<f64>>],
) -> Result<(String, Vec<Vec<Vec<f64>>>)> {
    let shapes: Vec<Vec<usize>> = graph
        .inputs
        .iter()
        .map(|&v| graph.values[v].shape.clone())
        .collect();
    match onnx::FloatModel::load(&opts.model, &shapes) {
        Ok(t) => Ok((
            "tract".into(),
            samples
                .iter()
                .map(|s| t.run(s))
                .collect::<std::result::Result<_, _>>()?,
        )),
        Err(_) => Ok((
            "zkinfer f64 graph (tract cannot run this model)".into(),
            samples
                .iter()
                .map(|s| crate::fidelity::graph_outputs(graph, s))
                .collect::<std::result::Result<_, _>>()?,
        )),
    }
}

/// Fidelity of a quantized model against precomputed float outputs.
fn fidelity_of(
    model: &QuantModel,
    samples: &[Vec<Vec<f64>>],
    reference: &str,
    floats: &[Vec<Vec<f64>>],
) -> Result<FidelityReport> {
    let mut acc = FidelityAcc::new(model);
    for (s, f) in samples.iter().zip(floats) {
        acc.add(f, &model.output_floats(&model.eval(s)?));
    }
    Ok(acc.finish(reference))
}

/// Tries the target's quantization candidates and keeps the best one (see [`Target`]).
fn calibrate(
    opts: &BuildOptions,
    graph: &Graph,
    samples: &[Vec<Vec<f64>>],
    reference: &str,
    floats: &[Vec<Vec<f64>>],
) -> Result<(QuantModel, FidelityReport, CalibrationReport)> {
    let mut tried: Vec<Candidate> = vec![];
    let mut built: Vec<(QuantModel, FidelityReport)> = vec![];
    let mut last_err = None;
    for cfg in opts.target.candidates(&opts.quant) {
        let attempt = (|| -> Result<(QuantModel, FidelityReport, u32)> {
            let model = quant::quantize(graph, samples, &cfg)?;
            if opts.visibility.params != Vis::Fixed {
                model.check_param_range()?;
            }
            let f = fidelity_of(&model, samples, reference, floats)?;
            let shape = circuit::choose_batch_params(
                &model,
                &model.eval(&samples[0])?,
                opts.visibility,
                opts.predicate.as_ref(),
                opts.optimize,
                opts.batch,
            )?;
            Ok((model, f, shape.k()))
        })();
        match attempt {
            Ok((model, f, k)) => {
                tried.push(Candidate {
                    max_act_frac_bits: cfg.max_act_frac_bits,
                    lut_bits: cfg.lut_bits,
                    logrows: Some(k),
                    max_abs_error: Some(f.max_abs_error_overall),
                    min_agreement: f.min_agreement,
                    failure: None,
                    chosen: false,
                });
                built.push((model, f));
            }
            Err(e) => {
                tried.push(Candidate {
                    max_act_frac_bits: cfg.max_act_frac_bits,
                    lut_bits: cfg.lut_bits,
                    logrows: None,
                    max_abs_error: None,
                    min_agreement: None,
                    failure: Some(e.to_string()),
                    chosen: false,
                });
                last_err = Some(e);
            }
        }
    }
    let ok: Vec<usize> = (0..tried.len())
        .filter(|&i| tried[i].failure.is_none())
        .collect();
    let Some(&first) = ok.first() else {
        return Err(last_err.unwrap_or(Error::Fidelity("no quantization candidate".into())));
    };
    // `built` holds the successful candidates in order; map tried index -> built index.
    let bidx = |i: usize| {
        ok.iter()
            .position(|&j| j == i)
            .expect("successful candidate")
    };
    let err = |i: usize| tried[i].max_abs_error.unwrap_or(f64::INFINITY);
    let agr = |i: usize| tried[i].min_agreement.unwrap_or(1.0);
    let k = |i: usize| tried[i].logrows.unwrap_or(u32::MAX);
    let best_err = ok.iter().map(|&i| err(i)).fold(f64::INFINITY, f64::min);
    let best_agr = ok.iter().map(|&i| agr(i)).fold(0.0, f64::max);
    let meets = |i: usize| {
        let user = opts.max_error.is_some() || opts.min_agreement.is_some();
        if user {
            opts.max_error.is_none_or(|m| err(i) <= m)
                && opts.min_agreement.is_none_or(|m| agr(i) >= m)
        } else {
            match opts.target {
                Target::Accuracy => true,
                Target::Resources => agr(i) >= best_agr && err(i) <= (10.0 * best_err).max(1e-3),
            }
        }
    };
    let pick = match opts.target {
        Target::Accuracy => ok
            .iter()
            .copied()
            .filter(|&i| meets(i))
            .min_by(|&a, &b| err(a).total_cmp(&err(b)).then(k(a).cmp(&k(b)))),
        Target::Resources => ok
            .iter()
            .copied()
            .filter(|&i| meets(i))
            .min_by(|&a, &b| k(a).cmp(&k(b)).then(err(a).total_cmp(&err(b)))),
    };
    let chosen = match pick {
        Some(i) => i,
        None => {
            let (_, f) = &built[bidx(first)];
            let best = ok
                .iter()
                .copied()
                .min_by(|&a, &b| err(a).total_cmp(&err(b)))
                .unwrap_or(first);
            check_fidelity(opts, &built[bidx(best)].1)?;
            check_fidelity(opts, f)?;
            first
        }
    };
    tried[chosen].chosen = true;
    let (model, fidelity) = built.swap_remove(bidx(chosen));
    check_fidelity(opts, &fidelity)?;
    Ok((
        model,
        fidelity,
        CalibrationReport {
            target: opts.target,
            tried,
        },
    ))
}

/// Applies `--max-error` and `--min-agreement`.
fn check_fidelity(opts: &BuildOptions, f: &FidelityReport) -> Result<()> {
    let mut problems = vec![];
    if let Some(max) = opts.max_error {
        if f.max_abs_error_overall > max {
            problems.push(format!(
                "max abs error {:.3e} > --max-error {max:.3e}",
                f.max_abs_error_overall
            ));
        }
    }
    if let (Some(min), Some(got)) = (opts.min_agreement, f.min_agreement) {
        if got < min {
            problems.push(format!(
                "class agreement {:.2}% < --min-agreement {:.2}%",
                got * 100.0,
                min * 100.0
            ));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let per: Vec<String> = f
        .outputs
        .iter()
        .map(|o| {
            let agr = o
                .agreement
                .map_or(String::new(), |a| format!(", agreement {:.2}%", a * 100.0));
            format!(
                "'{}': max {:.3e}, mean {:.3e}{agr}",
                o.name, o.max_abs_error, o.mean_abs_error
            )
        })
        .collect();
    Err(Error::Fidelity(format!(
        "{} over {} calibration samples ({}). Try --target accuracy, more --lut-bits, or calibration data closer to real inputs.",
        problems.join("; "),
        f.samples,
        per.join("; ")
    )))
}

/// ONNX model -> quantized model, circuit, keys, verifier contracts, all in `opts.out`.
pub fn build(opts: &BuildOptions, p: &dyn Progress) -> Result<BuildReport> {
    let started = Instant::now();
    if opts.out.exists() && !opts.force {
        return Err(Error::OutExists(opts.out.clone()));
    }
    opts.visibility
        .check(opts.allow_unbound_params)
        .map_err(Error::Visibility)?;
    if opts.predicate.is_some() && opts.visibility.output == Vis::Public {
        return Err(Error::Visibility(
            "an output predicate keeps the outputs unrevealed: use --output-visibility private (or hashed), not public".into(),
        ));
    }
    if !(1..=MAX_BATCH).contains(&opts.batch) {
        return Err(Error::Batch(format!(
            "{} samples per proof: give --batch 1 to {MAX_BATCH}",
            opts.batch
        )));
    }
    let solc = tools::solc()?; // fail before the slow steps
    let (graph, samples) = step(p, "importing the model", || {
        let mut graph = onnx::load(&opts.model, &opts.load)?;
        graph.optimize();
        let samples = artifacts::read_calibration(&opts.calibration)?;
        for (i, s) in samples.iter().enumerate() {
            graph
                .check_inputs(s)
                .map_err(|e| artifacts::Error::Format {
                    path: opts.calibration.clone(),
                    reason: format!("sample {}: {e}", i + 1),
                })?;
        }
        Ok((graph, samples))
    })?;
    let (reference, floats) = step(p, "running the float model", || {
        float_outputs(opts, &graph, &samples)
    })?;
    let (model, fidelity, calibration) = step(p, "calibrating", || {
        calibrate(opts, &graph, &samples, &reference, &floats)
    })?;
    if let Some(pr) = &opts.predicate {
        let names: Vec<&str> = model
            .outputs
            .iter()
            .map(|&v| model.values[v].name.as_str())
            .collect();
        let (_, v, _) = pr.locate(&model).ok_or_else(|| {
            Error::Predicate(format!(
                "'{pr}' names output '{}'; the model's outputs are y (the first) or {}",
                pr.output(),
                names.join(", ")
            ))
        })?;
        if let crate::predicate::Predicate::Compare { index, .. } = pr {
            if *index >= model.values[v].numel() {
                return Err(Error::Predicate(format!(
                    "'{pr}': output '{}' has {} values",
                    pr.output(),
                    model.values[v].numel()
                )));
            }
        }
    }
    let float_outputs = floats[0].clone();
    let quant_outputs = model.output_floats(&model.eval(&samples[0])?);
    // The self-test proof runs on the first calibration sample, or with a predicate of a fixed
    // class, on the first sample for which it holds.
    let trace = match &opts.predicate {
        Some(pr) if pr.params().is_empty() => {
            let (_, v, _) = pr
                .locate(&model)
                .ok_or_else(|| Error::Predicate(format!("'{pr}' names no output")))?;
            let mut found = None;
            for s in samples.iter() {
                let t = model.eval(s)?;
                if pr.holds(&t.values[v], &[]).map_err(Error::Predicate)? {
                    found = Some(t);
                    break;
                }
            }
            found.ok_or_else(|| {
                Error::Predicate(format!("'{pr}' holds for none of the calibration samples; the build's self-test proof needs one"))
            })?
        }
        _ => model.eval(&samples[0])?,
    };
    let mut shape = step(p, "sizing the circuit", || {
        Ok(circuit::choose_batch_params(
            &model,
            &trace,
            opts.visibility,
            opts.predicate.as_ref(),
            opts.optimize,
            opts.batch,
        )?)
    })?;
    let k = shape.k();
    let (params, srs_info_pre) = step(p, &format!("SRS for logrows {k}"), || match &opts.srs {
        Some(path) => {
            let (params, mut info) = proof::load_srs(path, k)?;
            if opts.srs_trusted {
                info.insecure = false;
                info.source = format!("{} (trusted by the user: --trusted-srs)", path.display());
            }
            Ok((params, Some(info)))
        }
        None => Ok((proof::generate_srs(k), None)),
    })?;
    let t_keygen = Instant::now();
    let pk = step(p, "generating keys", || {
        let none = Secrets::default();
        let slots = vec![
            circuit::Slot {
                trace: &trace,
                secrets: &none,
                used: true,
            };
            opts.batch
        ];
        let builder =
            circuit::build_batch(CircuitBuilderStage::Keygen, &shape, &model, &slots, None)?;
        let pk = proof::keygen(&params, &builder)?;
        shape.break_points = builder.break_points();
        Ok(pk)
    })?;
    let keygen_secs = t_keygen.elapsed().as_secs_f64();
    let instance_infos =
        instance_infos(&model, opts.visibility, opts.predicate.as_ref(), opts.batch);
    // The digest covers the quantized model file and the SRS too: compute both as written.
    let model_json = artifacts::json_bytes(&model).map_err(|source| Error::Io {
        path: PathBuf::from(BuildDir::MODEL),
        source,
    })?;
    let model_sha256 = hex::encode(Sha256::digest(&model_json));
    let srs_bytes = proof::srs_bytes(&params);
    let file_sha256 = hex::encode(Sha256::digest(&srs_bytes));
    let srs = match srs_info_pre {
        Some(info) => proof::SrsInfo {
            logrows: k,
            file_sha256,
            ..info
        },
        None => proof::SrsInfo {
            logrows: k,
            sha256: file_sha256.clone(),
            insecure: true,
            source: "generated by zkinfer build (insecure)".into(),
            file_sha256,
        },
    };
    let vk_digest = proof::vk_digest(
        pk.get_vk(),
        &shape,
        &instance_infos,
        proof::DigestFiles::new(&model_sha256, &srs),
    );
    // The self-test proof needs predicate parameters that hold on the first sample.
    let test_secrets = Secrets {
        predicate_params: self_test_params(&model, &trace, opts.predicate.as_ref()),
        ..Default::default()
    };
    let (instances, test_proof) = step(p, "self-test proof", || {
        // One real sample; in a batch the other slots unused (copies of it).
        let slots: Vec<circuit::Slot> = (0..opts.batch)
            .map(|i| circuit::Slot {
                trace: &trace,
                secrets: &test_secrets,
                used: i == 0,
            })
            .collect();
        let builder =
            circuit::build_batch(CircuitBuilderStage::Prover, &shape, &model, &slots, None)?;
        let instances = builder.instances();
        let proof = proof::prove(&params, &pk, builder, &instances)?;
        Ok((instances, proof))
    })?;
    let n = instances.len();
    let (verifier_src, wrapper_src, compiled) =
        step(p, "generating and compiling the Solidity verifier", || {
            let v = verifier::halo2_verifier_source(&params, pk.get_vk(), n)?;
            let facts = wrapper_facts(
                &model,
                opts.visibility,
                opts.predicate.as_ref(),
                &instance_infos,
            )?;
            let w = verifier::wrapper_source(n, test_proof.len(), &vk_digest, facts);
            let c = verifier::compile(&v, &w, &solc)?;
            Ok((v, w, c))
        })?;
    let (initcode, runtime) = (
        compiled.verifier.creation_code().len(),
        compiled.verifier.runtime_code().len(),
    );
    if initcode > verifier::INITCODE_SIZE_LIMIT || runtime > verifier::CODE_SIZE_LIMIT {
        return Err(verifier::Error::TooLarge {
            runtime,
            initcode,
            instances: instances.len(),
        }
        .into());
    }
    let run = step(p, "checking the verifier in an in-process EVM", || {
        let words: Vec<[u8; 32]> = instances.iter().map(verifier::instance_word).collect();
        Ok(verifier::evm_verify(
            &compiled,
            &[verifier::encode_verify_call(&words, &test_proof)],
        )?)
    })?;
    if !run.calls[0].accepted {
        return Err(proof::Error::Halo2 {
            stage: "EVM self-test",
            reason: "the generated verifier rejected a valid proof".into(),
        }
        .into());
    }

    // Everything is computed: write into a temporary sibling directory, then rename.
    let parent = match opts.out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|source| Error::Io {
        path: parent.clone(),
        source,
    })?;
    let tmp = tempfile::Builder::new()
        .prefix(".zkinfer-build-")
        .tempdir_in(&parent)
        .map_err(|source| Error::Io {
            path: parent.clone(),
            source,
        })?;
    let dir = BuildDir::new(tmp.path());
    let io = |path: PathBuf| move |source| Error::Io { path, source };
    let srs_path = dir.path(BuildDir::SRS);
    write_atomic(&srs_path, &srs_bytes).map_err(io(srs_path.clone()))?;
    proof::write_key(
        &dir.path(BuildDir::PK),
        &pk.to_bytes(halo2_base::halo2_proofs::SerdeFormat::RawBytes),
    )?;
    proof::write_key(&dir.path(BuildDir::VK), &proof::vk_bytes(pk.get_vk()))?;
    write_atomic(&dir.path(BuildDir::VERIFIER_SOL), verifier_src.as_bytes())
        .map_err(io(dir.path(BuildDir::VERIFIER_SOL)))?;
    write_atomic(&dir.path(BuildDir::WRAPPER_SOL), wrapper_src.as_bytes())
        .map_err(io(dir.path(BuildDir::WRAPPER_SOL)))?;
    write_json_atomic(&dir.path(BuildDir::CONTRACTS), &compiled)
        .map_err(io(dir.path(BuildDir::CONTRACTS)))?;
    write_atomic(&dir.path(BuildDir::MODEL), &model_json).map_err(io(dir.path(BuildDir::MODEL)))?;
    write_json_atomic(&dir.path(BuildDir::GRAPH), &graph).map_err(io(dir.path(BuildDir::GRAPH)))?;
    let settings = Settings {
        format: Settings::FORMAT.into(),
        version: Settings::VERSION,
        zkinfer: env!("CARGO_PKG_VERSION").into(),
        model_path: opts.model.display().to_string(),
        model_sha256: sha256_file(&opts.model)?,
        macs: graph.macs(),
        quant: opts.quant.clone(),
        circuit: shape,
        srs,
        vk_digest,
        instances: instance_infos,
        verifier: VerifierInfo {
            solc: compiled.solc.clone(),
            verifier_runtime_bytes: compiled.verifier.runtime_code().len(),
            wrapper_runtime_bytes: compiled.wrapper.runtime_code().len(),
            proof_bytes: test_proof.len(),
            size_limit: verifier::CODE_SIZE_LIMIT,
        },
        fidelity,
        calibration,
    };
    write_json_atomic(&dir.path(BuildDir::SETTINGS), &settings)
        .map_err(io(dir.path(BuildDir::SETTINGS)))?;
    let tmp_path = tmp.keep();
    if opts.out.exists() {
        std::fs::remove_dir_all(&opts.out).map_err(io(opts.out.clone()))?;
    }
    std::fs::rename(&tmp_path, &opts.out).map_err(io(opts.out.clone()))?;
    Ok(BuildReport {
        settings,
        float_outputs,
        quant_outputs,
        keygen_secs,
        total_secs: started.elapsed().as_secs_f64(),
        evm_verify_gas: run.calls[0].gas_used,
    })
}

/// A loaded build directory.
pub struct Build {
    /// The directory.
    pub dir: BuildDir,
    /// Its settings.
    pub settings: Settings,
    /// The quantized model.
    pub model: QuantModel,
}

impl Build {
    /// Opens a build directory, refusing one whose verifying key, circuit description,
    /// quantized model and SRS record no longer give the `vk_digest` it records (see [`proof::vk_digest`]): the digest is what
    /// proofs, deployments and the Solidity wrapper name the circuit by, so what the directory
    /// verifies against must be what the digest names.
    pub fn open(dir: &Path) -> Result<Self> {
        let dir = BuildDir::new(dir);
        let settings = dir.settings()?;
        let mismatch = |reason: String| Error::DigestMismatch {
            dir: dir.root.clone(),
            reason,
        };
        let vk = proof::read_vk(&dir.path(BuildDir::VK), settings.circuit.params.clone()).map_err(
            |e| {
                mismatch(format!(
                    "its verifying key cannot be read as the circuit settings.json describes ({e})"
                ))
            },
        )?;
        let model_path = dir.path(BuildDir::MODEL);
        let model_bytes = std::fs::read(&model_path).map_err(|source| Error::Io {
            path: model_path.clone(),
            source,
        })?;
        let digest = proof::vk_digest(
            &vk,
            &settings.circuit,
            &settings.instances,
            proof::DigestFiles::new(&hex::encode(Sha256::digest(&model_bytes)), &settings.srs),
        );
        if digest != settings.vk_digest {
            return Err(mismatch(format!(
                "settings.json records vk_digest {}, its verifying key, circuit description, quantized model and SRS record give {digest}",
                settings.vk_digest
            )));
        }
        let model = serde_json::from_slice(&model_bytes).map_err(|e| artifacts::Error::Format {
            path: model_path.clone(),
            reason: format!("not a valid quantized model: {e}"),
        })?;
        Ok(Self {
            dir,
            settings,
            model,
        })
    }

    fn params(
        &self,
    ) -> Result<halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG<circuit::Bn256>> {
        let path = self.dir.path(BuildDir::SRS);
        let (params, info) = proof::load_srs(&path, self.settings.circuit.k())?;
        // Native proofs and verification must use the SRS the keys and the Solidity verifier
        // were made with (the digest covers its hash): a replaced srs.bin with a secret someone
        // knows would let forged openings verify natively.
        if info.sha256 != self.settings.srs.file_sha256 {
            return Err(Error::DigestMismatch {
                dir: self.dir.root.clone(),
                reason: format!(
                    "{} is not the SRS the build was made with (SHA-256 {}, the build records {})",
                    path.display(),
                    info.sha256,
                    self.settings.srs.file_sha256
                ),
            });
        }
        Ok(params)
    }

    /// The Poseidon commitment to `inputs` under `salt`, exactly as a proof with hashed inputs
    /// exposes it (see [`circuit::commit`] for the encoding).
    pub fn input_commitment(&self, inputs: &[Vec<f64>], salt: Fr) -> Result<Fr> {
        Ok(circuit::commit::input_commitment(
            &self.model,
            inputs,
            salt,
        )?)
    }

    /// Quantizes the predicate's parameters given as `NAME=VALUE` floats, in the predicate's
    /// order (thresholds at the first output's scale, classes as integers).
    pub fn predicate_params(&self, given: &[(String, f64)]) -> Result<Vec<i128>> {
        let Some(p) = &self.settings.circuit.predicate else {
            if let Some((n, _)) = given.first() {
                return Err(Error::Predicate(format!(
                    "--param {n}: this build has no output predicate"
                )));
            }
            return Ok(vec![]);
        };
        let exp = p.param_exp(
            p.locate(&self.model)
                .map_or(0, |(_, v, _)| self.model.values[v].exp),
        );
        if let Some((n, _)) = given.iter().find(|(n, _)| !p.params().contains(n)) {
            return Err(Error::Predicate(format!(
                "--param {n}: '{p}' has no parameter named {n}"
            )));
        }
        p.params()
            .iter()
            .map(|name| {
                let v = given
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| *v)
                    .ok_or_else(|| {
                        Error::Predicate(format!(
                            "'{p}' needs {name}: give it with --param {name}=VALUE"
                        ))
                    })?;
                let q = quant::to_fixed(v, exp);
                let lim = 1i128 << (self.model.act_bits - 1);
                if !v.is_finite() || !(-lim..lim).contains(&q) {
                    return Err(Error::Predicate(format!(
                        "--param {name}={v} is outside the output's range"
                    )));
                }
                Ok(q)
            })
            .collect()
    }

    /// keccak256 of the public weight instances, packed as 32-byte words in instance order:
    /// what the registry pins for a build with public weights.
    pub fn public_weights_hash(&self) -> [u8; 32] {
        use sha3::{Digest as _, Keccak256};
        let mut h = Keccak256::new();
        for v in self.model.params() {
            h.update(verifier::instance_word(&circuit::field(v)));
        }
        h.finalize().into()
    }

    /// What the build's wrapper states about its proofs (weights, predicate).
    pub fn wrapper_facts(&self) -> Result<verifier::WrapperFacts> {
        wrapper_facts(
            &self.model,
            self.settings.circuit.visibility,
            self.settings.circuit.predicate.as_ref(),
            &self.settings.instances,
        )
    }

    /// The Poseidon commitment to the model's parameters (salt 0), as a proof with hashed
    /// parameters exposes it.
    pub fn param_commitment(&self) -> Fr {
        circuit::commit::param_commitment(&self.model)
    }

    /// Accuracy of the float graph and of the quantized model (the bit-exact integer evaluator,
    /// which is what proofs prove) on labelled data.
    pub fn evaluate(&self, data: &Path) -> Result<crate::fidelity::EvalReport> {
        let graph: Graph = read_json(&self.dir.path(BuildDir::GRAPH), "float graph")?;
        let samples = artifacts::read_labeled(data)?;
        Ok(crate::fidelity::evaluate(&graph, &self.model, &samples)?)
    }

    /// The compiled contracts, refused unless their wrapper states this build's `vk_digest`
    /// and instance layout (`VK_DIGEST`, `LAYOUT`): what gets deployed must be what the
    /// directory's digest names.
    pub fn contracts(&self) -> Result<Compiled> {
        let path = self.dir.path(BuildDir::CONTRACTS);
        let c: Compiled = read_json(&path, "compiled contracts file")?;
        let digest =
            hex::decode(self.settings.vk_digest.trim_start_matches("0x")).unwrap_or_default();
        let layout = self.wrapper_facts()?.layout;
        let code = c.wrapper.runtime_code();
        for (what, word) in [
            ("vk_digest", digest.as_slice()),
            ("instance layout", &layout),
        ] {
            // solc pushes a constant without its leading zero bytes.
            let lead = word.iter().take_while(|&&b| b == 0).count();
            let word = &word[lead..];
            if word.is_empty() || !code.windows(word.len()).any(|w| w == word) {
                return Err(Error::DigestMismatch {
                    dir: self.dir.root.clone(),
                    reason: format!(
                        "the verifier wrapper in {} does not state this build's {what}",
                        path.display()
                    ),
                });
            }
        }
        Ok(c)
    }

    /// Checks that a proof file belongs to this build.
    pub fn check_proof_file(&self, pf: &ProofFile, path: &Path) -> Result<()> {
        if pf.vk_digest != self.settings.vk_digest {
            return Err(Error::OtherModel {
                proof: path.to_path_buf(),
                dir: self.dir.root.clone(),
                theirs: pf.vk_digest.clone(),
                ours: self.settings.vk_digest.clone(),
            });
        }
        Ok(())
    }
}

/// How a provider should choose a salt (quoted in errors and the README).
pub const SALT_ADVICE: &str = "a salt is a secret random number, 0x and up to 62 hex digits (e.g. `openssl rand -hex 31`), drawn afresh per input and kept with it";

/// Bits a salt should have at least: below this a salt adds little to a guessable input.
pub const SALT_MIN_BITS: u32 = 120;

/// A warning for a salt that is given but short (fewer than [`SALT_MIN_BITS`] significant
/// bits), naming the flag, never the salt.
pub fn weak_salt_warning(salt: Option<Fr>, flag: &str) -> Option<String> {
    use halo2_base::halo2_proofs::halo2curves::ff::PrimeField;
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
    binding: Option<&crate::visibility::binding::Binding>,
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
        (Some(b), true) => {
            b.value().map_err(Error::Binding)?;
        }
        (None, false) => {}
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
        return Err(Error::Fidelity(format!(
            "the circuit exposed {} public instances, the build describes {}",
            instances.len(),
            build.settings.instances.len()
        )));
    }
    let pf = ProofFile {
        format: ProofFile::FORMAT.into(),
        version: ProofFile::VERSION,
        vk_digest: build.settings.vk_digest.clone(),
        model_sha256: build.settings.model_sha256.clone(),
        instances: build
            .settings
            .instances
            .iter()
            .zip(&instances)
            .map(|(info, f)| {
                let numeric = info.is_numeric();
                let q = circuit::field_to_i128(f).filter(|_| numeric);
                ProofInstance {
                    info: info.clone(),
                    field: format!("0x{}", hex::encode(verifier::instance_word(f))),
                    integer: q.map(|q| q.to_string()),
                    value: q.map(|q| quant::to_float(q, info.exp)),
                }
            })
            .collect(),
        binding: binding.cloned(),
        proof: format!("0x{}", hex::encode(&proof_bytes)),
    };
    write_json_atomic(out, &pf).map_err(|source| Error::Io {
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

/// Parses a proof file's instances into field elements, checking each is canonical and agrees
/// with its stated integer and float. `Err(reason)` means the proof file is invalid.
pub fn proof_instances(build: &Build, pf: &ProofFile) -> std::result::Result<Vec<Fr>, String> {
    if pf.instances.len() != build.settings.instances.len() {
        return Err(format!(
            "{} public instances, the model has {}",
            pf.instances.len(),
            build.settings.instances.len()
        ));
    }
    pf.instances
        .iter()
        .zip(&build.settings.instances)
        .enumerate()
        .map(|(i, (inst, info))| {
            if inst.info != *info {
                return Err(format!(
                    "instance {i} is described as '{}', the build says '{}'",
                    inst.info.name, info.name
                ));
            }
            let bytes =
                artifacts::decode_hex(&inst.field).map_err(|e| format!("instance {i}: {e}"))?;
            let word: [u8; 32] = bytes
                .try_into()
                .map_err(|_| format!("instance {i}: field must be 32 bytes"))?;
            let mut le = word;
            le.reverse();
            let f = Option::<Fr>::from(Fr::from_repr(le)).ok_or_else(|| {
                format!(
                    "instance {i} ({}) is not below the BN254 scalar field modulus",
                    inst.info.name
                )
            })?;
            if !info.is_numeric() {
                if inst.integer.is_some() || inst.value.is_some() {
                    return Err(format!(
                        "instance {i} is a {}: it has no integer or value",
                        info.kind
                    ));
                }
                return Ok(f);
            }
            let q = circuit::field_to_i128(&f);
            if q.map(|q| q.to_string()) != inst.integer {
                return Err(format!(
                    "instance {i}: integer {:?} does not match its field element",
                    inst.integer
                ));
            }
            let v = quant::to_float(q.unwrap_or(0), info.exp);
            if Some(v) != inst.value {
                return Err(format!(
                    "instance {i}: value {:?} does not match its field element ({v})",
                    inst.value
                ));
            }
            Ok(f)
        })
        .collect()
}

/// Checks what a proof states against what this build stands for, beyond the proof itself:
/// public weights must be the build's, a weight commitment the build's commitment, and the
/// binding instance the value of the proof file's binding record. Returns what was checked,
/// one line each, or why the statement is not this build's. `instances` are the proof file's,
/// parsed by [`proof_instances`].
pub fn check_statement(
    build: &Build,
    pf: &ProofFile,
    instances: &[Fr],
) -> std::result::Result<Vec<String>, String> {
    let mut checked = vec![];
    let vis = build.settings.circuit.visibility;
    let params = build.model.params();
    let mut weights_seen = 0;
    for (inst, f) in pf.instances.iter().zip(instances) {
        let info = &inst.info;
        match info.kind.as_str() {
            "param" => {
                let ours = params.get(info.index).copied().map(circuit::field);
                if ours != Some(*f) {
                    return Err(format!(
                        "public weight '{}' is not the build's: the proof was made with other weights than {}'s model",
                        info.name,
                        build.dir.root.display()
                    ));
                }
                weights_seen += 1;
            }
            "param_commitment" => {
                if *f != build.param_commitment() {
                    return Err(format!(
                        "the weight commitment is not the build's: the proof was made with other weights than {}'s model",
                        build.dir.root.display()
                    ));
                }
                checked.push("weights: the commitment is the build's".into());
            }
            "binding" => match &pf.binding {
                Some(b) => {
                    let v = b
                        .value()
                        .map_err(|e| format!("the proof file's binding: {e}"))?;
                    if v != *f {
                        return Err("the binding instance is not the value of the proof file's binding record (chain, registry, submitter, model, nonce)".into());
                    }
                    checked.push(format!(
                        "binding: chain {}, registry {}, submitter {}, model {}, nonce {}",
                        b.chain_id, b.registry, b.submitter, b.model_id, b.nonce
                    ));
                }
                None => checked.push(
                    "binding: the proof file has no binding record; the instance is unexplained"
                        .into(),
                ),
            },
            _ => {}
        }
    }
    match vis.params {
        Vis::Public => {
            if weights_seen != params.len() {
                return Err(format!(
                    "{weights_seen} public weights, the build has {}",
                    params.len()
                ));
            }
            checked.push(format!(
                "weights: all {} public weights are the build's",
                params.len()
            ));
        }
        Vis::Fixed => {
            checked.push("weights: fixed in the circuit (the verifying key binds them)".into())
        }
        Vis::Private => checked.push(
            "weights: UNBOUND (private, nothing pins them): the proof holds for some weights of the model's shape, not necessarily the build's".into(),
        ),
        Vis::Hashed => {}
    }
    Ok(checked)
}

/// Native verification: `Ok(Ok(checked))` valid (with what [`check_statement`] checked),
/// `Ok(Err(reason))` invalid, `Err` could not check.
pub fn verify(
    build: &Build,
    pf: &ProofFile,
    path: &Path,
) -> Result<std::result::Result<Vec<String>, String>> {
    build.check_proof_file(pf, path)?;
    let instances = match proof_instances(build, pf) {
        Ok(i) => i,
        Err(reason) => return Ok(Err(reason)),
    };
    let checked = match check_statement(build, pf, &instances) {
        Ok(c) => c,
        Err(reason) => return Ok(Err(reason)),
    };
    let bytes = pf.proof_bytes(path)?;
    let params = build.params()?;
    let vk = proof::read_vk(
        &build.dir.path(BuildDir::VK),
        build.settings.circuit.params.clone(),
    )?;
    Ok(if proof::verify(&params, &vk, &instances, &bytes) {
        Ok(checked)
    } else {
        Err("the proof does not verify".into())
    })
}

/// The verify calldata for a proof file (instances as raw words, exactly as stated in the file).
pub fn verify_calldata(pf: &ProofFile, path: &Path) -> Result<(Vec<[u8; 32]>, Vec<u8>)> {
    let words = pf
        .instances
        .iter()
        .enumerate()
        .map(|(i, inst)| {
            let b = artifacts::decode_hex(&inst.field).map_err(|e| format!("instance {i}: {e}"))?;
            b.try_into()
                .map_err(|_| format!("instance {i}: field must be 32 bytes"))
        })
        .collect::<std::result::Result<Vec<[u8; 32]>, String>>()
        .map_err(|reason| artifacts::Error::Format {
            path: path.to_path_buf(),
            reason,
        })?;
    Ok((words, pf.proof_bytes(path)?))
}

/// Verifies calldatas against the build's contracts in an in-process EVM.
pub fn verify_in_evm(build: &Build, calldatas: &[Vec<u8>]) -> Result<EvmRun> {
    Ok(verifier::evm_verify(&build.contracts()?, calldatas)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_salts_are_warned_about_without_their_value() {
        let salt = |s: &str| Some(circuit::commit::parse_salt(s).unwrap());
        let w = weak_salt_warning(salt("0x5a17"), "--salt").unwrap();
        assert!(w.contains("--salt has only 15 significant bits"), "{w}");
        assert!(!w.contains("5a17"), "{w}");
        let w = weak_salt_warning(salt(&format!("0x{}", "f".repeat(29))), "--salt").unwrap();
        assert!(w.contains("116"), "{w}");
        assert!(weak_salt_warning(salt(&format!("0x1{}", "0".repeat(30))), "--salt").is_none());
        assert!(weak_salt_warning(None, "--salt").is_none());
    }
}
