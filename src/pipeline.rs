//! The pipeline as library calls: `build`, `prove`, `verify`, and in-process EVM checks. The CLI
//! is a thin layer over these.

use std::path::{Path, PathBuf};
use std::time::Instant;

use halo2_base::halo2_proofs::halo2curves::ff::PrimeField;
use sha2::{Digest, Sha256};

use crate::artifacts::{
    self, read_json, write_atomic, write_json_atomic, BuildDir, FidelityReport, InstanceInfo,
    ProofFile, ProofInstance, Settings, VerifierInfo,
};
use crate::circuit::{self, CircuitBuilderStage, Fr};
use crate::quant::{self, QuantConfig, QuantModel};
use crate::verifier::{self, Compiled, EvmRun};
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
    /// Replace an existing output directory.
    pub force: bool,
    /// Quantization knobs.
    pub quant: QuantConfig,
}

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

/// Instance descriptions for the model outputs.
fn instance_infos(model: &QuantModel) -> Vec<InstanceInfo> {
    let mut out = Vec::new();
    for (o, &v) in model.outputs.iter().enumerate() {
        let info = &model.values[v];
        for index in 0..info.numel() {
            out.push(InstanceInfo {
                name: format!("output {o} '{}' [{index}]", info.name),
                kind: "output".into(),
                output: o,
                index,
                exp: info.exp,
            });
        }
    }
    out
}

