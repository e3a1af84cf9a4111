//! `zkinfer prove`.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;
use zkinfer::circuit::{commit::parse_salt, Secrets};
use zkinfer::field::Fr;
use zkinfer::inputs::read_input;
use zkinfer::pipeline::{self, Build};

use super::output::{floats, print_json, Bar};
use super::Exit;

/// Arguments of `prove`.
#[derive(Args)]
pub struct ProveArgs {
    /// Build directory (from `zkinfer build`).
    pub dir: PathBuf,
    /// Input JSON: {"input_data": [[...], ...]}, one flattened list per model input, and where
    /// the build needs them "salt", "output_salt" and "params": {"T": 0.5} (or the flags
    /// below). On a batch build: JSON lines, one such sample per line; --salt is then refused.
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write the proof file.
    #[arg(long)]
    pub out: PathBuf,
    /// Salt of the input commitment (hashed inputs): 0x + up to 64 hex digits. Keep it secret:
    /// with it, low-entropy inputs could be recovered from the commitment by trying values.
    #[arg(long, env = "ZKINFER_INPUT_SALT", hide_env_values = true, value_parser = parse_salt)]
    pub salt: Option<Fr>,
    /// Salt of the output commitment (hashed outputs).
    #[arg(long, env = "ZKINFER_OUTPUT_SALT", hide_env_values = true, value_parser = parse_salt)]
    pub output_salt: Option<Fr>,
    /// Allow a hashed input or output without a salt (salt 0): only for data that is public
    /// knowledge anyway, since an unsalted commitment to low-entropy data can be inverted.
    #[arg(long)]
    pub allow_unsalted: bool,
    /// Print the model's outputs even when the build keeps them private or hashed (they are
    /// printed by default only when they are public instances anyway).
    #[arg(long)]
    pub show_outputs: bool,
    /// A parameter of the build's output predicate, NAME=VALUE (repeatable); it becomes a
    /// public instance.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, f64)>,
    /// Bind the proof to this registered model (builds with --binding): the proof is then
    /// valid for the registry on --rpc-url's chain, the submitter, and its next nonce.
    #[arg(long)]
    pub model: Option<String>,
    /// The registry's chain (with --model).
    #[command(flatten)]
    pub rpc: super::opts::RpcOpts,
    /// The submitter (default: the address of --private-key).
    #[arg(long)]
    pub submitter: Option<String>,
    /// The submitter's key (only its address is used here).
    #[command(flatten)]
    pub key: super::keys::KeyArgs,
    #[command(flatten)]
    pub at: super::opts::RegistryLocation,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

fn parse_param(s: &str) -> Result<(String, f64), String> {
    let (n, v) = s.split_once('=').ok_or("expected NAME=VALUE")?;
    let v: f64 = v.parse().map_err(|_| format!("'{v}' is not a number"))?;
    Ok((n.to_string(), v))
}

/// The binding for `--model`: the submitter's next nonce, read from the registry.
fn binding(a: &ProveArgs) -> anyhow::Result<Option<zkinfer::visibility::binding::Binding>> {
    let Some(model) = &a.model else {
        return Ok(None);
    };
    let id = zkinfer::chain::registry::parse_model_id(model).map_err(anyhow::Error::msg)?;
    let url = a.rpc.get().ok_or_else(|| {
        anyhow::anyhow!(
            "--model binds the proof to a registry: give --rpc-url too (or set ZKINFER_RPC_URL or ETH_RPC_URL)"
        )
    })?;
    let b = super::block_on(async {
        let chain = a.key.connect(&url).await?;
        let submitter = match (&a.submitter, chain.from) {
            (Some(s), _) => super::opts::address("--submitter", s)?,
            (None, Some(f)) => f,
            (None, None) => anyhow::bail!(
                "--model: say who will submit, with --submitter ADDRESS, ZKINFER_PRIVATE_KEY or --keystore"
            ),
        };
        let registry = a.at.resolve(&chain)?;
        anyhow::Ok(chain.registry(registry).next_binding(id, submitter).await?)
    })??;
    eprintln!(
        "zkinfer: binding to chain {}, registry {}, submitter {}, nonce {}",
        b.chain_id, b.registry, b.submitter, b.nonce
    );
    Ok(Some(b))
}

/// The samples of a batch build's `--input` (JSON lines): each line's own salts and predicate
/// parameters (`--param` fills a parameter a line does not give; `--salt` is refused: a salt
/// shared by samples would let one sample's guesses test the others').
fn batch_samples(a: &ProveArgs, build: &Build) -> anyhow::Result<Vec<pipeline::Sample>> {
    if a.salt.is_some() || a.output_salt.is_some() {
        anyhow::bail!(
            "this build proves {} samples per proof: give each sample's salt in its line of {} (\"salt\", \"output_salt\"), not --salt/--output-salt",
            build.settings.circuit.batch,
            a.input.display()
        );
    }
    let lines = zkinfer::inputs::read_batch_input(&a.input)?;
    let mut out = Vec::with_capacity(lines.len());
    let mut salts_seen = std::collections::BTreeSet::new();
    for (i, line) in lines.into_iter().enumerate() {
        let at = |e: String| {
            anyhow::anyhow!("{}: sample {} (line {}): {e}", a.input.display(), i, i + 1)
        };
        let salt = |s: &Option<String>| -> anyhow::Result<Option<zkinfer::field::Fr>> {
            s.as_deref()
                .map(zkinfer::circuit::commit::parse_salt)
                .transpose()
                .map_err(at)
        };
        let (input_salt, output_salt) = (salt(&line.salt)?, salt(&line.output_salt)?);
        // A salt used twice links the records it salts (and one leaked opens both).
        for s in [input_salt, output_salt].into_iter().flatten() {
            if s != zkinfer::field::Fr::zero() && !salts_seen.insert(s.to_bytes()) {
                return Err(at("its salt is used by another sample (or twice in this line): draw a fresh one for every record".into()));
            }
        }
        pipeline::check_salts(
            build,
            input_salt,
            output_salt,
            a.allow_unsalted,
            ("\"salt\"", "\"output_salt\""),
        )
        .map_err(|e| at(e.to_string()))?;
        if let Some(w) = pipeline::weak_salt_warning(input_salt, "\"salt\"")
            .or_else(|| pipeline::weak_salt_warning(output_salt, "\"output_salt\""))
        {
            eprintln!("zkinfer: sample {i}: {w}");
        }
        let mut given: Vec<(String, f64)> = line.params.into_iter().collect();
        for (n, v) in &a.params {
            if !given.iter().any(|(g, _)| g == n) {
                given.push((n.clone(), *v));
            }
        }
        out.push(pipeline::Sample {
            inputs: line.input_data,
            secrets: Secrets {
                input_salt: input_salt.unwrap_or_default(),
                output_salt: output_salt.unwrap_or_default(),
                predicate_params: build
                    .predicate_params(&given)
                    .map_err(|e| at(e.to_string()))?,
                binding: None,
            },
        });
    }
    Ok(out)
}

/// Runs `prove`.
pub fn run(a: ProveArgs) -> anyhow::Result<Exit> {
    let build = Build::open(&a.dir)?;
    if build.settings.circuit.batch > 1 {
        return run_batch(a, build);
    }
    let inputs = read_input(&a.input)?;
    // The input object may carry its salts and parameters as a batch line does (`--param`
    // wins over the file's; a salt given both ways is refused: one place per secret).
    let line = zkinfer::inputs::read_batch_input(&a.input)
        .ok()
        .filter(|l| l.len() == 1)
        .and_then(|mut l| l.pop());
    let from_file = |flag: Option<zkinfer::field::Fr>,
                     field: Option<&String>,
                     names: (&str, &str)|
     -> anyhow::Result<Option<zkinfer::field::Fr>> {
        match (flag, field) {
            (Some(_), Some(_)) => anyhow::bail!(
                "{}: the input gives \"{}\" and {} is given too: keep the salt in one place",
                a.input.display(),
                names.0,
                names.1
            ),
            (Some(f), None) => Ok(Some(f)),
            (None, Some(s)) => Ok(Some(parse_salt(s).map_err(|e| {
                anyhow::anyhow!("{}: \"{}\": {e}", a.input.display(), names.0)
            })?)),
            (None, None) => Ok(None),
        }
    };
    let salt = from_file(
        a.salt,
        line.as_ref().and_then(|l| l.salt.as_ref()),
        ("salt", "--salt"),
    )?;
    let output_salt = from_file(
        a.output_salt,
        line.as_ref().and_then(|l| l.output_salt.as_ref()),
        ("output_salt", "--output-salt"),
    )?;
    let mut params = a.params.clone();
    for (n, v) in line.map(|l| l.params).unwrap_or_default() {
        if !params.iter().any(|(g, _)| *g == n) {
            params.push((n, v));
        }
    }
    let a = ProveArgs {
        salt,
        output_salt,
        params,
        ..a
    };
    pipeline::check_salts(
        &build,
        a.salt,
        a.output_salt,
        a.allow_unsalted,
        ("--salt", "--output-salt"),
    )?;
    for w in [
        pipeline::weak_salt_warning(a.salt, "--salt"),
        pipeline::weak_salt_warning(a.output_salt, "--output-salt"),
    ]
    .into_iter()
    .flatten()
    {
        eprintln!("zkinfer: {w}");
    }
    let secrets = Secrets {
        input_salt: a.salt.unwrap_or_default(),
        output_salt: a.output_salt.unwrap_or_default(),
        predicate_params: build.predicate_params(&a.params)?,
        binding: binding(&a)?,
    };
    let r = pipeline::prove(&build, &inputs, &secrets, &a.out, &Bar)?;
    // Private and hashed outputs stay out of stdout (and so out of CI logs and shell
    // history) unless asked for.
    let show = a.show_outputs
        || build.settings.circuit.visibility.output == zkinfer::visibility::Vis::Public;
    let outputs = if show { Some(&r.outputs) } else { None };
    if a.json {
        print_json(&json!({
            "proof": a.out,
            "outputs": outputs,
            "instances": r.proof.instances,
            "proof_bytes": r.proof_bytes,
            "prove_secs": r.prove_secs,
            "vk_digest": r.proof.vk_digest,
        }));
    } else {
        for (i, o) in outputs.into_iter().flatten().enumerate() {
            println!("output {i}: {}", floats(o));
        }
        println!(
            "proof: {} ({} bytes, {:.2} s)",
            a.out.display(),
            r.proof_bytes,
            r.prove_secs
        );
    }
    Ok(Exit::Ok)
}

/// `prove` on a batch build: every line of `--input` one sample, one proof.
fn run_batch(a: ProveArgs, build: Build) -> anyhow::Result<Exit> {
    let samples = batch_samples(&a, &build)?;
    let b = binding(&a)?;
    let r = pipeline::prove_batch(&build, &samples, b.as_ref(), &a.out, &Bar)?;
    let show = a.show_outputs
        || build.settings.circuit.visibility.output == zkinfer::visibility::Vis::Public;
    let outputs = if show { Some(&r.sample_outputs) } else { None };
    let batch = build.settings.circuit.batch;
    if a.json {
        print_json(&json!({
            "proof": a.out,
            "samples": samples.len(),
            "batch": batch,
            "outputs": outputs,
            "instances": r.proof.instances,
            "proof_bytes": r.proof_bytes,
            "prove_secs": r.prove_secs,
            "vk_digest": r.proof.vk_digest,
        }));
    } else {
        for (s, sample) in outputs.into_iter().flatten().enumerate() {
            for (i, o) in sample.iter().enumerate() {
                println!("sample {s} output {i}: {}", floats(o));
            }
        }
        println!(
            "proof: {} ({} of {batch} slots used; {} bytes, {:.2} s)",
            a.out.display(),
            samples.len(),
            r.proof_bytes,
            r.prove_secs
        );
    }
    Ok(Exit::Ok)
}
