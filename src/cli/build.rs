//! `zkinfer build`.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::json;
use zkinfer::circuit::Optimize;
use zkinfer::fidelity::Target;
use zkinfer::onnx::LoadOptions;
use zkinfer::pipeline::{self, BuildOptions};
use zkinfer::predicate::Predicate;
use zkinfer::quant::QuantConfig;
use zkinfer::visibility::Vis;
use zkinfer::visibility::Visibility;

use super::output::{floats, print_json, Bar};
use super::Exit;

/// Arguments of `build`.
#[derive(Args)]
pub struct BuildArgs {
    /// The ONNX model.
    pub model: PathBuf,
    /// Calibration data: an input JSON ({"input_data": [[...]]}) or JSON lines of them.
    #[arg(long)]
    pub calibration: PathBuf,
    /// Output directory (created; must not exist unless --force).
    #[arg(long)]
    pub out: PathBuf,
    /// An SRS in halo2's raw format. It counts as trusted only if its SHA-256 is on zkinfer's
    /// list of converted ceremony files; otherwise the build is marked insecure. Without
    /// --srs or --trusted-srs an INSECURE one is generated.
    #[arg(long, conflicts_with = "trusted_srs")]
    pub srs: Option<PathBuf>,
    /// An SRS in halo2's raw format that you checked yourself (e.g. converted from a
    /// powers-of-tau ceremony): the build records it as trusted.
    #[arg(long, value_name = "FILE")]
    pub trusted_srs: Option<PathBuf>,
    /// Replace --out if it exists.
    #[arg(long)]
    pub force: bool,
    /// What calibration optimises: `accuracy` (finest scales and tables) or `resources` (the
    /// smallest circuit that loses no accuracy against the finest one, or meets --max-error /
    /// --min-agreement).
    #[arg(long, value_enum, default_value_t = TargetArg::Accuracy)]
    pub target: TargetArg,
    /// Circuit shape: `proving` (shortest circuit: constant-weight dot products in a wide dot
    /// lanes, up to 3 gate columns), `gas` (fewest columns: smallest verifier, least verify gas)
    /// or `balanced` (fewer columns only when that proves at most 1.5x slower than the fastest
    /// layout and saves 20% of its gas, estimated, or proves in about a second; `build` prints
    /// the layouts weighed).
    #[arg(long, value_enum, default_value_t = OptimizeArg::Balanced)]
    pub optimize_for: OptimizeArg,
    /// Fail if any output's max |float - quantized| over the calibration set exceeds E.
    #[arg(long, value_name = "E")]
    pub max_error: Option<f64>,
    /// Fail if the predicted class agrees with the float model on less than P (0..1) of the
    /// calibration rows.
    #[arg(long, value_name = "P")]
    pub min_agreement: Option<f64>,
    /// Value of a symbolic input dimension, NAME=VALUE (repeatable). A symbolic batch
    /// dimension defaults to 1.
    #[arg(long = "dim", value_name = "NAME=VALUE", value_parser = parse_dim)]
    pub dims: Vec<(String, usize)>,
    /// Model inputs: private (witness only), public (instances) or hashed (a Poseidon
    /// commitment is the instance).
    #[arg(long, value_enum, default_value_t = PartVis::Private)]
    pub input_visibility: PartVis,
    /// Weights and biases: fixed (circuit constants, bound by the verifying key), hashed (a
    /// Poseidon commitment is public), public (every parameter is an instance), or private
    /// (binds no model; needs --allow-unbound-params).
    #[arg(long, value_enum, default_value_t = ParamVis::Fixed)]
    pub param_visibility: ParamVis,
    /// Model outputs: public, private or hashed (default: public, or private with
    /// --output-predicate).
    #[arg(long, value_enum)]
    pub output_visibility: Option<PartVis>,
    /// Prove a statement about the outputs instead of revealing them: 'y[I] >= NAME' (or >,
    /// <=, <) with the threshold NAME given at prove time, or 'argmax(y) == K'. The outputs
    /// then stay private (or hashed, with --output-visibility hashed).
    #[arg(long, value_parser = |s: &str| s.parse::<Predicate>())]
    pub output_predicate: Option<Predicate>,
    /// Add a binding instance so proofs can be submitted to a PredictionRegistry: each proof
    /// is then valid for one chain, registry, submitter and nonce (no replay, no
    /// front-running).
    #[arg(long)]
    pub binding: bool,
    /// Allow --param-visibility private, which lets a prover use any parameters of the
    /// model's shape.
    #[arg(long)]
    pub allow_unbound_params: bool,
    /// Prove up to N inferences of the model per proof (1 to 1024): one verification and one
    /// registry transaction (`submitBatch`) for up to N predictions. `prove --input` then
    /// takes JSON lines, one sample per line; a proof may carry fewer samples (unused slots
    /// expose only zeros). Refused, naming the largest that fits, when N samples need more
    /// than 2^26 rows
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub batch: usize,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// `--target`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum TargetArg {
    /// Finest scales and tables.
    Accuracy,
    /// The smallest circuit that loses no accuracy.
    Resources,
}

