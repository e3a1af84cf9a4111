//! `build`: an ONNX model to a build directory, as a sequence of named steps (import, float
//! reference, calibration, sizing, SRS, keys, self-test proof, verifier, EVM self-test), then
//! one atomic write of the directory ([`BuildDir::write_new`]).

use std::path::{Path, PathBuf};
use std::time::Instant;

use halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG;
use halo2_base::halo2_proofs::SerdeFormat;
use sha2::{Digest, Sha256};

use crate::artifacts::{BuildDir, BuildFiles, Settings, VerifierInfo};
use crate::circuit::{self, CircuitBuilderStage, CircuitShape, Secrets};
use crate::field::{Bn256, Fr, G1Affine};
use crate::graph::Graph;
use crate::predicate::{ClassRef, Predicate};
use crate::quant::{self, QuantConfig, QuantModel};
use crate::verifier::{self, Compiled};
use crate::visibility::{Vis, Visibility};
use crate::{fidelity, files, inputs, onnx, proof, tools};

use super::calibrate::{calibrate, float_outputs};
use super::{step, Error, Progress, Result};

type ProvingKey = halo2_base::halo2_proofs::plonk::ProvingKey<G1Affine>;

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
    pub target: fidelity::Target,
    /// What is public.
    pub visibility: Visibility,
    /// Allow `--param-visibility private` (binds no model).
    pub allow_unbound_params: bool,
    /// Prove this statement about the outputs instead of revealing them.
    pub predicate: Option<Predicate>,
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
            target: fidelity::Target::Accuracy,
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
    /// Signed bits every activation is range-checked to (what calibration showed it needs).
    pub act_bits: u32,
}

/// ONNX model -> quantized model, circuit, keys, verifier contracts, all in `opts.out`.
pub fn build(opts: &BuildOptions, p: &dyn Progress) -> Result<BuildReport> {
    let started = Instant::now();
    check_options(opts)?;
    let solc = tools::solc()?; // fail before the slow steps
    let (graph, samples) = step(p, "importing the model", || import(opts))?;
    let (reference, floats) = step(p, "running the float model", || {
        float_outputs(opts, &graph, &samples)
    })?;
    let (model, fidelity, calibration) = step(p, "calibrating", || {
        calibrate(opts, &graph, &samples, &reference, &floats)
    })?;
    check_predicate(opts, &model)?;
    let trace = self_test_trace(opts, &model, &samples)?;
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
    let (params, given_srs) = step(p, &format!("SRS for logrows {k}"), || srs(opts, k))?;
    let t_keygen = Instant::now();
    let pk = step(p, "generating keys", || {
        keygen(opts, &model, &trace, &params, &mut shape)
    })?;
    let keygen_secs = t_keygen.elapsed().as_secs_f64();
    let instances =
        circuit::instance_infos(&model, opts.visibility, opts.predicate.as_ref(), opts.batch);
    // The digest covers the quantized model file and the SRS too: compute both as written.
    let model_json = json(BuildDir::MODEL, &model)?;
    let srs_bytes = proof::srs_bytes(&params);
    let srs = srs_record(given_srs, k, hex::encode(Sha256::digest(&srs_bytes)));
    let vk_digest = proof::vk_digest(
        pk.get_vk(),
        &shape,
        &instances,
        proof::DigestFiles::new(&hex::encode(Sha256::digest(&model_json)), &srs),
    );
    let (words, test_proof) = step(p, "self-test proof", || {
        self_test_proof(opts, &model, &trace, &shape, &params, &pk)
    })?;
    let (verifier_src, wrapper_src, compiled) =
        step(p, "generating and compiling the Solidity verifier", || {
            let v = verifier::halo2_verifier_source(&params, pk.get_vk(), words.len())?;
            let facts = verifier::wrapper_facts(
                &model,
                opts.visibility,
                opts.predicate.as_ref(),
                &instances,
            )?;
            let w = verifier::wrapper_source(words.len(), test_proof.len(), &vk_digest, facts);
            let c = verifier::compile(&v, &w, &solc)?;
            // Over EIP-170 as one contract: the same code as two (verifier::split).
            let (v, c) = if c.verifier.runtime_code().len() > verifier::CODE_SIZE_LIMIT {
                let v = verifier::split_verifier(&v)?;
                let c = verifier::compile(&v, &w, &solc)?;
                (v, c)
            } else {
                (v, c)
            };
            c.check_size(words.len())?;
            Ok((v, w, c))
        })?;
    let evm_verify_gas = step(p, "checking the verifier in an in-process EVM", || {
        evm_self_test(&compiled, &words, &test_proof)
    })?;
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
        instances,
        verifier: VerifierInfo {
            solc: compiled.solc.clone(),
            verifier_runtime_bytes: compiled.verifier.runtime_code().len(),
            tail_runtime_bytes: compiled
                .verifier_tail
                .as_ref()
                .map(|t| t.runtime_code().len()),
            wrapper_runtime_bytes: compiled.wrapper.runtime_code().len(),
            proof_bytes: test_proof.len(),
            size_limit: verifier::CODE_SIZE_LIMIT,
        },
        fidelity,
        calibration,
    };
    BuildDir::write_new(
        &opts.out,
        opts.force,
        &BuildFiles {
            settings: json(BuildDir::SETTINGS, &settings)?,
            model: model_json,
            graph: json(BuildDir::GRAPH, &graph)?,
            srs: srs_bytes,
            pk: pk.to_bytes(SerdeFormat::RawBytes),
            vk: proof::vk_bytes(pk.get_vk()),
            verifier_sol: verifier_src.into_bytes(),
            wrapper_sol: wrapper_src.into_bytes(),
            contracts: json(BuildDir::CONTRACTS, &compiled)?,
        },
    )?;
    Ok(BuildReport {
        settings,
        float_outputs: floats[0].clone(),
        quant_outputs: model.output_floats(&model.eval(&samples[0])?),
        keygen_secs,
        total_secs: started.elapsed().as_secs_f64(),
        evm_verify_gas,
        act_bits: model.act_bits,
    })
}