/// ONNX model -> quantized model, circuit, keys, verifier contracts, all in `opts.out`.
pub fn build(opts: &BuildOptions, p: &dyn Progress) -> Result<BuildReport> {
    let started = Instant::now();
    if opts.out.exists() && !opts.force {
        return Err(Error::OutExists(opts.out.clone()));
    }
    let solc = tools::solc()?; // fail before the slow steps
    let (graph, model, samples) = step(p, "importing and quantizing", || {
        let mut graph = onnx::load(&opts.model)?;
        graph.fuse_bias_adds();
        let samples = artifacts::read_calibration(&opts.calibration)?;
        for (i, s) in samples.iter().enumerate() {
            graph
                .check_inputs(s)
                .map_err(|e| artifacts::Error::Format {
                    path: opts.calibration.clone(),
                    reason: format!("sample {}: {e}", i + 1),
                })?;
        }
        let model = quant::quantize(&graph, &samples, &opts.quant)?;
        Ok((graph, model, samples))
    })?;
    let (fidelity, float_outputs, quant_outputs) =
        step(p, "comparing with the float model (tract)", || {
            let shapes: Vec<Vec<usize>> = graph
                .inputs
                .iter()
                .map(|&v| graph.values[v].shape.clone())
                .collect();
            let float = onnx::FloatModel::load(&opts.model, &shapes)?;
            let mut max_err = vec![0f64; model.num_outputs()];
            let (mut first_f, mut first_q) = (vec![], vec![]);
            for (i, s) in samples.iter().enumerate() {
                let f = float.run(s)?;
                let q = model.output_floats(&model.eval(s)?);
                for (k, (a, b)) in f.iter().flatten().zip(q.iter().flatten()).enumerate() {
                    max_err[k] = max_err[k].max((a - b).abs());
                }
                if i == 0 {
                    (first_f, first_q) = (f, q);
                }
            }
            let overall = max_err.iter().cloned().fold(0f64, f64::max);
            Ok((
                FidelityReport {
                    samples: samples.len(),
                    max_abs_error: max_err,
                    max_abs_error_overall: overall,
                },
                first_f,
                first_q,
            ))
        })?;
    let trace = model.eval(&samples[0])?;
    let mut shape = step(p, "sizing the circuit", || {
        Ok(circuit::choose_params(&model, &trace)?)
    })?;
    let k = shape.k();
    let (params, srs_info_pre) = step(p, &format!("SRS for logrows {k}"), || match &opts.srs {
        Some(path) => {
            let (params, info) = proof::load_srs(path, k)?;
            Ok((params, Some(info)))
        }
        None => Ok((proof::generate_srs(k), None)),
    })?;
    let t_keygen = Instant::now();
    let pk = step(p, "generating keys", || {
        let builder = circuit::build(CircuitBuilderStage::Keygen, &shape, &model, &trace)?;
        let pk = proof::keygen(&params, &builder)?;
        shape.break_points = builder.break_points();
        Ok(pk)
    })?;
    let keygen_secs = t_keygen.elapsed().as_secs_f64();
    let vk_digest = proof::vk_digest(pk.get_vk());
    let instances: Vec<Fr> = trace
        .outputs(&model)
        .into_iter()
        .map(circuit::field)
        .collect();
    let test_proof = step(p, "self-test proof", || {
        let builder = circuit::build(CircuitBuilderStage::Prover, &shape, &model, &trace)?;
        Ok(proof::prove(&params, &pk, builder, &instances)?)
    })?;
    let n = instances.len();
    let (verifier_src, wrapper_src, compiled) =
        step(p, "generating and compiling the Solidity verifier", || {
            let v = verifier::halo2_verifier_source(&params, pk.get_vk(), n)?;
            let w = verifier::wrapper_source(n, test_proof.len(), &vk_digest);
            let c = verifier::compile(&v, &w, &solc)?;
            Ok((v, w, c))
        })?;
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
    let written = proof::write_srs(
        &params,
        &srs_path,
        srs_info_pre.as_ref().is_none_or(|i| i.insecure),
    )?;
    let srs = match srs_info_pre {
        Some(info) => proof::SrsInfo { logrows: k, ..info },
        None => proof::SrsInfo {
            source: "generated by zkinfer build (insecure)".into(),
            ..written
        },
    };
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
    write_json_atomic(&dir.path(BuildDir::MODEL), &model).map_err(io(dir.path(BuildDir::MODEL)))?;
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
        instances: instance_infos(&model),
        verifier: VerifierInfo {
            solc: compiled.solc.clone(),
            verifier_runtime_bytes: compiled.verifier.runtime_code().len(),
            wrapper_runtime_bytes: compiled.wrapper.runtime_code().len(),
            proof_bytes: test_proof.len(),
            size_limit: verifier::CODE_SIZE_LIMIT,
        },
        fidelity,
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
    /// Opens a build directory.
    pub fn open(dir: &Path) -> Result<Self> {
        let dir = BuildDir::new(dir);
        let settings = dir.settings()?;
        let model = read_json(&dir.path(BuildDir::MODEL), "quantized model")?;
        Ok(Self {
            dir,
            settings,
            model,
        })
    }

    fn params(
        &self,
    ) -> Result<halo2_base::halo2_proofs::poly::kzg::commitment::ParamsKZG<circuit::Bn256>> {
        Ok(proof::load_srs(&self.dir.path(BuildDir::SRS), self.settings.circuit.k())?.0)
    }

    /// The compiled contracts.
    pub fn contracts(&self) -> Result<Compiled> {
        Ok(read_json(
            &self.dir.path(BuildDir::CONTRACTS),
            "compiled contracts file",
        )?)
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

/// What `prove` produced.
#[derive(Clone, Debug)]
pub struct ProveReport {
    /// The proof file (also written to disk).
    pub proof: ProofFile,
    /// Output floats.
    pub outputs: Vec<Vec<f64>>,
    /// Seconds spent proving (witness, proof, native self-check).
    pub prove_secs: f64,
    /// Proof size in bytes.
    pub proof_bytes: usize,
}

/// Proves one inference of the build's model on `inputs`, writing the proof file to `out`.
pub fn prove(
    build: &Build,
    inputs: &[Vec<f64>],
    out: &Path,
    p: &dyn Progress,
) -> Result<ProveReport> {
    let trace = build.model.eval(inputs)?;
    let params = step(p, "loading SRS", || build.params())?;
    let pk = step(p, "loading proving key", || {
        Ok(proof::read_pk(
            &build.dir.path(BuildDir::PK),
            build.settings.circuit.params.clone(),
        )?)
    })?;
    let t = Instant::now();
    let outputs_int = trace.outputs(&build.model);
    let instances: Vec<Fr> = outputs_int.iter().map(|&x| circuit::field(x)).collect();
    let proof_bytes = step(p, "proving", || {
        let builder = circuit::build(
            CircuitBuilderStage::Prover,
            &build.settings.circuit,
            &build.model,
            &trace,
        )?;
        Ok(proof::prove(&params, &pk, builder, &instances)?)
    })?;
    let prove_secs = t.elapsed().as_secs_f64();
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
            .zip(&outputs_int)
            .map(|((info, f), &q)| ProofInstance {
                info: info.clone(),
                field: format!("0x{}", hex::encode(verifier::instance_word(f))),
                integer: q.to_string(),
                value: quant::to_float(q, info.exp),
            })
            .collect(),
        proof: format!("0x{}", hex::encode(&proof_bytes)),
    };
    write_json_atomic(out, &pf).map_err(|source| Error::Io {
        path: out.to_path_buf(),
        source,
    })?;
    Ok(ProveReport {
        outputs: build.model.output_floats(&trace),
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
            let q = circuit::field_to_i128(&f);
            if q.map(|q| q.to_string()).as_deref() != Some(inst.integer.as_str()) {
                return Err(format!(
                    "instance {i}: integer {} does not match its field element",
                    inst.integer
                ));
            }
            let v = quant::to_float(q.unwrap_or(0), info.exp);
            if v != inst.value {
                return Err(format!(
                    "instance {i}: value {} does not match its field element ({v})",
                    inst.value
                ));
            }
            Ok(f)
        })
        .collect()
}

/// Native verification: `Ok(Ok(()))` valid, `Ok(Err(reason))` invalid, `Err` could not check.
pub fn verify(
    build: &Build,
    pf: &ProofFile,
    path: &Path,
) -> Result<std::result::Result<(), String>> {
    build.check_proof_file(pf, path)?;
    let instances = match proof_instances(build, pf) {
        Ok(i) => i,
        Err(reason) => return Ok(Err(reason)),
    };
    let bytes = pf.proof_bytes(path)?;
    let params = build.params()?;
    let vk = proof::read_vk(
        &build.dir.path(BuildDir::VK),
        build.settings.circuit.params.clone(),
    )?;
    Ok(if proof::verify(&params, &vk, &instances, &bytes) {
        Ok(())
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