impl From<TargetArg> for Target {
    fn from(t: TargetArg) -> Self {
        match t {
            TargetArg::Accuracy => Target::Accuracy,
            TargetArg::Resources => Target::Resources,
        }
    }
}

/// `--optimize-for`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OptimizeArg {
    /// Shortest circuit (dot lanes).
    Proving,
    /// Fewer columns when at most 1.5x slower and 20% less gas (estimated), or about a second.
    Balanced,
    /// Fewest columns.
    Gas,
}

fn optimize_name(o: OptimizeArg) -> &'static str {
    match o {
        OptimizeArg::Proving => "proving",
        OptimizeArg::Balanced => "balanced",
        OptimizeArg::Gas => "gas",
    }
}

/// The rule each `--optimize-for` applies, as `build` prints it.
fn optimize_rule(o: OptimizeArg) -> String {
    match o {
        OptimizeArg::Proving => "the fastest layout".into(),
        OptimizeArg::Balanced => format!(
            "the least estimated verify gas among the fastest layout and those that prove within {}x of it and save at least {}% of its gas, or prove in about a second",
            zkinfer::circuit::BALANCED_MAX_SLOWDOWN,
            zkinfer::circuit::BALANCED_MIN_GAS_SAVING * 100.0
        ),
        OptimizeArg::Gas => "the layout without a dot lane whenever it fits".into(),
    }
}

impl From<OptimizeArg> for Optimize {
    fn from(o: OptimizeArg) -> Self {
        match o {
            OptimizeArg::Proving => Optimize::Proving,
            OptimizeArg::Balanced => Optimize::Balanced,
            OptimizeArg::Gas => Optimize::Gas,
        }
    }
}

/// `--input-visibility`, `--output-visibility`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum PartVis {
    /// Witness only.
    Private,
    /// Instances.
    Public,
    /// A Poseidon commitment is the instance.
    Hashed,
}

impl From<PartVis> for Vis {
    fn from(v: PartVis) -> Self {
        match v {
            PartVis::Private => Vis::Private,
            PartVis::Public => Vis::Public,
            PartVis::Hashed => Vis::Hashed,
        }
    }
}

/// `--param-visibility`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ParamVis {
    /// Circuit constants, bound by the verifying key.
    Fixed,
    /// A Poseidon commitment is public.
    Hashed,
    /// Binds no model (needs --allow-unbound-params).
    Private,
    /// Every parameter is an instance.
    Public,
}

impl From<ParamVis> for Vis {
    fn from(v: ParamVis) -> Self {
        match v {
            ParamVis::Fixed => Vis::Fixed,
            ParamVis::Hashed => Vis::Hashed,
            ParamVis::Private => Vis::Private,
            ParamVis::Public => Vis::Public,
        }
    }
}

fn parse_dim(s: &str) -> Result<(String, usize), String> {
    let (n, v) = s.split_once('=').ok_or("expected NAME=VALUE")?;
    let v: usize = v
        .parse()
        .map_err(|_| format!("'{v}' is not a positive integer"))?;
    if v == 0 || n.is_empty() {
        return Err("expected NAME=VALUE with VALUE >= 1".into());
    }
    Ok((n.to_string(), v))
}