/// JSON bytes of an artifact, its file named in the error.
fn json<T: serde::Serialize>(name: &str, value: &T) -> Result<Vec<u8>> {
    Ok(files::json_bytes(value).map_err(|source| files::Error::Io {
        path: name.into(),
        source,
    })?)
}

/// Refuses option combinations before any work: an existing output, a visibility that binds
/// nothing, a predicate over public outputs, a batch size out of range.
fn check_options(opts: &BuildOptions) -> Result<()> {
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
    Ok(())
}

/// The model as zkinfer's graph (optimised) and the calibration samples, each checked against
/// the model's inputs. A file of one input object holding several samples one after another in
/// each input's list (EZKL's calibration data) is split into its samples; JSON lines are one
/// sample each.
fn import(opts: &BuildOptions) -> Result<(Graph, Vec<Vec<Vec<f64>>>)> {
    let mut graph = onnx::load(&opts.model, &opts.load)?;
    graph.optimize();
    let given = inputs::read_calibration(&opts.calibration)?;
    let sizes: Vec<usize> = graph
        .inputs
        .iter()
        .map(|&v| graph.values[v].shape.iter().product())
        .collect();
    let one_object = given.len() == 1;
    let mut samples = Vec::with_capacity(given.len());
    for (i, s) in given.into_iter().enumerate() {
        let format = |e: String| files::Error::Format {
            path: opts.calibration.clone(),
            reason: format!("sample {}: {e}", i + 1),
        };
        let split = if one_object {
            inputs::split_concatenated(s, &sizes)
        } else {
            vec![s]
        };
        for s in split {
            graph.check_inputs(&s).map_err(|e| format(e.to_string()))?;
            samples.push(s);
        }
    }
    Ok((graph, samples))
}

/// Refuses a predicate that names no output of the model or an index past the output's end.
fn check_predicate(opts: &BuildOptions, model: &QuantModel) -> Result<()> {
    let Some(pr) = &opts.predicate else {
        return Ok(());
    };
    let names: Vec<&str> = model
        .outputs
        .iter()
        .map(|&v| model.values[v].name.as_str())
        .collect();
    let (_, v, _) = pr.locate(model).ok_or_else(|| {
        Error::Predicate(format!(
            "'{pr}' names output '{}'; the model's outputs are y (the first) or {}",
            pr.output(),
            names.join(", ")
        ))
    })?;
    if let Predicate::Compare { index, .. } = pr {
        if *index >= model.values[v].numel() {
            return Err(Error::Predicate(format!(
                "'{pr}': output '{}' has {} values",
                pr.output(),
                model.values[v].numel()
            )));
        }
    }
    Ok(())
}