/// Runs `build`.
pub fn run(a: BuildArgs) -> anyhow::Result<Exit> {
    let opts = BuildOptions {
        model: a.model,
        calibration: a.calibration,
        out: a.out.clone(),
        srs: a.srs.clone().or(a.trusted_srs.clone()),
        srs_trusted: a.trusted_srs.is_some(),
        force: a.force,
        quant: QuantConfig::default(),
        load: LoadOptions {
            dims: a.dims.into_iter().collect(),
        },
        max_error: a.max_error,
        min_agreement: a.min_agreement,
        target: a.target.into(),
        optimize: a.optimize_for.into(),
        batch: a.batch,
        visibility: {
            let v = Visibility {
                input: a.input_visibility.into(),
                params: a.param_visibility.into(),
                output: match a.output_visibility {
                    Some(v) => v.into(),
                    None if a.output_predicate.is_some() => Vis::Private,
                    None => Vis::Public,
                },
                binding: a.binding,
            };
            if v.params == zkinfer::visibility::Vis::Private && a.allow_unbound_params {
                eprintln!("WARNING: private parameters bind no model: a proof only shows that SOME parameters of this model's shape give these outputs");
            }
            v
        },
        allow_unbound_params: a.allow_unbound_params,
        predicate: a.output_predicate.clone(),
    };
    let r = pipeline::build(&opts, &Bar)?;
    let s = &r.settings;
    let over = s.verifier.largest_runtime_bytes() > s.verifier.size_limit;
    if s.srs.insecure {
        eprintln!("note: built on an SRS zkinfer does not trust ({}): fine for tests and local chains; for a public chain use --srs with a listed ceremony SRS or --trusted-srs FILE (README: Trusted setup)", s.srs.source);
    }
    if a.json {
        print_json(&json!({
            "out": a.out,
            "vk_digest": s.vk_digest,
            "logrows": s.circuit.params.base.k,
            "batch": s.circuit.batch,
            "advice_columns": s.circuit.params.base.num_advice_per_phase,
            "lookup_bits": s.circuit.params.base.lookup_bits,
            "act_bits": r.act_bits,
            "layouts": s.circuit.layouts,
            "function_tables": s.circuit.params.tables.len(),
            "calibration": s.calibration,
            "macs": s.macs,
            "srs": s.srs,
            "verifier": s.verifier,
            "verifier_over_size_limit": over,
            "evm_verify_gas": r.evm_verify_gas,
            "fidelity": s.fidelity,
            "float_outputs": r.float_outputs,
            "quantized_outputs": r.quant_outputs,
            "instances": s.instances,
            "keygen_secs": r.keygen_secs,
            "total_secs": r.total_secs,
        }));
    } else {
        println!("built {} -> {}", s.model_path, a.out.display());
        println!(
            "  circuit: logrows {}, {} advice column(s), lookup bits {:?}, activations {} bits, {} MACs",
            s.circuit.params.base.k,
            s.circuit.params.base.num_advice_per_phase[0],
            s.circuit.params.base.lookup_bits,
            r.act_bits,
            s.macs
        );
        for l in &s.circuit.layouts {
            println!(
                "   {} {}: logrows {}, {} advice, {} fixed, {} lookup(s), estimated prove time {:.2}x the fastest, verify gas ~{}k",
                if l.chosen { "*" } else { " " },
                layout_name(l),
                l.logrows,
                l.advice,
                l.fixed,
                l.lookups,
                l.relative_prove,
                l.estimated_gas / 1000
            );
        }
        if s.circuit.layouts.len() > 1 {
            println!(
                "   (--optimize-for {}: {})",
                optimize_name(a.optimize_for),
                optimize_rule(a.optimize_for)
            );
        }
        if s.circuit.batch > 1 {
            println!(
                "  batch: {} samples per proof ({} public instances)",
                s.circuit.batch,
                s.instances.len()
            );
        }
        println!("  vk digest: {}", s.vk_digest);
        println!(
            "  calibration (target {:?}), candidates tried:",
            s.calibration.target
        );
        for c in &s.calibration.tried {
            let mark = if c.chosen { "*" } else { " " };
            match &c.failure {
                Some(f) => println!(
                    "   {mark} frac bits {:>2}, table 2^{:<2}: failed: {f}",
                    c.max_act_frac_bits, c.lut_bits
                ),
                None => println!(
                    "   {mark} frac bits {:>2}, table 2^{:<2}: logrows {}, max |error| {:.3e}{}",
                    c.max_act_frac_bits,
                    c.lut_bits,
                    c.logrows.unwrap_or(0),
                    c.max_abs_error.unwrap_or(f64::NAN),
                    c.min_agreement
                        .map_or(String::new(), |a| format!(", agreement {:.2}%", a * 100.0))
                ),
            }
        }
        for (i, (f, q)) in r.float_outputs.iter().zip(&r.quant_outputs).enumerate() {
            println!("  output {i}: float {}  quantized {}", floats(f), floats(q));
        }
        println!(
            "  fidelity over {} calibration sample(s), reference {}:",
            s.fidelity.samples, s.fidelity.reference
        );
        for o in &s.fidelity.outputs {
            let agr = o.agreement.map_or(String::new(), |a| {
                format!(", class agreement {:.2}%", a * 100.0)
            });
            println!(
                "    '{}': max |error| {:.3e}, mean {:.3e}{agr}",
                o.name, o.max_abs_error, o.mean_abs_error
            );
        }
        let tail = s.verifier.tail_runtime_bytes.map_or(String::new(), |t| {
            format!(" + {t} B in a second contract (split: over EIP-170 as one)")
        });
        println!(
            "  verifier: {} B runtime{tail} ({}limit {} B each), wrapper {} B, proof {} B, verify gas (in-process EVM) {}",
            s.verifier.verifier_runtime_bytes,
            if over { "OVER the " } else { "within the " },
            s.verifier.size_limit,
            s.verifier.wrapper_runtime_bytes,
            s.verifier.proof_bytes,
            r.evm_verify_gas
        );
        println!("  SRS: {} (insecure: {})", s.srs.source, s.srs.insecure);
        println!(
            "  keygen {:.2} s, total {:.2} s",
            r.keygen_secs, r.total_secs
        );
    }
    Ok(Exit::Ok)
}

/// How `build` names a layout: its lanes.
fn layout_name(l: &zkinfer::circuit::Layout) -> String {
    let mut parts = vec![];
    if l.poly_lanes > 0 {
        parts.push(format!("convolutions on {} poly lane(s)", l.poly_lanes));
    }
    if l.act_lanes > 0 {
        parts.push(format!("rescales on {} act lane(s)", l.act_lanes));
    }
    parts.push(match l.dot_width {
        0 => "no dot lane".to_string(),
        w => format!("dot lane of {w}"),
    });
    parts.join(", ")
}