/// The sample the self-test proof runs on: the first calibration sample, or with a predicate of
/// a fixed class, the first sample for which it holds.
fn self_test_trace(
    opts: &BuildOptions,
    model: &QuantModel,
    samples: &[Vec<Vec<f64>>],
) -> Result<quant::Trace> {
    let pr = match &opts.predicate {
        Some(pr) if pr.params().is_empty() => pr,
        _ => return Ok(model.eval(&samples[0])?),
    };
    let (_, v, _) = pr
        .locate(model)
        .ok_or_else(|| Error::Predicate(format!("'{pr}' names no output")))?;
    for s in samples {
        let t = model.eval(s)?;
        if pr.holds(&t.values[v], &[]).map_err(Error::Predicate)? {
            return Ok(t);
        }
    }
    Err(Error::Predicate(format!(
        "'{pr}' holds for none of the calibration samples; the build's self-test proof needs one"
    )))
}

/// The SRS for `k` rows: the user's (`--srs`, with what is known of it) or a generated one.
fn srs(opts: &BuildOptions, k: u32) -> Result<(ParamsKZG<Bn256>, Option<proof::SrsInfo>)> {
    match &opts.srs {
        Some(path) => {
            let (params, mut info) = proof::load_srs(path, k)?;
            if opts.srs_trusted {
                info.insecure = false;
                info.source = format!("{} (trusted by the user: --trusted-srs)", path.display());
            }
            Ok((params, Some(info)))
        }
        None => Ok((proof::generate_srs(k), None)),
    }
}

/// What the build records of its SRS (`file_sha256` of the downsized file it writes).
fn srs_record(given: Option<proof::SrsInfo>, k: u32, file_sha256: String) -> proof::SrsInfo {
    match given {
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
    }
}

/// Keys for the circuit (every slot laid out with `trace`); records the break points in `shape`.
fn keygen(
    opts: &BuildOptions,
    model: &QuantModel,
    trace: &quant::Trace,
    params: &ParamsKZG<Bn256>,
    shape: &mut CircuitShape,
) -> Result<ProvingKey> {
    let none = Secrets::default();
    let slots = vec![
        circuit::Slot {
            trace,
            secrets: &none,
            used: true,
        };
        opts.batch
    ];
    let builder = circuit::build_batch(CircuitBuilderStage::Keygen, shape, model, &slots, None)?;
    let pk = proof::keygen(params, &builder)?;
    shape.break_points = builder.break_points();
    Ok(pk)
}

/// A proof of `trace` (in a batch, slot 0 used and the others unused), with predicate parameters
/// that hold on it; returns its instances as EVM words and the proof.
fn self_test_proof(
    opts: &BuildOptions,
    model: &QuantModel,
    trace: &quant::Trace,
    shape: &CircuitShape,
    params: &ParamsKZG<Bn256>,
    pk: &ProvingKey,
) -> Result<(Vec<[u8; 32]>, Vec<u8>)> {
    let secrets = Secrets {
        predicate_params: self_test_params(model, trace, opts.predicate.as_ref()),
        ..Default::default()
    };
    let slots: Vec<circuit::Slot> = (0..opts.batch)
        .map(|i| circuit::Slot {
            trace,
            secrets: &secrets,
            used: i == 0,
        })
        .collect();
    let builder = circuit::build_batch(CircuitBuilderStage::Prover, shape, model, &slots, None)?;
    let instances: Vec<Fr> = builder.instances();
    let proof = proof::prove(params, pk, builder, &instances)?;
    Ok((instances.iter().map(crate::field::to_word).collect(), proof))
}

/// Runs the self-test proof through the compiled verifier in an in-process EVM; returns the gas
/// of the call, or an error if the verifier rejects a valid proof.
fn evm_self_test(compiled: &Compiled, words: &[[u8; 32]], proof: &[u8]) -> Result<u64> {
    let run = verifier::evm_verify(compiled, &[verifier::encode_verify_call(words, proof)])?;
    if !run.calls[0].accepted {
        return Err(proof::Error::Halo2 {
            stage: "EVM self-test",
            reason: "the generated verifier rejected a valid proof".into(),
        }
        .into());
    }
    Ok(run.calls[0].gas_used)
}

/// Predicate parameters that hold on `trace` (for the build's self-test proof): the first
/// output's own value for a threshold, its argmax for a class.
fn self_test_params(model: &QuantModel, trace: &quant::Trace, p: Option<&Predicate>) -> Vec<i128> {
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

fn sha256_file(path: &Path) -> Result<String> {
    let b = std::fs::read(path).map_err(|source| files::Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(hex::encode(Sha256::digest(b)))
}
